"""Webhooks: a tenant's events reach its receiver signed, and a receiver that was down gets them later."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from relayctl.cli import main as relayctl
from tests.support.box import DOMAIN, TENANT, Box, message, running_box
from tests.support.sink import Sink, free_port
from tests.support.webhook_receiver import WebhookReceiver


@pytest.fixture(scope="module")
def box(sink: Sink) -> Iterator[Box]:
    with running_box(sink, webhooks={"retry_base_seconds": 0.5}) as box:
        yield box


def test_a_receiver_that_was_down_gets_the_event_signed(box: Box, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    assert relayctl(["--config", str(box.config_path), "webhook", "add", TENANT,
                     f"http://127.0.0.1:{port}/events"]) == 0
    secret = re.search(r"signing secret: (\S+)", capsys.readouterr().out)
    assert secret is not None
    with box.client() as client:  # nothing listens on the port yet
        client.mail(f"app@{DOMAIN}")
        client.rcpt("someone@example.org")
        assert client.data(message("hooked"))[0] == 250
    box.sink.wait_for_subject("hooked")
    time.sleep(3)  # the first attempts fail
    receiver = WebhookReceiver(port, secret.group(1))
    receiver.start()
    try:
        deadline = time.monotonic() + 30
        while not any(e["type"] == "delivered" for e in receiver.events) and time.monotonic() < deadline:
            time.sleep(0.2)
        delivered = [e for e in receiver.events if e["type"] == "delivered"]
        assert delivered, receiver.events
        assert (delivered[0]["tenant"], delivered[0]["recipient"]) == (TENANT, "someone@example.org")
        assert delivered[0]["message_id"] == "<hooked@acme.test>"
        assert receiver.bad_signatures == 0
        time.sleep(2)
        assert len([e for e in receiver.events if e["id"] == delivered[0]["id"]]) == 1
    finally:
        receiver.stop()
