"""Bounces and complaints: search them; the detail shows the report as it came, as inert text."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from admin.access import may_see, tenant_names, tenant_scope
from admin.database import db
from admin.paging import paginate
from core.bounces.parser import parse_report
from core.events import REPORT_KINDS
from core.models import Event, Report, Tenant

bp = Blueprint("reports", __name__, url_prefix="/bounces")



@bp.route("/")
def index() -> ResponseReturnValue:
    kind = request.args.get("kind", "")
    kinds = (kind,) if kind in REPORT_KINDS else REPORT_KINDS
    query = (select(Event).where(Event.kind.in_(kinds), tenant_scope(Event.tenant_id))
             .order_by(Event.at.desc(), Event.id.desc()))
    if search := request.args.get("q", "").strip().lower():
        query = query.where(Event.subject.startswith(search, autoescape=True))
    return render_template("reports/index.html", page=paginate(query), q=search, kind=kind,
                           kinds=REPORT_KINDS, tenant_names=tenant_names())


@bp.route("/<int:event_id>")
def detail(event_id: int) -> ResponseReturnValue:
    event = db().get(Event, event_id)
    if event is None or not may_see(event.tenant_id):
        abort(404)
    report = db().get(Report, event.report_id) if event.report_id else None
    results = parse_report(report.raw.encode("utf-8", "replace")) if report else []
    tenant = db().get(Tenant, event.tenant_id) if event.tenant_id else None
    return render_template("reports/detail.html", event=event, report=report, results=results, tenant=tenant)
