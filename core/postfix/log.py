"""Postfix log lines that matter for delivery events, read into plain values."""

from __future__ import annotations

import re
from dataclasses import dataclass

_MASTER_STARTED = re.compile(r"/master\[\d+\]: daemon started\b")
_QUEUE_LINE = re.compile(r"\]: ([0-9A-Za-z]{10,20}|[0-9A-F]{6,12}): (.*)$")
# Each delivery transport logs as <syslog_name>/<transport>/smtp (postfix-conf/master.cf.j2).
_TRANSPORT = re.compile(r"/(([A-Za-z0-9_]+)/smtp\[\d+\]): ")
# Before each delivery over TLS (smtp_tls_loglevel = 1), the same process says how it went.
_TLS = re.compile(r"/([A-Za-z0-9_]+/smtp\[\d+\]): (Verified|Trusted|Untrusted|Anonymous) TLS connection "
                  r"(?:established|reused) to ")
_SASL = re.compile(r"sasl_username=([^,\s]+)")
_MESSAGE_ID = re.compile(r"^message-id=(<[^>]*>|\S*)")
# qmgr's line names the return-path, which the milter made a VERP address (core.verp).
_VERP_FROM = re.compile(r"^from=<b\.([a-z2-7]{13})\.[a-z2-7]{16}@", re.IGNORECASE)
_DELIVERY = re.compile(r"^to=<([^>]*)>,(?:.*?\brelay=([^,]*),)?.*?\bdsn=([0-9.]+), "
                       r"status=(sent|deferred|bounced|expired)(?:,[^(]*)?(?: \((.*)\))?$")

_DELAY = re.compile(r"\bdelay=([0-9.]+),")

STATUS_EVENTS = {"sent": "delivered", "deferred": "deferred", "bounced": "bounced", "expired": "expired"}


@dataclass(frozen=True)
class Delivery:
    queue_id: str
    recipient: str
    status: str
    dsn: str
    relay: str
    text: str
    transport: str = ""  # the delivery transport that tried, where the line names it
    process: str = ""  # transport/smtp[pid]: ties it to the TLS line before it
    delay: float | None = None  # seconds from queueing to this attempt

    @property
    def relay_host(self) -> str:
        """The replying host's name: relay=mx.example.net[192.0.2.1]:25 -> mx.example.net."""
        return self.relay.partition("[")[0]


@dataclass(frozen=True)
class QueueFact:
    """What one line says of a queued message: its tenant, its message-id, or its end."""

    queue_id: str
    tenant: str | None = None
    message_id: str | None = None
    message_ref: str | None = None
    removed: bool = False


@dataclass(frozen=True)
class TlsSession:
    """A delivery process's TLS connection: the next delivery it logs went over it."""

    process: str
    level: str  # Verified (the certificate matched the policy's names), Trusted, Untrusted, Anonymous


@dataclass(frozen=True)
class MasterStarted:
    """Postfix's master started: if it had died, what its daemons did meanwhile went unlogged."""


def read_line(line: str) -> Delivery | QueueFact | TlsSession | MasterStarted | None:
    if _MASTER_STARTED.search(line):
        return MasterStarted()
    if (tls := _TLS.search(line)) is not None:
        return TlsSession(tls.group(1), tls.group(2))
    match = _QUEUE_LINE.search(line)
    if match is None:
        return None
    queue_id, rest = match.groups()
    if rest.startswith("client=") and (sasl := _SASL.search(rest)):
        return QueueFact(queue_id, tenant=sasl.group(1))
    if (message_id := _MESSAGE_ID.match(rest)) is not None:
        return QueueFact(queue_id, message_id=message_id.group(1))
    if (verp := _VERP_FROM.match(rest)) is not None:
        return QueueFact(queue_id, message_ref=verp.group(1).lower())
    if rest == "removed":
        return QueueFact(queue_id, removed=True)
    if (delivery := _DELIVERY.match(rest)) is not None:
        recipient, relay, dsn, status, text = delivery.groups()
        process = _TRANSPORT.search(line)
        delay = _DELAY.search(rest)
        return Delivery(queue_id, recipient, status, dsn, relay or "", text or "",
                        process.group(2) if process else "", process.group(1) if process else "",
                        float(delay.group(1)) if delay else None)
    return None
