from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from core import archive, tenants
from core.config import ArchiveSettings
from core.db import session_scope
from core.errors import InvalidInputError
from core.models import ArchivedMessage, ArchivedRecipient, utcnow
from tests.support.html_mail import corpus

KEY = b"a" * 32


def test_a_sealed_message_shows_nothing_of_itself_and_opens_only_with_its_key() -> None:
    message = corpus()["single html utf-8 qp"]
    sealed = archive.seal(KEY, message)
    assert archive.unseal(KEY, sealed) == message
    assert b"winter" not in sealed and b"Lorem" not in sealed and b"example" not in sealed
    with pytest.raises(archive.DamagedArchive):
        archive.unseal(b"b" * 32, sealed)
    with pytest.raises(archive.DamagedArchive):
        archive.unseal(KEY, sealed[:-1] + bytes([sealed[-1] ^ 1]))
    # What the module's cost figure rests on: a newsletter keeps under 0.3 of its size.
    assert len(sealed) < 0.3 * len(message)


def test_retention_is_off_by_default_and_at_most_the_operators_maximum(engine: Engine) -> None:
    settings = ArchiveSettings(max_days=45)
    with session_scope(engine) as session:
        acme = tenants.add_tenant(session, "acme")
        assert acme.archive_days == 0
        assert archive.set_archive(session, settings, acme, 45, 10).archive_days == 45
        for days, cap in ((46, None), (-1, None), (10, -5), (10, 2 * 1024 * 1024)):
            with pytest.raises(InvalidInputError):
                archive.set_archive(session, settings, acme, days, cap)
        assert (acme.archive_days, acme.archive_max_mib) == (45, 10)


def test_the_sweep_removes_what_is_too_old_then_the_oldest_past_the_cap(engine: Engine) -> None:
    now = utcnow()
    settings = ArchiveSettings(max_days=30, default_max_mib=1)
    with session_scope(engine) as session:
        acme = tenants.add_tenant(session, "acme")
        other = tenants.add_tenant(session, "other")
        acme.archive_days, other.archive_days = 7, 0
        for n in range(10):
            session.add(ArchivedMessage(message_ref=f"a{n}", tenant_id=acme.id, at=now - timedelta(days=n),
                                        stored_size=300 * 1024, sealed=b"x"))
        session.add(ArchivedMessage(message_ref="o1", tenant_id=other.id, at=now, stored_size=1, sealed=b"x"))
    with session_scope(engine) as session:
        assert archive.sweep(session, settings, now) == 2 + 5 + 1
        kept = sorted(m.message_ref for m in session.scalars(select(ArchivedMessage)))
    # 8 days and older go by age (a8, a9), then all but the newest 3 by the 1 MiB cap; other keeps none.
    assert kept == ["a0", "a1", "a2"]


def test_search_finds_by_each_field_newest_first(engine: Engine) -> None:
    now = utcnow()
    with session_scope(engine) as session:
        acme = tenants.add_tenant(session, "acme")
        rows = [("r1", "Your receipt #42", "shop@acme.test", "ann@example.org", "receipt,eu", 1),
                ("r2", "Weekly news 100%", "news@acme.test", "bob@example.org\nann@example.org", "news", 2),
                ("r3", "Receipt #43", "shop@acme.test", "cy@example.org", "receipts", 3)]
        for ref, subject, sender, recipients, tags, age in rows:
            at = now - timedelta(days=age)
            session.add(ArchivedMessage(message_ref=ref, tenant_id=acme.id, subject=subject, sender=sender,
                                        recipients=recipients, tags=tags, at=at, sealed=b"x"))
            session.flush()
            session.add_all(ArchivedRecipient(message_ref=ref, address=address, at=at)
                            for address in recipients.split("\n"))
    cases = {archive.ArchiveQuery(subject="receipt"): ["r1", "r3"],
             archive.ArchiveQuery(subject="100%"): ["r2"],
             archive.ArchiveQuery(sender="news@"): ["r2"],
             archive.ArchiveQuery(recipient="ANN@example.org"): ["r1", "r2"],
             archive.ArchiveQuery(tag="receipt"): ["r1"],
             archive.ArchiveQuery(since=now - timedelta(days=2, hours=1)): ["r1", "r2"],
             archive.ArchiveQuery(until=now - timedelta(days=2, hours=1)): ["r3"],
             archive.ArchiveQuery(recipient="ann@"): [],
             archive.ArchiveQuery(subject="_"): []}
    with session_scope(engine) as session:
        for query, expected in cases.items():
            assert [m.message_ref for m in session.scalars(archive.search(query))] == expected, query
