"""The intake's Prometheus metrics (served by core.metrics): reports, and the log tailer's deliveries."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Histogram

from core.postfix.log import Delivery
from core.postfix.transports import address_of_transport
from core.shaping import profile_of

REPORTS = Counter("relay_intake_reports", "Mail taken at the bounce and feedback domains, by kind "
                  "(report: a bounce or complaint; dmarc; tlsrpt; unsubscribe) and outcome (recorded; "
                  "retry: a 4xx, Postfix brings it again; refused)", ["kind", "outcome"])
DELIVERIES = Counter("relay_deliveries", "Delivery attempts Postfix logged, by status (sent, deferred, "
                     "bounced, expired), outbound address, and provider (a delivery profile, or other)",
                     ["status", "address", "provider"])
DELIVERY_DELAY_SECONDS = Histogram("relay_delivery_delay_seconds", "From queueing to the final outcome "
                                   "(sent, bounced, expired), by provider", ["provider"],
                                   buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600))


def observe_deliveries(deliveries: Iterable[Delivery]) -> None:
    for delivery in deliveries:
        transport = delivery.transport
        provider = profile_of(transport) or "other"
        DELIVERIES.labels(delivery.status, address_of_transport(transport), provider).inc()
        if delivery.status != "deferred" and delivery.delay is not None:
            DELIVERY_DELAY_SECONDS.labels(provider).observe(delivery.delay)
