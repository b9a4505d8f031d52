"""Once per Message-ID over SMTP: a client that lost the 250 and resubmits gets "already queued"
and the recipient gets one message (real front-end, Postfix, milter and sink)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from relayctl.cli import main as relayctl
from tests.support.box import DOMAIN, TENANT, Box, message
from tests.support.waiting import eventually


def once(box: Box, state: str) -> None:
    assert relayctl(["--config", str(box.config_path), "tenant", "once-per-message-id", TENANT, state]) == 0
    box.directory_loaded()


def submit(box: Box, content: bytes, to: str = "reader@example.org") -> tuple[int, bytes]:
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        client.rcpt(to)
        return client.data(content)


def submit_until_answered(box: Box, content: bytes) -> bytes:
    """As a client retries a 451: until a 250 comes."""
    def answered() -> bytes | None:
        code, reply = submit(box, content)
        assert code in (250, 451), reply
        return reply if code == 250 else None
    return eventually(answered, "a 250 for the resubmission", timeout=30, every=0.5)


def delivered(box: Box, subject: str) -> int:
    time.sleep(2.0)  # a second copy would have arrived by now
    return len(box.sink.wait_for_subject(subject))


def test_a_client_that_drops_after_data_and_resubmits_sends_once(box: Box) -> None:
    once(box, "on")
    try:
        content = message("dropped after data")
        with box.client() as client:
            client.mail(f"app@{DOMAIN}")
            client.rcpt("reader@example.org")
            assert client.docmd("DATA")[0] == 354
            client.send(content + b"\r\n.\r\n")
            client.close()  # gone before the reply
        box.sink.wait_for_subject("dropped after data")
        reply = submit_until_answered(box, content)
        assert b"Already queued as" in reply
        assert delivered(box, "dropped after data") == 1
    finally:
        once(box, "off")


def test_concurrent_submissions_of_one_message_id_send_once(box: Box) -> None:
    once(box, "on")
    try:
        content = message("five at once")
        with ThreadPoolExecutor(5) as pool:
            replies = list(pool.map(lambda _: submit_until_answered(box, content), range(5)))
        queued = {reply.rsplit(b" ", 1)[-1] for reply in replies if b"queued as" in reply}
        assert sum(b"Already queued as" in reply for reply in replies) == 4, replies
        assert delivered(box, "five at once") == 1
        # Another Message-ID is another message.
        assert submit(box, message("five at once, again"))[0] == 250
        assert delivered(box, "five at once, again") == 1
        assert queued
    finally:
        once(box, "off")


def test_without_the_setting_a_resubmission_is_sent_again(box: Box) -> None:
    content = message("sent twice")
    assert submit(box, content)[0] == 250
    assert submit(box, content)[0] == 250
    assert delivered(box, "sent twice") == 2
