"""Warm-up that advances on feedback: an address whose mail fared well over its step moves to the
next cap; one whose bounce rate passed the line holds; one that had a bad day steps back."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import Engine, select

from core import pools, warmup
from core.config import WarmupSettings
from core.db import session_scope
from core.events import MessageKeys, NewEvent, record_events
from core.models import AcceptedMessage, PoolIp, Tenant, utcnow
from core.postfix.transports import profile_transport, transport_name

CLEAN, BOUNCY, BAD_DAY, QUIET = "192.0.2.7", "192.0.2.8", "192.0.2.9", "192.0.2.10"
REFS = itertools.count()


def sent(engine: Engine, address: str, outcomes: dict[str, int], profile: str = "") -> None:
    """Messages routed through the address (or one of its profile transports) and their outcomes."""
    transport = transport_name(address)
    with session_scope(engine) as session:
        tenant = session.scalar(select(Tenant.id))
        assert tenant is not None
        new = []
        for kind, count in outcomes.items():
            for n in range(count):
                ref = f"m{next(REFS):015d}"
                session.add(AcceptedMessage(message_ref=ref, tenant_id=tenant, recipients=f"r{n}@x.test",
                                            transport=profile_transport(transport, profile) if profile
                                            else transport))
                new.append(NewEvent(kind, f"r{n}@x.test", "", tenant, MessageKeys(ref, "", "")))
        session.flush()
        record_events(session, new)


def test_the_step_moves_on_the_addresses_feedback(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(Tenant(name="acme"))
        for address in (CLEAN, BOUNCY, BAD_DAY, QUIET):
            pools.add_ip(session, "default", address, f"out{address[-2:]}.relay.test".replace(".", "", 1),
                         warmup_caps=[10, 20, 40])
        session.scalar(select(PoolIp).where(PoolIp.address == BAD_DAY)).warmup_step = 1  # type: ignore[union-attr]
    sent(engine, CLEAN, {"delivered": 95, "deferred": 3}, profile="gmail")
    sent(engine, CLEAN, {"bounced": 2})
    sent(engine, BOUNCY, {"delivered": 90, "bounced": 5})  # 5.3% bounces: past 3%, not past 6%
    sent(engine, BAD_DAY, {"delivered": 80, "bounced": 20})  # 20%: a bad day
    sent(engine, QUIET, {"delivered": 5})
    settings = WarmupSettings()
    with session_scope(engine) as session:
        assert warmup.advance_warmups(session, settings, utcnow() + timedelta(hours=1)) == []  # not due yet
        events = warmup.advance_warmups(session, settings, utcnow() + timedelta(hours=25))
        assert {(e.subject, e.kind) for e in events} == {
            (CLEAN, "warmup_advanced"), (BOUNCY, "warmup_held"), (BAD_DAY, "warmup_stepped_back"),
            (QUIET, "warmup_held")}
        found = {ip.address: (ip.warmup_step, pools.warmup_cap(ip), ip.warmup_note)
                 for ip in session.scalars(select(PoolIp))}
    assert found[CLEAN] == (1, 20, "advanced: bounce 2.1%, deferral 3.0%, complaint 0.0%")
    assert found[BOUNCY][:2] == (0, 10) and "over the line: bounce" in found[BOUNCY][2]
    assert found[BAD_DAY][:2] == (0, 10) and found[BAD_DAY][2].startswith("stepped back after a bad day")
    assert found[QUIET][:2] == (0, 10) and "too few to judge" in found[QUIET][2]


def test_past_the_last_step_the_address_is_warm(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(Tenant(name="acme"))
        ip = pools.add_ip(session, "default", CLEAN, "out7.relay.test", warmup_caps=[10])
    sent(engine, CLEAN, {"delivered": 50})
    with session_scope(engine) as session:
        warmup.advance_warmups(session, WarmupSettings(), utcnow() + timedelta(hours=25))
        ip = pools.get_ip(session, CLEAN)
        assert (ip.state, pools.warmup_cap(ip)) == ("active", None)
        assert ip.warmup_note.startswith("warmed up; advanced")
