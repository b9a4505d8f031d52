"""RFC 3464 delivery status notifications: one result per recipient block."""

from __future__ import annotations

from email.message import Message

from core.bounces.fields import FIELD_LIMIT, first_address, reply_code_in, status_in, text_of
from core.bounces.model import ReportResult
from core.bounces.reasons import Diagnosis, command_in, kind_for, reason_for


def _fields(block: Message) -> dict[str, str]:
    return {name.lower(): " ".join(str(value)[:FIELD_LIMIT].split()) for name, value in block.items()}


def _status_blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    return []


def parse_dsn(message: Message, human_text: str) -> list[ReportResult]:
    results = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _status_blocks(part)[1:] or _status_blocks(part):
            fields = _fields(block)
            named = fields.get("final-recipient", "") or fields.get("original-recipient", "")
            recipient = first_address(named)
            if recipient is None:
                continue
            diagnostic = fields.get("diagnostic-code", "")
            status = status_in(fields.get("status", ""))
            specific = status_in(diagnostic)
            # The remote server's own code is more precise than the reporting MTA's summary
            # (often 4.4.7 "expired" or x.0.0), unless the two disagree on permanence.
            if specific and (status is None or status[0] == specific[0]):
                status = specific
            reply_code = reply_code_in(diagnostic.partition(";")[2] or diagnostic)
            action = fields.get("action", "").lower()
            if action in ("delivered", "relayed", "expanded"):
                reason = "delivered"
            else:
                reason = reason_for(Diagnosis(
                    status, reply_code, diagnostic or human_text, command_in(diagnostic, human_text),
                    delayed=action == "delayed", local_mailer=diagnostic.lower().startswith("x-unix")))
            results.append(ReportResult(recipient, kind_for(reason, status, reply_code), reason, status,
                                        reply_code))
    return results


def dsn_text(message: Message) -> str:
    """The human-readable part of a report: its first text/plain part."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return text_of(part)
    return ""
