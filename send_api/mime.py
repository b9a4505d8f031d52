"""A JSON send request made into an RFC 5322 message by the standard library's email package.

Fields: from, to, cc, bcc, reply_to (addresses as "Name <user@domain>" or plain), subject,
text and/or html (both: multipart/alternative), headers (extra fields; those the message
is made of cannot be given twice), attachments ({filename, content_type, content: base64}).
Bcc recipients are in the envelope only. CR or LF in any header value is refused, never
folded or cut; so is an attachment whose bytes say it is not the type it claims.
"""

from __future__ import annotations

import base64
import binascii
import re
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, getaddresses, make_msgid
from typing import Any

MADE_HEADERS = frozenset({"from", "to", "cc", "bcc", "reply-to", "subject", "date", "message-id",
                          "mime-version", "content-type", "content-transfer-encoding"})
_FIELD_NAME = re.compile(r"[!-9;-~]{1,76}")
# The first bytes of types whose content is easy to tell, and of programs, which no other type is.
_MAGIC = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",),
          "image/gif": (b"GIF87a", b"GIF89a"), "application/pdf": (b"%PDF-",),
          "application/zip": (b"PK\x03\x04", b"PK\x05\x06")}
_PROGRAMS = (b"MZ", b"\x7fELF")
_PROGRAM_TYPES = frozenset({"application/octet-stream", "application/x-msdownload",
                            "application/x-executable"})
_CONTENT_TYPE = re.compile(r"[a-z0-9.+-]+/[a-z0-9.+-]+")


class BadRequest(ValueError):
    """What is wrong with the request, as its sender should read it."""


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise BadRequest(f"{name} is a string")
    if "\r" in value or "\n" in value or "\0" in value:
        raise BadRequest(f"{name} may not contain CR, LF or NUL")
    return value


def _addresses(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise BadRequest(f"{name} is an address or a list of addresses")
    for one in values:
        if "\r" in one or "\n" in one or "\0" in one:
            raise BadRequest(f"{name}: an address may not contain CR, LF or NUL")
    return values


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


def _attach(message: EmailMessage, attachment: object, number: int) -> None:
    if not isinstance(attachment, dict):
        raise BadRequest(f"attachments[{number}] is an object: filename, content_type, content")
    filename, content_type = _text(attachment, "filename"), _text(attachment, "content_type").lower()
    maintype, _, subtype = content_type.partition("/")
    if not filename or not _CONTENT_TYPE.fullmatch(content_type):
        raise BadRequest(f"attachments[{number}]: give a filename and a content_type such as application/pdf")
    content = attachment.get("content")
    if not isinstance(content, str):
        raise BadRequest(f"attachments[{number}].content is base64")
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"attachments[{number}].content is not valid base64") from None
    if _type_lies(content_type, data):
        raise BadRequest(f"attachments[{number}] ({filename}) is not {content_type}, as its bytes show")
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)


def build_message(body: dict[str, Any]) -> tuple[str, list[str], bytes]:
    """The envelope sender, the recipients (to, cc and bcc) and the message."""
    author = _text(body, "from")
    mail_from = envelope_address(author, "from")
    to, cc, bcc = (_addresses(body, name) for name in ("to", "cc", "bcc"))
    if not to + cc + bcc:
        raise BadRequest("give at least one recipient in to, cc or bcc")
    text, html = _text_part(body, "text"), _text_part(body, "html")
    if not text and not html:
        raise BadRequest("give text, html or both")
    message = EmailMessage(policy=SMTP)
    message["From"] = author
    if to:
        message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    if reply_to := _text(body, "reply_to"):
        message["Reply-To"] = reply_to
    message["Subject"] = _text(body, "subject")
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2])
    extra = body.get("headers", {})
    if not isinstance(extra, dict):
        raise BadRequest("headers is an object of field names and values")
    for name in extra:
        if not _FIELD_NAME.fullmatch(name) or name.lower() in MADE_HEADERS:
            raise BadRequest(f"headers: {name!r} cannot be given (not a name, or a field the message has)")
        message[name] = _text(extra, name)
    if text:
        message.set_content(text)
    if html:
        if text:
            message.add_alternative(html, subtype="html")
        else:
            message.set_content(html, subtype="html")
    attachments = body.get("attachments", [])
    if not isinstance(attachments, list):
        raise BadRequest("attachments is a list")
    for number, attachment in enumerate(attachments):
        _attach(message, attachment, number)
    recipients = [envelope_address(a, "to") for a in to] + [envelope_address(a, "cc") for a in cc] + [
        envelope_address(a, "bcc") for a in bcc]
    return mail_from, recipients, message.as_bytes()


def _text_part(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or "\0" in value:
        raise BadRequest(f"{name} is a string without NUL")
    return value

