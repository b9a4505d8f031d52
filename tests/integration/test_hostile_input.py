"""Hostile input gets a clear reply, never a second message, and the server keeps serving."""

from __future__ import annotations

import time

import pytest

from tests.support.box import DOMAIN, Box, message
from tests.support.raw_smtp import RawSession

SMUGGLED_RECIPIENT = "smuggled@example.org"


def _session(box: Box) -> RawSession:
    session = RawSession(box.submission_port, box.tls_context())
    session.login(box.username, box.password)
    return session


def _start_data(session: RawSession) -> None:
    assert session.command(f"MAIL FROM:<app@{DOMAIN}>".encode()).startswith(b"250")
    assert session.command(b"RCPT TO:<someone@example.org>").startswith(b"250")
    assert session.command(b"DATA").startswith(b"354")


def _smuggling_payload(separator: bytes, subject: str) -> bytes:
    smuggled = (b"MAIL FROM:<app@" + DOMAIN.encode() + b">\r\nRCPT TO:<" + SMUGGLED_RECIPIENT.encode()
                + b">\r\nDATA\r\nFrom: app@" + DOMAIN.encode() + b"\r\nSubject: smuggled\r\n\r\nsmuggled\r\n")
    return (b"From: app@" + DOMAIN.encode() + b"\r\nTo: someone@example.org\r\nSubject: " + subject.encode()
            + b"\r\n\r\nfirst part" + separator + smuggled + b".\r\n")


@pytest.mark.parametrize("name,separator", [
    ("lf-dot-lf", b"\n.\n"),
    ("crlf-dot-lf", b"\r\n.\n"),
    ("lf-dot-crlf", b"\n.\r\n"),
    ("cr-dot-cr", b"\r.\r"),
    ("crlf-dot-cr", b"\r\n.\r"),
])
def test_smuggling_never_yields_a_second_message(box: Box, name: str, separator: bytes) -> None:
    subject = f"smuggling {name}"
    session = _session(box)
    try:
        _start_data(session)
        session.send(_smuggling_payload(separator, subject))
        final = session.reply()
        # Whatever the first answer, nothing further is pending: the next reply is to NOOP.
        assert session.command(b"NOOP").startswith(b"250")
    finally:
        session.close()
    if final.startswith(b"250"):
        delivered = box.sink.wait_for_subject(subject)
        assert len(delivered) == 1
        assert delivered[0].rcpt_tos == ["someone@example.org"]
        # The would-be second message is inside the first, as text, with its line ends made CRLF.
        assert b"\r\nMAIL FROM:" in delivered[0].content
        assert b"\n" not in delivered[0].content.replace(b"\r\n", b"")
    else:
        assert final.startswith(b"554 5.6.0"), final
    time.sleep(0.5)
    assert not [m for m in box.sink.messages if SMUGGLED_RECIPIENT in m.rcpt_tos]
    # Any message showing the smuggled text is a first message, carrying it as body text.
    assert all(b"\r\nSubject: smuggling " in m.content for m in box.sink.with_subject("smuggled"))


def test_bare_lf_line_ends_are_normalized(box: Box) -> None:
    session = _session(box)
    try:
        _start_data(session)
        session.send(f"From: app@{DOMAIN}\nSubject: bare lf\n\nline one\nline two\r\n.\r\n".encode())
        assert session.reply().startswith(b"250")
    finally:
        session.close()
    content = box.sink.wait_for_subject("bare lf")[0].content
    assert b"line one\r\nline two\r\n" in content


def test_data_line_over_998_octets_is_refused(box: Box) -> None:
    session = _session(box)
    try:
        _start_data(session)
        session.send(message("long line", body="y" * 20_000 + "\r\n") + b".\r\n")
        assert session.reply().startswith(b"554 5.6.0")
        assert session.command(b"NOOP").startswith(b"250")
    finally:
        session.close()
    assert not box.sink.with_subject("long line")


def test_nul_in_data_is_refused(box: Box) -> None:
    session = _session(box)
    try:
        _start_data(session)
        session.send(message("nul body", body="a\0b\r\n") + b".\r\n")
        assert session.reply().startswith(b"554 5.6.0")
    finally:
        session.close()


@pytest.mark.parametrize("line", [
    b"MAIL FROM:<" + b"a" * 5000 + b"@acme.test>",
    b"NOOP " + b"z" * 100_000,
    b"MAIL FROM:<app\0@acme.test>",
    b"RCPT TO:<some\0one@example.org>",
    b"MAIL FROM:<app@acme.test\xff\xfe>",
    b"EHLO \xc3\x28invalid",
    b"\xff\xfe\xfd",
], ids=["long-mail", "huge-noop", "nul-mail", "nul-rcpt", "bad-utf8-mail", "bad-utf8-ehlo", "bad-utf8-verb"])
def test_bad_command_lines_get_5xx_and_the_server_keeps_serving(box: Box, line: bytes) -> None:
    session = _session(box)
    try:
        if line.startswith(b"RCPT"):
            session.command(f"MAIL FROM:<app@{DOMAIN}>".encode())
        reply = session.command(line)
        assert reply[:1] == b"5", reply
        assert session.command(b"NOOP").startswith(b"250")
    finally:
        session.close()
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        client.rcpt("someone@example.org")
        assert client.data(message(f"after {line[:8]!r}"))[0] == 250
