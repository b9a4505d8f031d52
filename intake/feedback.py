"""Feedback loops' reports: which message they are about.

A receiving provider's feedback loop sends its abuse reports to the address registered
with it (on the feedback domain), not to the message's return-path; but the copy of the
message the report carries quotes that return-path in its Return-Path header. The copy
may come base64-encoded, so the parts that hold it are decoded when the raw text does
not show it.
"""

from __future__ import annotations

import email
import email.policy

from core.bounces.fields import content_type
from core.verp import return_path_in

SCANNED = 256 * 1024
_COPIES = ("message/rfc822", "text/rfc822-headers")


def quoted_return_path(raw: bytes) -> str | None:
    found = return_path_in(raw[:SCANNED].decode("latin-1"))
    if found is not None:
        return found
    message = email.message_from_bytes(raw[:SCANNED], policy=email.policy.compat32)
    for part in message.walk():
        if content_type(part) not in _COPIES or part.is_multipart():
            continue
        copy = part.get_payload(decode=True)
        if isinstance(copy, bytes):
            found = return_path_in(copy.decode("latin-1"))
            if found is not None:
                return found
    return None
