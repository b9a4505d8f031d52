"""Panel accounts (admins only): who may log in, and as what."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from admin.access import visible_tenants
from admin.actions import attempt
from admin.database import db
from admin.forms import UserForm, choices
from core.panel_users import add_user, list_users

bp = Blueprint("users", __name__, url_prefix="/users")


def _form() -> UserForm:
    form = UserForm()
    form.tenant.choices = choices([(0, "—")] + [(t.id, t.name) for t in visible_tenants()])
    return form


@bp.route("/")
def index() -> ResponseReturnValue:
    return render_template("users/index.html", users=list_users(db()), form=_form())


@bp.route("/", methods=["POST"])
def create() -> ResponseReturnValue:
    form = _form()
    if not form.validate_on_submit():
        return render_template("users/index.html", users=list_users(db()), form=form), 400
    tenant = next((t.name for t in visible_tenants() if t.id == form.tenant.data), None)
    made = attempt(lambda: add_user(db(), form.username.data or "", form.password.data or "",
                                    form.role.data or "", tenant if form.role.data == "tenant" else None))
    if made.ok:
        flash(f"User {form.username.data} added.", "success")
    return redirect(url_for(".index"))
