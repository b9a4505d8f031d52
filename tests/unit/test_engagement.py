from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from core import tenants
from core.config import TrackingSettings
from core.db import session_scope
from core.engagement import CLICKED, OPENED, Hit, machine_by_sight, store_hits
from core.events import MessageKeys, record_event
from core.models import AcceptedMessage, Event, Tenant, utcnow
from core.tracking import Tracked

PERSON = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"


def test_what_a_request_shows_tells_some_machines() -> None:
    assert machine_by_sight("17.58.1.2", PERSON) == "apple-privacy-protection"
    assert machine_by_sight("203.0.113.9", "Mozilla/5.0") == "apple-privacy-protection"
    for agent in ("", "python-requests/2.31", "Mozilla/5.0 (compatible; Barracuda Sentinel)",
                  "Mozilla/5.0 HeadlessChrome/120.0", "curl/8.0"):
        assert machine_by_sight("203.0.113.9", agent) == "link-scanner", agent
    assert machine_by_sight("203.0.113.9", PERSON) is None
    assert machine_by_sight("not an address", PERSON) is None
    assert machine_by_sight("2001:db8::1", "Mozilla/5.0 (Linux; Android 14) GoogleImageProxy") is None


def test_hits_become_events_and_only_a_persons_first_counts(engine: Engine) -> None:
    delivered_at = utcnow() - timedelta(minutes=5)
    with session_scope(engine) as session:
        acme = tenants.add_tenant(session, "acme").id
        gone = tenants.add_tenant(session, "gone").id
        session.add(AcceptedMessage(message_ref="ref1", tenant_id=acme, tracked_domain="acme.test"))
        record_event(session, "delivered", "r@example.org", tenant_id=acme,
                     message=MessageKeys("ref1", "", ""))
        session.flush()
        for event in session.scalars(select(Event)):
            event.at = delivered_at
    with session_scope(engine) as session:
        session.delete(session.get(Tenant, gone))

    def hit(kind: str, seconds: float, agent: str = PERSON, tenant: int = acme, url: str = "") -> Hit:
        at = delivered_at + timedelta(seconds=seconds)
        return Hit(kind, Tracked(tenant, "ref1", "r@example.org", url), at, "203.0.113.9", agent)

    settings = TrackingSettings(machine_seconds=10)
    hits = [hit(CLICKED, 2, url="https://example.com/a"), hit(OPENED, 30, agent="Mozilla/5.0"),
            hit(OPENED, 60), hit(OPENED, 90), hit(CLICKED, 120, url="https://example.com/b"),
            hit(OPENED, 30, tenant=gone)]
    assert store_hits(engine, settings, hits) == 5
    with session_scope(engine) as session:
        events = [(e.kind, e.detail.split(" address=")[0]) for e in session.scalars(
            select(Event).where(Event.kind.in_((OPENED, CLICKED))).order_by(Event.id))]
        record = session.get(AcceptedMessage, "ref1")
    assert events == [(CLICKED, "url=https://example.com/a machine=within-10s-of-delivery"),
                      (OPENED, "machine=apple-privacy-protection"), (OPENED, "machine=no"),
                      (OPENED, "machine=no"), (CLICKED, "url=https://example.com/b machine=no")]
    assert record is not None
    assert record.opened_at == delivered_at + timedelta(seconds=60)
    assert record.clicked_at == delivered_at + timedelta(seconds=120)
