"""The records the milter keeps of the messages it let through (core.models.AcceptedMessage)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from core.models import AcceptedMessage, utcnow


def forget_old(session: Session, days: int) -> int:
    """Delete the records older than days; how many there were."""
    cutoff = utcnow() - timedelta(days=days)
    result = session.execute(delete(AcceptedMessage).where(AcceptedMessage.at < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]


def queue_id_of(session: Session, tenant_id: int, message_id: str) -> str | None:
    """The queue id of the tenant's latest message with this Message-ID, if the milter let one through."""
    return session.scalar(select(AcceptedMessage.queue_id)
                          .where(AcceptedMessage.tenant_id == tenant_id,
                                 AcceptedMessage.message_id == message_id)
                          .order_by(AcceptedMessage.at.desc()).limit(1))


def sent_from(domain: str) -> ColumnElement[bool]:
    """Whether a record's envelope sender is at the domain (not at a subdomain of it)."""
    return func.lower(AcceptedMessage.sender).like(f"%@{domain.lower()}")
