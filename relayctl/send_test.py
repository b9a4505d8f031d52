"""relayctl send-test: a message through the front-end, then its fate from the Postfix log."""

from __future__ import annotations

import re
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import make_msgid

from core.config import Settings
from core.postfix.instance import PostfixInstance
from core.postfix.queue import queued_as

_STATUS = re.compile(r"status=(sent|bounced|deferred|expired)")


def client_tls_context(settings: Settings) -> ssl.SSLContext:
    """Verify the front-end's certificate; the first-run one is self-signed, so trust exactly it.

    The connection goes to a loopback address, which no certificate names, so the
    chain is checked but not the host name.
    """
    context = ssl.create_default_context()
    if settings.smtp.tls_cert_file is None:
        context.load_verify_locations(settings.tls_cert_file)
    context.check_hostname = False
    return context


def wait_for_fate(settings: Settings, queue_id: str, seconds: float) -> str | None:
    """The status= word of the Postfix log line for queue_id, waiting up to seconds."""
    log_file = PostfixInstance(settings).log_file
    deadline = time.monotonic() + seconds
    while True:
        if log_file.exists():
            for line in log_file.read_text(errors="replace").splitlines():
                if f" {queue_id}: " in line and (match := _STATUS.search(line)):
                    return match.group(1)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.25)


def send_test(settings: Settings, username: str, password: str, sender: str, recipient: str,
              implicit_tls: bool, wait_seconds: float) -> int:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = "mailrelay test message"
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message.set_content("This is a test message sent by relayctl send-test.\n")
    listen = settings.smtp.listen_address
    host = "127.0.0.1" if listen in ("0.0.0.0", "::") else listen
    context = client_tls_context(settings)
    try:
        if implicit_tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, settings.smtp.smtps_port, context=context,
                                                    timeout=60)
        else:
            client = smtplib.SMTP(host, settings.smtp.submission_port, timeout=60)
            client.starttls(context=context)
        with client:
            client.login(username, password)
            client.mail(sender)
            code, reply = client.rcpt(recipient)
            if code != 250:
                print(f"refused: {code} {reply.decode(errors='replace')}")
                return 1
            code, reply = client.data(message.as_bytes())
    except (smtplib.SMTPException, OSError) as exc:
        print(f"not sent: {exc}")
        return 1
    text = reply.decode(errors="replace")
    print(f"{code} {text}")
    queue_id = queued_as(text)
    if code != 250 or queue_id is None:
        return 1
    if wait_seconds <= 0:
        return 0
    fate = wait_for_fate(settings, queue_id, wait_seconds)
    print(f"{queue_id}: {fate or 'no delivery attempt logged yet'}")
    return 0 if fate == "sent" else 1
