"""Adaptive shaping against MX hosts that answer like Yahoo and Gmail past a rate: the pathway is
suspended or slowed, its mail waits in Postfix's queue, then goes once the host answers cleanly;
every message arrives once, and the other providers' pathways are never touched.

Runs inside the namespace that tests/integration/test_world.py makes (see conftest.py).
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from core.config import DEFAULT_SHAPING_RULES
from core.models import Event, PathwayState
from relayctl.cli import main as relayctl
from tests.support.box import DOMAIN, Box, message, running_box
from tests.support.dns_server import LoopbackDns
from tests.support.fake_mx import FakeMx
from tests.support.sink import Sink
from tests.support.waiting import eventually

TSS04 = ("421 4.7.0 [TSS04] Messages from 127.0.0.1 temporarily deferred due to unexpected volume or user "
         "complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes")
GMAIL_RATE = "421 4.7.28 Gmail has detected an unusual rate of unsolicited mail originating from your IP."
SUSPEND_SECONDS = 12  # and slowed
RELOAD_SECONDS = 3  # main.cf is written, then Postfix reloaded
MX = {"yahoo": ("yahoo.test", "mta5.am0.yahoodns.net", "127.0.0.41"),
      "gmail": ("gmail.test", "gmail-smtp-in.l.google.com", "127.0.0.42"),
      "microsoft": ("hotmail.test", "hotmail-com.olc.protection.outlook.com", "127.0.0.43")}


@dataclass
class World:
    box: Box
    mx: dict[str, FakeMx]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    dns = LoopbackDns(port=53)
    mx = {name: FakeMx(address) for name, (_, _, address) in MX.items()}
    for domain, host, address in MX.values():
        dns.add(domain, "MX", f"10 {host}.")
        dns.add(host, "A", address)
    dns.start()
    for server in mx.values():
        server.start()
    sink = Sink()
    sink.start()
    profiles = [{"name": name, "domains": [domain], "concurrency": 2, "recipients_per_delivery": 1}
                for name, (domain, _, _) in MX.items()]
    rules = [dataclasses.asdict(dataclasses.replace(
        rule, seconds=SUSPEND_SECONDS)) for rule in DEFAULT_SHAPING_RULES]
    try:
        with running_box(sink, postfix={"relayhost": ""}, delivery_profiles=profiles,
                         shaping={"rules": rules, "step_seconds": 2}) as box:
            yield World(box, mx)
    finally:
        sink.stop()
        for server in mx.values():
            server.stop()
        dns.stop()


def send(box: Box, subject: str, to: str) -> None:
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        client.rcpt(to)
        code, reply = client.data(message(subject, to=to))
    assert code == 250, reply


def pathway(box: Box, transport: str) -> tuple[str, int] | None:
    with box.db_session() as session:
        state = session.get(PathwayState, transport)
        return None if state is None else (state.state, state.concurrency)


def main_cf(box: Box) -> str:
    return (box.instance.config_dir / "main.cf").read_text()


def arrivals(server: FakeMx, prefix: str) -> Counter[str]:
    subject = f"Subject: {prefix}".encode()
    return Counter(r for m in server.received if subject in m.content for r in m.rcpt_tos)


def test_yahoo_throttling_suspends_the_pathway_and_the_mail_waits_then_goes_once(world: World) -> None:
    yahoo = world.mx["yahoo"]
    yahoo.throttle_after(1, TSS04)
    recipients = [f"y{n}@yahoo.test" for n in range(4)]
    for n, recipient in enumerate(recipients[:3]):
        send(world.box, f"yahoo {n}", recipient)
    eventually(lambda: pathway(world.box, "out_default__yahoo") == ("suspended", 2), "the suspension",
               timeout=30)
    eventually(lambda: "\ndefer_transports = out_default__yahoo\n" in main_cf(world.box),
               "defer_transports in main.cf", timeout=10)
    time.sleep(RELOAD_SECONDS)
    yahoo.unthrottle()
    delivered_while_suspended = arrivals(yahoo, "yahoo")
    send(world.box, "yahoo 3", recipients[3])  # while suspended: it waits too
    time.sleep(2)
    assert arrivals(yahoo, "yahoo") == delivered_while_suspended
    assert pathway(world.box, "out_default__yahoo") == ("suspended", 2)
    # The suspension ends, the pathway sends again with one connection and the queue is flushed.
    eventually(lambda: arrivals(yahoo, "yahoo") == Counter(recipients), "every message at Yahoo, once",
               timeout=60)
    time.sleep(2)
    assert arrivals(yahoo, "yahoo") == Counter(recipients)


def test_gmail_rate_replies_slow_the_pathway_which_climbs_back(world: World) -> None:
    gmail = world.mx["gmail"]
    gmail.throttle_after(1, GMAIL_RATE)
    recipients = [f"g{n}@gmail.test" for n in range(3)]
    for n, recipient in enumerate(recipients):
        send(world.box, f"gmail {n}", recipient)
    eventually(lambda: pathway(world.box, "out_default__gmail") == ("slowed", 1), "the slowdown", timeout=30)
    eventually(lambda: "\nout_default__gmail_destination_concurrency_limit = 1\n" in main_cf(world.box),
               "the slowed limit in main.cf", timeout=10)
    assert "out_default__gmail" not in main_cf(world.box).split("defer_transports =")[1].split("\n")[0]
    gmail.unthrottle()
    world.box.instance.flush()  # Postfix's own retry, sooner
    eventually(lambda: arrivals(gmail, "gmail") == Counter(recipients), "every message at Gmail, once",
               timeout=60)
    # Clean replies: back at the profile's limits, the state gone.
    eventually(lambda: pathway(world.box, "out_default__gmail") is None, "the climb back", timeout=30)
    eventually(lambda: "\nout_default__gmail_destination_concurrency_limit = 2\n" in main_cf(world.box),
               "the profile's limit again", timeout=10)


def test_the_other_providers_pathways_were_never_touched(world: World) -> None:
    send(world.box, "microsoft 0", "m0@hotmail.test")
    eventually(lambda: arrivals(world.mx["microsoft"], "microsoft") == Counter(["m0@hotmail.test"]),
               "the message at Microsoft")
    with world.box.db_session() as session:
        touched = {e.subject for e in session.scalars(select(Event).where(Event.kind.like("pathway%")))}
    assert touched <= {"out_default__yahoo", "out_default__gmail"}
    assert pathway(world.box, "out_default__microsoft") is None


def test_relayctl_lists_and_clears_a_pathway(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.mx["yahoo"].throttle_after(0, TSS04)
    send(world.box, "yahoo again", "again@yahoo.test")
    eventually(lambda: (pathway(world.box, "out_default__yahoo") or ("",))[0] == "suspended",
               "the suspension again", timeout=30)
    world.mx["yahoo"].unthrottle()
    capsys.readouterr()
    assert relayctl(["--config", str(world.box.config_path), "pathway", "list"]) == 0
    listed = capsys.readouterr().out
    assert "out_default__yahoo" in listed and "suspended" in listed and "[TSS04]" in listed
    assert relayctl(["--config", str(world.box.config_path), "pathway", "clear", "out_default__yahoo"]) == 0
    assert pathway(world.box, "out_default__yahoo") is None
    try:
        eventually(lambda: arrivals(world.mx["yahoo"], "yahoo again") == Counter(["again@yahoo.test"]),
                   "the waiting message, flushed", timeout=30)
    except AssertionError:
        raise AssertionError("\n".join(line for line in world.box.postfix_log().splitlines()
                                       if "again@" in line or "reload" in line or "flush" in line)) from None
