"""Failures lose nothing: Postfix away means 4xx; a killed front-end never half-delivers."""

from __future__ import annotations

import os
import signal
import smtplib
import time
from collections.abc import Iterator

import pytest

from core import tenants
from tests.support.box import DOMAIN, Box, message, running_box
from tests.support.raw_smtp import RawSession, plain_auth
from tests.support.sink import Sink


@pytest.fixture(scope="module")
def box(sink: Sink) -> Iterator[Box]:
    with running_box(sink, smtp={"auth_failures": {
            "window_seconds": 3, "slowdown_after": 2, "slowdown_seconds": 0.3, "lockout_after": 4,
            "lockout_seconds": 2}}) as box:
        yield box


def _send(box: Box, subject: str) -> tuple[int, bytes]:
    with box.client() as client:
        code, reply = client.mail(f"app@{DOMAIN}")
        if code != 250:
            return code, reply
        client.rcpt("someone@example.org")
        return client.data(message(subject))


def test_repeated_auth_failures_slow_down_then_lock_out(box: Box) -> None:
    failures = box.settings.smtp.auth_failures
    durations = []
    session = RawSession(box.submission_port, box.tls_context())
    try:
        for _ in range(failures.lockout_after - 1):
            started = time.monotonic()
            reply = session.command(b"AUTH PLAIN AGFjbWUAd3Jvbmc=")
            durations.append(time.monotonic() - started)
            assert reply.startswith(b"535 5.7.8")
        assert durations[0] < failures.slowdown_seconds
        assert durations[-1] >= failures.slowdown_seconds
        reply = session.command(b"AUTH PLAIN AGFjbWUAd3Jvbmc=")
        assert reply.startswith(b"421 4.7.0")
    finally:
        session.close()
    # Locked out now, even with the right secret, on a new connection.
    session = RawSession(box.submission_port, box.tls_context())
    try:
        assert session.command(plain_auth(box.username, box.password)).startswith(b"421")
    finally:
        session.close()
    # The lock-out ends after lockout_seconds; its failures leave the window after window_seconds.
    time.sleep(max(failures.lockout_seconds, failures.window_seconds) + 0.2)
    with box.client() as client:
        assert client.noop()[0] == 250


def test_one_valid_credential_does_not_buy_more_guesses(box: Box) -> None:
    """A success from an address reset its failure count: unlimited guesses at other credentials."""
    failures = box.settings.smtp.auth_failures
    time.sleep(failures.window_seconds + 0.2)  # no failure left from another test
    guessing = RawSession(box.submission_port, box.tls_context())
    try:
        for n in range(failures.lockout_after):
            if n == failures.lockout_after - 2:
                with box.client() as client:  # the attacker's own, valid credential
                    assert client.noop()[0] == 250
            reply = guessing.command(plain_auth(f"someone-else-{n}", "guess"))
        assert reply.startswith(b"421 4.7.0"), reply
    finally:
        guessing.close()
    time.sleep(failures.window_seconds + 0.2)


def test_new_and_revoked_credentials_take_effect_without_restart(box: Box) -> None:
    with box.db_session() as session:
        extra = tenants.add_credential(session, "acme")
    box.directory_loaded()
    with box.client(login=False) as client:
        assert client.login(extra.username, extra.secret)[0] == 235
    with box.db_session() as session:
        tenants.revoke_credential(session, extra.username)
    box.directory_loaded()
    with box.client(login=False) as client, pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        client.login(extra.username, extra.secret)
    assert refused.value.smtp_code == 535


def test_postfix_stopped_gives_4xx_and_loses_nothing(box: Box) -> None:
    assert _send(box, "before stop")[0] == 250
    box.sink.wait_for_subject("before stop")
    # A message Postfix holds because the next hop is down survives Postfix's stop and start.
    box.sink.stop()
    assert _send(box, "queued across restart")[0] == 250
    box.instance.stop()
    code, reply = _send(box, "while stopped")
    assert 400 <= code < 500, reply
    box.instance.start_or_reload()
    box.sink.start()
    box.instance.flush()
    assert _send(box, "while stopped")[0] == 250
    box.sink.wait_for_subject("while stopped")
    box.sink.wait_for_subject("queued across restart", timeout=60)


def test_front_end_killed_mid_data_gives_no_250_and_delivers_nothing(box: Box) -> None:
    session = RawSession(box.submission_port, box.tls_context())
    session.login(box.username, box.password)
    assert session.command(f"MAIL FROM:<app@{DOMAIN}>".encode()).startswith(b"250")
    assert session.command(b"RCPT TO:<someone@example.org>").startswith(b"250")
    assert session.command(b"DATA").startswith(b"354")
    session.send(message("killed mid data", body="part one\r\n" * 50))
    assert box.front_end is not None
    os.kill(box.front_end.pid, signal.SIGKILL)
    box.front_end.wait(10)
    with pytest.raises((ConnectionError, OSError)):
        session.send(b"rest\r\n.\r\n")
        session.reply()
    session.close()
    box.start_front_end()
    assert _send(box, "after the kill")[0] == 250
    box.sink.wait_for_subject("after the kill")
    box.assert_never_delivered("killed mid data")
    assert "killed-mid-data" not in box.postfix_log()
