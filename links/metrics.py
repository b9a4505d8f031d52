"""The link service's Prometheus metrics (served by core.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

HITS = Counter("relay_link_hits", "Opens and clicks at tracked links, by kind (opened, clicked) and outcome "
               "(recorded; repeat: the same within tracking.repeat_seconds; unknown: a token not good here)",
               ["kind", "outcome"])
WAITING = Gauge("relay_link_hits_waiting", "Opens and clicks waiting to be written to the database")
