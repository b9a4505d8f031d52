"""The milter's Prometheus metrics (served by core.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DECISIONS = Counter("relay_milter_decisions", "Verdicts on messages: accept, tempfail (4xx), reject (5xx)",
                    ["decision"])
SIGNING_SECONDS = Histogram("relay_milter_signing_seconds", "DKIM signing of one message, every key",
                            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5))
THROTTLE_REFUSALS = Counter("relay_milter_throttle_refusals", "Messages refused past a tenant's limit, by "
                            "window (per_second, per_minute, per_hour, per_day, concurrent_connections)",
                            ["window"])
REDIS_UNAVAILABLE = Counter("relay_milter_redis_unavailable", "Throttle checks made while Redis could "
                            "not be reached, by what was done (local, refuse)", ["action"])


def decision(reply: str | None) -> str:
    if reply is None:
        return "accept"
    return "tempfail" if reply.startswith("4") else "reject"
