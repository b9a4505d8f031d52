"""The message as it leaves the milter, for the archive (core/archive.py): its signatures on top,
the app's header fields without those for the relay alone, the fields the milter adds, and the
body as sent. Postfix writes each field as `name: value`, which is how it is written here."""

from __future__ import annotations

from core import message_tags, unsubscribe
from core.postfix.transports import ROUTE_HEADER
from core.verp import REF_HEADER
from milter import dkim_signer

# The fields the milter removes: they never leave the box.
RELAY_ONLY = frozenset(name.lower().encode() for name in (
    unsubscribe.LIST_HEADER, message_tags.TAGS_HEADER, message_tags.METADATA_HEADER, REF_HEADER,
    ROUTE_HEADER))


def _crlf(value: bytes) -> bytes:
    return value.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def as_sent(signatures: list[str], headers: list[tuple[bytes, bytes]], added: list[tuple[str, str]],
            body: bytes) -> bytes:
    fields = [dkim_signer.HEADER_NAME + b": " + signature.encode() for signature in signatures]
    fields += [name + b": " + _crlf(value) for name, value in headers if name.lower() not in RELAY_ONLY]
    fields += [name.encode() + b": " + _crlf(value.encode()) for name, value in added]
    return b"\r\n".join(fields) + b"\r\n\r\n" + body
