"""A message's header fields, read from its raw header block without building a message object
(the front-end reads a few fields of every message; the email package's parser costs more than
the rest of the front-end's work on a message).

The block is read as Postfix's cleanup reads it: it ends at the first empty line or at the first
line that is neither a field ("name:", spaces allowed before the colon) nor a continuation.
"""

from __future__ import annotations

import re

_FIELD = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")

# Each field's name and unfolded value, in order: a message's header block read once.
HeaderFields = list[tuple[str, str]]


def header_fields(content: bytes) -> HeaderFields:
    """Each field's name and its value unfolded, in order; a value's undecodable octets stay
    undecodable (surrogate escapes)."""
    end = content.find(b"\r\n\r\n")
    head = content if end < 0 else content[:end]
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + line)
            continue
        field = _FIELD.match(line)
        if field is None:
            break
        fields.append((field[1], line[field.end():]))
    return [(name.decode("ascii"), value.decode("utf-8", "surrogateescape").lstrip(" \t"))
            for name, value in fields]


def header_values(fields: HeaderFields, name: str) -> list[str]:
    """Every value of the named field, unfolded and stripped; undecodable octets replaced."""
    wanted = name.lower()
    return [value.encode("utf-8", "surrogateescape").decode("utf-8", "replace").strip()
            for field, value in fields if field.lower() == wanted]
