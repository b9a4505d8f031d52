"""Exactly once: the record of what each tenant already sent under a key.

A key is a message's Message-ID, for a tenant that turns resubmission checks on (SMTP;
the HTTP send API's Idempotency-Key will share the record). Sending again under a key
already recorded sends nothing and answers what the first send answered.

The record is a table in the shared database, not Redis: it must survive a restart of
any part (a Redis without persistence forgets; a cluster's PostgreSQL does not), every box
already depends on the database, and a message costs one insert and one update. Each
row expires by its own expires_at: a read ignores an expired row and a new claim replaces
it; the intake's sweep deletes them.

A send claims its key before the hand-off (an insert: of concurrent claims the unique
key lets one win), completes it with the answer once Postfix queued the message, and
releases it when Postfix refused, so that a retry may send. A claim still pending is a
send in flight, or one that crashed between Postfix's 250 and the completion; the caller
settles that from the milter's record of the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from core.db import retry_once_on_conflict, session_scope
from core.models import IdempotencyRecord, utcnow


@dataclass(frozen=True)
class Taken:
    """The key is another send's: its answer, or "" while that send has not finished."""

    answer: str
    fingerprint: str
    claimed_at: datetime


def _live(session: Session, tenant_id: int, key: str, now: datetime) -> IdempotencyRecord | None:
    record = session.get(IdempotencyRecord, (tenant_id, key))
    if record is not None and record.expires_at <= now:
        session.delete(record)
        session.flush()
        return None
    return record


def claim(engine: Engine, tenant_id: int, key: str, fingerprint: str, hours: int) -> Taken | None:
    """Take the key for a send, in a transaction of its own; None: this send has it now."""
    def attempt(session: Session) -> Taken | None:
        now = utcnow()
        record = _live(session, tenant_id, key, now)
        if record is not None:
            return Taken(record.answer, record.fingerprint, record.claimed_at)
        session.add(IdempotencyRecord(tenant_id=tenant_id, key=key, fingerprint=fingerprint, answer="",
                                      claimed_at=now, expires_at=now + timedelta(hours=hours)))
        session.flush()
        return None
    return retry_once_on_conflict(engine, attempt)


def complete(engine: Engine, tenant_id: int, key: str, answer: str) -> None:
    with session_scope(engine) as session:
        record = session.get(IdempotencyRecord, (tenant_id, key))
        if record is not None:
            record.answer = answer


def release(engine: Engine, tenant_id: int, key: str) -> None:
    """Give a key up after a send that queued nothing, so that a retry may send."""
    with session_scope(engine) as session:
        session.execute(delete(IdempotencyRecord).where(
            IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.key == key,
            IdempotencyRecord.answer == ""))


def take_over(engine: Engine, tenant_id: int, key: str, stale_before: datetime) -> bool:
    """Take a pending key whose send was abandoned (claimed before stale_before, never completed)."""
    with session_scope(engine) as session:
        record = session.get(IdempotencyRecord, (tenant_id, key), with_for_update=True)
        if record is None or record.answer or record.claimed_at >= stale_before:
            return False
        record.claimed_at = utcnow()
        return True


def sweep(session: Session, now: datetime | None = None) -> int:
    """Delete the expired records; how many there were."""
    expired = IdempotencyRecord.expires_at <= (now or utcnow())
    return int(session.execute(delete(IdempotencyRecord).where(expired)).rowcount)  # type: ignore[attr-defined]
