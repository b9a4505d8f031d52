"""The milter in the real path: front-end, Postfix, milter, sink.

Signatures are checked by an independent verifier (Perl's Mail::DKIM) against
keys served by a DNS server on loopback.
"""

from __future__ import annotations

import re
import signal
import smtplib
import subprocess
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import pytest

from core import tenants
from core.dns_records import records_for_domain, zone_txt
from core.postfix.transports import ROUTE_HEADER
from core.secretbox import SecretBox
from core.verp import parse_verp, verp_key
from relayctl.cli import main as relayctl
from tests.support.box import DOMAIN, Box, message, running_box
from tests.support.dns_server import LoopbackDns
from tests.support.opendkim_check import opendkim_verifies
from tests.support.sink import Received, Sink

VERIFIER = Path(__file__).resolve().parents[1] / "support" / "dkim_verify.pl"
NODEMAILER = Path(__file__).resolve().parents[1] / "support" / "nodemailer" / "send.js"



@pytest.fixture(scope="module")
def box(sink: Sink, dns: LoopbackDns) -> Iterator[Box]:
    with running_box(sink, dns={"nameservers": ["127.0.0.1"], "nameserver_port": dns.port}) as box:
        yield box


def publish_keys(box: Box, dns: LoopbackDns, domain: str) -> None:
    with box.db_session() as session:
        found = tenants.get_domain(session, domain)
        for record in records_for_domain(box.settings, found.name, found.dkim_keys):
            if record.purpose == "dkim":
                dns.records[(record.name, "TXT")] = [zone_txt(record.value)]


def verify(box: Box, dns: LoopbackDns, received: Received) -> list[str]:
    result = subprocess.run(["perl", str(VERIFIER), "127.0.0.1", str(dns.port)], input=received.content,
                            capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode().splitlines()


def send(box: Box, subject: str, username: str | None = None, password: str | None = None,
         sender: str = f"app@{DOMAIN}", extra_headers: str = "") -> tuple[int, bytes]:
    with box.client(login=False) as client:
        client.login(username or box.username, password or box.password)
        client.mail(sender)
        client.rcpt("someone@example.org")
        return client.data(message(subject, sender=sender, extra_headers=extra_headers))



def only_signature(content: bytes, selector: str) -> bytes:
    """The message with every DKIM-Signature but the one of this selector taken out."""
    head, _, body = content.partition(b"\r\n\r\n")
    fields = re.split(rb"\r\n(?![ \t])", head)
    kept = [f for f in fields if not f.lower().startswith(b"dkim-signature:")
            or f"s={selector};".encode() in re.sub(rb"\s", b"", f)]
    return b"\r\n".join(kept) + b"\r\n\r\n" + body


def test_signed_with_rsa_then_also_ed25519_once_its_record_is_seen(box: Box, dns: LoopbackDns) -> None:
    publish_keys(box, dns, DOMAIN)
    with box.db_session() as session:
        rsa_selector = tenants.get_domain(session, DOMAIN).dkim_keys[0].selector
    assert send(box, "rsa only")[0] == 250
    lines = verify(box, dns, box.sink.wait_for_subject("rsa only")[0])
    assert lines == [f"{DOMAIN} rsa-sha256 pass", "RESULT pass"]

    with box.db_session() as session:
        secrets = SecretBox.from_file(box.settings.effective_encryption_key_file)
        pending = tenants.add_dkim_key(session, secrets, DOMAIN, "ed25519")
        selector = pending.selector
    box.directory_loaded()
    assert send(box, "pending key does not sign")[0] == 250
    received = box.sink.wait_for_subject("pending key does not sign")[0]
    assert received.content.count(b"DKIM-Signature:") == 1

    publish_keys(box, dns, DOMAIN)
    assert relayctl(["--config", str(box.config_path), "domain", "verify", DOMAIN]) == 0
    box.directory_loaded()
    assert send(box, "rsa and ed25519")[0] == 250
    received = box.sink.wait_for_subject("rsa and ed25519")[0]
    assert f"s={selector}".encode() in received.content
    # This Debian's Mail::DKIM predates Ed25519 (it says "unsupported algorithm"): it checks the
    # RSA signature, opendkim-testmsg each signature on its own.
    assert f"{DOMAIN} rsa-sha256 pass" in verify(box, dns, received)
    txt = {name: value[0] for (name, rdtype), value in dns.records.items() if rdtype == "TXT"}
    for signature_selector in (selector, rsa_selector):
        alone = only_signature(received.content, signature_selector)
        assert opendkim_verifies(alone, txt) == (True, "")
        assert opendkim_verifies(alone.replace(b"hello", b"HELLO"), txt)[0] is False


def test_mime_mail_built_by_real_libraries_arrives_signed(box: Box, dns: LoopbackDns) -> None:
    """Python's EmailMessage and nodemailer in their default forms, verified by Mail::DKIM and
    OpenDKIM (a fold inside h=...content-transfer-encoding broke every such signature)."""
    publish_keys(box, dns, DOMAIN)
    python_mail = EmailMessage()
    python_mail["From"] = f"App <app@{DOMAIN}>"
    python_mail["To"] = "someone@example.org"
    python_mail["Subject"] = "built by EmailMessage"
    python_mail["Date"] = formatdate()
    python_mail["Message-ID"] = make_msgid(domain=DOMAIN)
    python_mail.set_content("Grüße, with a line long enough that the encoder wraps it " * 3)
    python_mail.add_alternative("<p>Grüße</p>", subtype="html")
    python_mail.add_attachment(bytes(range(256)), maintype="application", subtype="octet-stream",
                               filename="data.bin")
    with box.client() as client:
        client.send_message(python_mail)
    sent = subprocess.run(["node", str(NODEMAILER), str(box.submission_port), box.username, box.password,
                           f"app@{DOMAIN}", "someone@example.org", "built by nodemailer"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert sent.returncode == 0 and sent.stdout.startswith("250"), sent.stdout + sent.stderr
    txt = {name: value[0] for (name, rdtype), value in dns.records.items() if rdtype == "TXT"}
    for subject in ("built by EmailMessage", "built by nodemailer"):
        received = box.sink.wait_for_subject(subject)[0]
        assert b"content-transfer-encoding" in received.content.lower()
        assert verify(box, dns, received)[-1] == "RESULT pass", received.content[:2000]
        assert opendkim_verifies(received.content, txt) == (True, "")


def test_a_signature_does_not_survive_tampering(box: Box, dns: LoopbackDns) -> None:
    publish_keys(box, dns, DOMAIN)
    assert send(box, "tamper")[0] == 250
    received = box.sink.wait_for_subject("tamper")[0]
    received.content = received.content.replace(b"hello", b"HELLO")
    assert verify(box, dns, received)[-1] == "RESULT fail"


def test_route_header_never_reaches_the_sink(box: Box) -> None:
    assert send(box, "route", extra_headers=f"{ROUTE_HEADER}: smtp_elsewhere\r\n")[0] == 250
    received = box.sink.wait_for_subject("route")[0]
    assert ROUTE_HEADER.lower().encode() not in received.content.lower()
    assert "FILTER out_default:" in box.postfix_log() or "out_default:" in box.postfix_log()


def test_return_path_is_a_verp_address_and_the_sender_is_kept(box: Box) -> None:
    code, reply = send(box, "verp")
    assert code == 250
    queue_id = reply.split(b"queued as ")[1].decode()
    received = box.sink.wait_for_subject("verp")[0]
    key = verp_key(SecretBox.from_file(box.settings.effective_encryption_key_file))
    tag = parse_verp(key, received.mail_from)
    assert tag is not None and tag.authentic
    record = box.accepted_record(queue_id)
    assert (record.sender, record.message_ref, record.tenant.name, record.recipients) == (
        f"app@{DOMAIN}", tag.message_ref, "acme", "someone@example.org")
    local, _, domain = received.mail_from.partition("@")
    forged = f"{local[:-4]}aaaa@{domain}"
    forged_tag = parse_verp(key, forged)
    assert forged_tag is not None and not forged_tag.authentic


def _tenant_with_domain(box: Box, name: str, **limits: int) -> tuple[str, str, str]:
    with box.db_session() as session:
        tenants.add_tenant(session, name)
        domain = tenants.add_domain(session, SecretBox.from_file(box.settings.effective_encryption_key_file),
                                    name, f"{name}.test")
        tenants.mark_verified_by_operator(session, domain)
        credential = tenants.add_credential(session, name)
        tenants.set_limits(session, name, limits)
    box.directory_loaded()
    return credential.username, credential.secret, f"app@{name}.test"


def test_over_its_rate_a_tenant_gets_451_4_7_1_and_under_it_does_not(box: Box) -> None:
    username, password, sender = _tenant_with_domain(box, "rated", per_second=2)
    replies = []
    with box.client(login=False) as client:
        client.login(username, password)
        for n in range(6):
            client.mail(sender)
            client.rcpt("someone@example.org")
            replies.append(client.data(message(f"burst {n}", sender=sender)))
    refused = [r for r in replies if r[0] != 250]
    assert refused, replies
    assert all(code == 451 and reply.startswith(b"4.7.1") and b"per second" in reply
               for code, reply in refused)
    time.sleep(1.0)  # the burst's second is over
    for n in range(3):
        assert send(box, f"steady {n}", username, password, sender)[0] == 250
        time.sleep(0.6)


def test_a_daily_quota_survives_a_milter_restart(box: Box) -> None:
    username, password, sender = _tenant_with_domain(box, "quota", per_day=2)
    assert send(box, "quota 1", username, password, sender)[0] == 250
    assert send(box, "quota 2", username, password, sender)[0] == 250
    code, reply = send(box, "quota 3", username, password, sender)
    assert (code, reply[:5]) == (451, b"4.7.1") and b"Daily quota of 2" in reply
    box.stop_milter()
    box.start_milter()
    code, reply = send(box, "quota 4", username, password, sender)
    assert (code, reply[:5]) == (451, b"4.7.1") and b"Daily quota of 2" in reply
    assert send(box, "under no quota")[0] == 250


def test_with_the_milter_stopped_clients_get_4xx_and_nothing_is_lost(box: Box) -> None:
    box.stop_milter()
    try:
        code, reply = send(box, "milter away")
        assert 400 <= code < 500, (code, reply)
    finally:
        box.start_milter()
    assert send(box, "milter back")[0] == 250
    box.sink.wait_for_subject("milter back")
    box.assert_never_delivered("milter away")


def test_an_open_connection_sends_again_as_soon_as_a_crashed_milter_is_back(box: Box) -> None:
    """Its Postfix session had lost the milter: every message got 451 for about 30 s."""
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        client.rcpt("someone@example.org")
        assert client.data(message("before the milter crash"))[0] == 250
        box.stop_milter(signal.SIGKILL)
        box.start_milter()
        for n in range(3):
            client.mail(f"app@{DOMAIN}")
            client.rcpt("someone@example.org")
            assert client.data(message(f"after the milter crash {n}"))[0] == 250
    for n in range(3):
        box.sink.wait_for_subject(f"after the milter crash {n}")


def test_concurrent_connections_over_the_limit_are_tempfailed(box: Box) -> None:
    username, password, sender = _tenant_with_domain(box, "conns", concurrent_connections=1)
    with box.client(login=False) as first, box.client(login=False) as second:
        first.login(username, password)
        second.login(username, password)
        first.mail(sender)
        first.rcpt("someone@example.org")
        assert first.data(message("first connection", sender=sender))[0] == 250
        second.mail(sender)
        second.rcpt("someone@example.org")
        code, reply = second.data(message("second connection", sender=sender))
        assert (code, reply[:5]) == (451, b"4.7.1") and b"concurrent connections" in reply
    assert send(box, "after both closed", username, password, sender)[0] == 250


def test_smtp_error_names_no_secret(box: Box) -> None:
    with pytest.raises(smtplib.SMTPAuthenticationError):
        send(box, "bad login", box.username, "wrong")
