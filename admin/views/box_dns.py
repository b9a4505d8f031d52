"""The box's own DNS records (admins only): what the operator publishes, and what the last check found."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from admin.context import panel
from admin.database import db
from admin.forms import ActionForm
from core import box_records
from core.errors import MailrelayError

bp = Blueprint("box_dns", __name__, url_prefix="/dns")


@bp.route("/")
def index() -> ResponseReturnValue:
    settings = panel().settings
    last = box_records.last_check(db(), settings)
    try:
        records = box_records.records_now(db(), settings, last)
        problem = ""
    except MailrelayError as exc:
        records, problem = [], str(exc)
    checked_at = min((row.checked_at for row in last.values()), default=None)
    return render_template("box_dns.html", hostname=settings.hostname, records=records, last=last,
                           checked_at=checked_at, problem=problem, action=ActionForm())


@bp.route("/check", methods=["POST"])
def check() -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        checks = box_records.check_box(db(), panel().settings)
    except MailrelayError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".index"))
    missing = sum(not c.ok for c in checks)
    if missing:
        flash(f"{missing} of {len(checks)} records do not match.", "error")
    else:
        flash(f"All {len(checks)} records match.", "success")
    return redirect(url_for(".index"))
