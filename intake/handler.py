"""The LMTP handler: accepts reports for the bounce, return-path and feedback domains, answers
once per recipient. A report to a bounce or return-path domain is judged by the VERP tag of its
envelope recipient;
one to the feedback domain (a feedback loop's, sent to the address registered with the
provider) by the tag in the return-path its copy of the message quotes; dmarc@ and tlsrpt@
the feedback domain take receivers' DMARC aggregate and TLS reports
(intake/receiver_reports.py). Mail to
`u-TOKEN@` the feedback domain is a mailto unsubscribe (core/unsubscribe.py): the token
alone says who is unsubscribed, so a forged sender can unsubscribe nobody but the
token's own recipient, from the token's own list.

aiosmtpd's LMTP sends the DATA hook's return value as it is, so the hook returns
one reply line per recipient, as LMTP requires. A report is answered 250 once it
is recorded, and 451 when the database is away, so Postfix keeps it and retries.
"""

from __future__ import annotations

import asyncio
import logging
import re

import dns.resolver
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine

from core.bounces.model import ReportResult
from core.bounces.parser import parse_report
from core.db import session_scope
from core.dns_records import DMARC_MAILBOX, TLS_MAILBOX
from core.unsubscribe import MAILTO_PREFIX, Unsubscribe, read_token, record_unsubscribe
from intake.directory import IntakeDirectory
from intake.feedback import quoted_return_path
from intake.metrics import REPORTS
from intake.receiver_reports import record_dmarc_reports, record_tls_reports
from intake.reports import NotRecordedYet, Outcome, record_report

log = logging.getLogger(__name__)

MAX_SCANNED = 64 * 1024
UNKNOWN_UNSUBSCRIBE = "550 5.1.1 No such unsubscribe address"
# The milter writes a message's record a moment after its verdict; a report that comes sooner
# (the mailbox simulator's bounce, within milliseconds) waits this long for it before a 4xx sends
# it back to Postfix's queue for minutes.
RECORD_WAIT_SECONDS = 2.0
RECORD_RECHECK_SECONDS = 0.1


class ReportHandler:
    def __init__(self, engine: Engine, verp_key: bytes, directory: IntakeDirectory, hostname: str,
                 feedback_domain: str, unsubscribe_key: bytes, resolver: dns.resolver.Resolver) -> None:
        self._engine = engine
        self._resolver = resolver
        self._verp_key = verp_key
        self._unsubscribe_key = unsubscribe_key
        self._directory = directory
        self._feedback_domain = feedback_domain.lower()
        # Postfix's own reports: their outcomes are in its log already (intake.log_tailer).
        self._own_report = re.compile(rb"^Reporting-MTA:\s*dns;\s*" + re.escape(hostname.encode()) + rb"\s*$",
                                      re.IGNORECASE | re.MULTILINE)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if not self._directory.takes_reports_for(address.rpartition("@")[2]):
            return "550 5.1.2 This service takes reports for the relay's own domains only"
        refusal = self._unsubscribe_refusal(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.original_content, bytes)
        results = parse_report(envelope.original_content)
        own = self._own_report.search(envelope.original_content[:MAX_SCANNED]) is not None
        replies = []
        for recipient in envelope.rcpt_tos:
            kind, reply = await self._take(recipient, results, envelope.original_content,
                                           envelope.mail_from or "", own)
            REPORTS.labels(kind, "recorded" if reply.startswith("2") else "retry"
                           if reply.startswith("4") else "refused").inc()
            replies.append(reply)
        return "\r\n".join(replies)

    async def _take(self, recipient: str, results: list[ReportResult], raw: bytes, sender: str,
                    own: bool) -> tuple[str, str]:
        """What a recipient's mail is (unsubscribe, dmarc, tls, report), and the reply to it."""
        request = self._unsubscribe_request(recipient)
        if request is not None:
            return "unsubscribe", await asyncio.to_thread(self._unsubscribe, request, sender)
        mailbox = self._receiver_mailbox(recipient)
        if mailbox is not None:
            return mailbox, await asyncio.to_thread(self._receiver_report, mailbox, raw)
        try:
            outcome = await self._record_when_known(recipient, results, raw, own)
        except NotRecordedYet as exc:
            log.info("report for %s: %s; Postfix will bring it again", recipient, exc)
            return "report", "451 4.3.0 The message this report is about is not recorded yet"
        except Exception:
            log.exception("could not record a report for %s; Postfix will retry", recipient)
            return "report", "451 4.3.0 Could not record the report; try again later"
        log.info("report for %s: tenant=%s forged=%s results=%d", recipient, outcome.tenant,
                 outcome.forged, outcome.results)
        return "report", "250 2.0.0 Report recorded"

    def inbound_action(self, address: str) -> str | None:
        """What port 25 does with a recipient (intake/socketmap.py): take a return-path domain's,
        refuse a made-up unsubscribe address; None: Postfix's own rules decide."""
        domain = address.rpartition("@")[2]
        if not self._directory.takes_reports_for(domain):
            return None
        refusal = self._unsubscribe_refusal(address)
        if refusal is not None:
            return refusal
        return "OK" if self._directory.is_return_path_domain(domain) else None

    def _receiver_mailbox(self, address: str) -> str | None:
        local, _, domain = address.rpartition("@")
        if domain.lower() != self._feedback_domain or local.lower() not in (DMARC_MAILBOX, TLS_MAILBOX):
            return None
        return local.lower()

    def _receiver_report(self, mailbox: str, raw: bytes) -> str:
        try:
            if mailbox == DMARC_MAILBOX:
                stored = record_dmarc_reports(self._engine, self._resolver, raw)
            else:
                own = self._directory.receiving_domains()
                stored = record_tls_reports(self._engine, self._resolver, raw, own)
        except Exception:
            log.exception("could not record a %s report; Postfix will retry", mailbox)
            return "451 4.3.0 Could not record the report; try again later"
        log.info("%s report: stored=%d dropped=%d signed=%s", mailbox, stored.stored, stored.dropped,
                 stored.signed)
        return "250 2.0.0 Report recorded"

    def _unsubscribe_token(self, address: str) -> str | None:
        """The token of a mailto unsubscribe address; None for any other address."""
        local, _, domain = address.rpartition("@")
        if domain.lower() != self._feedback_domain or not local.lower().startswith(MAILTO_PREFIX):
            return None
        return local[len(MAILTO_PREFIX):]

    def _unsubscribe_refusal(self, address: str) -> str | None:
        token = self._unsubscribe_token(address)
        if token is None or read_token(self._unsubscribe_key, token) is not None:
            return None
        return UNKNOWN_UNSUBSCRIBE

    def _unsubscribe_request(self, address: str) -> Unsubscribe | None:
        token = self._unsubscribe_token(address)
        return None if token is None else read_token(self._unsubscribe_key, token)

    def _unsubscribe(self, request: Unsubscribe, sender: str) -> str:
        try:
            known = record_unsubscribe(self._engine, request, f"mail from <{sender[:320]}>")
        except Exception:
            log.exception("could not record a mailto unsubscribe; Postfix will retry")
            return "451 4.3.0 Could not record the unsubscribe; try again later"
        return "250 2.0.0 Unsubscribed" if known else UNKNOWN_UNSUBSCRIBE

    async def _record_when_known(self, recipient: str, results: list[ReportResult], raw: bytes,
                                 own_report: bool) -> Outcome:
        deadline = asyncio.get_running_loop().time() + RECORD_WAIT_SECONDS
        while True:
            try:
                return await asyncio.to_thread(self._record, recipient, results, raw, own_report)
            except NotRecordedYet:
                if asyncio.get_running_loop().time() >= deadline:
                    raise
            await asyncio.sleep(RECORD_RECHECK_SECONDS)

    def _record(self, recipient: str, results: list[ReportResult], raw: bytes, own_report: bool) -> Outcome:
        return_path = recipient
        if recipient.rpartition("@")[2].lower() == self._feedback_domain:
            return_path = quoted_return_path(raw) or recipient
        with session_scope(self._engine) as db:
            return record_report(db, self._verp_key, recipient, results, raw, own_report,
                                 return_path=return_path)
