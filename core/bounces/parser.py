"""parse_report: what a message that came back says, recipient by recipient."""

from __future__ import annotations

import email
import email.policy
from email.message import Message

from core.bounces.arf import parse_arf
from core.bounces.autoreply import parse_autoreply
from core.bounces.dsn import dsn_text, parse_dsn
from core.bounces.model import ReportResult
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


def _parse(message: Message) -> list[ReportResult]:
    complaints = parse_arf(message)
    if complaints is not None:
        return complaints
    if message.get_content_type() == "multipart/report" or any(
            p.get_content_type() == "message/delivery-status" for p in message.walk()):
        results = parse_dsn(message, dsn_text(message))
        if results:
            return results
    words = human_text(message)
    if looks_like_bounce(message, words[0]):
        return parse_text_bounce(message, words)
    return parse_autoreply(message) or []
