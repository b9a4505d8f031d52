"""The command layer: one milter connection from Postfix, message by message.

It collects what the application needs (macros, envelope, headers, body),
asks the application for a verdict at end of message, and writes the verdict's
modifications and reply. Everything before end of message is negotiated as
"no reply", so a message costs one round trip to the milter. Any error while
deciding on one message tempfails that message and nothing else.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field
from typing import Protocol

from milter.metrics import DECISIONS, decision
from milter.protocol import payloads
from milter.protocol.frames import Frame, FrameError, FrameReader, encode_frame
from milter.protocol.payloads import Action, Command, Negotiation, PayloadError, ProtocolFlag, Response

log = logging.getLogger(__name__)

WANTED_ACTIONS = Action.ADDHDRS | Action.CHGHDRS | Action.CHGFROM | Action.CHGBODY
# Stages the application does not look at, and commands it never answers before end of message.
WANTED_FLAGS = (ProtocolFlag.NOCONNECT | ProtocolFlag.NOHELO | ProtocolFlag.NOUNKNOWN | ProtocolFlag.NODATA
                | ProtocolFlag.NR_MAIL | ProtocolFlag.NR_RCPT | ProtocolFlag.NR_HDR | ProtocolFlag.NR_EOH
                | ProtocolFlag.NR_BODY)
INTERNAL_ERROR = "451 4.3.0 Temporary failure while processing the message; try again later"
# Postfix sends a MACRO frame before every command, each header included; the application
# reads {auth_authen} (MAIL) and the queue id (end of message), so the rest are not decoded.
READ_MACRO_STAGES = frozenset((Command.MAIL.value, Command.EOB.value))
KNOWN_COMMANDS = frozenset(command.value for command in Command)
_connection_ids = itertools.count(1)


@dataclass
class Message:
    macros: dict[str, str] = field(default_factory=dict)
    sender: str = ""
    sender_args: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body_chunks: list[bytes] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(self.body_chunks)


@dataclass(frozen=True)
class AddHeader:
    name: str
    value: str


@dataclass(frozen=True)
class InsertHeader:
    index: int
    name: str
    value: str


@dataclass(frozen=True)
class ChangeHeader:
    """Replace the index-th (from 1) header of this name; an empty value deletes it."""

    index: int
    name: str
    value: str


@dataclass(frozen=True)
class ChangeFrom:
    address: str


@dataclass(frozen=True)
class ReplaceBody:
    body: bytes


Modification = AddHeader | InsertHeader | ChangeHeader | ChangeFrom | ReplaceBody
# The most a milter frame may carry; a longer body goes in several.
BODY_CHUNK = 65535


@dataclass(frozen=True)
class Verdict:
    """Accept with these modifications, or refuse with an SMTP reply (4xx or 5xx)."""

    modifications: tuple[Modification, ...] = ()
    reply: str | None = None


class MessagePolicy(Protocol):
    async def end_of_message(self, connection_id: int, message: Message) -> Verdict: ...

    async def connection_closed(self, connection_id: int) -> None: ...


def encode_modification(modification: Modification) -> bytes:
    match modification:
        case AddHeader(name, value):
            return encode_frame(Response.ADDHEADER.value, payloads.encode_header(name, value))
        case InsertHeader(index, name, value):
            return encode_frame(Response.INSHEADER.value, payloads.encode_indexed_header(index, name, value))
        case ChangeHeader(index, name, value):
            return encode_frame(Response.CHGHEADER.value, payloads.encode_indexed_header(index, name, value))
        case ChangeFrom(address):
            return encode_frame(Response.CHGFROM.value, payloads.encode_chgfrom(address))
        case ReplaceBody(body):
            return b"".join(encode_frame(Response.REPLBODY.value, body[at:at + BODY_CHUNK])
                            for at in range(0, len(body), BODY_CHUNK))
    raise TypeError(f"not a modification: {modification!r}")


def encode_verdict(verdict: Verdict) -> bytes:
    frames = [encode_modification(m) for m in verdict.modifications]
    if verdict.reply is None:
        frames.append(encode_frame(Response.CONTINUE.value))
    else:
        frames.append(encode_frame(Response.REPLYCODE.value, payloads.encode_replycode(verdict.reply)))
    return b"".join(frames)


class MilterSession:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 policy: MessagePolicy) -> None:
        self._frames = FrameReader(reader)
        self._writer = writer
        self._policy = policy
        self._connection_id = next(_connection_ids)
        self._message = Message()
        self._replies_expected: frozenset[bytes] = frozenset()

    async def run(self) -> None:
        try:
            while (frame := await self._frames.next()) is not None:
                if not await self._dispatch(frame):
                    break
        except (FrameError, PayloadError, ValueError) as exc:
            log.warning("milter connection %d: %s; closing it", self._connection_id, exc)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            await self._policy.connection_closed(self._connection_id)
            self._writer.close()

    async def _dispatch(self, frame: Frame) -> bool:
        # Commands stay bytes, which compare equal to the Command members: no enum made per frame.
        command, payload = frame
        if command not in KNOWN_COMMANDS:
            raise PayloadError(f"unknown milter command {command!r}")
        match command:
            case Command.OPTNEG:
                await self._send(encode_frame(Response.OPTNEG.value, self._negotiate(payload)))
                return True
            case Command.MACRO:
                if payload[:1] in READ_MACRO_STAGES:
                    self._message.macros.update(payloads.decode_macros(payload)[1])
            case Command.MAIL:
                self._message.sender, self._message.sender_args = payloads.decode_address_args(payload)
            case Command.RCPT:
                self._message.recipients.append(payloads.decode_address_args(payload)[0])
            case Command.HEADER:
                self._message.headers.append(payloads.decode_header(payload))
            case Command.BODY:
                self._message.body_chunks.append(payload)
            case Command.EOB:
                if payload:
                    self._message.body_chunks.append(payload)
                await self._send(encode_verdict(await self._decide()))
                self._message = Message()
                return True
            case Command.ABORT:
                self._message = Message()
            case Command.QUIT:
                return False
            case Command.QUIT_NC:
                await self._policy.connection_closed(self._connection_id)
                self._connection_id = next(_connection_ids)
                self._message = Message()
        if command in self._replies_expected:
            await self._send(encode_frame(Response.CONTINUE.value))
        return True

    def _negotiate(self, payload: bytes) -> bytes:
        offered = payloads.decode_optneg(payload)
        if offered.version < payloads.VERSION:
            raise PayloadError(f"MTA speaks milter protocol {offered.version}, not {payloads.VERSION}")
        missing = WANTED_ACTIONS & ~offered.actions
        if missing:
            raise PayloadError(f"MTA does not allow the milter to {missing!r}")
        flags = WANTED_FLAGS & offered.flags
        self._replies_expected = frozenset(
            command.value for command, no_reply in payloads.NO_REPLY_FLAG.items() if not flags & no_reply
        )
        return payloads.encode_optneg(Negotiation(payloads.VERSION, WANTED_ACTIONS, flags))

    async def _decide(self) -> Verdict:
        try:
            verdict = await self._policy.end_of_message(self._connection_id, self._message)
        except Exception:
            log.exception("milter connection %d: deciding on a message failed; tempfailing it",
                          self._connection_id)
            verdict = Verdict(reply=INTERNAL_ERROR)
        DECISIONS.labels(decision(verdict.reply)).inc()
        return verdict

    async def _send(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()
