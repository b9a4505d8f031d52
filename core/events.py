"""Events: what happened, for the operator, the panel and tenants' webhooks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core.db import upsert_insert
from core.models import Event, EventCount, Webhook, WebhookDelivery, utcnow

# What a tenant hears of through its webhooks.
WEBHOOK_KINDS = frozenset({"delivered", "deferred", "bounced", "expired", "complained", "suppressed",
                           "autoreplied", "unsubscribed", "opened", "clicked"})
# Events that come of a report sent back to the relay (a bounce, a complaint, an auto-reply).
REPORT_KINDS = ("bounced", "complained", "expired", "autoreplied", "forged_report", "unmatched_report")


@dataclass(frozen=True)
class MessageKeys:
    """What ties an event to one message; empty where unknown."""

    message_ref: str = ""
    queue_id: str = ""
    message_id: str = ""


NO_MESSAGE = MessageKeys()


@dataclass(frozen=True)
class NewEvent:
    kind: str
    subject: str = ""
    detail: str = ""
    tenant_id: int | None = None
    message: MessageKeys = NO_MESSAGE
    report_id: int | None = None

    def row(self, at: datetime) -> dict[str, Any]:
        return {"at": at, "kind": self.kind, "subject": self.subject[:255], "detail": self.detail,
                "tenant_id": self.tenant_id, "message_ref": self.message.message_ref[:16],
                "queue_id": self.message.queue_id[:32], "message_id": self.message.message_id[:255],
                "report_id": self.report_id}


def record_events(session: Session, new: list[NewEvent]) -> list[int]:
    """Store the events, their ids in order: one insert for all, one count upsert per hour, tenant
    and kind, and a tenant's webhooks get theirs through the outbox, in the same transaction."""
    if not new:
        return []
    at = utcnow()
    ids = list(session.scalars(insert(Event).returning(Event.id, sort_by_parameter_order=True),
                               [event.row(at) for event in new]))
    hour = at.replace(minute=0, second=0, microsecond=0)
    counts = Counter((event.tenant_id or 0, event.kind) for event in new)
    for (tenant_id, kind), count in counts.items():
        values = {"hour": hour, "tenant_id": tenant_id, "kind": kind, "count": count}
        session.execute(upsert_insert(session)(EventCount).values(values).on_conflict_do_update(
            index_elements=["hour", "tenant_id", "kind"], set_={"count": EventCount.count + count}))
    hooked = {e.tenant_id for e in new if e.tenant_id is not None and e.kind in WEBHOOK_KINDS}
    webhooks: dict[int, list[int]] = {}
    if hooked:
        for webhook_id, tenant_id in session.execute(select(Webhook.id, Webhook.tenant_id)
                                                     .where(Webhook.tenant_id.in_(hooked))):
            webhooks.setdefault(tenant_id, []).append(webhook_id)
    deliveries = [{"webhook_id": webhook_id, "event_id": event_id, "next_attempt_at": at}
                  for event, event_id in zip(new, ids, strict=True) if event.kind in WEBHOOK_KINDS
                  for webhook_id in webhooks.get(event.tenant_id or 0, [])]
    if deliveries:
        session.execute(insert(WebhookDelivery), deliveries)
    return ids


def record_event(session: Session, kind: str, subject: str = "", detail: str = "",
                 tenant_id: int | None = None, message: MessageKeys = NO_MESSAGE,
                 report_id: int | None = None) -> int:
    """Store one event (record_events); its id."""
    return record_events(session, [NewEvent(kind, subject, detail, tenant_id, message, report_id)])[0]


def recent_events(session: Session, kind: str | None = None, limit: int = 50) -> list[Event]:
    query = select(Event).order_by(Event.at.desc(), Event.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(Event.kind == kind)
    return list(session.scalars(query))
