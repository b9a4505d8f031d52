"""Hostile input gets a clear reply, never a second message, and the server keeps serving."""

from __future__ import annotations

import socket
import ssl
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


def test_a_header_field_over_64_kib_is_refused_not_cut(box: Box) -> None:
    """A 108 KB header arrived cut to 61 KB."""
    session = _session(box)
    try:
        _start_data(session)
        folded = b"X-Big: start" + b"".join(b"\r\n " + b"b" * 900 for _ in range(120))
        session.send(f"From: app@{DOMAIN}\r\nTo: someone@example.org\r\nSubject: big header\r\n".encode()
                     + folded + b"\r\n\r\nbody\r\n.\r\n")
        assert session.reply().startswith(b"552 5.3.4 A header field exceeds 65536 octets")
        _start_data(session)  # many fields, each small, pass
        fields = b"".join(b"X-Small-%d: " % n + b"c" * 900 + b"\r\n" for n in range(120))
        session.send(f"From: app@{DOMAIN}\r\nTo: someone@example.org\r\nSubject: many headers\r\n".encode()
                     + fields + b"\r\nbody\r\n.\r\n")
        assert session.reply().startswith(b"250")
    finally:
        session.close()
    received = box.sink.wait_for_subject("many headers")[0]
    assert received.content.count(b"X-Small-") == 120 and b"c" * 900 + b"\r\nX-Small-119" in received.content
    box.assert_never_delivered("big header")


@pytest.mark.parametrize(("command", "expected"), [
    (b"RCPT TO:<x@[127.0.0.2]>", b"550 5.1.2 Address literals"),
    (b"RCPT TO:<x@[IPv6:::1]>", b"550 5.1.2 Address literals"),
    ("RCPT TO:<jürgen@example.org>".encode(), b"553 5.6.7"),
    ("RCPT TO:<x@bücher.example>".encode(), b"553 5.6.7"),
])
def test_envelope_addresses_the_relay_will_not_take(box: Box, command: bytes, expected: bytes) -> None:
    session = _session(box)
    try:
        assert session.command(f"MAIL FROM:<app@{DOMAIN}>".encode()).startswith(b"250")
        assert session.command(command).startswith(expected)
    finally:
        session.close()


def test_non_ascii_from_gets_a_clear_reply_never_exception_text(box: Box) -> None:
    """'From: a@bücher.test' got '500 Error: (UnicodeEncodeError) ...'."""
    session = _session(box)
    try:
        replies = []
        for header in ("From: a@bücher.test".encode(), b"From: a@b\xfccher.test"):
            _start_data(session)
            session.send(header + b"\r\nTo: someone@example.org\r\nSubject: idn\r\n\r\nbody\r\n.\r\n")
            replies.append(session.reply())
        assert replies[0].startswith(b"550 5.7.1 From header names domain xn--bcher-kva.test")
        assert replies[1].startswith(b"550 5.6.0 The From header cannot be read")
        assert session.command("MAIL FROM:<a@bücher.test> SMTPUTF8".encode()).startswith(b"550 5.7.1")
        assert session.command(b"NOOP").startswith(b"250")
    finally:
        session.close()
    assert all(b"Error: (" not in r for r in replies)


def test_tls_1_2_offers_aead_suites_only(box: Box) -> None:
    cbc = "ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES256-SHA384"
    for cipher, works in ((cbc, False), ("ECDHE+AESGCM", True), ("ECDHE+CHACHA20", True)):
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(cipher)
        with socket.create_connection(("127.0.0.1", box.smtps_port), timeout=10) as raw:
            try:
                with context.wrap_socket(raw) as tls:
                    negotiated = tls.cipher()[0]
                    assert works and ("GCM" in negotiated or "CHACHA20" in negotiated), negotiated
            except ssl.SSLError:
                assert not works, cipher
