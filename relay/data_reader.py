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
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_LINE_OCTETS = 998
# The stream reader's buffer limit: any line longer than this is too long anyway.
READ_LIMIT = 8192
# on_progress re-arms the session's idle timer, which costs a timer per call; once a
# second keeps the timeout exact enough without paying that on every line.
PROGRESS_INTERVAL_SECONDS = 1.0


class DataFault(enum.Enum):
    TOO_BIG = "too_big"
    LINE_TOO_LONG = "line_too_long"
    BARE_CR = "bare_cr"
    NUL = "nul"


@dataclass
class ReadResult:
    content: bytes
    fault: DataFault | None


END_OF_DATA = b"\r\n.\r\n"


async def read_message(reader: asyncio.StreamReader, max_size: int,
                       on_progress: Callable[[], None] = lambda: None) -> ReadResult:
    """Read up to and including the end-of-data line; return the unstuffed CRLF content.

    The stream is read in blocks up to <CRLF>.<CRLF> or the reader's limit: a block cut
    at the limit leaves in the stream any octets that could begin the end, so it never
    ends inside one. Only the start of the message, as if after a CRLF, and what follows
    it are read a few octets at a time, until they cannot begin the end.
    """
    chunks: list[bytes] = []
    kept = 0
    pending = b"\r\n"  # octets read that could begin the end of data
    too_big = False
    last_progress = time.monotonic()
    while True:
        if pending:
            chunk = await reader.readexactly(len(END_OF_DATA) - len(pending))
            window = pending + chunk
            ended = window == END_OF_DATA
            pending = b"" if ended else _start_of_end(window)
        else:
            try:
                chunk = await reader.readuntil(END_OF_DATA)
                ended = True
            except asyncio.LimitOverrunError as exc:
                chunk = await reader.readexactly(exc.consumed)
                ended = False
        now = time.monotonic()
        if now - last_progress >= PROGRESS_INTERVAL_SECONDS:
            on_progress()
            last_progress = now
        if not too_big:
            chunks.append(chunk)
            kept += len(chunk)
            # Stuffing and line ends can add at most 2 octets per 3: beyond this it is too big anyway.
            too_big = kept > 3 * max_size + 5
            if too_big:
                chunks.clear()
        if ended:
            break
    if too_big:
        return ReadResult(b"", DataFault.TOO_BIG)
    # Every line is unstuffed, one after a bare LF too: such a line is made a line of its own.
    return normalized((b"\n" + b"".join(chunks)[:-3]).replace(b"\n.", b"\n")[1:], max_size)


def _start_of_end(window: bytes) -> bytes:
    """The longest end of window that could be the start of the end of data."""
    for size in range(len(END_OF_DATA) - 1, 0, -1):
        if window.endswith(END_OF_DATA[:size]):
            return window[-size:]
    return b""


def normalized(raw: bytes, max_size: int) -> ReadResult:
    """A message (after DATA, unstuffed; or given whole over HTTP) with its line ends made
    CRLF, or the fault that fails it."""
    text = raw.replace(b"\r\n", b"\n")
    if b"\r" in text:
        return ReadResult(b"", DataFault.BARE_CR)
    if b"\0" in text:
        return ReadResult(b"", DataFault.NUL)
    if len(text) > MAX_LINE_OCTETS and max(map(len, text.split(b"\n"))) > MAX_LINE_OCTETS:
        return ReadResult(b"", DataFault.LINE_TOO_LONG)
    if text and not text.endswith(b"\n"):
        text += b"\n"  # a last line without its line end (ended by a bare LF before the dot)
    content = text.replace(b"\n", b"\r\n")
    if len(content) > max_size:
        return ReadResult(b"", DataFault.TOO_BIG)
    return ReadResult(content, None)
