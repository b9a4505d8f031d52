"""The mailbox simulator: addresses on the simulator domain that answer as real mailboxes do.

Postfix delivers mail for the simulator domain here over LMTP (transport_maps), so it
never leaves the box, and what comes back takes the real way back:

- success@   accepted: Postfix logs status=sent, the log tailer makes it "delivered".
- bounce@    refused 550 5.1.1: Postfix itself writes the DSN to the VERP return-path,
             which its port-25 listener hands to the intake: "bounced", then suppressed.
- ooto@      accepted, and an RFC 3834 auto-reply goes to the return-path.
- complaint@ accepted, and an RFC 5965 (ARF) abuse report goes to the return-path.
- suppressionlist@ is always on the suppression list: the front-end refuses it at RCPT.

Replies and reports go into Postfix's port-25 listener, as a remote system's would.
One that cannot be sent makes that recipient 451, so Postfix tries again.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid

from aiosmtpd.smtp import SMTP, Envelope, Session

from core.simulator import LOCAL_PARTS, SUPPRESSED_LOCAL_PART, SimulatorDomain

log = logging.getLogger(__name__)

HEADERS_RETURNED = 16 * 1024


def _original_headers(content: bytes) -> str:
    head = content[:HEADERS_RETURNED].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return head.decode("utf-8", "replace")


def _subject(headers: str) -> str:
    for line in headers.splitlines():
        if line.lower().startswith("subject:"):
            return line.partition(":")[2].strip()
    return ""


def auto_reply(person: str, return_path: str, original: bytes) -> Message:
    reply = MIMEText("I am out of the office (mailbox simulator) and will reply when I am back.\n")
    _address(reply, person, return_path, f"Out of office: {_subject(_original_headers(original))}"[:200])
    reply["Auto-Submitted"] = "auto-replied"
    return reply


def abuse_report(person: str, return_path: str, original: bytes) -> Message:
    report = MIMEMultipart("report", report_type="feedback-report")
    _address(report, f"abuse@{person.rpartition('@')[2]}", return_path, "Abuse report (mailbox simulator)")
    report.attach(MIMEText("The recipient marked this message as spam.\n"))
    feedback = MIMENonMultipart("message", "feedback-report")
    feedback.set_payload("Feedback-Type: abuse\r\nUser-Agent: mailrelay-simulator/1.0\r\nVersion: 1\r\n"
                         f"Original-Mail-From: <{return_path}>\r\nOriginal-Rcpt-To: <{person}>\r\n")
    report.attach(feedback)
    headers = MIMENonMultipart("text", "rfc822-headers")
    headers.set_payload(_original_headers(original))
    report.attach(headers)
    return report


def _address(message: Message, sender: str, recipient: str, subject: str) -> None:
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])


class SimulatorHandler:
    def __init__(self, simulator: SimulatorDomain, inbound_host: str, inbound_port: int) -> None:
        self._simulator = simulator
        self._inbound = (inbound_host, inbound_port)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if not self._simulator.holds(address):
            return f"550 5.1.2 This service takes mail for {self._simulator.name} only"
        if address.lower().rpartition("@")[0] not in LOCAL_PARTS:
            return f"550 5.1.1 <{address}>: the mailbox simulator has no such address"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.original_content, bytes)
        return_path = envelope.mail_from or ""
        replies = []
        for recipient in envelope.rcpt_tos:
            local = recipient.lower().rpartition("@")[0]
            if local == "bounce":
                replies.append(f"550 5.1.1 <{recipient}>: user unknown (mailbox simulator)")
            elif local == SUPPRESSED_LOCAL_PART:
                replies.append(f"550 5.1.1 <{recipient}>: on the suppression list (mailbox simulator)")
            elif local in ("ooto", "complaint") and return_path:
                make = auto_reply if local == "ooto" else abuse_report
                try:
                    reply = make(recipient, return_path, envelope.original_content)
                    await asyncio.to_thread(self._send, reply)
                except (OSError, smtplib.SMTPException) as exc:
                    log.warning("simulator could not send the %s reply to %s: %s", local, return_path, exc)
                    replies.append("451 4.3.0 The simulator could not answer yet; try again later")
                    continue
                replies.append("250 2.0.0 Delivered (mailbox simulator)")
            else:
                replies.append("250 2.0.0 Delivered (mailbox simulator)")
        return "\r\n".join(replies)

    def _send(self, message: Message) -> None:
        with smtplib.SMTP(*self._inbound, timeout=30) as client:
            # A report about a message has a null return-path, so it never loops.
            client.send_message(message, from_addr="")
