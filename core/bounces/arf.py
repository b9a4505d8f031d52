"""Complaints: RFC 5965 abuse reports (ARF), and Microsoft's JMRP reports, which are not ARF:
the complained-about recipient and the feedback type."""

from __future__ import annotations

import re
from email import message_from_string
from email.message import Message

from core.bounces.fields import FIELD_LIMIT, content_type, first_address, original_recipient, text_of
from core.bounces.model import ReportResult


def _report_fields(part: Message) -> list[tuple[str, str]]:
    """The report's fields in order; a field such as Original-Rcpt-To may come many times."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        blocks = [block for block in payload if isinstance(block, Message)]
    else:
        blocks = [message_from_string(payload if isinstance(payload, str) else text_of(part))]
    return [(k.lower(), str(v)[:FIELD_LIMIT].strip()) for block in blocks for k, v in block.items()]


_JMRP_SUBJECT = re.compile(r"^\s*complaint about message from ", re.IGNORECASE)


def _jmrp_complaint(message: Message) -> list[ReportResult] | None:
    """Outlook.com's Junk Mail Reporting Program: the reported message attached whole, with
    its recipient in X-HmXmrOriginalRecipient."""
    if not _JMRP_SUBJECT.match(str(message.get("Subject", ""))):
        return None
    for part in message.walk():
        payload = part.get_payload() if content_type(part) == "message/rfc822" else None
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            reported = payload[0]
            named = reported.get("X-HmXmrOriginalRecipient", "") or reported.get("To", "")
            recipient = first_address(str(named))
            return [ReportResult(recipient, "complaint", "feedback", feedback_type="abuse")
                    ] if recipient else []
    return None


def parse_arf(message: Message) -> list[ReportResult] | None:
    """None when the message is no feedback report."""
    report = next((p for p in message.walk() if content_type(p) == "message/feedback-report"), None)
    if report is None:
        return _jmrp_complaint(message)
    fields = _report_fields(report)
    feedback_type = next((v.lower() for k, v in fields if k == "feedback-type" and v), "other")
    named = (first_address(v) for k, v in fields if k in ("original-rcpt-to", "removal-recipient"))
    recipients = list(dict.fromkeys(address for address in named if address))
    if not recipients:
        original = original_recipient(message)
        recipients = [original] if original else []
    return [ReportResult(r, "complaint", "feedback", feedback_type=feedback_type) for r in recipients]
