"""The client side of SMTP on the wire: write command lines, read (multi-line) replies.

Our own rather than aiosmtplib's: the hand-off pipelines MAIL, RCPT and BDAT
(RFC 2920, RFC 3030) in one write, which needs replies read separately from
commands written; aiosmtplib pairs each command with its reply and has no BDAT.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

MAX_REPLY_LINES = 100


class WireError(Exception):
    """The connection failed, timed out, or the server's reply was not SMTP."""


@dataclass(frozen=True)
class Reply:
    code: int
    text: str

    def __str__(self) -> str:
        lines = self.text.splitlines() or [""]
        return "\r\n".join(
            f"{self.code}{'-' if i < len(lines) - 1 else ' '}{line}" for i, line in enumerate(lines)
        )

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    @property
    def temporary(self) -> bool:
        return 400 <= self.code < 500

    @property
    def keywords(self) -> set[str]:
        """The EHLO keywords, when this is an EHLO reply."""
        return {line.split(" ", 1)[0].upper() for line in self.text.splitlines()[1:]}


class SmtpWire:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> None:
        self._reader = reader
        self._writer = writer
        self._timeout = timeout

    @classmethod
    async def open_unix(cls, path: Path, timeout: float) -> SmtpWire:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_unix_connection(str(path))
        except (OSError, TimeoutError) as exc:
            raise WireError(f"cannot connect to {path}: {exc}") from exc
        return cls(reader, writer, timeout)

    @property
    def is_open(self) -> bool:
        return not self._writer.is_closing() and not self._reader.at_eof()

    async def send(self, data: bytes) -> None:
        try:
            self._writer.write(data)
            async with asyncio.timeout(self._timeout):
                await self._writer.drain()
        except (OSError, TimeoutError) as exc:
            self.close()
            raise WireError(f"write failed: {exc}") from exc

    async def read_replies(self, count: int) -> list[Reply]:
        """The replies to `count` pipelined commands, in order."""
        try:
            async with asyncio.timeout(self._timeout):
                return [await self._read_one() for _ in range(count)]
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            self.close()
            raise WireError(f"no reply: {exc!r}") from exc
        except WireError:
            self.close()
            raise

    async def read_reply(self) -> Reply:
        return (await self.read_replies(1))[0]

    async def _read_one(self) -> Reply:
        code = ""
        texts: list[str] = []
        while len(texts) < MAX_REPLY_LINES:
            raw = await self._reader.readuntil(b"\n")
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            if len(line) < 3 or not line[:3].isdigit() or line[3:4] not in ("", " ", "-"):
                raise WireError(f"not an SMTP reply: {line[:80]!r}")
            if code and line[:3] != code:
                raise WireError(f"reply code changed mid-reply: {line[:80]!r}")
            code = line[:3]
            texts.append(line[4:])
            if line[3:4] != "-":
                return Reply(int(code), "\n".join(texts))
        raise WireError(f"reply longer than {MAX_REPLY_LINES} lines")

    async def command(self, line: bytes) -> Reply:
        await self.send(line + b"\r\n")
        return await self.read_reply()

    def close(self) -> None:
        self._writer.close()
