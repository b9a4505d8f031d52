"""RFC 3464 delivery status notifications: one result per recipient block."""

from __future__ import annotations

import bisect
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


def _passages(human_text: str, recipients: list[str]) -> dict[str, str]:
    """What the human-readable part says about each recipient it names: from its address to
    the next one's (at most PASSAGE_LIMIT characters)."""
    lowered = human_text.lower()
    starts = {r: at for r in recipients if (at := lowered.find(r.lower())) >= 0}
    ordered = sorted(set(starts.values()))
    passages = {}
    for recipient, at in starts.items():
        following = bisect.bisect_right(ordered, at)
        end = ordered[following] if following < len(ordered) else len(human_text)
        passages[recipient] = human_text[at:min(end, at + PASSAGE_LIMIT)]
    return passages


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
        passages = _passages(human_text, [r for r in recipients if r is not None])
        text_command = command_in(human_text)
        for fields, recipient in zip(per_recipient, recipients, strict=True):
            if recipient is None:
                continue
            diagnostic = fields.get("diagnostic-code", "")
            # Some servers give the remote server's words only in the human-readable part.
            said = diagnostic or passages.get(recipient, "")
            status = status_in(fields.get("status", ""))
            specific = status_in(said)
            # The remote server's own code is more precise than the reporting MTA's summary
            # (often 4.4.7 "expired" or x.0.0), unless the two disagree on permanence.
            if specific and (status is None or status[0] == specific[0]):
                status = specific
            # A Diagnostic-Code's reply follows its type ("smtp; 550 ...").
            reply_code = reply_code_in(diagnostic.partition(";")[2] or diagnostic if diagnostic else said)
            action = fields.get("action", "").lower()
            if action in ("delivered", "relayed", "expanded"):
                reason = "delivered"
            else:
                reason = reason_for(Diagnosis(
                    status, reply_code, said or human_text, command_in(diagnostic) or text_command,
                    delayed=action == "delayed", local_mailer=diagnostic.lower().startswith("x-unix"),
                    remote_hosts=(_host(fields.get("remote-mta", "")), reporting_host,
                                  recipient.rpartition("@")[2]),
                    classified=POWERMTA_CATEGORIES.get(fields.get("x-powermta-bouncecategory", "").lower())))
            original = first_address(fields.get("original-recipient", ""))
            if original is not None and original.lower() == recipient.lower():
                original = None
            results.append(ReportResult(recipient, kind_for(reason, status, reply_code), reason, status,
                                        reply_code, original_recipient=original))
    return results


def dsn_text(message: Message) -> str:
    """The human-readable part of a report: its first text/plain part."""
    for part in message.walk():
        if content_type(part) == "text/plain":
            return text_of(part)
    return ""
