"""Small readers shared by the report parsers: addresses, status codes, reply codes, text."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.message import Message

# The parts of a report that say anything are short; scanning more only invites
# pathological input (a regular expression over megabytes of one line).
TEXT_LIMIT = 64 * 1024
FIELD_LIMIT = 2048

# A local part is a dot-atom or, rarely, quoted ("neko..nyaan"@example.org, RFC 5321 4.1.2).
ADDRESS = re.compile(r"(?:\"[^\"\r\n\\]{1,64}\"|[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+)"
                     r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
REPLY_CODE = re.compile(r"(?<![\d.])([245]\d\d)(?:[ -]|$)", re.MULTILINE)


def content_type(part: Message) -> str:
    """The part's type; a header folded without its ";" ("text/plain\\n charset=...") reads as
    its first word, as mail clients read it."""
    return part.get_content_type().split()[0].rstrip(";")


def first_address(text: str) -> str | None:
    match = ADDRESS.search(text[:FIELD_LIMIT])
    return match.group(0).strip(".") if match else None


def status_in(text: str) -> str | None:
    match = STATUS.search(text[:TEXT_LIMIT])
    return ".".join(match.groups()) if match else None


def reply_code_in(text: str) -> int | None:
    match = REPLY_CODE.search(text[:TEXT_LIMIT])
    return int(match.group(1)) if match else None


def text_of(part: Message) -> str:
    """A text part decoded as well as it goes; never raises."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw[:TEXT_LIMIT] if isinstance(raw, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload[:TEXT_LIMIT].decode(charset, "replace")
    except LookupError:
        return payload[:TEXT_LIMIT].decode("utf-8", "replace")


def original_recipient(message: Message) -> str | None:
    """The To of the message a report carries back, when it carries one."""
    for part in message.walk():
        if content_type(part) in ("message/rfc822", "text/rfc822-headers"):
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if not isinstance(inner, Message):
                raw = part.get_payload(decode=True)
                inner = message_from_bytes(raw) if isinstance(raw, bytes) else None
            if inner is not None and inner.get("To"):
                return first_address(str(inner.get("To")))
    return None
