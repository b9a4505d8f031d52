"""The dashboard: mail over time, per tenant or overall; the queue; the box's and services' health."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from admin import health
from admin.access import tenant_scope, visible_tenant, visible_tenants
from admin.auth import is_admin
from admin.charts import line_chart
from admin.context import panel
from admin.database import db
from admin.stats import activity
from core import box_records
from core.errors import MailrelayError
from core.models import EventCount

bp = Blueprint("dashboard", __name__)


@bp.route("/")
def index() -> ResponseReturnValue:
    tenant = None
    scope = tenant_scope(EventCount.tenant_id)
    if (chosen := request.args.get("tenant", type=int)) is not None:
        tenant = visible_tenant(chosen)
        scope = EventCount.tenant_id == tenant.id
    figures = activity(db(), scope)
    chart = line_chart([d.strftime("%d %b") for d in figures.days], figures.per_kind)
    context = panel()
    queue_size = services = box = dns_unmatched = None
    if is_admin():
        queue_size = context.queue.size()
        services, box = health.services(context.settings), health.box(context.settings)
        try:
            dns_unmatched = box_records.unmatched(db(), context.settings)
        except MailrelayError:  # the pools outgrow the SPF record: the DNS page says so
            dns_unmatched = []
    return render_template("dashboard.html", figures=figures, chart=chart, tenant=tenant,
                           tenants=visible_tenants(), queue_size=queue_size, services=services, box=box,
                           dns_unmatched=dns_unmatched)
