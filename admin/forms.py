"""The panel's forms: WTForms fields and validators; CSRF comes with FlaskForm."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs predate WTForms 3.3
from wtforms.validators import URL, DataRequired, Length, NumberRange, Optional, Regexp

from admin import patterns
from core.limits import LIMITS, MAXIMUM
from core.panel_users import MIN_PASSWORD_LENGTH
from core.send_keys import MAX_EXPIRES_IN_DAYS
from core.tenants import SENDING_DOMAIN_MAX

NAME = Regexp(patterns.POOL, message="Lower-case letters, digits, - and _; up to 63.")
DOMAIN_SYNTAX = Regexp(patterns.DOMAIN, message="A domain name such as mail.example.com.")
DOMAIN = [Length(max=patterns.DOMAIN_MAX), DOMAIN_SYNTAX]
SENDING_DOMAIN = [Length(max=SENDING_DOMAIN_MAX), DOMAIN_SYNTAX]
ADDRESS = [Length(max=patterns.ADDRESS_MAX), Regexp(patterns.ADDRESS, message="An e-mail address.")]
LIMIT = [Optional(), NumberRange(min=0, max=MAXIMUM)]
PASSWORD = [DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)]


Choices = list[SelectChoice]


def choices(pairs: Iterable[tuple[Any, str]]) -> Choices:
    """A select's options from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=128)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class ActionForm(FlaskForm):
    """A button that changes something: only its CSRF token."""


class TenantForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), NAME])


class LimitsForm(FlaskForm):
    """A field per limit in core/limits.py, named as the limit, then the pool."""

    pool = SelectField("IP pool", choices=[])


for _limit in LIMITS:
    setattr(LimitsForm, _limit.name, IntegerField(_limit.label, validators=LIMIT))


class SendKeyForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=128)])
    expires_in_days = IntegerField("Expires in days", validators=[Optional(), NumberRange(
        1, MAX_EXPIRES_IN_DAYS, message=f"A send key expires in 1 to {MAX_EXPIRES_IN_DAYS} days, or never.")])


class WebhookForm(FlaskForm):
    url = StringField("URL", validators=[DataRequired(), Length(max=2000),
                                         URL(require_tld=False, message="A full http(s):// address.")])


class DomainForm(FlaskForm):
    tenant = SelectField("Tenant", coerce=int, choices=[])
    name = StringField("Domain", validators=[DataRequired(), *SENDING_DOMAIN])
    algorithm = SelectField("DKIM key", choices=choices([("rsa", "RSA 2048"), ("ed25519", "Ed25519")]))


class TrackingForm(FlaskForm):
    track_opens = BooleanField("Track opens (a pixel in HTML mail)")
    track_clicks = BooleanField("Track clicks (links in HTML mail go through the link service)")


class ArchiveForm(FlaskForm):
    archive_days = IntegerField("Keep sent messages (days; 0: none)", validators=[NumberRange(min=0)])
    archive_max_mib = IntegerField("Archive size cap (MiB; 0: the box default)",
                                   validators=[Optional(), NumberRange(min=0, max=1024 * 1024)])


class ResendForm(FlaskForm):
    recipients = StringField("Recipients (comma-separated; empty: the same ones)",
                             validators=[Length(max=5000)])


class RotateKeyForm(FlaskForm):
    algorithm = SelectField("Algorithm", choices=choices([("rsa", "RSA 2048"), ("ed25519", "Ed25519")]))


class SuppressionForm(FlaskForm):
    tenant = SelectField("Tenant", coerce=int, choices=[])
    address = StringField("Address", validators=[DataRequired(), *ADDRESS])
    list_name = StringField("List (empty: all mail)", validators=[
        Optional(), Length(max=64), Regexp(patterns.LIST, message="1-64 of a-z, 0-9, '.', '_' and '-'.")])
    detail = StringField("Note", validators=[Optional(), Length(max=500)])


class ImportForm(FlaskForm):
    tenant = SelectField("Tenant", coerce=int, choices=[])
    file = FileField("CSV file", validators=[FileRequired()])


class PoolForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), NAME])


class PoolIpForm(FlaskForm):
    address = StringField("Address", validators=[DataRequired(), Length(max=45)])
    helo_name = StringField("HELO name", validators=[DataRequired(), *DOMAIN])
    weight = IntegerField("Weight", default=100, validators=[NumberRange(min=1, max=1000)])
    warmup = StringField("Warm-up caps per day", validators=[
        Optional(), Regexp(r"^\d+(\s*,\s*\d+)*$", message="Numbers separated by commas, e.g. 50,100,200.")])


class WeightForm(FlaskForm):
    weight = IntegerField("Weight", validators=[DataRequired(), NumberRange(min=1, max=1000)])


class PauseIpForm(FlaskForm):
    reason = StringField("Reason", validators=[Optional(), Length(max=200)], default="paused by an admin")


class UserForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=128),
                                                   Regexp(r"^\S+$", message="No spaces.")])
    role = SelectField("Role", choices=choices([("tenant", "Tenant user"), ("admin", "Admin")]))
    tenant = SelectField("Tenant", coerce=int, choices=[])
    password = PasswordField("Password", validators=PASSWORD)


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired()])
    new = PasswordField("New password", validators=PASSWORD)


class TokenForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=128)])
    password = PasswordField("Your password", validators=[DataRequired(), Length(max=1024)])


class QueueActionForm(FlaskForm):
    action = SelectField("Action", choices=choices([("hold", "Hold"), ("release", "Release"),
                                                    ("requeue", "Requeue"), ("delete", "Delete")]))
    queue_ids = TextAreaField("Queue ids")
