"""The send API's group commit: a completion left to the writer rides with the next claim's
transaction, or goes in one of its own LEAVE_SECONDS later; flush writes every step at once."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine, event, select

from core import idempotency, tenants
from core.db import session_scope
from core.models import IdempotencyRecord
from send_api.group_commit import LEAVE_SECONDS, GroupCommit


def _answers(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        return dict(connection.execute(select(IdempotencyRecord.key, IdempotencyRecord.answer)).all())


def _commits(engine: Engine) -> list[int]:
    counted = [0]

    @event.listens_for(engine, "commit")
    def _counted(_connection: object) -> None:
        counted[0] += 1
    return counted


def _acme(engine: Engine) -> int:
    with session_scope(engine) as session:
        return tenants.add_tenant(session, "acme").id


def test_a_left_completion_rides_with_the_next_claim(engine: Engine) -> None:
    acme = _acme(engine)
    commits = _commits(engine)

    async def scenario() -> dict[str, str]:
        group = GroupCommit(engine)
        assert await group.settle(idempotency.Claim(acme, "k1", "f", 24)) is None
        group.leave(idempotency.Completion(acme, "k1", "answer one"))
        assert await group.settle(idempotency.Claim(acme, "k2", "f", 24)) is None
        return _answers(engine)

    assert asyncio.run(scenario()) == {"k1": "answer one", "k2": ""}
    assert commits[0] == 2


def test_a_left_completion_alone_is_written_after_a_while_and_flush_writes_at_once(engine: Engine) -> None:
    acme = _acme(engine)

    async def scenario() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        group = GroupCommit(engine)
        await group.settle(idempotency.Claim(acme, "k1", "f", 24))
        await group.settle(idempotency.Claim(acme, "k2", "f", 24))
        group.leave(idempotency.Completion(acme, "k1", "one"))
        at_once = _answers(engine)
        for _ in range(100):  # no flush: the timer writes it
            await asyncio.sleep(LEAVE_SECONDS)
            if (later := _answers(engine))["k1"]:
                break
        group.leave(idempotency.Completion(acme, "k2", "two"))
        await group.flush()
        return at_once, later, _answers(engine)

    at_once, later, flushed = asyncio.run(scenario())
    assert at_once == {"k1": "", "k2": ""}
    assert later == {"k1": "one", "k2": ""}
    assert flushed == {"k1": "one", "k2": "two"}
