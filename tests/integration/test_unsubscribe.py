"""One-click unsubscribe end to end: signed headers, the link service by curl, mailto, list scopes."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.events import recent_events
from core.models import Suppression
from core.tenants import get_tenant
from core.unsubscribe import Unsubscribe, make_token
from relayctl.cli import main as relayctl
from tests.integration.test_milter import publish_keys, verify
from tests.support.box import DOMAIN, TENANT, Box, links_service, message, running_box
from tests.support.dns_server import LoopbackDns
from tests.support.sink import Received, Sink, free_port
from tests.support.waiting import eventually
from tests.support.webhook_receiver import WebhookReceiver, add_webhook_by_relayctl


@pytest.fixture(scope="module")
def box(sink: Sink, dns: LoopbackDns) -> Iterator[Box]:
    port = free_port()
    with running_box(sink, dns={"nameservers": ["127.0.0.1"], "nameserver_port": dns.port},
                     links={"port": port, "public_url": f"http://127.0.0.1:{port}"},
                     webhooks={"retry_base_seconds": 0.5, "allow_networks": ["127.0.0.1/32"]}) as box, \
            links_service(box):
        yield box


def send(box: Box, subject: str, to: str, headers: str = "") -> tuple[int, bytes]:
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        client.rcpt(to)
        return client.data(headers.encode() + message(subject, to=to))


def unsubscribe_link(received: Received) -> str:
    found = re.search(rb"List-Unsubscribe: <(http[^>]+)>", received.content)
    assert found is not None, received.content[:1500]
    return found.group(1).decode()


def curl(*args: str) -> tuple[int, str]:
    result = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", *args], capture_output=True,
                            text=True, timeout=30, check=True)
    body, _, status = result.stdout.rpartition("\n")
    return int(status), body


def suppressed_lists(box: Box, address: str) -> list[str]:
    with box.db_session() as session:
        return sorted(s.list_name for s in session.query(Suppression).filter_by(address=address))


def test_bulk_mail_carries_signed_one_click_headers_and_the_post_unsubscribes(
        box: Box, dns: LoopbackDns, capsys: pytest.CaptureFixture[str]) -> None:
    hook_port = free_port()
    secret = add_webhook_by_relayctl(box.config_path, TENANT, f"http://127.0.0.1:{hook_port}/events", capsys)
    receiver = WebhookReceiver(hook_port, secret)
    receiver.start()
    publish_keys(box, dns, DOMAIN)
    try:
        assert send(box, "weekly news", "reader@example.org", "X-Mailrelay-List: Weekly\r\n")[0] == 250
        received = box.sink.wait_for_subject("weekly news")[0]
        assert b"X-Mailrelay-List" not in received.content
        assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in received.content
        assert re.search(rb"<mailto:u-[a-z2-7]+@feedback\.relay\.test>", received.content)
        assert verify(box, dns, received)[-1] == "RESULT pass"
        signed = re.search(rb"\bh=([^;]+);", received.content.replace(b"\r\n\t", b""))
        assert signed is not None
        assert {b"list-unsubscribe", b"list-unsubscribe-post"} <= set(signed.group(1).lower().split(b":"))
        link = unsubscribe_link(received)
        assert "reader" not in link and "weekly" not in link.lower()

        # A scanner's or prefetcher's GET only shows the page; a POST without the one-click body
        # or the page's CSRF token changes nothing either.
        status, page = curl(link)
        assert status == 200 and 'name="csrf_token"' in page
        assert curl("-X", "POST", "-d", "confirm=1", link)[0] == 400
        assert curl("-X", "POST", "-d", "List-Unsubscribe=One-Click&x=" + "a" * 5000, link)[0] == 413
        assert suppressed_lists(box, "reader@example.org") == []

        for _ in range(2):  # a repeat is harmless
            assert curl("-X", "POST", "-d", "List-Unsubscribe=One-Click", link)[0] == 200
        assert suppressed_lists(box, "reader@example.org") == ["weekly"]
        events = eventually(lambda: [e for e in receiver.events if e["type"] == "unsubscribed"],
                            "unsubscribed at the webhook receiver", timeout=30)
        assert len(events) == 1 and events[0]["recipient"] == "reader@example.org"
    finally:
        receiver.stop()

    box.directory_loaded()
    code, reply = send(box, "weekly again", "reader@example.org", "X-Mailrelay-List: weekly\r\n")
    assert code == 550 and b"unsubscribed from list weekly" in reply
    assert send(box, "monthly", "reader@example.org", "X-Mailrelay-List: monthly\r\n")[0] == 250
    assert send(box, "a receipt", "reader@example.org")[0] == 250
    box.sink.wait_for_subject("monthly")
    box.sink.wait_for_subject("a receipt")


def test_tampered_cut_and_foreign_tokens_are_not_found_and_change_nothing(box: Box) -> None:
    token = box.unsubscribe_token("victim@example.org", "weekly")
    flipped = token[:10] + ("a" if token[10] != "a" else "b") + token[11:]
    foreign = make_token(b"k" * 32, Unsubscribe(1, "weekly", "victim@example.org"))  # another box's key
    for bad in (flipped, token[:-3], token + "aa", foreign, "a" * 60, "../../admin", "%00"):
        assert curl("-X", "POST", "-d", "List-Unsubscribe=One-Click",
                    f"{box.settings.link_base_url}/u/{bad}")[0] == 404, bad
    assert suppressed_lists(box, "victim@example.org") == []


def test_a_mailto_unsubscribe_acts_on_the_tokens_recipient_only(box: Box) -> None:
    token = box.unsubscribe_token("mailto-reader@example.org")
    feedback = box.settings.feedback_domain
    with box.inbound() as client:
        client.ehlo("mx.example.org")
        client.mail("forged-someone-else@example.net")
        code, reply = client.rcpt(f"u-{token[:-2]}@{feedback}")
        assert code == 550 and b"No such unsubscribe address" in reply
        assert client.rcpt(f"u-{token}@{feedback}")[0] == 250
        assert client.data(b"Subject: unsubscribe\r\n\r\nplease\r\n")[0] == 250

    def unsubscribed() -> list[str]:
        with box.db_session() as session:
            return [e.detail for e in recent_events(session, "unsubscribed")
                    if e.subject == "mailto-reader@example.org"]
    detail = eventually(unsubscribed, "the mailto unsubscribe")[0]
    assert "forged-someone-else@example.net" in detail and "all mail" in detail
    assert suppressed_lists(box, "mailto-reader@example.org") == [""]
    assert suppressed_lists(box, "forged-someone-else@example.net") == []
    code, reply = box.rcpt_reply("mailto-reader@example.org")
    assert code == 550 and b"unsubscribe" in reply



def test_a_domain_wide_setting_an_apps_own_header_and_several_recipients(box: Box) -> None:
    assert relayctl(["--config", str(box.config_path), "domain", "one-click-unsubscribe", DOMAIN, "on"]) == 0
    try:
        box.directory_loaded()
        assert send(box, "domain wide", "fan@example.org")[0] == 250
        assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in box.sink.wait_for_subject(
            "domain wide")[0].content
        own = "List-Unsubscribe: <https://app.example/unsub?u=1>\r\n"
        assert send(box, "own header", "fan@example.org", own)[0] == 250
        content = box.sink.wait_for_subject("own header")[0].content
        assert content.count(b"List-Unsubscribe:") == 1 and own.encode() in content
        assert b"List-Unsubscribe-Post" not in content
        with box.client() as client:
            client.mail(f"app@{DOMAIN}")
            client.rcpt("one@example.org")
            client.rcpt("two@example.org")
            assert client.data(message("two readers", to="one@example.org, two@example.org"))[0] == 250
        assert b"List-Unsubscribe" not in box.sink.wait_for_subject("two readers")[0].content
        code, reply = send(box, "bad list", "fan@example.org", "X-Mailrelay-List: no spaces allowed\r\n")
        assert code == 550 and b"list name" in reply
    finally:
        assert relayctl(["--config", str(box.config_path), "domain", "one-click-unsubscribe", DOMAIN,
                         "off"]) == 0


def test_crlf_injected_into_an_apps_list_unsubscribe_adds_no_recipient_and_no_header(box: Box) -> None:
    code, reply = send(box, "bare cr", "fan@example.org",
                       "List-Unsubscribe: <https://app.example/u>\rBcc: victim@example.org\r\n")
    assert code == 554 and b"bare CR" in reply
    # A bare LF ends a line as every reader takes it: the "injected" field is the app's own header,
    # the envelope alone says who gets the message, and the relay adds nothing beside the app's link.
    injected = "List-Unsubscribe: <https://app.example/u>\nBcc: victim@example.org\r\n"
    assert send(box, "bare lf", "fan@example.org", injected)[0] == 250
    received = box.sink.wait_for_subject("bare lf")[0]
    assert received.rcpt_tos == ["fan@example.org"]
    assert received.content.count(b"List-Unsubscribe") == 1
    folded = "X-Mailrelay-List: weekly\r\n List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    code, reply = send(box, "folded list", "fan@example.org", folded)
    assert code == 550 and b"list name" in reply
    assert not box.sink.with_subject("bare cr") and not box.sink.with_subject("folded list")


def test_one_tenants_token_unsubscribes_from_that_tenant_only(box: Box) -> None:
    token = box.unsubscribe_token("shared-reader@example.org", tenant="other")
    with box.db_session() as session:
        other_id = get_tenant(session, "other").id
    assert curl("-X", "POST", "-d", "List-Unsubscribe=One-Click", f"{box.settings.link_base_url}/u/{token}"
                )[0] == 200
    with box.db_session() as session:
        entries = session.query(Suppression).filter_by(address="shared-reader@example.org").all()
        assert [(e.tenant_id, e.list_name) for e in entries] == [(other_id, "")]
    assert box.rcpt_reply("shared-reader@example.org")[0] == 250  # acme's mail to them still goes


def test_an_rp_record_pointing_elsewhere_is_not_used_until_it_points_at_the_box(
        box: Box, dns: LoopbackDns) -> None:
    publish_keys(box, dns, DOMAIN)
    ctl = ["--config", str(box.config_path), "domain", "verify", DOMAIN]
    dns.records[(f"rp.{DOMAIN}", "CNAME")] = ["bounces.elsewhere.example."]
    try:
        assert relayctl(ctl) == 0
        box.directory_loaded()
        assert send(box, "rp elsewhere", "fan@example.org")[0] == 250
        assert box.sink.wait_for_subject("rp elsewhere")[0].mail_from.endswith("@bounces.relay.test")
        with box.inbound() as client:
            client.ehlo("mx.example.org")
            client.mail("")
            assert client.rcpt(f"b.anything@rp.{DOMAIN}")[0] == 554  # not a domain the box takes

        dns.records[(f"rp.{DOMAIN}", "CNAME")] = ["bounces.relay.test."]
        assert relayctl(ctl) == 0
        box.directory_loaded()
        assert send(box, "rp at the box", "fan@example.org")[0] == 250
        assert box.sink.wait_for_subject("rp at the box")[0].mail_from.endswith(f"@rp.{DOMAIN}")
    finally:
        del dns.records[(f"rp.{DOMAIN}", "CNAME")]
        relayctl(ctl)


def test_concurrent_one_click_posts_unsubscribe_once(box: Box) -> None:
    token = box.unsubscribe_token("hasty@example.org", "daily")
    link = f"{box.settings.link_base_url}/u/{token}"
    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(lambda _: curl("-X", "POST", "-d", "List-Unsubscribe=One-Click", link)[0],
                                 range(10)))
    assert statuses == [200] * 10
    assert suppressed_lists(box, "hasty@example.org") == ["daily"]
    with box.db_session() as session:
        events = recent_events(session, "unsubscribed")
        assert len([e for e in events if e.subject == "hasty@example.org"]) == 1


def test_a_list_message_to_several_goes_to_those_still_subscribed(box: Box) -> None:
    """reader@ unsubscribed from weekly in the first test; SMTP has one reply for DATA, so the
    message goes to the others and the refusal is recorded for reader@."""
    box.directory_loaded()
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        client.rcpt("reader@example.org")
        client.rcpt("friend@example.org")
        headers = b"X-Mailrelay-List: weekly\r\n"
        code, _ = client.data(headers + message("weekly to two", to="friend@example.org"))
    assert code == 250
    assert box.sink.wait_for_subject("weekly to two")[0].rcpt_tos == ["friend@example.org"]
    with box.db_session() as session:
        refused = [e.detail for e in recent_events(session) if e.subject == "reader@example.org"]
    assert any("unsubscribed from list weekly" in detail for detail in refused)
