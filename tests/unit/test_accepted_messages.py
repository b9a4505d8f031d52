from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import Engine, select

from core import accepted_messages, tenants
from core.db import session_scope
from core.models import AcceptedMessage, utcnow
from milter.accepted_record import Accepted, AcceptedRecorder


def test_old_message_records_are_forgotten(engine: Engine) -> None:
    with session_scope(engine) as session:
        acme = tenants.add_tenant(session, "acme")
        session.add_all([AcceptedMessage(message_ref=ref, tenant_id=acme.id, at=utcnow() - timedelta(age))
                         for ref, age in (("old", 91), ("new", 89))])
    with session_scope(engine) as session:
        assert accepted_messages.forget_old(session, 90) == 1
        assert [m.message_ref for m in session.scalars(select(AcceptedMessage))] == ["new"]


def test_a_record_the_database_refuses_holds_up_no_other(engine: Engine) -> None:
    with session_scope(engine) as session:
        acme = tenants.add_tenant(session, "acme").id
    recorder = AcceptedRecorder(engine, b"k" * 32)

    def accepted(ref: str, tenant_id: int) -> Accepted:
        return Accepted(0.0, "Q", tenant_id, ref, "a@acme.test", ["X@Example.org"], "<m>", "out_default")

    async def record() -> None:
        for item in (accepted("first", acme), accepted("orphan", acme + 99), accepted("third", acme)):
            recorder.record(item)
        await recorder.flush()

    asyncio.run(record())
    with session_scope(engine) as session:
        rows = {m.message_ref: m.recipients for m in session.scalars(select(AcceptedMessage))}
    assert rows == {"first": "x@example.org", "third": "x@example.org"}
