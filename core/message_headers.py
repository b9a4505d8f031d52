"""A header field's values, read from a message's raw header block without building a message
object (the front-end reads one or two fields of every message)."""

from __future__ import annotations


def header_values(content: bytes, name: str) -> list[str]:
    """Every value of the named field in the header block, unfolded and stripped."""
    end = content.find(b"\r\n\r\n")
    head = content if end < 0 else content[:end]
    wanted = name.lower().encode() + b":"
    values: list[bytes] = []
    current: bytes | None = None
    for line in head.split(b"\r\n"):
        if current is not None and line[:1] in (b" ", b"\t"):
            values[-1] += line
            continue
        current = line[len(wanted):] if line[:len(wanted)].lower() == wanted else None
        if current is not None:
            values.append(current)
    return [value.decode("utf-8", "replace").strip() for value in values]
