"""One's own account: the password, and tokens for the JSON API."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from admin.actions import attempt
from admin.auth import start_session, user
from admin.database import db
from admin.forms import ActionForm, PasswordForm, TokenForm
from core.errors import InvalidInputError
from core.models import ApiToken
from core.panel_users import change_password, check_password, new_api_token, revoke_api_token

bp = Blueprint("account", __name__, url_prefix="/account")


def _page(password: PasswordForm | None = None, token: TokenForm | None = None, new_token: str = "",
          status: int = 200) -> ResponseReturnValue:
    tokens = db().scalars(select(ApiToken).where(ApiToken.user_id == user().id).order_by(ApiToken.created_at))
    return render_template("account.html", password=password or PasswordForm(), token=token or TokenForm(),
                           tokens=list(tokens), new_token=new_token, action=ActionForm()), status


@bp.route("/")
def index() -> ResponseReturnValue:
    return _page()


@bp.route("/password", methods=["POST"])
def password() -> ResponseReturnValue:
    form = PasswordForm()
    if not form.validate_on_submit():
        return _page(password=form, status=400)
    try:
        change_password(user(), form.current.data or "", form.new.data or "")
    except InvalidInputError as exc:
        form.current.errors = [str(exc)]
        return _page(password=form, status=400)
    start_session(user())  # this one goes on; every other session of the user has ended
    flash("Password changed. Your other sessions have ended.", "success")
    return redirect(url_for(".index"))


@bp.route("/tokens", methods=["POST"])
def add_token() -> ResponseReturnValue:
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(token=form, status=400)
    try:
        check_password(user(), form.password.data or "")
    except InvalidInputError as exc:
        form.password.errors = [str(exc)]
        return _page(token=form, status=400)
    _row, token = new_api_token(db(), user(), form.name.data or "")
    return _page(new_token=token)


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
def revoke_token(token_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    if attempt(lambda: revoke_api_token(db(), user(), token_id)).ok:
        flash("Token revoked.", "success")
    return redirect(url_for(".index"))
