"""Pools and addresses in the database, and the checks of each address against a loopback DNS."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from core import pools, tenants
from core.config import settings_from_mapping
from core.db import session_scope
from core.domain_verify import make_resolver
from core.errors import ConflictError, InvalidInputError, NotFoundError
from core.events import recent_events
from core.ip_checks import check_ip
from core.models import utcnow
from core.postfix.transports import delivery_transports
from tests.support.dns_server import LoopbackDns


def test_addresses_are_validated_and_transports_stay_for_removed_ones(engine: Engine) -> None:
    with session_scope(engine) as session:
        pools.add_pool(session, "dedicated")
        with pytest.raises(InvalidInputError):
            pools.add_ip(session, "dedicated", "300.1.1.1", "out.relay.test")
        with pytest.raises(InvalidInputError):
            pools.add_ip(session, "dedicated", "192.0.2.1", "not a name")
        pools.add_ip(session, "dedicated", "192.0.2.1", "out1.relay.test")
        pools.add_ip(session, "default", "2001:db8::1", "out6.relay.test", weight=5)
        with pytest.raises(ConflictError):
            pools.add_ip(session, "default", "192.0.2.1", "out1.relay.test")
        with pytest.raises(NotFoundError):
            pools.assign_tenant(session, "nobody", "dedicated")
        pools.remove_ip(session, "192.0.2.1")
        transports = {t.name: t for t in delivery_transports(session)}
    assert transports["smtp_192_0_2_1"].bind_address == ""
    v6 = transports["smtp_v6_20010db8000000000000000000000001"]
    assert (v6.bind_address, v6.ipv6, v6.helo_name) == ("2001:db8::1", True, "out6.relay.test")


def test_warm_up_caps_follow_the_step_then_end(engine: Engine) -> None:
    with session_scope(engine) as session:
        ip = pools.add_ip(session, "default", "192.0.2.7", "out7.relay.test", warmup_caps=[10, 20, 40])
        assert ip.state == "warming" and ip.warmup_started is not None
        caps = []
        for step in range(4):
            ip.warmup_step = step
            caps.append(pools.warmup_cap(ip))
    assert caps == [10, 20, 40, None]


def test_fcrdns_and_blocklists_pause_a_listed_address(engine: Engine, dns: LoopbackDns) -> None:
    settings = settings_from_mapping({"hostname": "relay.test", "dns": {
        "nameservers": ["127.0.0.1"], "nameserver_port": dns.port,
        "blocklists": ["bl.test", "other-bl.test"]}})
    dns.add("2.2.0.192.in-addr.arpa", "PTR", "out2.relay.test.")
    dns.add("out2.relay.test", "A", "192.0.2.2")
    dns.add("3.2.0.192.in-addr.arpa", "PTR", "someone-else.test.")
    dns.add("out3.relay.test", "A", "192.0.2.3")
    dns.add("3.2.0.192.bl.test", "A", "127.0.0.2")
    resolver = make_resolver(settings)
    with session_scope(engine) as session:
        tenants.add_tenant(session, "acme")
        for n in (2, 3):
            pools.add_ip(session, "default", f"192.0.2.{n}", f"out{n}.relay.test")
        good = check_ip(resolver, "192.0.2.2", "out2.relay.test", settings.dns.blocklists)
        bad = check_ip(resolver, "192.0.2.3", "out3.relay.test", settings.dns.blocklists)
        assert (good.fcrdns_ok, good.listed_on) == (True, [])
        assert (bad.fcrdns_ok, bad.listed_on, bad.ptr_names) == (False, ["bl.test"], ["someone-else.test"])
        pools.record_check(session, good)
        listed = pools.record_check(session, bad)
        assert (listed.state, listed.paused_reason) == ("paused", "listed on bl.test")
        assert listed.last_checked_at is not None and listed.last_checked_at <= utcnow()
        assert pools.get_ip(session, "192.0.2.2").state == "active"
        assert [(e.kind, e.subject, e.detail) for e in recent_events(session)] == [
            ("ip_paused", "192.0.2.3", "listed on bl.test; it sends nothing until resumed")]
