"""Events: what happened, for the operator, the panel and tenants' webhooks."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import upsert_insert
from core.models import Event, EventCount, Webhook, WebhookDelivery, utcnow

# What a tenant hears of through its webhooks.
WEBHOOK_KINDS = frozenset({"delivered", "deferred", "bounced", "expired", "complained", "suppressed",
                           "autoreplied", "unsubscribed"})
# Events that come of a report sent back to the relay (a bounce, a complaint, an auto-reply).
REPORT_KINDS = ("bounced", "complained", "expired", "autoreplied", "forged_report", "unmatched_report")


@dataclass(frozen=True)
class MessageKeys:
    """What ties an event to one message; empty where unknown."""

    message_ref: str = ""
    queue_id: str = ""
    message_id: str = ""


NO_MESSAGE = MessageKeys()


def record_event(session: Session, kind: str, subject: str = "", detail: str = "",
                 tenant_id: int | None = None, message: MessageKeys = NO_MESSAGE,
                 report_id: int | None = None) -> Event:
    """Store an event; a tenant's webhooks get it through the outbox, in the same transaction."""
    event = Event(kind=kind, subject=subject[:255], detail=detail, tenant_id=tenant_id, at=utcnow(),
                  message_ref=message.message_ref[:16], queue_id=message.queue_id[:32],
                  message_id=message.message_id[:255], report_id=report_id)
    session.add(event)
    _count(session, event)
    if tenant_id is not None and kind in WEBHOOK_KINDS:
        webhook_ids = session.scalars(select(Webhook.id).where(Webhook.tenant_id == tenant_id)).all()
        if webhook_ids:
            session.flush()
            session.add_all(WebhookDelivery(webhook_id=w, event_id=event.id) for w in webhook_ids)
    return event


def _count(session: Session, event: Event) -> None:
    hour = event.at.replace(minute=0, second=0, microsecond=0)
    values = {"hour": hour, "tenant_id": event.tenant_id or 0, "kind": event.kind, "count": 1}
    session.execute(upsert_insert(session)(EventCount).values(values).on_conflict_do_update(
        index_elements=["hour", "tenant_id", "kind"], set_={"count": EventCount.count + 1}))


def recent_events(session: Session, kind: str | None = None, limit: int = 50) -> list[Event]:
    query = select(Event).order_by(Event.at.desc(), Event.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(Event.kind == kind)
    return list(session.scalars(query))
