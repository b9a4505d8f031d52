"""What a report that came back changes: events for the tenant, and its suppression list.

The report's envelope recipient is the VERP return-path the milter gave the
message: its tag names the message. A tag whose mac does not check out is forged:
it is recorded as such and changes nothing, so nobody can suppress an address by
sending a made-up bounce. A genuine tag is no licence either: whoever received the
message knows it, so a report acts only on the recipients the milter recorded for
the message (or, a DSN's Original-Recipient, the address the sender used for a
forwarded one). A genuine tag whose record is not there (yet: the milter writes
records a moment after its verdict) raises NotRecordedYet, which the intake
answers 4xx, so Postfix brings the report again later; it never acts unchecked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core import suppressions
from core.bounces.model import ReportResult
from core.errors import MailrelayError
from core.events import MessageKeys, record_event
from core.models import AcceptedMessage, Report
from core.verp import parse_verp

log = logging.getLogger(__name__)

EVENT_KINDS = {"hard": "bounced", "soft": "deferred", "complaint": "complained", "autoreply": "autoreplied",
               "delivered": "delivered", "unknown": "bounced"}
SUPPRESSING_KINDS = {"hard": "hard_bounce", "complaint": "complaint"}
# Reports are kept for the panel up to this size; what is past it is cut off.
MAX_KEPT_REPORT = 256 * 1024


class NotRecordedYet(MailrelayError):
    """A genuine tag names a message the database has no record of: not written yet, or gone."""


@dataclass(frozen=True)
class Outcome:
    tenant: str | None
    forged: bool
    results: int


def keep_report(session: Session, envelope_recipient: str, raw: bytes, tenant_id: int | None) -> Report:
    report = Report(envelope_recipient=envelope_recipient[:320], tenant_id=tenant_id,
                    raw=raw[:MAX_KEPT_REPORT].decode("utf-8", "replace").replace("\x00", "\ufffd"),
                    truncated=len(raw) > MAX_KEPT_REPORT)
    session.add(report)
    session.flush()
    return report


def _reported_address(result: ReportResult, accepted: AcceptedMessage) -> str | None:
    """The address of the message a result is about; None when it is about none of them."""
    if accepted.has_recipient(result.recipient):
        return result.recipient
    if result.original_recipient is not None and accepted.has_recipient(result.original_recipient):
        return result.original_recipient
    return None


def record_report(session: Session, verp_key: bytes, envelope_recipient: str,
                  results: list[ReportResult], raw: bytes, own_report: bool = False,
                  return_path: str | None = None) -> Outcome:
    """Record what a report says, and keep the report. For Postfix's own reports (own_report),
    whose outcomes the log tailer records, only the suppressions they call for. return_path:
    the VERP address that names the message, when it is not the envelope recipient."""
    tag = parse_verp(verp_key, return_path or envelope_recipient)
    accepted = session.get(AcceptedMessage, tag.message_ref) if tag is not None and tag.authentic else None
    if tag is not None and tag.authentic and accepted is None:
        raise NotRecordedYet(f"no record of message {tag.message_ref} yet")
    report = keep_report(session, envelope_recipient, raw, None if accepted is None else accepted.tenant_id)
    if tag is None or not tag.authentic:
        record_event(session, "forged_report" if tag is not None else "unmatched_report", envelope_recipient,
                     f"{len(results)} result(s) ignored", report_id=report.id)
        return Outcome(None, tag is not None, len(results))
    assert accepted is not None
    tenant = accepted.tenant
    keys = MessageKeys(tag.message_ref, accepted.queue_id, accepted.message_id)
    for result in results:
        address = _reported_address(result, accepted)
        if address is None:
            record_event(session, "unmatched_report", result.recipient,
                         f"not a recipient of message {tag.message_ref}: ignored", tenant_id=tenant.id,
                         message=keys, report_id=report.id)
            continue
        detail = (f"reason={result.reason} status={result.status or '-'} "
                  f"reply={result.reply_code or '-'}"
                  + (f" feedback={result.feedback_type}" if result.feedback_type else ""))
        if not own_report:
            record_event(session, EVENT_KINDS[result.kind], address, detail, tenant_id=tenant.id,
                         message=keys, report_id=report.id)
        reason = SUPPRESSING_KINDS.get(result.kind)
        if reason is not None:
            suppressions.suppress(session, tenant.name, address, reason, detail)
            record_event(session, "suppressed", address, reason, tenant_id=tenant.id, message=keys,
                         report_id=report.id)
    return Outcome(tenant.name, False, len(results))
