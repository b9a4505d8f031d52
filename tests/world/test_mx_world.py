"""Delivery to the world: MX lookups, pool addresses, retries after 4xx, bounces after 5xx, and
how receivers judge the mail (SPF, DKIM, DMARC) once the operator and tenant published their records.

Runs inside the namespace that tests/integration/test_world.py makes (see conftest.py).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import pytest

from core.events import recent_events
from core.suppressions import list_suppressions
from relayctl.cli import main as relayctl
from tests.support.box import DOMAIN, TENANT, Box, message, running_box
from tests.support.dns_server import LoopbackDns, zone_records
from tests.support.fake_mx import FakeMx
from tests.support.receiver_verdict import Verdict, judge
from tests.support.sink import Received, Sink
from tests.support.waiting import eventually
from tests.world.conftest import WORLD_IPV6

T = TypeVar("T")
POOL_ADDRESS = "127.0.0.2"
POOL_HELO = "out2.relay.test"
POOL_ADDRESS_V6, MX_V6 = WORLD_IPV6
POOL_HELO_V6 = "out6.relay.test"


@dataclass
class World:
    box: Box
    dns: LoopbackDns
    mx: dict[str, FakeMx]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    dns = LoopbackDns(port=53)
    mx = {name: FakeMx(address)
          for name, address in (("mx1", "127.0.0.31"), ("mx2", "127.0.0.32"), ("mx6", MX_V6))}
    for domain, host, rdtype, address in (("world.test", "mx1.world.test", "A", "127.0.0.31"),
                                          ("backup.test", "mx2.backup.test", "A", "127.0.0.32"),
                                          ("six.test", "mx6.six.test", "AAAA", MX_V6)):
        dns.add(domain, "MX", f"10 {host}.")
        dns.add(host, rdtype, address)
    dns.add("2.0.0.127.in-addr.arpa", "PTR", f"{POOL_HELO}.")
    dns.add(POOL_HELO, "A", POOL_ADDRESS)
    dns.add(ipaddress.ip_address(POOL_ADDRESS_V6).reverse_pointer, "PTR", f"{POOL_HELO_V6}.")
    dns.add(POOL_HELO_V6, "AAAA", POOL_ADDRESS_V6)
    dns.start()
    for server in mx.values():
        server.start()
    sink = Sink()
    sink.start()
    try:
        profile = {"name": "bigmail", "domains": ["world.test"], "concurrency": 2,
                   "recipients_per_delivery": 1}
        with running_box(sink, postfix={"relayhost": ""}, delivery_profiles=[profile]) as box:
            yield World(box, dns, mx)
    finally:
        sink.stop()
        for server in mx.values():
            server.stop()
        dns.stop()


def ctl(box: Box, *args: str) -> int:
    return relayctl(["--config", str(box.config_path), *args])


def send(box: Box, subject: str, to: str) -> None:
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        client.rcpt(to)
        code, reply = client.data(message(subject, to=to))
    assert code == 250, reply


def wait_for(what: str, find: Callable[[], T], timeout: float = 30.0) -> T:
    return eventually(find, what, timeout, every=0.2)


def arrived(server: FakeMx, subject: str) -> Received:
    def find() -> list[Received]:
        return [m for m in server.received if f"Subject: {subject}\r\n".encode() in m.content]
    return wait_for(f"{subject!r} at {server.address}", find)[0]  # type: ignore[index,no-any-return]


def test_mail_goes_to_the_mx_from_the_pool_address_with_its_helo(world: World) -> None:
    assert ctl(world.box, "pool", "add-ip", "default", POOL_ADDRESS, "--helo", POOL_HELO) == 0
    assert ctl(world.box, "pool", "check", POOL_ADDRESS) == 0  # FCrDNS holds, listed nowhere
    world.box.directory_loaded()
    send(world.box, "to the world", "someone@world.test")
    received = arrived(world.mx["mx1"], "to the world")
    assert (received.source_address, received.helo) == (POOL_ADDRESS, POOL_HELO)
    assert b"DKIM-Signature:" in received.content and b"X-Mailrelay-Route" not in received.content


def test_a_4xx_at_the_mx_is_retried_by_postfix_then_delivered(world: World) -> None:
    world.mx["mx2"].reply_next("later@backup.test", "451 4.3.0 Greylisted, come back later")
    send(world.box, "greylisted", "later@backup.test")

    def deferred() -> bool:
        return any("to=<later@backup.test>" in line and "status=deferred" in line
                   for line in world.box.postfix_log().splitlines())
    wait_for("the deferral in Postfix's log", deferred)
    assert not [m for m in world.mx["mx2"].received if b"Subject: greylisted" in m.content]
    world.box.instance.flush()
    received = arrived(world.mx["mx2"], "greylisted")
    assert received.rcpt_tos == ["later@backup.test"]


def test_a_5xx_at_the_mx_bounces_and_the_intake_suppresses_the_recipient(world: World) -> None:
    world.mx["mx1"].always_reply("nobody@world.test", "550 5.1.1 <nobody@world.test>: no such user")
    send(world.box, "to nobody", "nobody@world.test")

    def suppressed() -> list[str]:
        with world.box.db_session() as session:
            return [s.reason for s in list_suppressions(session) if s.address == "nobody@world.test"]
    # Postfix's own DSN goes to the VERP address, which the bounce domain's transport hands
    # to the intake; its tag is authentic, so the hard bounce suppresses the address.
    assert wait_for("the suppression", suppressed) == ["hard_bounce"]
    # The outcome itself is one event, from Postfix's log; its own DSN adds no second one.
    def bounced() -> list[str]:
        with world.box.db_session() as session:
            return [e.detail for e in recent_events(session, "bounced") if e.subject == "nobody@world.test"]
    wait_for("the bounced event", bounced)
    time.sleep(2.0)
    details = bounced()
    assert len(details) == 1, details
    assert "dsn=5.1.1" in details[0] and "no such user" in details[0]


def test_a_big_providers_profile_shapes_its_deliveries(world: World) -> None:
    with world.box.client() as client:
        client.mail(f"app@{DOMAIN}")
        for recipient in ("one@world.test", "two@world.test"):
            client.rcpt(recipient)
        assert client.data(message("shaped", to="one@world.test"))[0] == 250

    def deliveries() -> list[Received]:
        found = [m for m in world.mx["mx1"].received if b"Subject: shaped\r\n" in m.content]
        return found if len(found) == 2 else []
    # recipients_per_delivery = 1: one transaction per recipient, through the profile's transport.
    assert sorted(r for m in wait_for("two deliveries", deliveries) for r in m.rcpt_tos) == [  # type: ignore[attr-defined]
        "one@world.test", "two@world.test"]
    assert "relaytest/smtp_127_0_0_2__bigmail" in world.box.postfix_log()


def test_a_listed_address_is_paused_with_an_event(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.dns.add(f"2.0.0.127.{world.box.settings.dns.blocklists[0]}", "A", "127.0.0.2")
    try:
        assert ctl(world.box, "pool", "check", POOL_ADDRESS) == 1
        capsys.readouterr()
        assert ctl(world.box, "events", "--kind", "ip_paused") == 0
        shown = capsys.readouterr().out
        assert POOL_ADDRESS in shown and f"listed on {world.box.settings.dns.blocklists[0]}" in shown
    finally:
        del world.dns.records[(f"2.0.0.127.{world.box.settings.dns.blocklists[0]}", "A")]
        assert ctl(world.box, "pool", "resume", POOL_ADDRESS) == 0


def test_an_ipv6_pool_address_sends_to_an_ipv6_mx(world: World) -> None:
    assert ctl(world.box, "pool", "add", "six") == 0
    assert ctl(world.box, "pool", "add-ip", "six", POOL_ADDRESS_V6, "--helo", POOL_HELO_V6) == 0
    assert "inet_protocols = ipv4, ipv6" in (world.box.instance.config_dir / "main.cf").read_text()
    assert ctl(world.box, "pool", "assign", TENANT, "six") == 0
    try:
        world.box.directory_loaded()
        send(world.box, "over ipv6", "someone@six.test")
        received = arrived(world.mx["mx6"], "over ipv6")
        assert (received.source_address, received.helo) == (POOL_ADDRESS_V6, POOL_HELO_V6)
        assert b"DKIM-Signature:" in received.content
    finally:
        assert ctl(world.box, "pool", "assign", TENANT, "default") == 0


def publish_printed(world: World, capsys: pytest.CaptureFixture[str], *command: str,
                    leave_out: str = "") -> None:
    """Publish what a relayctl command prints in zone-file lines, as the operator or tenant would."""
    capsys.readouterr()
    ctl(world.box, *command)
    for name, rdtype, value in zone_records(capsys.readouterr().out):
        if name != leave_out:
            world.dns.records[(name.lower(), rdtype)] = [value]


def judged(world: World, subject: str) -> tuple[Received, Verdict]:
    received = arrived(world.mx["mx1"], subject)
    return received, judge(received.content, received.source_address, received.helo, received.mail_from, 53)


def test_receivers_find_spf_and_dkim_passing_and_dmarc_passing_on_dkim_alone(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    publish_printed(world, capsys, "dns")
    publish_printed(world, capsys, "domain", "records", DOMAIN, leave_out=f"rp.{DOMAIN}")
    world.dns.add(DOMAIN, "MX", f"10 mx.{DOMAIN}.")  # a domain in DNS: DMARC applies to it
    assert ctl(world.box, "domain", "verify", DOMAIN) == 0
    world.box.directory_loaded()
    with world.box.client() as client:
        client.sendmail(f"app@{DOMAIN}", ["reader@world.test"], message(
            "judged plain", to="reader@world.test", extra_headers="X-Mailrelay-List: weekly-news\r\n"))
    received, verdict = judged(world, "judged plain")
    assert received.mail_from.endswith("@bounces.relay.test")
    assert verdict.spf == "pass"
    [(domain, result, signed)] = verdict.dkim
    assert (domain, result) == (DOMAIN, "pass")
    assert {"list-unsubscribe", "list-unsubscribe-post", "from"} <= set(signed)
    assert verdict.dmarc == "pass", verdict
    assert (verdict.dmarc_detail["dkim"], verdict.dmarc_detail["spf_align"]) == ("pass", "")


def test_with_rp_published_spf_passes_aligned_and_dmarc_passes(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    publish_printed(world, capsys, "domain", "records", DOMAIN)
    assert ctl(world.box, "domain", "verify", DOMAIN) == 0
    world.box.directory_loaded()
    send(world.box, "judged aligned", "reader@world.test")
    received, verdict = judged(world, "judged aligned")
    assert received.mail_from.endswith(f"@rp.{DOMAIN}")
    assert verdict.spf == "pass"
    assert verdict.dmarc == "pass", verdict
    assert (verdict.dmarc_detail["spf"], verdict.dmarc_detail["spf_align"]) == ("pass", "relaxed")
    assert verdict.dmarc_detail["dkim_align"] in ("strict", "relaxed")
