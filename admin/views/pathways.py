"""Pathways that receivers' replies suspended or slowed (admins only), and clearing one."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from admin.actions import attempt
from admin.context import panel
from admin.database import db
from admin.forms import ActionForm
from core import shaping
from core.events import record_events
from core.postfix.reload import release_waiting_mail

bp = Blueprint("pathways", __name__, url_prefix="/pathways")


@bp.route("/")
def index() -> ResponseReturnValue:
    return render_template("pathways/index.html", pathways=shaping.pathways(db()), action=ActionForm())


@bp.route("/<transport>/clear", methods=["POST"])
def clear(transport: str) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    if attempt(lambda: record_events(db(), [shaping.clear(db(), transport)])).ok:
        db().commit()
        release_waiting_mail(panel().settings)
        flash(f"{transport} sends as configured again; the mail that waited is on its way.", "success")
    return redirect(url_for(".index"))
