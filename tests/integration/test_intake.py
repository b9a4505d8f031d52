"""What comes back: port 25 takes the box's own domains only; reports are judged by their VERP tag."""

from __future__ import annotations

import threading
import time

from sqlalchemy import delete

from core.db import bump_directory_version
from core.events import recent_events
from core.models import AcceptedMessage, Event
from core.secretbox import SecretBox
from core.suppressions import list_suppressions
from core.tenants import get_domain, get_tenant
from core.verp import new_message_ref, verp_address, verp_key
from tests.support.box import DOMAIN, TENANT, Box, message
from tests.support.waiting import eventually


def dsn(recipient: str, status: str = "5.1.1", diagnostic: str = "550 5.1.1 user unknown") -> bytes:
    """An RFC 3464 report, as a remote MTA would send it."""
    return (
        "From: MAILER-DAEMON@mx.example.org\r\nTo: bounce@example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n"
        "--b--\r\n"
    ).encode()


def return_path_of(box: Box, message_ref: str) -> str:
    key = verp_key(SecretBox.from_file(box.settings.effective_encryption_key_file))
    return verp_address(key, box.settings.bounce_domain, message_ref)


def sent_message_ref(box: Box, recipients: list[str], subject: str = "fan mail") -> str:
    """Send one message through the relay; its message ref, from the milter's record."""
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        for recipient in recipients:
            client.rcpt(recipient)
        code, reply = client.data(message(subject, to=", ".join(recipients)))
    assert code == 250, reply
    return box.accepted_record(reply.split(b"queued as ")[1].decode()).message_ref


def wait_for_event(box: Box, kind: str, subject: str) -> None:
    def seen() -> bool:
        with box.db_session() as session:
            return any(e.subject == subject for e in recent_events(session, kind))
    eventually(seen, f"{kind} event for {subject}")


def test_port_25_takes_the_bounce_domain_only(box: Box) -> None:
    with box.inbound() as client:
        client.ehlo("mx.example.org")
        assert client.mail("someone@example.org")[0] == 250
        code, reply = client.rcpt("victim@example.net")
        assert code == 554 and b"Relay access denied" in reply
        assert client.rcpt(f"anything@{box.settings.bounce_domain}")[0] == 250
        assert client.rcpt(f"fbl@{box.settings.feedback_domain}")[0] == 250
        assert "AUTH" not in (client.ehlo_resp or b"").decode()
        for subdomain in (f"x@sub.{box.settings.bounce_domain}", f"x@sub.{box.settings.feedback_domain}",
                          f"postmaster@{box.settings.hostname}"):
            code, reply = client.rcpt(subdomain)
            assert code == 554 and b"Relay access denied" in reply, subdomain


def test_postmaster_and_abuse_reach_the_intake_and_are_never_relayed(box: Box) -> None:
    """SMTP must take a bare <postmaster>; Postfix qualified it with the hostname and relayed it out."""
    bounce_domain = box.settings.bounce_domain
    with box.inbound() as client:
        for recipient in ("postmaster", "abuse", f"postmaster@{bounce_domain}", f"abuse@{bounce_domain}"):
            client.sendmail("someone@example.org", [recipient], b"Subject: to the postmaster\r\n\r\nhi\r\n")
    for recipient in (f"postmaster@{bounce_domain}", f"abuse@{bounce_domain}"):
        wait_for_event(box, "unmatched_report", recipient)
    box.assert_never_delivered("to the postmaster")


def test_a_hard_bounce_suppresses_the_recipient_for_its_tenant(box: Box) -> None:
    return_path = return_path_of(box, sent_message_ref(box, ["bounced@example.org"]))
    with box.inbound() as client:
        client.sendmail("", [return_path], dsn("bounced@example.org"))
    wait_for_event(box, "suppressed", "bounced@example.org")
    with box.db_session() as session:
        assert next(e.subject for e in recent_events(session, "bounced")) == "bounced@example.org"
        assert [s.address for s in list_suppressions(session, TENANT)] == ["bounced@example.org"]
    code, reply = box.rcpt_reply("bounced@example.org")
    assert code == 550 and b"suppression list (hard bounce)" in reply


def test_a_forged_tag_is_recorded_and_changes_nothing(box: Box) -> None:
    local, _, domain = return_path_of(box, new_message_ref()).partition("@")
    forged = f"{local[:-4]}aaaa@{domain}"
    with box.inbound() as client:
        client.sendmail("", [forged], dsn("innocent@example.org"))
    wait_for_event(box, "forged_report", forged)
    with box.db_session() as session:
        assert "innocent@example.org" not in [s.address for s in list_suppressions(session)]


def delivered_message_ref(box: Box, recipients: list[str]) -> str:
    """Send one message through the relay; its message ref once the tailer saw it delivered."""
    message_ref = sent_message_ref(box, recipients)

    def delivered() -> list[str]:
        with box.db_session() as session:
            found = [e.message_ref for e in recent_events(session, "delivered") if e.subject in recipients]
        return found if len(found) == len(recipients) else []
    assert eventually(delivered, "delivered events from the tailer", timeout=30)[0] == message_ref
    return message_ref


def test_a_genuine_tag_acts_only_on_the_message_s_own_recipients(box: Box) -> None:
    """A recipient of a tenant's mail knows its return-path: a report it makes up there names
    other addresses in vain. A forwarded recipient's report counts for the address used."""
    fan, friend = "fan@example.org", "friend@example.org"
    return_path = return_path_of(box, delivered_message_ref(box, [fan, friend]))
    forwarded = dsn("friend@elsewhere.example.net").replace(
        b"Action: failed", b"Original-Recipient: rfc822; friend@example.org\r\nAction: failed")
    with box.inbound() as client:
        client.sendmail("", [return_path], dsn("victim@example.org"))
        client.sendmail("", [return_path], dsn(fan))
        client.sendmail("", [return_path], forwarded)
    wait_for_event(box, "suppressed", fan)
    wait_for_event(box, "suppressed", friend)
    wait_for_event(box, "unmatched_report", "victim@example.org")
    with box.db_session() as session:
        suppressed = {s.address for s in list_suppressions(session, TENANT)}
    assert {fan, friend} <= suppressed and "victim@example.org" not in suppressed
    assert "friend@elsewhere.example.net" not in suppressed


def test_a_report_acts_only_on_the_recorded_recipients_even_before_any_log_line(box: Box) -> None:
    """A receiver can hold a message before its 250 and meanwhile send a DSN naming any address;
    a delivery whose log lines are lost stays that way. The milter's record names the recipients."""
    held = "held@example.org"
    return_path = return_path_of(box, delivered_message_ref(box, [held]))
    with box.db_session() as session:  # as if the delivery's log lines were never read
        session.execute(delete(Event).where(Event.subject == held))
    with box.inbound() as client:
        client.sendmail("", [return_path], dsn("ceo@bank.example"))
        client.sendmail("", [return_path], dsn(held))
    wait_for_event(box, "suppressed", held)
    wait_for_event(box, "unmatched_report", "ceo@bank.example")
    with box.db_session() as session:
        assert "ceo@bank.example" not in {s.address for s in list_suppressions(session)}


def test_a_report_that_comes_before_its_record_waits_for_it(box: Box) -> None:
    """The mailbox simulator's bounce can come back before the milter has written the record of
    the message: the intake waits a moment for it rather than send the report back to the queue."""
    early = "early@example.org"
    message_ref = new_message_ref()
    return_path = return_path_of(box, message_ref)

    def record_late() -> None:
        time.sleep(0.5)
        with box.db_session() as session:
            session.add(AcceptedMessage(message_ref=message_ref, tenant_id=get_tenant(session, TENANT).id,
                                        sender=f"app@{DOMAIN}", recipients=early))
    writer = threading.Thread(target=record_late)
    writer.start()
    with box.inbound() as client:
        client.sendmail("", [return_path], dsn(early))
    writer.join()
    wait_for_event(box, "suppressed", early)
    assert not [line for line in box.postfix_log().splitlines()
                if f"to=<{return_path}>" in line and "status=deferred" in line]


def test_a_genuine_tag_of_a_message_without_record_waits_and_changes_nothing(box: Box) -> None:
    """Not recorded (yet): the intake answers 4xx and Postfix keeps the report to bring it again."""
    return_path = return_path_of(box, new_message_ref())
    with box.inbound() as client:
        client.sendmail("", [return_path], dsn("stranger@example.org"))
    eventually(lambda: f"to=<{return_path}>" in box.postfix_log(), "the report's deferral in Postfix's log")
    deferred = [line for line in box.postfix_log().splitlines() if f"to=<{return_path}>" in line]
    assert deferred and all("status=deferred" in line and "not recorded yet" in line for line in deferred)
    with box.db_session() as session:
        assert "stranger@example.org" not in {s.address for s in list_suppressions(session)}


def arf(return_path: str, recipient: str) -> bytes:
    """A feedback loop's RFC 5965 report, sent to the address registered with the provider;
    its copy of the message quotes the message's return-path."""
    return (
        "From: feedbackloop@mx.example.org\r\nTo: fbl@example\r\nSubject: Abuse report\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="f"\r\n\r\n'
        "--f\r\nContent-Type: text/plain\r\n\r\nA user marked this message as spam.\r\n"
        "--f\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: abuse\r\nUser-Agent: ExampleFBL/1.0\r\nVersion: 1\r\n"
        f"Original-Rcpt-To: {recipient}\r\n\r\n"
        "--f\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Return-Path: <{return_path}>\r\nFrom: app@{DOMAIN}\r\nTo: {recipient}\r\nSubject: fan mail\r\n\r\n"
        "--f--\r\n"
    ).encode()


def test_feedback_loop_reports_are_tied_to_their_message_by_the_quoted_return_path(box: Box) -> None:
    reader = "reader@example.org"
    return_path = return_path_of(box, delivered_message_ref(box, [reader]))
    feedback = f"fbl@{box.settings.feedback_domain}"
    local, _, domain = return_path.partition("@")
    with box.inbound() as client:
        client.sendmail("feedbackloop@mx.example.org", [feedback], arf(return_path, reader))
        client.sendmail("feedbackloop@mx.example.org", [feedback],
                        arf(f"{local[:-4]}aaaa@{domain}", "innocent@example.org"))
        client.sendmail("feedbackloop@mx.example.org", [feedback],
                        arf("someone@elsewhere.example.net", "bystander@example.org"))
    wait_for_event(box, "complained", reader)
    wait_for_event(box, "suppressed", reader)
    wait_for_event(box, "forged_report", feedback)
    wait_for_event(box, "unmatched_report", feedback)
    with box.db_session() as session:
        suppressed = {s.address for s in list_suppressions(session, TENANT)}
    assert reader in suppressed and not {"innocent@example.org", "bystander@example.org"} & suppressed


def _return_path_seen(box: Box, seen: bool) -> None:
    """As domain verify records it when rp.<domain> does (not) point at the box."""
    with box.db_session() as session:
        get_domain(session, DOMAIN).return_path_ok = seen
        bump_directory_version(session)
    box.directory_loaded()


def test_a_bounce_to_the_tenants_own_return_path_domain_is_taken_and_suppresses(box: Box) -> None:
    _return_path_seen(box, True)
    try:
        with box.client() as client:
            client.mail(f"app@{DOMAIN}")
            client.rcpt("gone@example.org")
            code, reply = client.data(message("aligned return-path", to="gone@example.org"))
        assert code == 250, reply
        received = box.sink.wait_for_subject("aligned return-path")[0]
        assert received.mail_from.endswith(f"@rp.{DOMAIN}"), received.mail_from
        with box.inbound() as client:
            client.ehlo("mx.example.org")
            assert client.mail("")[0] == 250
            for elsewhere in ("x@rp.elsewhere.test", f"x@sub.rp.{DOMAIN}", f"x@rp.{DOMAIN}.evil.test"):
                code, refusal = client.rcpt(elsewhere)
                assert code == 554 and b"Relay access denied" in refusal, elsewhere
            assert client.rcpt(received.mail_from)[0] == 250
            assert client.data(dsn("gone@example.org"))[0] == 250
        wait_for_event(box, "suppressed", "gone@example.org")
    finally:
        _return_path_seen(box, False)
    with box.inbound() as client:
        client.ehlo("mx.example.org")
        client.mail("")
        code, refusal = client.rcpt(received.mail_from)
        assert code == 554 and b"Relay access denied" in refusal
