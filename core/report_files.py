"""The files a receiver's report mail carries: XML or JSON, bare, gzipped or zipped, unpacked
within limits.

DMARC aggregate reports (RFC 7489 7.2.1.1) come as .xml, .xml.gz or .zip attachments, TLS
reports (RFC 8460 5.3) as .json or .json.gz. Anyone can send such mail, so every file is
unpacked with a cap on what it may grow to (a 100 MB zip bomb stops at the cap, read in
chunks, never held whole), a cap on the files per message and per archive, and a gzip
stream or zip member that is broken is skipped, not fatal.
"""

from __future__ import annotations

import email
import email.policy
import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from typing import IO

from core.errors import InvalidInputError

MAX_FILE_OCTETS = 20 * 1024 * 1024
MAX_FILES = 20
CHUNK = 64 * 1024

_GZIP_TYPES = frozenset({"application/gzip", "application/x-gzip", "application/gzip-compressed",
                         "application/tlsrpt+gzip"})
_ZIP_TYPES = frozenset({"application/zip", "application/x-zip-compressed", "application/x-zip"})
_PLAIN_TYPES = frozenset({"text/xml", "application/xml", "application/json", "application/tlsrpt+json"})


class BadReport(InvalidInputError):
    """A report file this box cannot read, or one past the limits."""


class TooLarge(BadReport):
    """A report file unpacks to more than MAX_FILE_OCTETS."""


@dataclass(frozen=True)
class ReportFile:
    name: str
    content: bytes


def report_files(raw: bytes) -> list[ReportFile]:
    """The report files of a message, unpacked; files past the limits or broken are left out."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    found: list[ReportFile] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        for unpacked in _unpacked(part):
            found.append(unpacked)
            if len(found) >= MAX_FILES:
                return found
    return found


def _unpacked(part: Message) -> Iterator[ReportFile]:
    name = (part.get_filename() or "").lower()
    kind = part.get_content_type()
    packed = kind in _GZIP_TYPES or kind in _ZIP_TYPES or name.endswith((".gz", ".zip"))
    if not packed and kind not in _PLAIN_TYPES and not name.endswith((".xml", ".json")):
        return
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return
    try:
        if kind in _ZIP_TYPES or name.endswith(".zip") or payload.startswith(b"PK\x03\x04"):
            yield from _zip_members(payload)
        elif kind in _GZIP_TYPES or name.endswith(".gz") or payload.startswith(b"\x1f\x8b"):
            yield ReportFile(name.removesuffix(".gz"), gunzipped(payload))
        elif len(payload) <= MAX_FILE_OCTETS:
            yield ReportFile(name, payload)
    except (TooLarge, zlib.error, zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError,
            NotImplementedError):  # encrypted or oddly compressed zip members
        return


def gunzipped(data: bytes) -> bytes:
    """A gzip stream unpacked, at most MAX_FILE_OCTETS of it: TooLarge past that."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(data, MAX_FILE_OCTETS + 1)
    if len(out) > MAX_FILE_OCTETS or inflater.unconsumed_tail:
        raise TooLarge("the gzip stream unpacks to more than the limit")
    if not inflater.eof:
        raise zlib.error("the gzip stream is cut short")
    return out


def _zip_members(data: bytes) -> Iterator[ReportFile]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist()[:MAX_FILES]:
            if info.is_dir():
                continue
            with archive.open(info) as member:
                content = _read_capped(member)
            yield ReportFile(info.filename.lower(), content)


def _read_capped(stream: IO[bytes]) -> bytes:
    """Read in chunks, never past MAX_FILE_OCTETS: a member's declared size may lie."""
    out = io.BytesIO()
    while chunk := stream.read(CHUNK):
        if out.tell() + len(chunk) > MAX_FILE_OCTETS:
            raise TooLarge("a zip member unpacks to more than the limit")
        out.write(chunk)
    return out.getvalue()
