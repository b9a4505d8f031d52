"""Opens and clicks as they reach the link service: which are a person's and which a machine's,
the events they make, and each message's first open and click for the rates.

A machine open or click is still an event (flagged, not hidden): Apple Mail Privacy
Protection fetches every image of a message through Apple's proxies whether or not it
is read; security gateways and link scanners fetch every link, most within seconds of
delivery. Only a person's first open and first click of a message count toward the
open and click rates (AcceptedMessage.opened_at, clicked_at).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from core.config import TrackingSettings
from core.db import session_scope
from core.events import MessageKeys, NewEvent, record_events
from core.models import AcceptedMessage, Event, Tenant
from core.tracking import Tracked

OPENED = "opened"
CLICKED = "clicked"
APPLE_PROXY = "apple-privacy-protection"
SCANNER = "link-scanner"
# Apple Mail Privacy Protection fetches with this bare agent, from Apple's own network among others.
_APPLE_AGENT = "Mozilla/5.0"
_APPLE_NETWORK = ipaddress.ip_network("17.0.0.0/8")
_SCANNER_AGENTS = ("bot", "crawler", "spider", "scanner", "python-", "curl/", "wget/", "go-http-client",
                   "java/", "okhttp", "headlesschrome", "barracuda", "proofpoint", "mimecast", "safelinks",
                   "symantec", "trendmicro", "forcepoint", "microsoft office", "ms-office")


@dataclass(frozen=True)
class Hit:
    kind: str  # OPENED or CLICKED
    tracked: Tracked
    at: datetime  # naive UTC, as the database keeps times
    address: str
    user_agent: str


def machine_by_sight(address: str, user_agent: str) -> str | None:
    """Why a request is a machine's, from what it shows; None when it looks like a person's."""
    agent = user_agent.strip()
    try:
        apple = ipaddress.ip_address(address) in _APPLE_NETWORK
    except ValueError:
        apple = False
    if agent == _APPLE_AGENT or apple:
        return APPLE_PROXY
    lowered = agent.lower()
    if not agent or any(marker in lowered for marker in _SCANNER_AGENTS):
        return SCANNER
    return None


def _detail(hit: Hit, machine: str | None) -> str:
    url = f"url={hit.tracked.url} " if hit.kind == CLICKED else ""
    return f"{url}machine={machine or 'no'} address={hit.address} agent={hit.user_agent[:300]}"


def _delivered_at(session: Session, refs: set[str]) -> dict[str, datetime]:
    query = (select(Event.message_ref, func.min(Event.at))
             .where(Event.kind == "delivered", Event.message_ref.in_(refs)).group_by(Event.message_ref))
    return {ref: at for ref, at in session.execute(query)}


def record_hits(session: Session, settings: TrackingSettings, hits: Iterable[Hit]) -> list[NewEvent]:
    """The events of these opens and clicks, stored with each message's first open and click by a
    person. Hits of a tenant that is gone are dropped."""
    hits = list(hits)
    named = {h.tracked.tenant_id for h in hits}
    tenants = set(session.scalars(select(Tenant.id).where(Tenant.id.in_(named))))
    hits = [h for h in hits if h.tracked.tenant_id in tenants]
    delivered = _delivered_at(session, {h.tracked.message_ref for h in hits})
    soon = timedelta(seconds=settings.machine_seconds)
    new = []
    # Each message's earliest hit by a person, per kind: one update per kind for the batch.
    firsts: dict[str, dict[str, datetime]] = {OPENED: {}, CLICKED: {}}
    for hit in hits:
        machine = machine_by_sight(hit.address, hit.user_agent)
        at_delivery = delivered.get(hit.tracked.message_ref)
        if machine is None and at_delivery is not None and hit.at - at_delivery < soon:
            machine = f"within-{settings.machine_seconds}s-of-delivery"
        new.append(NewEvent(hit.kind, hit.tracked.recipient, _detail(hit, machine), hit.tracked.tenant_id,
                            MessageKeys(message_ref=hit.tracked.message_ref)))
        if machine is None:
            firsts[hit.kind].setdefault(hit.tracked.message_ref, hit.at)
    for kind, column in ((OPENED, AcceptedMessage.opened_at), (CLICKED, AcceptedMessage.clicked_at)):
        if firsts[kind]:
            session.execute(update(AcceptedMessage).values({column: min(firsts[kind].values())}).where(
                AcceptedMessage.message_ref.in_(firsts[kind]), column.is_(None)))
    record_events(session, new)
    return new


def store_hits(engine: Engine, settings: TrackingSettings, hits: list[Hit]) -> int:
    """record_hits() in a transaction of its own; the number of events."""
    with session_scope(engine) as session:
        return len(record_hits(session, settings, hits))
