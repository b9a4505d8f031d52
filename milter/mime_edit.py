"""Edit the inline HTML parts of a message body and keep every other octet as it was.

The email package parses a whole message well, but writing one back changes what it did
not need to: header folding, boundaries, line endings, encodings of untouched parts. A
signed, tracked message must keep all of that, so here the body is walked for its MIME
structure (RFC 2045, 2046) and only each HTML part's content is cut out, decoded
(transfer encoding, then charset), edited, encoded the same way and put back; the email
package only reads each part's header fields. Anything this walk cannot read with
certainty (a multipart with no boundary or no closing delimiter, an unknown transfer
encoding or charset, bytes the charset does not decode, a part over the size limit, too
deep a nesting) raises Unreadable, and the message goes out as it came.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import itertools
from collections.abc import Callable
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

MAX_DEPTH = 20
# An edit gets the part's text and whether its lines go out as they are (7bit, 8bit, binary).
Edit = Callable[[str, bool], str | None]
_BARE = ("7bit", "8bit", "binary")


class Unreadable(Exception):
    """The body's MIME structure or an HTML part cannot be read with certainty."""


def _fields(header_block: bytes) -> Message:
    return BytesHeaderParser(policy=compat32).parsebytes(header_block + b"\r\n\r\n")


def top_fields(headers: list[tuple[bytes, bytes]]) -> Message:
    """The message's own MIME header fields, from the milter's header list."""
    wanted = (b"content-type", b"content-transfer-encoding", b"content-disposition")
    return _fields(b"\r\n".join(name + b":" + value.replace(b"\n", b"\r\n").replace(b"\r\r", b"\r")
                                for name, value in headers if name.lower() in wanted))


def edit_html(fields: Message, body: bytes, edit: Edit, max_part: int) -> bytes | None:
    """The body with its inline HTML parts edited; None when no part changed."""
    return _entity(fields, body, edit, max_part, 0)


def _entity(fields: Message, body: bytes, edit: Edit, max_part: int, depth: int) -> bytes | None:
    if depth > MAX_DEPTH:
        raise Unreadable("MIME nesting too deep")
    content_type = fields.get_content_type()
    if content_type.startswith("multipart/"):
        return _multipart(fields, body, edit, max_part, depth)
    if content_type != "text/html" or (fields.get_content_disposition() == "attachment"):
        return None
    return _html_part(fields, body, edit, max_part)


def _multipart(fields: Message, body: bytes, edit: Edit, max_part: int, depth: int) -> bytes | None:
    boundary = fields.get_param("boundary")
    if not isinstance(boundary, str) or not boundary or not boundary.isascii():
        raise Unreadable("a multipart without a boundary")
    marks = _delimiters(body, boundary.encode())
    closing = next((i for i, (_, _, last) in enumerate(marks) if last), None)
    if not marks or closing is None or closing == 0:
        raise Unreadable("a multipart without its delimiters")
    pieces: list[bytes] = []
    kept = 0
    changed = False
    for (_, line_end, _), (following, _, _) in itertools.pairwise(marks[:closing + 1]):
        start = line_end + 2  # past the CRLF that ends the delimiter line
        part = body[start:following]
        header_end = part.find(b"\r\n\r\n")
        if part.startswith(b"\r\n"):
            header_block, content_start = b"", 2
        elif header_end >= 0:
            header_block, content_start = part[:header_end], header_end + 4
        else:
            continue
        new = _entity(_fields(header_block), part[content_start:], edit, max_part, depth + 1)
        if new is not None:
            pieces += [body[kept:start + content_start], new]
            kept = following
            changed = True
    if not changed:
        return None
    pieces.append(body[kept:])
    return b"".join(pieces)


def _delimiters(body: bytes, boundary: bytes) -> list[tuple[int, int, bool]]:
    """Each delimiter line of a multipart body (RFC 2046 5.1.1): where it starts (with the CRLF
    before it, which belongs to it), where its line ends, and whether it is the closing one."""
    marker = b"--" + boundary
    found = []
    at = body.find(marker)
    while at >= 0:
        if at == 0 or body[at - 2:at] == b"\r\n":
            line_end = body.find(b"\r\n", at)
            line_end = len(body) if line_end < 0 else line_end
            rest = body[at + len(marker):line_end]
            closing = rest.startswith(b"--")
            if not (rest[2:] if closing else rest).strip(b" \t"):
                found.append((max(0, at - 2), line_end, closing))
        at = body.find(marker, at + len(marker))
    return found


def _html_part(fields: Message, content: bytes, edit: Edit, max_part: int) -> bytes | None:
    if len(content) > max_part:
        raise Unreadable(f"an HTML part of {len(content)} octets")
    encoding = str(fields.get("Content-Transfer-Encoding", "7bit")).strip().lower()
    try:
        if encoding in _BARE:
            raw = content
        elif encoding == "quoted-printable":
            raw = binascii.a2b_qp(content)
        elif encoding == "base64":
            raw = base64.b64decode(b"".join(content.split()), validate=True)
        else:
            raise Unreadable(f"transfer encoding {encoding!r}")
        charset = fields.get_content_charset() or "us-ascii"
        codecs.lookup(charset)
        text = raw.decode(charset)
    except (binascii.Error, ValueError, LookupError) as exc:
        raise Unreadable(f"an HTML part that does not decode: {exc}") from exc
    edited = edit(text, encoding in _BARE)
    if edited is None:
        return None
    try:
        new = edited.encode(charset)
    except UnicodeEncodeError as exc:
        raise Unreadable(f"the edited part does not encode in {charset}") from exc
    if encoding in _BARE:
        return new
    if encoding == "quoted-printable":
        encoded = binascii.b2a_qp(new, istext=True)
    else:
        encoded = base64.encodebytes(new).replace(b"\n", b"\r\n")
    if content.endswith(b"\n") == encoded.endswith(b"\r\n"):
        return encoded
    return encoded + b"\r\n" if content.endswith(b"\n") else encoded[:-2]
