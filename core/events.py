"""Events: what happened, for the operator, the panel and tenants' webhooks."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Event, Webhook, WebhookDelivery

# What a tenant hears of through its webhooks.
WEBHOOK_KINDS = frozenset({"delivered", "deferred", "bounced", "expired", "complained", "suppressed",
                           "autoreplied"})


def record_event(session: Session, kind: str, subject: str = "", detail: str = "",
                 tenant_id: int | None = None) -> Event:
    """Store an event; a tenant's webhooks get it through the outbox, in the same transaction."""
    event = Event(kind=kind, subject=subject[:255], detail=detail, tenant_id=tenant_id)
    session.add(event)
    if tenant_id is not None and kind in WEBHOOK_KINDS:
        webhook_ids = session.scalars(select(Webhook.id).where(Webhook.tenant_id == tenant_id)).all()
        if webhook_ids:
            session.flush()
            session.add_all(WebhookDelivery(webhook_id=w, event_id=event.id) for w in webhook_ids)
    return event


def recent_events(session: Session, kind: str | None = None, limit: int = 50) -> list[Event]:
    query = select(Event).order_by(Event.at.desc(), Event.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(Event.kind == kind)
    return list(session.scalars(query))
