"""The front-end's Prometheus metrics (served by core.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CONNECTIONS = Counter("relay_smtp_connections", "Connections to the submission ports, by outcome "
                      "(admitted, or refused past a connection cap)", ["outcome"])
OPEN_CONNECTIONS = Gauge("relay_smtp_open_connections", "Connections open now")
TLS_SESSIONS = Counter("relay_smtp_tls_sessions", "TLS sessions begun (STARTTLS or the TLS port), by "
                       "protocol version", ["version"])
AUTH_ATTEMPTS = Counter("relay_smtp_auth", "AUTH attempts, by result (ok, failed, locked_out)", ["result"])
SUBMISSIONS = Counter("relay_smtp_submissions", "Replies to DATA, by class (2xx: queued by Postfix)",
                      ["reply_class"])
HANDOFF_SECONDS = Histogram("relay_smtp_handoff_seconds", "From the end of DATA to Postfix's reply",
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))


CERTIFICATE_EXPIRY = Gauge("relay_tls_certificate_expiry_timestamp_seconds", "When the certificate of the "
                           "submission ports expires (Unix time), as read at start")


def reply_class(reply: str) -> str:
    return f"{reply[:1]}xx" if reply[:1] in ("2", "4", "5") else "other"
