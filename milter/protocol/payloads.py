"""Milter payloads: what each command from the MTA carries, and what each response carries.

Constants and layouts follow libmilter's mfdef.h, which Postfix implements.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

VERSION = 6


class Command(bytes, enum.Enum):
    """Commands from the MTA."""

    OPTNEG = b"O"
    MACRO = b"D"
    CONNECT = b"C"
    HELO = b"H"
    MAIL = b"M"
    RCPT = b"R"
    DATA = b"T"
    HEADER = b"L"
    EOH = b"N"
    BODY = b"B"
    EOB = b"E"
    ABORT = b"A"
    QUIT = b"Q"
    QUIT_NC = b"K"
    UNKNOWN = b"U"


class Response(bytes, enum.Enum):
    """Responses and modifications from the milter."""

    CONTINUE = b"c"
    ACCEPT = b"a"
    REJECT = b"r"
    TEMPFAIL = b"t"
    REPLYCODE = b"y"
    ADDHEADER = b"h"
    INSHEADER = b"i"
    CHGHEADER = b"m"
    CHGFROM = b"e"
    REPLBODY = b"b"
    OPTNEG = b"O"


class Action(enum.IntFlag):
    ADDHDRS = 0x01
    CHGBODY = 0x02
    ADDRCPT = 0x04
    DELRCPT = 0x08
    CHGHDRS = 0x10
    QUARANTINE = 0x20
    CHGFROM = 0x40
    ADDRCPT_PAR = 0x80
    SETSYMLIST = 0x100


class ProtocolFlag(enum.IntFlag):
    NOCONNECT = 0x01
    NOHELO = 0x02
    NOMAIL = 0x04
    NORCPT = 0x08
    NOBODY = 0x10
    NOHDRS = 0x20
    NOEOH = 0x40
    NR_HDR = 0x80
    NOUNKNOWN = 0x100
    NODATA = 0x200
    SKIP = 0x400
    RCPT_REJ = 0x800
    NR_CONN = 0x1000
    NR_HELO = 0x2000
    NR_MAIL = 0x4000
    NR_RCPT = 0x8000
    NR_DATA = 0x10000
    NR_UNKN = 0x20000
    NR_EOH = 0x40000
    NR_BODY = 0x80000
    HDR_LEADSPC = 0x100000


# The "no reply" flag for each command that has one.
NO_REPLY_FLAG = {
    Command.CONNECT: ProtocolFlag.NR_CONN,
    Command.HELO: ProtocolFlag.NR_HELO,
    Command.MAIL: ProtocolFlag.NR_MAIL,
    Command.RCPT: ProtocolFlag.NR_RCPT,
    Command.DATA: ProtocolFlag.NR_DATA,
    Command.HEADER: ProtocolFlag.NR_HDR,
    Command.EOH: ProtocolFlag.NR_EOH,
    Command.BODY: ProtocolFlag.NR_BODY,
    Command.UNKNOWN: ProtocolFlag.NR_UNKN,
}
# Commands that never get a reply.
SILENT = frozenset({Command.MACRO, Command.ABORT, Command.QUIT, Command.QUIT_NC})


class PayloadError(Exception):
    """A payload does not have the layout its command requires."""


@dataclass(frozen=True)
class Negotiation:
    version: int
    actions: Action
    flags: ProtocolFlag


def decode_optneg(payload: bytes) -> Negotiation:
    if len(payload) < 12:
        raise PayloadError("OPTNEG payload shorter than 12 bytes")
    version, actions, flags = struct.unpack("!III", payload[:12])
    return Negotiation(version, Action(actions), ProtocolFlag(flags))


def encode_optneg(negotiation: Negotiation) -> bytes:
    return struct.pack("!III", negotiation.version, negotiation.actions, negotiation.flags)


def _strings(payload: bytes) -> list[bytes]:
    if not payload.endswith(b"\0"):
        raise PayloadError("string payload is not NUL-terminated")
    return payload[:-1].split(b"\0")


def decode_macros(payload: bytes) -> tuple[bytes, dict[str, str]]:
    """The command the macros are for, and the macros by name without braces."""
    if not payload:
        raise PayloadError("empty MACRO payload")
    stage, rest = payload[:1], payload[1:]
    if not rest:
        return stage, {}
    parts = _strings(rest)
    if len(parts) % 2:
        raise PayloadError("MACRO payload has a name without a value")
    macros = {}
    for name, value in zip(parts[::2], parts[1::2], strict=True):
        macros[name.decode("utf-8", "replace").strip("{}")] = value.decode("utf-8", "replace")
    return stage, macros


def decode_address_args(payload: bytes) -> tuple[str, list[str]]:
    """MAIL and RCPT: the address (angle brackets removed) and its ESMTP arguments."""
    parts = _strings(payload)
    address = parts[0].decode("utf-8", "surrogateescape").strip()
    if address.startswith("<") and address.endswith(">"):
        address = address[1:-1]
    return address, [p.decode("utf-8", "surrogateescape") for p in parts[1:] if p]


def decode_header(payload: bytes) -> tuple[bytes, bytes]:
    parts = _strings(payload)
    if len(parts) != 2:
        raise PayloadError("HEADER payload is not a name and a value")
    return parts[0], parts[1]


def encode_replycode(reply: str) -> bytes:
    return reply.encode("utf-8") + b"\0"


def encode_header(name: str, value: str) -> bytes:
    return name.encode("ascii") + b"\0" + value.encode("utf-8") + b"\0"


def encode_indexed_header(index: int, name: str, value: str) -> bytes:
    return struct.pack("!I", index) + encode_header(name, value)


def encode_chgfrom(address: str) -> bytes:
    return f"<{address}>".encode() + b"\0"
