"""The dashboard: mail over time, per tenant or overall; the queue; the box's and services' health."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

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
from core.models import AcceptedMessage, EventCount
from core.tracking_rates import TrackingRate, totals, tracking_rates

bp = Blueprint("dashboard", __name__)


@bp.route("/")
def index() -> ResponseReturnValue:
    tenant = None
    scope = tenant_scope(EventCount.tenant_id)
    rate_scope = tenant_scope(AcceptedMessage.tenant_id)
    if (chosen := request.args.get("tenant", type=int)) is not None:
        tenant = visible_tenant(chosen)
        scope = EventCount.tenant_id == tenant.id
        rate_scope = AcceptedMessage.tenant_id == tenant.id
    figures = activity(db(), scope)
    labels = [d.strftime("%d %b") for d in figures.days]
    chart = line_chart(labels, figures.per_kind)
    rates = tracking_rates(db(), rate_scope, len(figures.days))
    rate_chart = line_chart(labels, daily_percentages(figures.days, rates)) if rates else None
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
                           dns_unmatched=dns_unmatched, rate_chart=rate_chart, rates=totals(rates),
                           tenant_names={t.id: t.name for t in visible_tenants()})


def daily_percentages(days: list[date], rates: list[TrackingRate]) -> dict[str, list[int]]:
    """Open and click rates per day, in whole percent, over every domain of the rows."""
    summed = {day: totals([r for r in rates if r.day == day]) for day in days}

    def percent(day: date, count: Callable[[TrackingRate], int]) -> int:
        delivered = sum(r.delivered for r in summed[day])
        return round(100 * sum(count(r) for r in summed[day]) / delivered) if delivered else 0

    return {"open rate %": [percent(d, lambda r: r.opened) for d in days],
            "click rate %": [percent(d, lambda r: r.clicked) for d in days]}
