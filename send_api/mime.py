"""A JSON send request made into an RFC 5322 message by the standard library's email package.

The request is one send_api.schemas.SEND accepts: the schema has refused wrong types, CR, LF
or NUL in any header value (never folded or cut) and malformed names. What no schema can
say is checked here: a header field the message is made of given again, an address that is
not one, base64 that does not decode, an attachment whose bytes say it is not the type it
claims. Bcc recipients are in the envelope only; text and html both make multipart/alternative.
"""

from __future__ import annotations

import base64
import binascii
from email.errors import MessageError
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, getaddresses, make_msgid
from typing import Any

MADE_HEADERS = frozenset({"from", "to", "cc", "bcc", "reply-to", "subject", "date", "message-id",
                          "mime-version", "content-type", "content-transfer-encoding"})
# The first bytes of types whose content is easy to tell, and of programs, which no other type is.
_MAGIC = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",),
          "image/gif": (b"GIF87a", b"GIF89a"), "application/pdf": (b"%PDF-",),
          "application/zip": (b"PK\x03\x04", b"PK\x05\x06")}
_PROGRAMS = (b"MZ", b"\x7fELF")
_PROGRAM_TYPES = frozenset({"application/octet-stream", "application/x-msdownload",
                            "application/x-executable"})


class BadRequest(ValueError):
    """What is wrong with the request, as its sender should read it."""


def _addresses(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    return [value] if isinstance(value, str) else list(value)


def envelope_address(written: str, name: str) -> str:
    """The address part of "Name <user@domain>" or of a plain address."""
    found = getaddresses([written])
    if len(found) != 1 or "@" not in found[0][1]:
        raise BadRequest(f"{name}: {written!r} is not one address")
    return found[0][1]


def _type_lies(content_type: str, data: bytes) -> bool:
    signatures = _MAGIC.get(content_type)
    if signatures is not None and not data.startswith(signatures):
        return True
    return data.startswith(_PROGRAMS) and content_type not in _PROGRAM_TYPES


def _attach(message: EmailMessage, attachment: dict[str, str], number: int) -> None:
    filename, content_type = attachment["filename"], attachment["content_type"].lower()
    maintype, _, subtype = content_type.partition("/")
    try:
        data = base64.b64decode(attachment["content"], validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"attachments[{number}].content is not valid base64") from None
    if _type_lies(content_type, data):
        raise BadRequest(f"attachments[{number}] ({filename}) is not {content_type}, as its bytes show")
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)


def build_message(body: dict[str, Any]) -> tuple[str, list[str], bytes]:
    """The envelope sender, the recipients (to, cc and bcc) and the message; BadRequest saying
    what is wrong, including what the email package could not make a message of."""
    try:
        return _built(body)
    except BadRequest:
        raise
    except (ValueError, IndexError, MessageError) as exc:
        raise BadRequest(f"no message can be made of these fields: {exc}") from None


def _built(body: dict[str, Any]) -> tuple[str, list[str], bytes]:
    author: str = body["from"]
    mail_from = envelope_address(author, "from")
    to, cc, bcc = (_addresses(body, name) for name in ("to", "cc", "bcc"))
    if not to + cc + bcc:
        raise BadRequest("give at least one recipient in to, cc or bcc")
    text, html = body.get("text", ""), body.get("html", "")
    if not text and not html:
        raise BadRequest("give text, html or both")
    message = EmailMessage(policy=SMTP)
    message["From"] = author
    if to:
        message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    if reply_to := body.get("reply_to"):
        message["Reply-To"] = reply_to
    message["Subject"] = body.get("subject", "")
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2])
    for name, value in body.get("headers", {}).items():
        if name.lower() in MADE_HEADERS:
            raise BadRequest(f"headers: {name!r} cannot be given: the message has that field")
        message[name] = value
    if text:
        message.set_content(text)
    if html:
        if text:
            message.add_alternative(html, subtype="html")
        else:
            message.set_content(html, subtype="html")
    for number, attachment in enumerate(body.get("attachments", [])):
        _attach(message, attachment, number)
    recipients = [envelope_address(a, "to") for a in to] + [envelope_address(a, "cc") for a in cc] + [
        envelope_address(a, "bcc") for a in bcc]
    return mail_from, recipients, message.as_bytes()

