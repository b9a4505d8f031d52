"""Bounces in free text, as many servers still send them (Exim, qmail, Exchange, webmail hosts).

The failed recipients are the addresses the human-readable part names (or Exim's
X-Failed-Recipients), apart from the bounce's own sender and recipient; each
one's diagnostics are the text that follows it, up to the next one.
"""

from __future__ import annotations

import re
from email.message import Message

from core.bounces.fields import (
    ADDRESS,
    FIELD_LIMIT,
    TEXT_LIMIT,
    content_type,
    first_address,
    original_recipient,
    reply_code_in,
    status_in,
    text_of,
)
from core.bounces.model import ReportResult
from core.bounces.reasons import UNDECIDED, Diagnosis, command_in, kind_for, reason_for

_ORIGINAL_STARTS = re.compile(
    r"^\s*(?:-+ ?)?(?:this is a copy of|original message|below this line|"
    r"the original message (?:follows|is|headers)|"
    r"forwarded message|undelivered message|returned message|message headers? follows?|"
    r"content-type: message/rfc822)|^(?:return-path|received):",
    re.IGNORECASE | re.MULTILINE)
_SYSTEM_LOCAL_PARTS = re.compile(r"^(mailer-daemon|post_?master|mail-daemon|root|noreply|no-reply)@",
                                 re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(r"undeliver|deliver(y|ed)? (status|fail|notification|report)|returned mail|"
                             r"mail delivery|failure notice|could not be delivered|not delivered|"
                             r"delivery has failed|nondeliver|rejected|warning|delayed", re.IGNORECASE)


_BOUNCE_WORDS = re.compile(r"could not be delivered|trouble delivering|undeliverable|delivery (has )?failed|"
                           r"(invalid|unknown) (user|recipient)|permanent (fatal )?error", re.IGNORECASE)


def looks_like_bounce(message: Message, human_text: str) -> bool:
    sender = ADDRESS.search(str(message.get("From", "")))
    return bool(message.get("X-Failed-Recipients")
                or (sender is not None and _SYSTEM_LOCAL_PARTS.match(sender.group(0)))
                or _BOUNCE_SUBJECT.search(str(message.get("Subject", "")))
                or _BOUNCE_WORDS.search(human_text[:2048]))


def human_text(message: Message) -> tuple[str, str]:
    """The report's own words, and what follows them (often the returned message's headers)."""
    texts = []
    for part in message.walk():
        kind = content_type(part)
        if kind == "message/rfc822":
            break
        if kind == "text/plain":
            texts.append(text_of(part))
        elif kind.startswith("multipart/") and isinstance(lost := part.get_payload(), str):
            texts.append(lost[:TEXT_LIMIT])  # its boundary parameter was lost: one text
    if not texts:
        payload = message.get_payload()
        # A multipart message whose boundary never comes is one text.
        texts.append(payload[:TEXT_LIMIT] if isinstance(payload, str) else text_of(message))
    text = "\n".join(texts)[:TEXT_LIMIT]
    cut = _ORIGINAL_STARTS.search(text)
    return (text[:cut.start()], text[cut.start():]) if cut else (text, "")


_RCPT_TO = re.compile(r"rcpt to:\s*<?([^\s<>@]+@[^\s<>]+?)>?(?=[\s,;]|$)", re.IGNORECASE | re.MULTILINE)
_ORIGINAL_TO = re.compile(r"^to:[ \t]*(.*)$", re.IGNORECASE | re.MULTILINE)


def _returned_message_recipient(message: Message, returned: str) -> str | None:
    original = original_recipient(message)
    if original is None:
        to_line = _ORIGINAL_TO.search(returned)
        original = first_address(to_line.group(1)) if to_line else None
    return original.lower() if original else None


def parse_text_bounce(message: Message, words: tuple[str, str]) -> list[ReportResult]:
    sender = {a.lower() for a in ADDRESS.findall(str(message.get("From", ""))[:FIELD_LIMIT])}
    addressee = {a.lower() for a in ADDRESS.findall(str(message.get("To", ""))[:FIELD_LIMIT])}
    text, returned = words
    failed = {a.lower() for a in ADDRESS.findall(str(message.get("X-Failed-Recipients", ""))[:FIELD_LIMIT])}
    positions: list[tuple[int, str]] = []
    for match in ADDRESS.finditer(text):
        address = match.group(0).strip(".").lower()
        if address in sender or any(a == address for _, a in positions):
            continue
        positions.append((match.start(), address))
    # The bounce goes to the original sender, whom the text often names too; rarely, to the
    # failed recipient itself.
    if any(a not in addressee for _, a in positions):
        positions = [(start, a) for start, a in positions if a not in addressee]
    # Exim's X-Failed-Recipients narrows the addresses the text names, when they agree, and
    # stands in for them when the text names only the bounce's own addressee.
    if failed:
        named = [(start, a) for start, a in positions if a in failed]
        if named or all(a in addressee for _, a in positions):
            positions = named or [(0, a) for a in sorted(failed)]
    # A summary's "RCPT TO:" names the recipient among the other addresses it quotes (not so
    # in a transcript of a session, ">>> RCPT To:", where each address has its own lines).
    commanded = {a.lower() for a in _RCPT_TO.findall(text)} if ">>> " not in text else set()
    if commanded and any(a in commanded for _, a in positions):
        positions = [(start, a) for start, a in positions if a in commanded]
    if not positions:
        original = _returned_message_recipient(message, returned)
        positions = [(0, original)] if original else []
    # The report's own domain stands in for the remote host, which free text seldom names.
    reporter = min(sender, default="").rpartition("@")[2]
    # Read once: what the whole text says, for the addresses whose own passage says too little.
    text_status, text_reply_code, text_command = status_in(text), reply_code_in(text), command_in(text)
    whole_text_reasons: dict[tuple[str | None, int | None, tuple[str, str]], str] = {}
    results = []
    for n, (start, address) in enumerate(positions):
        end = positions[n + 1][0] if n + 1 < len(positions) else len(text)
        context = text[start:end] if end > start else text
        status = status_in(context) or text_status
        reply_code = reply_code_in(context) or text_reply_code
        hosts = (reporter, address.rpartition("@")[2])
        reason = reason_for(Diagnosis(status, reply_code, context, command_in(context) or text_command,
                                      remote_hosts=hosts))
        if reason in UNDECIDED:
            # Some servers give the reason once, before the list of addresses.
            key = (status, reply_code, hosts)
            if key not in whole_text_reasons:
                whole_text_reasons[key] = reason_for(Diagnosis(status, reply_code, text, text_command,
                                                               remote_hosts=hosts))
            reason = whole_text_reasons[key]
        if reason in UNDECIDED and address.endswith("@googlegroups.com"):
            reason = "rejected"  # a group that bounces a post refused the poster, in any language
        kind = kind_for(reason, status, reply_code)
        results.append(ReportResult(address, kind, reason, status, reply_code))
    return results
