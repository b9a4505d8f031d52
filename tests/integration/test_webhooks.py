"""Webhooks: a tenant's events reach its receiver signed, a receiver that was down gets them later, and
no webhook reaches an address the operator has not allowed (here only 127.0.0.1), redirects included."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from core.errors import InvalidInputError
from core.models import Tenant, Webhook, WebhookDelivery
from core.secretbox import SecretBox
from core.webhooks import add_webhook
from relayctl.cli import main as relayctl
from tests.support.box import DOMAIN, TENANT, Box, message, running_box
from tests.support.sink import Sink, free_port
from tests.support.waiting import eventually
from tests.support.webhook_receiver import WebhookReceiver, add_webhook_by_relayctl


@pytest.fixture(scope="module")
def box(sink: Sink) -> Iterator[Box]:
    with running_box(sink, webhooks={"retry_base_seconds": 0.5, "allow_networks": ["127.0.0.1/32"]}) as box:
        yield box


def test_a_receiver_that_was_down_gets_the_event_signed(box: Box, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    secret = add_webhook_by_relayctl(box.config_path, TENANT, f"http://127.0.0.1:{port}/events", capsys)
    with box.client() as client:  # nothing listens on the port yet
        client.mail(f"app@{DOMAIN}")
        client.rcpt("someone@example.org")
        assert client.data(message("hooked"))[0] == 250
    box.sink.wait_for_subject("hooked")
    url = f"http://127.0.0.1:{port}/events"
    eventually(lambda: any(last_errors(box, url)), "failed first attempt")
    receiver = WebhookReceiver(port, secret)
    receiver.start()
    try:
        delivered = eventually(lambda: [e for e in receiver.events if e["type"] == "delivered"],
                               "delivered event at the receiver", timeout=30)
        assert (delivered[0]["tenant"], delivered[0]["recipient"]) == (TENANT, "someone@example.org")
        assert delivered[0]["message_id"] == "<hooked@acme.test>"
        assert receiver.bad_signatures == 0
        time.sleep(2)
        assert len([e for e in receiver.events if e["id"] == delivered[0]["id"]]) == 1
    finally:
        receiver.stop()


def test_tags_and_metadata_an_smtp_client_writes_come_back_in_webhooks(
        box: Box, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    receiver = WebhookReceiver(port, add_webhook_by_relayctl(box.config_path, TENANT,
                                                             f"http://127.0.0.1:{port}/tagged", capsys))
    receiver.start()
    try:
        with box.client() as client:
            client.mail(f"app@{DOMAIN}")
            client.rcpt("tagged@example.org")
            tagged = b'X-Mailrelay-Tags: welcome, spring\r\nX-Mailrelay-Metadata: {"order":\r\n "1234"}\r\n'
            assert client.data(tagged + message("tagged over smtp"))[0] == 250
            client.rset()
            client.mail(f"app@{DOMAIN}")
            client.rcpt("tagged@example.org")
            twice = b"X-Mailrelay-Tags: a\r\nX-Mailrelay-Tags: b\r\n"
            code, text = client.data(twice + message("tagged twice"))
            assert code == 550 and b"once each" in text
        received = box.sink.wait_for_subject("tagged over smtp")[0]
        assert b"X-Mailrelay-" not in received.content
        delivered = eventually(lambda: [e for e in receiver.events if e["recipient"] == "tagged@example.org"],
                               "the tagged message's event at the receiver", timeout=30)
        assert delivered[0]["tags"] == ["welcome", "spring"] and delivered[0]["metadata"] == {"order": "1234"}
    finally:
        receiver.stop()
    assert not box.sink.with_subject("tagged twice")


class Recorder(BaseHTTPRequestHandler):
    """Records each request's path and headers; answers 302 to REDIRECT_TO when it is set."""

    seen: list[tuple[str, str, dict[str, str]]] = []
    redirect_to = ""

    def do_POST(self) -> None:
        self.seen.append((self.server.server_address[0], self.path, dict(self.headers)))  # type: ignore[index]
        self.send_response(302 if self.redirect_to else 204)
        if self.redirect_to:
            self.send_header("Location", self.redirect_to)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(address: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((address, 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def last_errors(box: Box, url: str) -> list[str]:
    with box.db_session() as session:
        return [d.last_error for d in session.scalars(
            select(WebhookDelivery).join(Webhook).where(Webhook.url == url))]


def test_no_webhook_reaches_an_address_that_is_not_allowed(box: Box) -> None:
    inside = serve("127.0.0.2")  # a service on the operator's network that tenants must not reach
    front = serve("127.0.0.1")
    try:
        inside_url = f"http://127.0.0.2:{inside.server_address[1]}/admin"
        secrets = SecretBox.from_file(box.settings.effective_encryption_key_file)
        with pytest.raises(InvalidInputError, match="may not reach"), box.db_session() as session:
            add_webhook(session, secrets, box.settings.webhooks, TENANT, inside_url)
        # A name that resolved elsewhere when the webhook was set (rebinding), or a webhook set
        # before the rule: checked again at every request, after resolving.
        with box.db_session() as session:
            tenant = session.scalars(select(Tenant).where(Tenant.name == TENANT)).one()
            session.add(Webhook(tenant=tenant, url=inside_url, secret_encrypted=secrets.encrypt(b"s")))
        Recorder.redirect_to = inside_url
        redirecting = f"http://127.0.0.1:{front.server_address[1]}/hook"
        assert relayctl(["--config", str(box.config_path), "webhook", "add", TENANT, redirecting]) == 0
        with box.client() as client:
            client.mail(f"app@{DOMAIN}")
            client.rcpt("someone@example.org")
            assert client.data(message("not for the inside"))[0] == 250
        eventually(lambda: any("may not reach" in e for e in last_errors(box, inside_url))
                   and any("redirects are not followed" in e for e in last_errors(box, redirecting)),
                   "both refusals recorded", timeout=30)
        assert any("may not reach" in e for e in last_errors(box, inside_url))
        assert any("redirects are not followed" in e for e in last_errors(box, redirecting))
        assert [host for host, _, _ in Recorder.seen if host == "127.0.0.2"] == []
        assert {path for host, path, _ in Recorder.seen} == {"/hook"}
    finally:
        Recorder.redirect_to = ""
        for server in (inside, front):
            server.shutdown()
