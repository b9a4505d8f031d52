from __future__ import annotations

from sqlalchemy import Engine

from core import reputation, tenants
from core.config import DEFAULT_DELIVERY_PROFILES, ReputationSettings
from core.db import session_scope
from core.events import recent_events, record_event
from relay.directory import load_snapshot

SETTINGS = ReputationSettings(window_hours=24, min_sends=100, bounce_warn=0.05, bounce_pause=0.10,
                              complaint_warn=0.001, complaint_pause=0.005, min_complaints=5,
                              provider_complaint_warn=0.001, provider_complaint_pause=0.003)
PROFILES = DEFAULT_DELIVERY_PROFILES


def _outcomes(session: object, tenant_id: int, delivered: int, bounced: int, complained: int = 0,
              domain: str = "example.org") -> None:
    for kind, count in (("delivered", delivered), ("bounced", bounced), ("complained", complained)):
        for n in range(count):
            record_event(session, kind, f"r{n}@{domain}", tenant_id=tenant_id)  # type: ignore[arg-type]


def test_a_tenant_is_warned_then_paused_then_resumed(engine: Engine) -> None:
    with session_scope(engine) as session:
        acme = tenants.add_tenant(session, "acme")
        quiet = tenants.add_tenant(session, "quiet")
        _outcomes(session, acme.id, delivered=93, bounced=7)
        _outcomes(session, quiet.id, delivered=10, bounced=10)  # too few sends to judge
        assert reputation.guard(session, SETTINGS, PROFILES) == ["acme"]
        assert (acme.status, quiet.status) == ("warned", "active")
        assert reputation.guard(session, SETTINGS, PROFILES) == []  # warned once
        _outcomes(session, acme.id, delivered=0, bounced=10)
        assert reputation.guard(session, SETTINGS, PROFILES) == ["acme"]
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
        assert reputation.guard(session, SETTINGS, PROFILES) == ["acme"] and acme.status == "paused"


def test_one_recipient_cannot_pause_a_tenant(engine: Engine) -> None:
    """One ARF report among 175 sends (0.57%) paused a tenant; so did one recipient reporting again."""
    with session_scope(engine) as session:
        acme = tenants.add_tenant(session, "acme")
        _outcomes(session, acme.id, delivered=175, bounced=0)
        for _ in range(8):
            record_event(session, "complained", "angry@example.org", tenant_id=acme.id)
        assert reputation.guard(session, SETTINGS, PROFILES) == ["acme"]
        assert acme.status == "warned"
        _outcomes(session, acme.id, delivered=0, bounced=0, complained=3)
        assert reputation.guard(session, SETTINGS, PROFILES) == []  # four recipients, not yet min_complaints
        record_event(session, "complained", "fifth@example.org", tenant_id=acme.id)
        assert reputation.guard(session, SETTINGS, PROFILES) == ["acme"] and acme.status == "paused"


def test_a_resume_starts_the_window_afresh(engine: Engine) -> None:
    with session_scope(engine) as session:
        acme = tenants.add_tenant(session, "acme")
        _outcomes(session, acme.id, delivered=80, bounced=40)
        assert reputation.guard(session, SETTINGS, PROFILES) == ["acme"] and acme.status == "paused"
        reputation.resume(session, acme)
        assert reputation.guard(session, SETTINGS, PROFILES) == []  # the old counts are not counted again
        assert acme.status == "active"
        _outcomes(session, acme.id, delivered=95, bounced=3)
        assert reputation.guard(session, SETTINGS, PROFILES) == []
        _outcomes(session, acme.id, delivered=0, bounced=20)  # new evidence since the resume
        assert reputation.guard(session, SETTINGS, PROFILES) == ["acme"] and acme.status == "paused"


def test_complaints_at_one_provider_pause_a_tenant_under_the_overall_line(engine: Engine) -> None:
    with session_scope(engine) as session:
        acme = tenants.add_tenant(session, "acme")
        _outcomes(session, acme.id, delivered=3000, bounced=0, complained=1)
        _outcomes(session, acme.id, delivered=1000, bounced=0, domain="Gmail.com")
        _outcomes(session, acme.id, delivered=0, bounced=0, complained=3, domain="gmail.com")
        # 4 of 4,000 overall (0.10%) warns; 3 of 1,000 at gmail (0.30%) is fewer than min_complaints.
        assert reputation.guard(session, SETTINGS, PROFILES) == ["acme"] and acme.status == "warned"
        _outcomes(session, acme.id, delivered=0, bounced=0, complained=5, domain="googlemail.com")
        # 9 of 4,000 overall is 0.23%, under the tenant's 0.5%; 8 of 1,000 at gmail is past 0.3%.
        assert reputation.guard(session, SETTINGS, PROFILES) == ["acme"] and acme.status == "paused"
        detail = recent_events(session, "tenant_paused")[0].detail
        assert detail.startswith("at gmail: ") and "complaint rate 0.80% over 1000 sends" in detail


def test_a_provider_with_few_sends_is_not_judged(engine: Engine) -> None:
    with session_scope(engine) as session:
        acme = tenants.add_tenant(session, "acme")
        _outcomes(session, acme.id, delivered=5000, bounced=0)
        _outcomes(session, acme.id, delivered=50, bounced=0, complained=5, domain="yahoo.com")
        assert reputation.guard(session, SETTINGS, PROFILES) == [] and acme.status == "active"
