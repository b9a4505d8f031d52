from __future__ import annotations

from sqlalchemy import Engine

from core import reputation, tenants
from core.config import ReputationSettings
from core.db import session_scope
from core.events import recent_events, record_event
from relay.directory import load_snapshot

SETTINGS = ReputationSettings(window_hours=24, min_sends=100, bounce_warn=0.05, bounce_pause=0.10,
                              complaint_warn=0.001, complaint_pause=0.005, min_complaints=5)


def _outcomes(session: object, tenant_id: int, delivered: int, bounced: int, complained: int = 0) -> None:
    for kind, count in (("delivered", delivered), ("bounced", bounced), ("complained", complained)):
        for n in range(count):
            record_event(session, kind, f"r{n}@example.org", tenant_id=tenant_id)  # type: ignore[arg-type]


def test_a_tenant_is_warned_then_paused_then_resumed(engine: Engine) -> None:
    with session_scope(engine) as session:
        acme = tenants.add_tenant(session, "acme")
        quiet = tenants.add_tenant(session, "quiet")
        _outcomes(session, acme.id, delivered=93, bounced=7)
        _outcomes(session, quiet.id, delivered=10, bounced=10)  # too few sends to judge
        assert reputation.guard(session, SETTINGS) == ["acme"]
        assert (acme.status, quiet.status) == ("warned", "active")
        assert reputation.guard(session, SETTINGS) == []  # warned once
        _outcomes(session, acme.id, delivered=0, bounced=10)
        assert reputation.guard(session, SETTINGS) == ["acme"]
        assert acme.status == "paused"
        assert "bounce rate 15.5%" in recent_events(session, "tenant_paused")[0].detail
    snapshot = load_snapshot(engine)
    assert "acme" in snapshot.paused_tenants and "acme" not in snapshot.active_tenants
    with session_scope(engine) as session:
        reputation.resume(session, tenants.get_tenant(session, "acme"))
    assert "acme" in load_snapshot(engine).active_tenants


def test_complaints_pause_a_tenant(engine: Engine) -> None:
    with session_scope(engine) as session:
        acme = tenants.add_tenant(session, "acme")
        _outcomes(session, acme.id, delivered=1000, bounced=0, complained=6)
        assert reputation.guard(session, SETTINGS) == ["acme"] and acme.status == "paused"


def test_one_recipient_cannot_pause_a_tenant(engine: Engine) -> None:
    """One ARF report among 175 sends (0.57%) paused a tenant; so did one recipient reporting again."""
    with session_scope(engine) as session:
        acme = tenants.add_tenant(session, "acme")
        _outcomes(session, acme.id, delivered=175, bounced=0)
        for _ in range(8):
            record_event(session, "complained", "angry@example.org", tenant_id=acme.id)
        assert reputation.guard(session, SETTINGS) == ["acme"]
        assert acme.status == "warned"
        _outcomes(session, acme.id, delivered=0, bounced=0, complained=3)
        assert reputation.guard(session, SETTINGS) == []  # four recipients, not yet min_complaints
        record_event(session, "complained", "fifth@example.org", tenant_id=acme.id)
        assert reputation.guard(session, SETTINGS) == ["acme"] and acme.status == "paused"


def test_a_resume_starts_the_window_afresh(engine: Engine) -> None:
    with session_scope(engine) as session:
        acme = tenants.add_tenant(session, "acme")
        _outcomes(session, acme.id, delivered=80, bounced=40)
        assert reputation.guard(session, SETTINGS) == ["acme"] and acme.status == "paused"
        reputation.resume(session, acme)
        assert reputation.guard(session, SETTINGS) == []  # the old counts are not counted again
        assert acme.status == "active"
        _outcomes(session, acme.id, delivered=95, bounced=3)
        assert reputation.guard(session, SETTINGS) == []
        _outcomes(session, acme.id, delivered=0, bounced=20)  # new evidence since the resume
        assert reputation.guard(session, SETTINGS) == ["acme"] and acme.status == "paused"
