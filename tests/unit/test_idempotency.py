"""The record of keys sent under: claims, answers, releases, expiry and races, on each database."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine

from core import idempotency, tenants
from core.db import session_scope
from core.models import utcnow


def _tenant(engine: Engine) -> int:
    with session_scope(engine) as session:
        return tenants.add_tenant(session, "acme").id


def test_a_key_is_claimed_once_answered_and_released(engine: Engine) -> None:
    acme = _tenant(engine)
    assert idempotency.claim(engine, acme, "k1", "f", 24) is None
    pending = idempotency.claim(engine, acme, "k1", "f", 24)
    assert pending is not None and pending.answer == ""
    idempotency.complete(engine, acme, "k1", "4ABC")
    answered = idempotency.claim(engine, acme, "k1", "other", 24)
    assert answered is not None and (answered.answer, answered.fingerprint) == ("4ABC", "f")
    idempotency.release(engine, acme, "k1")  # an answered key is never given up
    assert idempotency.claim(engine, acme, "k1", "f", 24) is not None
    assert idempotency.claim(engine, acme, "k2", "f", 24) is None
    idempotency.release(engine, acme, "k2")
    assert idempotency.claim(engine, acme, "k2", "f", 24) is None


def test_of_concurrent_claims_one_wins(engine: Engine) -> None:
    acme = _tenant(engine)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: idempotency.claim(engine, acme, "race", "", 24), range(16)))
    assert sum(result is None for result in results) == 1


def test_expired_keys_are_claimed_afresh_and_swept(engine: Engine) -> None:
    acme = _tenant(engine)
    assert idempotency.claim(engine, acme, "old", "", 1) is None
    idempotency.complete(engine, acme, "old", "4OLD")
    with session_scope(engine) as session:
        assert idempotency.sweep(session, utcnow()) == 0
        assert idempotency.sweep(session, utcnow() + timedelta(hours=2)) == 1
    assert idempotency.claim(engine, acme, "old", "", 1) is None


def test_only_a_stale_pending_claim_is_taken_over(engine: Engine) -> None:
    acme = _tenant(engine)
    assert idempotency.claim(engine, acme, "k", "", 24) is None
    assert not idempotency.take_over(engine, acme, "k", utcnow() - timedelta(minutes=5))
    assert idempotency.take_over(engine, acme, "k", utcnow() + timedelta(seconds=1))
    idempotency.complete(engine, acme, "k", "4Q")
    assert not idempotency.take_over(engine, acme, "k", utcnow() + timedelta(hours=1))
