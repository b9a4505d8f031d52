"""Tracked links through the whole relay and the link service, and what an attacker tries on them:
tampered, cut, expired and misplaced tokens, another tenant's tracking host, repeats, machine
opens; a 20 MB HTML part and 50,000 links go out unchanged and signed."""

from __future__ import annotations

import email
import email.policy
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from core import tenants
from core.db import bump_directory_version
from core.models import AcceptedMessage, Event
from core.secretbox import SecretBox
from core.tracking import CLICK, Tracked, make_token, token_key
from core.tracking_rates import totals, tracking_rates
from links.tracking import FLUSH_SECONDS
from tests.integration.test_milter import publish_keys, verify
from tests.support.box import DOMAIN, Box, links_service, running_box
from tests.support.dns_server import LoopbackDns
from tests.support.sink import Sink, free_port
from tests.support.waiting import eventually

PERSON = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def fetch(url: str, host: str | None = None, agent: str = PERSON, method: str = "GET",
          forwarded_for: str | None = None) -> tuple[int, dict[str, str]]:
    headers = {"User-Agent": agent, **({"Host": host} if host else {}),
               **({"X-Forwarded-For": forwarded_for} if forwarded_for else {})}
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=30) as answer:
            return answer.status, dict(answer.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


@pytest.fixture(scope="module")
def box(sink: Sink, dns: LoopbackDns) -> Iterator[Box]:
    port = free_port()
    with running_box(sink, dns={"nameservers": ["127.0.0.1"], "nameserver_port": dns.port},
                     links={"port": port, "public_url": f"http://127.0.0.1:{port}"},
                     tracking={"machine_seconds": 0, "repeat_seconds": 60},
                     smtp={"max_message_size": 25 * 1024 * 1024}) as box, links_service(box):
        publish_keys(box, dns, DOMAIN)
        with box.db_session() as session:
            tenants.set_tracking(session, DOMAIN, opens=True, clicks=True)
        yield box


def html_message(subject: str, html: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = f"app@{DOMAIN}", "reader@example.org", subject
    message.set_content("text part")
    message.add_alternative(html, subtype="html")
    return message.as_bytes()


def send_and_receive(box: Box, subject: str, html: str, tracked: bool = True) -> tuple[str, bytes]:
    """The message's ref and content at the sink; with tracked, sent again until the milter tracks."""
    def delivered() -> tuple[str, bytes] | None:
        with box.client() as client:
            assert client.sendmail(f"app@{DOMAIN}", ["reader@example.org"], html_message(subject, html)) == {}
        received = box.sink.wait_for_subject(subject, timeout=60)[-1]
        found = received.mail_from.split(".")[1], received.content
        return found if (b"/c/" in received.content) == tracked else None
    return eventually(delivered, f"{subject!r} delivered", timeout=60, every=2.0)


def links_of(box: Box, content: bytes) -> dict[str, str]:
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    base = re.escape(box.settings.link_base_url)
    return {kind: f"{box.settings.link_base_url}/{kind}/{token}"
            for kind, token in re.findall(base + r"/([co])/([A-Za-z0-9_-]+)", html)}


def events(box: Box, ref: str, kind: str) -> list[Event]:
    with box.db_session() as session:
        return list(session.scalars(select(Event).where(Event.message_ref == ref, Event.kind == kind)))


def settled(box: Box, ref: str, kind: str, count: int) -> list[Event]:
    """The message's events of this kind once there are count of them, and no more come: the link
    service writes hits in batches, through a process it starts on first use."""
    eventually(lambda: len(events(box, ref, kind)) >= count, f"{count} {kind} event(s)", timeout=30)
    time.sleep(4 * FLUSH_SECONDS)
    found = events(box, ref, kind)
    assert len(found) == count, [e.detail for e in found]
    return found


def test_bad_tokens_get_404_and_no_event(box: Box) -> None:
    ref, content = send_and_receive(box, "bad tokens", '<html><body><a href="https://example.com/a">a</a>'
                                                       "</body></html>")
    links = links_of(box, content)
    click, pixel = links["c"], links["o"]
    token = click.rsplit("/", 1)[1]
    tampered = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
    base = box.settings.link_base_url
    key = token_key(SecretBox.from_file(box.settings.effective_encryption_key_file))
    expired = make_token(key, CLICK, "127.0.0.1", Tracked(1, ref, "reader@example.org", "https://example.com/a",
                                                          date.today() - timedelta(days=401)))
    for url in (f"{base}/c/{tampered}", f"{base}/c/{token[:-6]}", f"{base}/c/{token}AAAA",
                f"{base}/o/{token}", f"{base}/c/{pixel.rsplit('/', 1)[1]}", f"{base}/c/{expired}",
                f"{base}/c/", f"{base}/c/{'A' * 7000}", f"{base}/c/..%2F..%2Fetc%2Fpasswd"):
        assert fetch(url)[0] == 404, url
    status, headers = fetch(click)
    assert status == 302 and headers["Location"] == "https://example.com/a"
    assert headers["Cache-Control"].startswith("no-store") and headers["Referrer-Policy"] == "no-referrer"
    settled(box, ref, "clicked", 1)


def test_a_repeat_is_answered_and_counted_once_and_a_head_not_at_all(box: Box) -> None:
    ref, content = send_and_receive(box, "repeats", '<html><body><a href="https://example.com/r">r</a>'
                                                    "</body></html>")
    click = links_of(box, content)["c"]
    assert fetch(click, method="HEAD")[0] == 302
    assert [fetch(click)[0] for _ in range(3)] == [302, 302, 302]
    assert fetch(click, agent=PERSON + " other")[0] == 302
    settled(box, ref, "clicked", 2)


def test_machine_opens_are_flagged_and_only_a_persons_counts(box: Box) -> None:
    ref, content = send_and_receive(box, "machines", '<html><body><a href="https://example.com/m">m</a>'
                                                     "</body></html>")
    pixel, click = links_of(box, content)["o"], links_of(box, content)["c"]
    assert fetch(pixel, agent="Mozilla/5.0", forwarded_for="17.58.101.7")[0] == 200
    assert fetch(click, agent="Mozilla/5.0 (compatible; Barracuda Sentinel)")[0] == 302
    assert "machine=apple-privacy-protection address=17.58.101.7" in settled(box, ref, "opened", 1)[0].detail
    assert "machine=link-scanner" in settled(box, ref, "clicked", 1)[0].detail
    with box.db_session() as session:
        record = session.get(AcceptedMessage, ref)
        assert record is not None and record.opened_at is None and record.clicked_at is None
        assert record.tracked_domain == DOMAIN
    status, headers = fetch(pixel)
    assert status == 200 and headers["Content-Type"] == "image/gif"
    assert fetch(click)[0] == 302
    eventually(lambda: events(box, ref, "delivered"), "the delivered event", timeout=60)
    settled(box, ref, "clicked", 2)
    with box.db_session() as session:
        record = session.get(AcceptedMessage, ref)
        assert record is not None and record.opened_at is not None and record.clicked_at is not None
        rates = [r for r in totals(tracking_rates(session, AcceptedMessage.message_ref == ref))]
    assert [(r.domain, r.delivered, r.opened, r.clicked) for r in rates] == [(DOMAIN, 1, 1, 1)]


def test_a_token_works_only_at_the_tracking_host_it_was_made_for(box: Box, dns: LoopbackDns) -> None:
    with box.db_session() as session:
        tenants.get_domain(session, DOMAIN).tracking_host_ok = True
        bump_directory_version(session)
    port = box.settings.links.port
    ref, content = "", b""

    def on_own_host() -> bool:
        nonlocal ref, content
        ref, content = send_and_receive(box, "own host", '<html><body><a href="https://example.com/h">h</a>'
                                                         "</body></html>")
        return f"http://t.{DOMAIN}:{port}/c/".encode() in content
    eventually(on_own_host, "links at the domain's tracking host", timeout=60, every=2.0)
    token = re.search(rf"http://t\.{re.escape(DOMAIN)}:{port}/c/([A-Za-z0-9_-]+)".encode(), content)
    assert token is not None
    click = f"http://127.0.0.1:{port}/c/{token.group(1).decode()}"
    assert fetch(click, host=f"t.{DOMAIN}:{port}")[0] == 302
    for other in (f"t.other-tenant.test:{port}", f"127.0.0.1:{port}", "T.EXAMPLE.NET"):
        assert fetch(click, host=other)[0] == 404
    with box.db_session() as session:
        tenants.get_domain(session, DOMAIN).tracking_host_ok = False
        bump_directory_version(session)


@pytest.mark.parametrize("case", ["a 20 MB HTML part", "50,000 links"])
def test_a_message_too_big_to_track_goes_out_unchanged_and_signed(box: Box, dns: LoopbackDns,
                                                                  case: str) -> None:
    html = {"a 20 MB HTML part": "<html><body><a href=\"https://example.com/big\">big</a>"
                                 + "<p>filler text for a large part</p>\n" * 560_000 + "</body></html>",
            "50,000 links": "<html><body>" + "<a href=\"https://example.com/n\">n</a>\n" * 50_000
                            + "</body></html>"}[case]
    ref, content = send_and_receive(box, case, html, tracked=False)
    assert b"/o/" not in content
    received = box.sink.with_subject(case)[-1]
    assert verify(box, dns, received)[-1] == "RESULT pass"
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    got = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert got.replace("\r\n", "\n").rstrip("\n") == html.rstrip("\n")
    with box.db_session() as session:
        untracked = select(func.count()).select_from(AcceptedMessage).where(
            AcceptedMessage.message_ref == ref, AcceptedMessage.tracked_domain == "")
        assert session.scalar(untracked) == 1
