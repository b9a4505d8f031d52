"""Reads one message after DATA, as RFC 5321 says, and refuses what cannot be relayed safely.

Only <CRLF>.<CRLF> ends the message: a dot line after a bare LF, or ended by a
bare LF, is content (the SMTP smuggling cases). Bare LF line ends are turned
into CRLF, as Postfix's `normalize` mode does, so no receiver downstream can
read a line end where this server did not. A bare CR, a NUL byte, a line over
998 octets or a message over the size limit fail the message, but the whole
of it is still read so the session stays in step with the client.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass

MAX_LINE_OCTETS = 998
# The stream reader's buffer limit: any line longer than this is too long anyway.
READ_LIMIT = 8192


class DataFault(enum.Enum):
    TOO_BIG = "too_big"
    LINE_TOO_LONG = "line_too_long"
    BARE_CR = "bare_cr"
    NUL = "nul"


@dataclass
class ReadResult:
    content: bytes
    fault: DataFault | None


async def read_message(reader: asyncio.StreamReader, max_size: int,
                       on_progress: Callable[[], None] = lambda: None) -> ReadResult:
    """Read up to and including the end-of-data line; return the unstuffed CRLF content."""
    lines: list[bytes] = []
    size = 0
    fault: DataFault | None = None
    after_crlf = True
    # An overlong line is drained in pieces, which may split its CRLF.
    split_after_cr = False
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError as exc:
            chunk = await reader.readexactly(exc.consumed)
            fault = fault or DataFault.LINE_TOO_LONG
            lines.clear()
            after_crlf = False
            split_after_cr = chunk.endswith(b"\r")
            continue
        on_progress()
        ends_crlf = line.endswith(b"\r\n") or (split_after_cr and line == b"\n")
        split_after_cr = False
        if after_crlf and line == b".\r\n":
            break
        after_crlf = ends_crlf
        if fault is not None:
            continue
        text = line[:-2] if ends_crlf else line[:-1]
        if text.startswith(b"."):
            text = text[1:]
        if len(text) > MAX_LINE_OCTETS:
            fault = DataFault.LINE_TOO_LONG
        elif b"\r" in text:
            fault = DataFault.BARE_CR
        elif b"\0" in text:
            fault = DataFault.NUL
        else:
            size += len(text) + 2
            if size > max_size:
                fault = DataFault.TOO_BIG
            else:
                lines.append(text)
                continue
        lines.clear()
    if fault is not None:
        return ReadResult(b"", fault)
    lines.append(b"")
    return ReadResult(b"\r\n".join(lines), None)
