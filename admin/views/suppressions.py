"""The suppression list: search, add, remove, and CSV import and export."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import Select

from admin.access import tenant_names, visible_tenant, visible_tenants
from admin.actions import attempt
from admin.auth import is_admin
from admin.database import db
from admin.forms import ActionForm, Choices, ImportForm, SuppressionForm, choices
from admin.paging import paginate
from admin.use_cases import suppression_search, visible_suppression
from core import suppressions
from core.errors import InvalidInputError
from core.models import Suppression

bp = Blueprint("suppressions", __name__, url_prefix="/suppressions")

GLOBAL = 0  # the tenant choice meaning "every tenant"
MAX_IMPORT_ROWS = 100_000


def _tenant_choices() -> Choices:
    tenants = [(t.id, t.name) for t in visible_tenants()]
    return choices([(GLOBAL, "Every tenant (global)"), *tenants] if is_admin() else tenants)


def _owner_name(tenant_id: int | None) -> str | None:
    """The tenant a form names, as core.suppressions takes it (None: global, admins only)."""
    if not tenant_id:
        if not is_admin():
            abort(403)
        return None
    return visible_tenant(tenant_id).name


def _query() -> tuple[Select[Suppression], str]:
    search = request.args.get("q", "").strip().lower()
    return suppression_search(search, request.args.get("reason", "")), search


def _index(form: SuppressionForm | None = None, upload: ImportForm | None = None,
           status: int = 200) -> ResponseReturnValue:
    query, search = _query()
    form = form or SuppressionForm()
    upload = upload or ImportForm()
    form.tenant.choices = upload.tenant.choices = _tenant_choices()
    return render_template("suppressions/index.html", page=paginate(query), q=search, form=form,
                           upload=upload, action=ActionForm(), tenant_names=tenant_names(),
                           reasons=suppressions.REASONS), status


@bp.route("/")
def index() -> ResponseReturnValue:
    return _index()


@bp.route("/", methods=["POST"])
def add() -> ResponseReturnValue:
    form = SuppressionForm()
    form.tenant.choices = _tenant_choices()
    if not form.validate_on_submit():
        return _index(form=form, status=400)
    owner = _owner_name(form.tenant.data)
    list_name = form.list_name.data or ""
    if attempt(lambda: suppressions.suppress(db(), owner, form.address.data or "", "manual",
                                             form.detail.data or "", list_name)).ok:
        flash(f"{form.address.data} suppressed{f' for list {list_name}' if list_name else ''}.", "success")
    return redirect(url_for(".index"))


@bp.route("/<int:entry_id>/remove", methods=["POST"])
def remove(entry_id: int) -> ResponseReturnValue:
    entry = visible_suppression(entry_id)
    if ActionForm().validate_on_submit():
        suppressions.remove_entry(db(), entry)
        flash(f"{entry.address} removed from the suppression list: mail to it is accepted again.", "success")
    return redirect(url_for(".index"))


def _cell(value: str) -> str:
    """A spreadsheet would run a cell that starts with =, +, - or @ as a formula (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@bp.route("/export.csv")
def export() -> ResponseReturnValue:
    query, _search = _query()
    names = tenant_names()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["address", "tenant", "list", "reason", "detail", "created_at"])
    for entry in db().scalars(query):
        writer.writerow([_cell(entry.address), names.get(entry.tenant_id or 0, "*"), entry.list_name,
                         entry.reason, _cell(entry.detail), entry.created_at.isoformat(timespec="seconds")])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=suppressions.csv"})


@bp.route("/import", methods=["POST"])
def import_csv() -> ResponseReturnValue:
    upload = ImportForm()
    upload.tenant.choices = _tenant_choices()
    if not upload.validate_on_submit():
        return _index(upload=upload, status=400)
    owner = _owner_name(upload.tenant.data)
    text = upload.file.data.read().decode("utf-8-sig", "replace")
    added, refused = 0, []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if number > MAX_IMPORT_ROWS:
            refused.append(f"rows past {MAX_IMPORT_ROWS:,} were not read")
            break
        if not row or not row[0].strip() or (number == 1 and row[0].strip().lower() == "address"):
            continue
        address = row[0].strip().lstrip("'")
        try:
            suppressions.suppress(db(), owner, address, "manual", "imported from CSV")
            added += 1
        except InvalidInputError as exc:
            refused.append(f"line {number}: {exc}")
    flash(f"{added} address(es) imported.", "success")
    if refused:
        flash("Not imported: " + "; ".join(refused[:10]) + (" …" if len(refused) > 10 else ""), "error")
    return redirect(url_for(".index"))
