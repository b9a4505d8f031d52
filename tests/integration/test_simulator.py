"""The mailbox simulator: each address's outcome goes through real Postfix and reaches the
tenant's webhook receiver, signed, as the right kind of event."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from typing import Any

import pytest

from core.secretbox import SecretBox
from core.suppressions import list_suppressions
from core.webhooks import add_webhook
from tests.support.box import DOMAIN, TENANT, Box, message, running_box
from tests.support.sink import Sink, free_port
from tests.support.waiting import eventually
from tests.support.webhook_receiver import WebhookReceiver


@pytest.fixture(scope="module")
def box(sink: Sink) -> Iterator[Box]:
    with running_box(sink, webhooks={"retry_base_seconds": 0.5}) as box:
        yield box


@pytest.fixture(scope="module")
def receiver(box: Box) -> Iterator[WebhookReceiver]:
    port = free_port()
    with box.db_session() as session:
        _, secret = add_webhook(session, SecretBox.from_file(box.settings.effective_encryption_key_file),
                                box.settings.webhooks, TENANT, f"http://127.0.0.1:{port}/events")
    receiver = WebhookReceiver(port, secret)
    receiver.start()
    yield receiver
    receiver.stop()


def send(box: Box, recipient: str, subject: str) -> None:
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        assert client.rcpt(recipient)[0] == 250
        assert client.data(message(subject))[0] == 250


def wait_for(receiver: WebhookReceiver, kind: str, recipient: str, timeout: float = 60) -> dict[str, Any]:
    def found() -> list[dict[str, Any]]:
        return [e for e in list(receiver.events) if e["type"] == kind and e["recipient"] == recipient]
    return eventually(found, f"{kind} event for {recipient}", timeout, every=0.2)[0]


@pytest.mark.parametrize(("local_part", "kind"), [
    ("success", "delivered"), ("bounce", "bounced"), ("ooto", "autoreplied"), ("complaint", "complained"),
])
def test_each_simulator_address_reaches_the_webhook(box: Box, receiver: WebhookReceiver, local_part: str,
                                                    kind: str) -> None:
    address = f"{local_part}@{box.settings.simulator_domain}"
    send(box, address, f"simulate {local_part}")
    event = wait_for(receiver, kind, address)
    assert event["tenant"] == TENANT
    assert receiver.bad_signatures == 0
    assert not [m for m in box.sink.messages if address in m.rcpt_tos], "simulator mail left the box"


def test_hard_bounce_and_complaint_suppress_the_address(box: Box, receiver: WebhookReceiver) -> None:
    """After the simulator addresses above: what bounced or complained is refused from then on."""
    for local_part in ("bounce", "complaint"):
        address = f"{local_part}@{box.settings.simulator_domain}"
        wait_for(receiver, "suppressed", address)
        with box.db_session() as session:
            assert address in {s.address for s in list_suppressions(session, TENANT)}
        box.directory_loaded()
        with box.client() as client:
            client.mail(f"app@{DOMAIN}")
            code, text = client.rcpt(address)
            assert code == 550 and b"suppression list" in text


def test_suppressionlist_is_refused_at_rcpt_and_reported(box: Box, receiver: WebhookReceiver) -> None:
    address = f"suppressionlist@{box.settings.simulator_domain}"
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        code, text = client.rcpt(address)
    assert code == 550 and b"suppression list" in text
    assert "refused at RCPT" in wait_for(receiver, "suppressed", address)["detail"]


def test_simulator_and_real_recipients_go_in_separate_messages(box: Box) -> None:
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        assert client.rcpt("someone@example.org")[0] == 250
        code, text = client.rcpt(f"success@{box.settings.simulator_domain}")
        assert code == 452 and b"simulator" in text


def test_port_25_refuses_the_simulator_domain(box: Box) -> None:
    with smtplib.SMTP(box.settings.postfix.inbound_address, box.settings.postfix.inbound_port,
                      timeout=30) as client:
        client.ehlo("outside.example")
        client.mail("someone@outside.example")
        assert client.rcpt(f"success@{box.settings.simulator_domain}")[0] >= 500
