"""Prometheus metrics from the database, for an admin's API token or the metrics token (a scraper
sends either as a bearer token)."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response, abort, request
from flask.typing import ResponseReturnValue
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from admin.api_auth import bearer_user
from admin.context import PanelContext, panel
from admin.database import db
from core.metrics import bears_token
from core.models import EventCount, IpPool, PoolIp, Suppression, Tenant, WebhookDelivery
from core.tracking_rates import totals, tracking_rates

bp = Blueprint("metrics", __name__)


class MailrelayCollector(Collector):
    def __init__(self, session: Session, context: PanelContext) -> None:
        self._session = session
        self._context = context

    def collect(self) -> Iterator[Metric]:
        session = self._session
        names = dict(session.execute(select(Tenant.id, Tenant.name)).all())
        events = CounterMetricFamily("relay_events", "Events recorded, by kind and tenant",
                                     labels=["kind", "tenant"])
        for kind, tenant_id, count in session.execute(
                select(EventCount.kind, EventCount.tenant_id, func.sum(EventCount.count))
                .group_by(EventCount.kind, EventCount.tenant_id)):
            events.add_metric([kind, names.get(tenant_id, "")], float(count))
        yield events
        tenants = GaugeMetricFamily("relay_tenants", "Tenants by status", labels=["status"])
        for status, count in session.execute(select(Tenant.status, func.count()).group_by(Tenant.status)):
            tenants.add_metric([status], count)
        yield tenants
        suppressed = session.scalar(select(func.count()).select_from(Suppression)) or 0
        yield GaugeMetricFamily("relay_suppressions", "Suppressed addresses", value=suppressed)
        outbox = session.scalar(select(func.count()).select_from(WebhookDelivery)
                                .where(WebhookDelivery.finished_at.is_(None))) or 0
        yield GaugeMetricFamily("relay_webhook_outbox", "Webhook deliveries not yet done", value=outbox)
        rates = GaugeMetricFamily(
            "relay_tracking_rate", "Of the tracked messages sent in the last 24 hours and delivered, the "
            "share people opened or clicked", labels=["tenant", "domain", "kind"])
        delivered = GaugeMetricFamily(
            "relay_tracking_delivered", "Tracked messages sent in the last 24 hours and delivered",
            labels=["tenant", "domain"])
        for rate in totals(tracking_rates(session, true(), days=1, since_hours=24)):
            labels = [names.get(rate.tenant_id, ""), rate.domain]
            delivered.add_metric(labels, rate.delivered)
            rates.add_metric([*labels, "opened"], rate.open_rate or 0.0)
            rates.add_metric([*labels, "clicked"], rate.click_rate or 0.0)
        yield delivered
        yield rates
        listed = GaugeMetricFamily("relay_pool_address_listed", "Blocklists a pool address was on at its "
                                   "last check (dns.blocklists)", labels=["address", "pool"])
        for address, pool, listed_on in session.execute(
                select(PoolIp.address, IpPool.name, PoolIp.listed_on).join(PoolIp.pool)):
            listed.add_metric([address, pool], len([zone for zone in listed_on.split(",") if zone]))
        yield listed
        yield GaugeMetricFamily("relay_postfix_queue_messages", "Messages in Postfix's queue",
                                value=self._context.queue.size())


@bp.route("/metrics")
def metrics() -> ResponseReturnValue:
    """For an admin's API token, or the services' metrics token (metrics.token_sha256), with which
    one Prometheus job scrapes every service and the panel alike."""
    if not bears_token(request.headers.get("Authorization", ""), panel().settings.metrics.token_sha256) \
            and bearer_user().role != "admin":
        abort(403)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MailrelayCollector(db(), panel()))
    return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4")
