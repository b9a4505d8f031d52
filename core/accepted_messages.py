"""The records the milter keeps of the messages it let through (core.models.AcceptedMessage)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from core.models import AcceptedMessage, utcnow


def forget_old(session: Session, days: int) -> int:
    """Delete the records older than days; how many there were."""
    cutoff = utcnow() - timedelta(days=days)
    result = session.execute(delete(AcceptedMessage).where(AcceptedMessage.at < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]
