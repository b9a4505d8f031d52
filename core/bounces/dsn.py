"""RFC 3464 delivery status notifications: one result per recipient block."""

from __future__ import annotations

from email.message import Message

from core.bounces.fields import FIELD_LIMIT, content_type, first_address, reply_code_in, status_in, text_of
from core.bounces.model import ReportResult
from core.bounces.reasons import Diagnosis, command_in, kind_for, reason_for
from core.bounces.verdicts import POWERMTA_CATEGORIES

PASSAGE_LIMIT = 1024


def _fields(block: Message) -> dict[str, str]:
    return {name.lower(): " ".join(str(value)[:FIELD_LIMIT].split()) for name, value in block.items()}


def _status_blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    return []


def _host(field: str) -> str:
    """The host of a Remote-MTA or Reporting-MTA field ("dns; mx.example.org (192.0.2.1)")."""
    words = field.partition(";")[2].split() if ";" in field else field.split()
    return words[0].strip("[]") if words else ""


def _passage(human_text: str, recipient: str, recipients: list[str]) -> str:
    """What the human-readable part says about one recipient, when it names it: from its
    address to the next recipient's ("" when it does not)."""
    lowered = human_text.lower()
    start = lowered.find(recipient.lower())
    if start < 0:
        return ""
    ends = [lowered.find(other.lower(), start + len(recipient)) for other in recipients if other != recipient]
    end = min([e for e in ends if e > 0] + [start + PASSAGE_LIMIT])
    return human_text[start:end]


def parse_dsn(message: Message, human_text: str) -> list[ReportResult]:
    results = []
    for part in message.walk():
        if content_type(part) != "message/delivery-status":
            continue
        blocks = _status_blocks(part)
        reporting_host = _host(_fields(blocks[0]).get("reporting-mta", "")) if blocks else ""
        per_recipient = [_fields(block) for block in blocks[1:] or blocks]
        recipients = [first_address(f.get("final-recipient", "") or f.get("original-recipient", ""))
                      for f in per_recipient]
        named = [r for r in recipients if r is not None]
        for fields, recipient in zip(per_recipient, recipients, strict=True):
            if recipient is None:
                continue
            diagnostic = fields.get("diagnostic-code", "")
            # Some servers give the remote server's words only in the human-readable part.
            said = diagnostic or _passage(human_text, recipient, named)
            status = status_in(fields.get("status", ""))
            specific = status_in(said)
            # The remote server's own code is more precise than the reporting MTA's summary
            # (often 4.4.7 "expired" or x.0.0), unless the two disagree on permanence.
            if specific and (status is None or status[0] == specific[0]):
                status = specific
            reply_code = reply_code_in(said.partition(";")[2] or said) if diagnostic else reply_code_in(said)
            action = fields.get("action", "").lower()
            if action in ("delivered", "relayed", "expanded"):
                reason = "delivered"
            else:
                reason = reason_for(Diagnosis(
                    status, reply_code, said or human_text, command_in(diagnostic, human_text),
                    delayed=action == "delayed", local_mailer=diagnostic.lower().startswith("x-unix"),
                    remote_hosts=(_host(fields.get("remote-mta", "")), reporting_host,
                                  recipient.rpartition("@")[2]),
                    classified=POWERMTA_CATEGORIES.get(fields.get("x-powermta-bouncecategory", "").lower())))
            results.append(ReportResult(recipient, kind_for(reason, status, reply_code), reason, status,
                                        reply_code))
    return results


def dsn_text(message: Message) -> str:
    """The human-readable part of a report: its first text/plain part."""
    for part in message.walk():
        if content_type(part) == "text/plain":
            return text_of(part)
    return ""
