"""Milter frames: a 4-byte big-endian length, then one command byte and its payload."""

from __future__ import annotations

import asyncio
import struct

# Postfix's largest frame is a body chunk of 64 KiB; anything far beyond is not a milter peer.
MAX_FRAME = 1024 * 1024
READ_SIZE = 256 * 1024


class FrameError(Exception):
    """The peer sent something that is not a milter frame."""


# A command byte and its payload: a plain tuple, as one is made for every frame.
Frame = tuple[bytes, bytes]


class FrameReader:
    """Frames from a stream, parsed out of one buffer: Postfix sends a dozen small frames per
    message in one go, and reading each with two awaits costs more than the parsing."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._buffer = bytearray()

    async def next(self) -> Frame | None:
        """The next frame, or None when the peer closed the connection between frames."""
        while True:
            frame = self._parse()
            if frame is not None:
                return frame
            data = await self._reader.read(READ_SIZE)
            if not data:
                if self._buffer:
                    raise FrameError("connection closed inside a frame")
                return None
            self._buffer += data

    def _parse(self) -> Frame | None:
        if len(self._buffer) < 4:
            return None
        (length,) = struct.unpack_from("!I", self._buffer)
        if length < 1 or length > MAX_FRAME:
            raise FrameError(f"frame length {length} out of range")
        if len(self._buffer) < 4 + length:
            return None
        frame = bytes(self._buffer[4:5]), bytes(self._buffer[5:4 + length])
        del self._buffer[:4 + length]
        return frame


def encode_frame(command: bytes, payload: bytes = b"") -> bytes:
    return struct.pack("!I", len(payload) + 1) + command + payload
