"""IP pools in the real path: which address each message leaves from, and when none may."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from core import shaping, tenants
from core.db import bump_directory_version
from core.models import PathwayState, utcnow
from milter.policy import NO_ROUTE
from relayctl.cli import main as relayctl
from tests.support.box import DOMAIN, Box, message
from tests.support.sink import Received
from tests.support.waiting import eventually

WEIGHTS = {"127.0.0.2": 1, "127.0.0.3": 2, "127.0.0.4": 3}
# Chi-square with 2 degrees of freedom: exceeded by chance once in a thousand runs.
CHI_SQUARE_LIMIT = 13.8


def ctl(box: Box, *args: str) -> None:
    assert relayctl(["--config", str(box.config_path), *args]) == 0


def helo(address: str) -> str:
    return f"out{address.rsplit('.', 1)[1]}.relay.test"



def send_many(box: Box, subject: str, count: int, username: str = "", password: str = "",
              sender: str = f"app@{DOMAIN}") -> list[tuple[int, bytes]]:
    with box.client(login=False) as client:
        client.login(username or box.username, password or box.password)
        replies = []
        for n in range(count):
            client.mail(sender)
            client.rcpt("someone@example.org")
            replies.append(client.data(message(f"{subject} {n}", sender=sender)))
    return replies


def arrived(box: Box, subject: str, count: int) -> list[str]:
    def all_of_them() -> list[Received]:
        messages = [m for m in box.sink.messages if f"Subject: {subject} ".encode() in m.content]
        return messages if len(messages) >= count else []
    found = eventually(all_of_them, f"{count} messages {subject!r}", timeout=60)
    assert len(found) == count
    for received in found:
        if received.source_address != "127.0.0.1":
            assert received.helo == helo(received.source_address)
    return [m.source_address for m in found]


def test_a_pool_sends_from_its_addresses_in_proportion_to_their_weights(box: Box) -> None:
    ctl(box, "pool", "add", "weighted")
    for address, weight in WEIGHTS.items():
        ctl(box, "pool", "add-ip", "weighted", address, "--helo", helo(address), "--weight", str(weight))
    ctl(box, "pool", "assign", "acme", "weighted")
    box.directory_loaded()
    total = 300
    assert all(code == 250 for code, _ in send_many(box, "weighted", total))
    sources = Counter(arrived(box, "weighted", total))
    assert set(sources) == set(WEIGHTS)
    expected = {a: total * w / sum(WEIGHTS.values()) for a, w in WEIGHTS.items()}
    chi_square = sum((sources[a] - e) ** 2 / e for a, e in expected.items())
    assert chi_square < CHI_SQUARE_LIMIT, sources

    ctl(box, "pool", "pause", "127.0.0.4", "--reason", "test")
    box.directory_loaded()
    assert all(code == 250 for code, _ in send_many(box, "paused", 30))
    assert "127.0.0.4" not in arrived(box, "paused", 30)
    ctl(box, "pool", "resume", "127.0.0.4")


def _tenant(box: Box, name: str) -> tuple[str, str, str]:
    with box.db_session() as session:
        credential = tenants.add_credential(session, name)
    return credential.username, credential.secret, f"app@{name}.test"


def test_a_warm_up_cap_is_held_and_an_empty_pool_gets_451(box: Box) -> None:
    username, password, sender = _tenant(box, "other")
    ctl(box, "pool", "add", "warming")
    ctl(box, "pool", "add-ip", "warming", "127.0.0.5", "--helo", helo("127.0.0.5"), "--warmup", "4,8,16")
    ctl(box, "pool", "assign", "other", "warming")
    box.directory_loaded()
    replies = send_many(box, "warm", 6, username, password, sender)
    assert [code for code, _ in replies] == [250] * 4 + [451] * 2
    assert replies[-1][1].decode() == NO_ROUTE.split(" ", 1)[1]
    assert arrived(box, "warm", 4) == ["127.0.0.5"] * 4

    ctl(box, "pool", "add", "empty")
    ctl(box, "pool", "assign", "other", "empty")
    box.directory_loaded()
    assert send_many(box, "nowhere", 1, username, password, sender)[0][0] == 451


def test_mail_queued_for_a_removed_address_is_still_delivered(box: Box) -> None:
    ctl(box, "pool", "add", "leaving")
    ctl(box, "pool", "add-ip", "leaving", "127.0.0.6", "--helo", helo("127.0.0.6"))
    ctl(box, "pool", "assign", "acme", "leaving")
    box.directory_loaded()
    box.sink.stop()
    try:
        assert all(code == 250 for code, _ in send_many(box, "queued", 3))
        def deferred() -> bool:  # each tried once from the address, while the sink is down
            return sum("smtp_127_0_0_6" in line and "status=deferred" in line
                       for line in box.postfix_log().splitlines()) >= 3
        eventually(deferred, "3 deferrals from 127.0.0.6")
        ctl(box, "pool", "remove-ip", "127.0.0.6")
    finally:
        box.sink.start()
    box.instance.flush()
    assert arrived(box, "queued", 3) == ["127.0.0.1"] * 3


def test_a_rerouting_suspension_sends_the_providers_mail_from_the_other_address(box: Box) -> None:
    ctl(box, "pool", "add", "rerouting")
    for address in ("127.0.0.7", "127.0.0.8"):
        ctl(box, "pool", "add-ip", "rerouting", address, "--helo", helo(address))
    ctl(box, "pool", "assign", "acme", "rerouting")
    suspended = "smtp_127_0_0_7__gmail"
    with box.db_session() as session:
        session.add(PathwayState(transport=suspended, state=shaping.SUSPENDED, rule="test",
                                 reason="421 [test]", until=utcnow() + timedelta(hours=1),
                                 concurrency=1, rate_delay_seconds=0,
                                 reroute=True))
        bump_directory_version(session)
        session.commit()
    try:
        box.directory_loaded()
        with box.client() as client:
            for n in range(20):
                client.mail(f"app@{DOMAIN}")
                client.rcpt(f"someone{n}@gmail.com")
                assert client.data(message(f"rerouted {n}", to=f"someone{n}@gmail.com"))[0] == 250
        assert set(arrived(box, "rerouted", 20)) == {"127.0.0.8"}
        # Mail to anyone else still goes from both.
        assert set(arrived(box, "both", len(send_many(box, "both", 40)))) == {"127.0.0.7", "127.0.0.8"}
    finally:
        with box.db_session() as session:
            shaping.clear(session, suspended)
            session.commit()
        ctl(box, "pool", "assign", "acme", "default")
