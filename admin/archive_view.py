"""What the panel and the API show of an archived message (core/archive.py), and how its HTML is
served inert.

The HTML part goes to the browser only inside a sandboxed frame (no scripts, forms, popups or
navigation of the page) from its own URL, whose answer carries a CSP of its own: nothing is
fetched from anywhere (remote images included, until the reader asks for them), no script, no
form target, no base. `<meta http-equiv>` is neutralised before it is served, since a refresh
would make the frame load a remote page that no CSP directive stops.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import EmailMessage

from flask import abort

from admin.access import may_see
from admin.context import panel
from admin.database import db
from core.archive import archive_key, unseal
from core.models import ArchivedMessage

FRAME_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data: cid:{remote}; "
                "font-src data:; form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox")
_META_EQUIV = re.compile(r"(<meta\b[^>]*?)\bhttp-equiv\b", re.IGNORECASE)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class Shown:
    headers: list[tuple[str, str]]
    text: str | None
    has_html: bool
    attachments: list[Attachment]


def visible_archived(message_ref: str) -> ArchivedMessage:
    found = db().get(ArchivedMessage, message_ref)
    if found is None or not may_see(found.tenant_id):
        abort(404)
    return found


def raw(archived: ArchivedMessage) -> bytes:
    return unseal(archive_key(panel().secret_box), archived.sealed)


def _parsed(archived: ArchivedMessage) -> EmailMessage:
    message = email.message_from_bytes(raw(archived), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def shown(archived: ArchivedMessage) -> Shown:
    message = _parsed(archived)
    text = message.get_body(("plain",))
    text = text if isinstance(text, EmailMessage) else None
    attachments = [Attachment(part.get_filename() or "(no name)", part.get_content_type(),
                              len(part.get_payload(decode=True) or b""))
                   for part in message.iter_attachments() if isinstance(part, EmailMessage)]
    return Shown([(name, str(value)) for name, value in message.items()],
                 _text(text) if text is not None else None,
                 message.get_body(("html",)) is not None, attachments)


def _text(part: EmailMessage) -> str:
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError):  # a charset Python does not know, or bytes it does not decode
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def inert_html(archived: ArchivedMessage) -> str:
    html = _parsed(archived).get_body(("html",))
    if not isinstance(html, EmailMessage):
        abort(404)
    return _META_EQUIV.sub(r"\1data-blocked-http-equiv", _text(html))


def frame_policy(remote_images: bool) -> str:
    return FRAME_POLICY.format(remote=" https: http:" if remote_images else "")
