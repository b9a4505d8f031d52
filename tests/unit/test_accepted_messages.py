from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from core import accepted_messages, tenants
from core.db import session_scope
from core.models import AcceptedMessage, utcnow


def test_old_message_records_are_forgotten(engine: Engine) -> None:
    with session_scope(engine) as session:
        acme = tenants.add_tenant(session, "acme")
        session.add_all([AcceptedMessage(message_ref=ref, tenant_id=acme.id, at=utcnow() - timedelta(age))
                         for ref, age in (("old", 91), ("new", 89))])
    with session_scope(engine) as session:
        assert accepted_messages.forget_old(session, 90) == 1
        assert [m.message_ref for m in session.scalars(select(AcceptedMessage))] == ["new"]
