"""Bounces in free text, as many servers still send them (Exim, qmail, Exchange, webmail hosts).

The failed recipients are the addresses the human-readable part names (or Exim's
X-Failed-Recipients), apart from the bounce's own sender and recipient; each
one's diagnostics are the text that follows it, up to the next one.
"""

from __future__ import annotations

import re
from email.message import Message

from core.bounces.fields import ADDRESS, FIELD_LIMIT, TEXT_LIMIT, reply_code_in, status_in, text_of
from core.bounces.model import ReportResult
from core.bounces.reasons import kind_for, reason_for

_ORIGINAL_STARTS = re.compile(
    r"^\s*(?:-+ ?)?(?:this is a copy of|original message|below this line|the original message|"
    r"forwarded message|undelivered message|returned message|message headers? follows?|"
    r"content-type: message/rfc822)|^(?:return-path|received):",
    re.IGNORECASE | re.MULTILINE)
_SYSTEM_LOCAL_PARTS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|root|noreply|no-reply)@",
                                 re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(r"undeliver|deliver(y|ed)? (status|fail|notification|report)|returned mail|"
                             r"mail delivery|failure notice|could not be delivered|not delivered|"
                             r"delivery has failed|nondeliver|rejected|warning|delayed", re.IGNORECASE)


def looks_like_bounce(message: Message) -> bool:
    sender = ADDRESS.search(str(message.get("From", "")))
    return bool(message.get("X-Failed-Recipients")
                or (sender is not None and _SYSTEM_LOCAL_PARTS.match(sender.group(0)))
                or _BOUNCE_SUBJECT.search(str(message.get("Subject", ""))))


def _human_text(message: Message) -> str:
    texts = []
    for part in message.walk():
        if part.get_content_type() == "message/rfc822":
            break
        if part.get_content_type() == "text/plain":
            texts.append(text_of(part))
    if not texts and not message.is_multipart():
        texts.append(text_of(message))
    text = "\n".join(texts)[:TEXT_LIMIT]
    cut = _ORIGINAL_STARTS.search(text)
    return text[:cut.start()] if cut else text


def parse_text_bounce(message: Message) -> list[ReportResult]:
    headers = f"{message.get('From', '')} {message.get('To', '')}"[:FIELD_LIMIT]
    own = {a.lower() for a in ADDRESS.findall(headers)}
    text = _human_text(message)
    failed = {a.lower() for a in ADDRESS.findall(str(message.get("X-Failed-Recipients", ""))[:FIELD_LIMIT])}
    positions: list[tuple[int, str]] = []
    for match in ADDRESS.finditer(text):
        address = match.group(0).strip(".").lower()
        if address in own or _SYSTEM_LOCAL_PARTS.match(address) or any(a == address for _, a in positions):
            continue
        positions.append((match.start(), address))
    # Exim's X-Failed-Recipients narrows the addresses the text names, when they agree.
    if failed and any(a in failed for _, a in positions):
        positions = [(start, a) for start, a in positions if a in failed]
    if not positions:
        positions = [(0, address) for address in sorted(failed)]
    results = []
    for n, (start, address) in enumerate(positions):
        end = positions[n + 1][0] if n + 1 < len(positions) else len(text)
        context = text[start:end] if end > start else text
        status = status_in(context) or status_in(text)
        reply_code = reply_code_in(context) or reply_code_in(text)
        reason = reason_for(status, reply_code, context if context.strip() else text)
        kind = kind_for(reason, status, reply_code)
        results.append(ReportResult(address, kind, reason, status, reply_code))
    return results
