"""parse_report: what a message that came back says, recipient by recipient."""

from __future__ import annotations

import email
import email.policy
from email.message import Message

from core.bounces.arf import parse_arf
from core.bounces.autoreply import parse_autoreply
from core.bounces.dsn import dsn_text, parse_dsn
from core.bounces.fields import content_type
from core.bounces.model import ReportResult
from core.bounces.reasons import UNDECIDED
from core.bounces.ses_notification import parse_ses_notification
from core.bounces.text_bounce import human_text, looks_like_bounce, parse_text_bounce

# Reports put what matters first; an attached original can be any size.
MAX_PARSED_OCTETS = 2 * 1024 * 1024


def parse_report(raw: bytes) -> list[ReportResult]:
    """Every recipient the message reports on; [] when it is no report. Never raises on bad input."""
    try:
        message = email.message_from_bytes(raw[:MAX_PARSED_OCTETS], policy=email.policy.compat32)
        return _parse(message)
    except Exception:  # a malformed report is one we cannot read, not a crash of the intake
        return []


def _parse(message: Message, nested: bool = True) -> list[ReportResult]:
    complaints = parse_arf(message)
    if complaints is not None:
        return complaints
    is_report = content_type(message) == "multipart/report"
    if not is_report:
        notified = parse_ses_notification(message)
        if notified is not None:
            return notified
    if is_report or any(
            content_type(p) == "message/delivery-status" for p in message.walk()):
        results = parse_dsn(message, dsn_text(message))
        if results:
            return results
    words = human_text(message)
    if looks_like_bounce(message, words[0]):
        results = parse_text_bounce(message, words)
        if nested and all(r.reason in UNDECIDED for r in results):
            # A bounce of a bounce (a provider forwarding what came back to its own postmaster
            # address) says what happened in the one it returns.
            returned = _parse(email.message_from_string(words[1], policy=email.policy.compat32), nested=False)
            if returned:
                return returned
        return results
    return parse_autoreply(message) or []
