"""Redis stopped under the real milter and Postfix: milter.redis_unavailable decides. local: mail
is accepted and delivered meanwhile; refuse: a 451 4.3.0 that says why, nothing queued. Both
send again once Redis is back."""

from __future__ import annotations

import smtplib
import time
from pathlib import Path

import pytest

from milter.throttle_fallback import RETRY_SECONDS
from tests.support.box import DOMAIN, Box, message, running_box
from tests.support.redis_server import redis_server
from tests.support.sink import Sink


def send(box: Box, subject: str) -> None:
    with box.client() as client:
        client.sendmail(f"app@{DOMAIN}", ["reader@example.org"], message(subject))


@pytest.mark.parametrize("mode", ["local", "refuse"])
def test_redis_stopped_under_the_milter(sink: Sink, tmp_path: Path, mode: str) -> None:
    with redis_server(tmp_path) as redis, running_box(
            sink, milter={"redis_url": redis.url, "redis_unavailable": mode},
            limits={"per_hour": 1000, "concurrent_connections": 10}) as box:
        send(box, f"{mode}: before")
        sink.wait_for_subject(f"{mode}: before")
        redis.stop()
        if mode == "local":
            send(box, f"{mode}: while away")
            sink.wait_for_subject(f"{mode}: while away")
        else:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                send(box, f"{mode}: while away")
            assert refused.value.smtp_code == 451
            assert b"4.3.0 Sending limits cannot be checked now" in refused.value.smtp_error
        redis.start()
        time.sleep(RETRY_SECONDS)
        send(box, f"{mode}: after")
        sink.wait_for_subject(f"{mode}: after")
        if mode == "refuse":
            box.assert_never_delivered(f"{mode}: while away")
