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
settles that from the milter's record of the message. settle() takes the steps of many
sends at once into one transaction, for a service that groups its commits.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, select, update
from sqlalchemy.orm import Session

from core.db import session_scope, upsert_insert
from core.models import IdempotencyRecord, utcnow


@dataclass(frozen=True)
class Taken:
    """The key is another send's: its answer, or "" while that send has not finished."""

    answer: str
    fingerprint: str
    claimed_at: datetime


@dataclass(frozen=True)
class Claim:
    tenant_id: int
    key: str
    fingerprint: str
    hours: int


@dataclass(frozen=True)
class Completion:
    tenant_id: int
    key: str
    answer: str


@dataclass(frozen=True)
class Release:
    """Give a key up after a send that queued nothing, so that a retry may send."""

    tenant_id: int
    key: str


Step = Claim | Completion | Release


_HELD_BY = select(IdempotencyRecord.answer, IdempotencyRecord.fingerprint, IdempotencyRecord.claimed_at)
_CLAIM_COLUMNS = ("tenant_id", "key", "fingerprint", "answer", "claimed_at", "expires_at")
_claims: dict[str, Any] = {}


def _claim_statement(connection: Connection) -> Any:
    """Insert the record, or take an expired one over; the key comes back when either happened.
    Built once per dialect: building it costs more than running it."""
    statement = _claims.get(connection.dialect.name)
    if statement is None:
        insert = upsert_insert(connection)(IdempotencyRecord.__table__).values(
            {name: bindparam(name) for name in _CLAIM_COLUMNS})
        replaced = {name: insert.excluded[name] for name in _CLAIM_COLUMNS}
        statement = _claims[connection.dialect.name] = insert.on_conflict_do_update(
            index_elements=["tenant_id", "key"], set_=replaced,
            where=IdempotencyRecord.expires_at <= bindparam("claimed_at")).returning(IdempotencyRecord.key)
    return statement


_MINE = (IdempotencyRecord.tenant_id == bindparam("tenant")) & (IdempotencyRecord.key == bindparam("record"))
_COMPLETE = update(IdempotencyRecord).where(_MINE).values(answer=bindparam("answer"))
_RELEASE = delete(IdempotencyRecord).where(_MINE, IdempotencyRecord.answer == "")


def settle(engine: Engine, steps: list[Step]) -> list[Taken | None]:
    """The steps in order, in one transaction. A Claim's result is None when its send has the
    key now, else the key's holder; the other steps' results are None. Written in SQL
    statements built once, not ORM objects: a claim is one INSERT in the usual case, and a
    run of completions or releases one executemany."""
    results: list[Taken | None] = []
    with engine.begin() as connection:
        now = utcnow()
        for kind, run in itertools.groupby(steps, type):
            if kind is Claim:
                results += [_claim(connection, step, now) for step in run if isinstance(step, Claim)]
                continue
            rows = [{"tenant": step.tenant_id, "record": step.key}
                    | ({"answer": step.answer} if isinstance(step, Completion) else {}) for step in run]
            connection.execute(_COMPLETE if kind is Completion else _RELEASE, rows)
            results += [None] * len(rows)
    return results


def _claim(connection: Connection, step: Claim, now: datetime) -> Taken | None:
    row = {"tenant_id": step.tenant_id, "key": step.key, "fingerprint": step.fingerprint, "answer": "",
           "claimed_at": now, "expires_at": now + timedelta(hours=step.hours)}
    if connection.execute(_claim_statement(connection), row).first() is not None:
        return None
    mine = (IdempotencyRecord.tenant_id == step.tenant_id) & (IdempotencyRecord.key == step.key)
    held = connection.execute(_HELD_BY.where(mine)).one()
    return Taken(held.answer, held.fingerprint, held.claimed_at)


def claim(engine: Engine, tenant_id: int, key: str, fingerprint: str, hours: int) -> Taken | None:
    """Take the key for a send, in a transaction of its own; None: this send has it now."""
    return settle(engine, [Claim(tenant_id, key, fingerprint, hours)])[0]


def complete(engine: Engine, tenant_id: int, key: str, answer: str) -> None:
    settle(engine, [Completion(tenant_id, key, answer)])


def release(engine: Engine, tenant_id: int, key: str) -> None:
    settle(engine, [Release(tenant_id, key)])


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
