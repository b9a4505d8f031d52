"""A message through the front-end and real Postfix to the sink, and the refusals on the way."""

from __future__ import annotations

import smtplib
import subprocess
from collections.abc import Iterator

import pytest

from core import tenants
from core.db import bump_directory_version
from core.postfix.instance import SUBMIT_SERVICE
from relayctl.cli import main as relayctl
from tests.support.box import DOMAIN, TENANT, Box, message
from tests.support.raw_smtp import plain_auth


def test_starttls_auth_on_submission_port_is_delivered(box: Box) -> None:
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        client.rcpt("someone@example.org")
        code, reply = client.data(message("starttls one"))
    assert code == 250
    assert b"queued as" in reply
    queue_id = reply.split(b"queued as ")[1].decode()
    delivered = box.sink.wait_for_subject("starttls one")
    assert delivered[0].rcpt_tos == ["someone@example.org"]
    log = box.postfix_log()
    assert f"{queue_id}: client=" in log
    assert f"sasl_username={TENANT}" in log


def test_swaks_over_implicit_tls_is_delivered(box: Box) -> None:
    result = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(box.smtps_port), "--tls-on-connect",
         "--auth", "PLAIN", "--auth-user", box.username, "--auth-password", box.password,
         "--from", f"app@{DOMAIN}", "--h-From", f"app@{DOMAIN}", "--to", "swaks@example.org",
         "--header", "Subject: via swaks"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "queued as" in result.stdout, result.stdout + result.stderr
    arrived = box.sink.wait_for_subject("via swaks")
    assert arrived[0].rcpt_tos == ["swaks@example.org"]


def test_mail_before_auth_is_refused(box: Box) -> None:
    with box.client(login=False) as client:
        code, reply = client.mail(f"app@{DOMAIN}")
    assert (code, reply[:5]) == (530, b"5.7.0")


def test_auth_is_neither_offered_nor_accepted_before_tls(box: Box) -> None:
    client = smtplib.SMTP("127.0.0.1", box.submission_port, timeout=30)
    try:
        client.ehlo()
        assert not client.has_extn("auth")
        assert client.has_extn("starttls")
        code, _ = client.docmd(plain_auth(box.username, box.password).decode())
        assert code == 530
    finally:
        client.close()


def test_wrong_secret_is_refused_with_535(box: Box) -> None:
    with box.client(login=False) as client, pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        client.login(box.username, "not-the-secret")
    assert refused.value.smtp_code == 535
    assert refused.value.smtp_error.startswith(b"5.7.8")


def test_auth_login_mechanism_works(box: Box) -> None:
    with box.client(login=False) as client:
        client.user, client.password = box.username, box.password  # type: ignore[attr-defined]
        code, _ = client.auth("LOGIN", client.auth_login, initial_response_ok=False)
    assert code == 235


@pytest.mark.parametrize("sender", ["app@other.test", "app@unverified.acme.test", "app@nowhere.test",
                                    "app@sub.acme.test"])
def test_sender_domain_not_owned_and_verified_is_refused(box: Box, sender: str) -> None:
    with box.client() as client:
        code, reply = client.mail(sender)
    assert (code, reply[:5]) == (550, b"5.7.1")


def test_null_sender_is_refused(box: Box) -> None:
    with box.client() as client:
        code, reply = client.mail("<>")
    assert code in (501, 550), reply


@pytest.mark.parametrize("header_from", ["boss@other.test", "boss@unverified.acme.test",
                                         f"ok@{DOMAIN}, boss@other.test"])
def test_header_from_not_owned_is_refused_and_not_delivered(box: Box, header_from: str) -> None:
    subject = f"forged from {header_from}"
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        client.rcpt("someone@example.org")
        code, reply = client.data(message(subject, sender=header_from))
        assert (code, reply[:5]) == (550, b"5.7.1")
        # The session goes on: the next message is accepted.
        client.mail(f"app@{DOMAIN}")
        client.rcpt("someone@example.org")
        assert client.data(message("after forged"))[0] == 250
    box.sink.wait_for_subject("after forged")
    assert not box.sink.with_subject(subject)


@pytest.mark.parametrize(("headers", "expected"), [
    (f"From: app@{DOMAIN} <ceo@bank.test>", b"5.6.0 The From header cannot be read"),
    (f"From: <app@{DOMAIN}> <boss@other.test>", b"5.6.0 The From header cannot be read"),
    (f'From: "ceo@bank.test" <app@{DOMAIN}>', b"5.7.1 From header names domain bank.test"),
    (f"From: =?utf-8?q?ceo=40bank=2Etest?= <app@{DOMAIN}>", b"5.7.1 From header names domain bank.test"),
    (f"From: app@{DOMAIN} (ceo@bank.test)", b"5.7.1 From header names domain bank.test"),
    (f"From: app@{DOMAIN}\r\nSender: boss@other.test", b"5.7.1 Sender header names domain other.test"),
    (f"From: app@{DOMAIN}\r\nResent-From: ceo@bank.test", b"5.7.1 Resent-From header names domain bank.test"),
])
def test_identity_headers_that_could_show_a_foreign_address_are_refused(box: Box, headers: str,
                                                                        expected: bytes) -> None:
    subject = f"identity {headers[:40]}"
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        client.rcpt("someone@example.org")
        code, reply = client.data(f"{headers}\r\nTo: someone@example.org\r\nSubject: {subject}\r\n"
                                  f"\r\nbody\r\n".encode())
    assert code == 550 and reply.startswith(expected), reply
    box.assert_never_delivered(subject)


def test_plain_identity_headers_of_own_domains_pass(box: Box) -> None:
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        client.rcpt("someone@example.org")
        code, _ = client.data(f'From: "J. Smith app@{DOMAIN}" <app@{DOMAIN}>\r\nSender: <ops@{DOMAIN}>\r\n'
                              f"To: someone@example.org\r\nSubject: plain identities\r\n\r\nhi\r\n".encode())
    assert code == 250
    box.sink.wait_for_subject("plain identities")


def test_message_without_from_header_is_refused(box: Box) -> None:
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        client.rcpt("someone@example.org")
        code, reply = client.data(b"To: someone@example.org\r\nSubject: no from\r\n\r\nbody\r\n")
    assert (code, reply[:5]) == (550, b"5.6.0")


def test_size_is_advertised_and_too_big_gets_552(box: Box) -> None:
    limit = box.settings.smtp.max_message_size
    with box.client() as client:
        assert int(client.esmtp_features["size"]) == limit
        code, reply = client.mail(f"app@{DOMAIN}", options=[f"SIZE={limit + 1}"])
        assert (code, reply[:5]) == (552, b"5.3.4")
        client.mail(f"app@{DOMAIN}")
        client.rcpt("someone@example.org")
        body = ("x" * 70 + "\r\n") * (limit // 72 + 10)
        code, reply = client.data(message("too big", body=body))
        assert (code, reply[:5]) == (552, b"5.3.4")
        assert client.noop()[0] == 250
    assert not box.sink.with_subject("too big")


def test_too_many_recipients_gets_452(box: Box) -> None:
    limit = box.settings.smtp.max_recipients
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        for n in range(limit):
            assert client.rcpt(f"r{n}@example.org")[0] == 250
        code, reply = client.rcpt("one-too-many@example.org")
        assert (code, reply[:5]) == (452, b"4.5.3")
        assert client.data(message("five recipients"))[0] == 250
    arrived = box.sink.wait_for_subject("five recipients")
    assert sorted(r for m in arrived for r in m.rcpt_tos) == sorted(f"r{n}@example.org" for n in range(limit))


def test_8bitmime_and_smtputf8_pass_through(box: Box) -> None:
    body = "Grüße aus Zürich\r\n".encode()
    with box.client() as client:
        assert client.has_extn("8bitmime") and client.has_extn("smtputf8")
        client.mail(f"app@{DOMAIN}", options=["BODY=8BITMIME", "SMTPUTF8"])
        assert client.rcpt("jürgen@example.org")[0] == 250
        headers = f"From: app@{DOMAIN}\r\nTo: jürgen@example.org\r\nSubject: utf8 pass\r\n\r\n".encode()
        assert client.data(headers + body)[0] == 250
    arrived = box.sink.wait_for_subject("utf8 pass")
    assert arrived[0].rcpt_tos == ["jürgen@example.org"]
    assert body in arrived[0].content


@pytest.fixture
def postfix_refuses(box: Box) -> Iterator[str]:
    """A recipient the internal listener's own restrictions refuse (as an operator's access map would)."""
    refused = "refused@example.org"
    parameter = f"{SUBMIT_SERVICE}/unix/smtpd_recipient_restrictions"

    def set_restrictions(value: str) -> None:
        subprocess.run(["postconf", "-c", str(box.instance.config_dir), "-P", f"{parameter}={value}"],
                       check=True)
        box.instance.start_or_reload()

    set_restrictions(f"check_recipient_access,inline:{{{refused}=REJECT}}")  # -P takes no spaces
    try:
        yield refused
    finally:
        set_restrictions("")


@pytest.mark.parametrize("recipients", [
    ["REFUSED"],
    ["a@example.org", "REFUSED", "c@example.org"],
], ids=["only-recipient", "one-of-three"])
def test_a_recipient_postfix_refuses_fails_the_message_for_all(box: Box, recipients: list[str],
                                                               postfix_refuses: str) -> None:
    # The envelope reaches Postfix with the content, so its refusal of a recipient is the
    # reply to DATA; no recipient gets a message the client was told failed.
    recipients = [postfix_refuses if r == "REFUSED" else r for r in recipients]
    subject = f"refused rcpt {len(recipients)}"
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        for recipient in recipients:
            assert client.rcpt(recipient)[0] == 250
        code, reply = client.data(message(subject))
        assert code == 554 and b"Recipient address rejected" in reply, reply
        client.mail(f"app@{DOMAIN}")
        client.rcpt("after@example.org")
        assert client.data(message(f"{subject} then ok"))[0] == 250
    box.sink.wait_for_subject(f"{subject} then ok")
    assert not box.sink.with_subject(subject)


def test_a_suppressed_recipient_is_refused_at_rcpt(box: Box) -> None:
    config = ["--config", str(box.config_path), "suppression"]
    assert relayctl([*config, "add", "Gone@Example.org", "--tenant", TENANT, "--note", "test"]) == 0
    assert relayctl([*config, "add", "everyone-gone@example.org"]) == 0
    box.directory_loaded()
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        for address in ("gone@example.org", "everyone-gone@example.org"):
            code, reply = client.rcpt(address)
            assert (code, reply[:5]) == (550, b"5.7.1") and b"suppression list (manual)" in reply
        assert client.rcpt("still-here@example.org")[0] == 250
    assert relayctl([*config, "remove", "gone@example.org", "--tenant", TENANT]) == 0
    box.directory_loaded()
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        assert client.rcpt("gone@example.org")[0] == 250


def test_a_paused_tenant_is_told_to_try_later_until_resumed(box: Box) -> None:
    with box.db_session() as session:
        credential = tenants.add_credential(session, "other")
        tenants.get_tenant(session, "other").status = "paused"
        bump_directory_version(session)
    box.directory_loaded()
    with box.client(login=False) as client:
        client.login(credential.username, credential.secret)
        code, reply = client.mail("app@other.test")
        assert (code, reply[:5]) == (451, b"4.7.1") and b"paused" in reply
    assert relayctl(["--config", str(box.config_path), "tenant", "resume", "other"]) == 0
    box.directory_loaded()
    with box.client(login=False) as client:
        client.login(credential.username, credential.secret)
        assert client.mail("app@other.test")[0] == 250
