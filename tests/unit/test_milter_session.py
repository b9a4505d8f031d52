"""The milter's command layer on recorded frames, negotiated as Postfix 3.7 does (every no-reply flag)."""

from __future__ import annotations

import asyncio
import socket
import struct

from milter.protocol.frames import encode_frame
from milter.protocol.payloads import Action, ProtocolFlag
from milter.protocol.session import (
    AddHeader,
    ChangeFrom,
    Message,
    MilterSession,
    ReplaceBody,
    Verdict,
    encode_modification,
)

POSTFIX_ACTIONS = 0x1FF
POSTFIX_FLAGS = 0x1FFFFF


class RecordingPolicy:
    def __init__(self, fail_on: str = "") -> None:
        self.messages: list[Message] = []
        self.closed: list[int] = []
        self._fail_on = fail_on

    async def end_of_message(self, connection_id: int, message: Message) -> Verdict:
        self.messages.append(message)
        if self._fail_on and self._fail_on.encode() in message.body:
            raise RuntimeError("the policy broke on this message")
        return Verdict((AddHeader("X-Seen", str(len(self.messages))), ChangeFrom("b@bounces.test")))

    async def connection_closed(self, connection_id: int) -> None:
        self.closed.append(connection_id)


def strings(*parts: bytes) -> bytes:
    return b"".join(p + b"\0" for p in parts)


def message_frames(subject: bytes, tenant: bytes = b"acme", body: bytes = b"hello\r\n") -> list[bytes]:
    return [
        encode_frame(b"D", b"M" + strings(b"{auth_authen}", tenant, b"i", b"QID")),
        encode_frame(b"M", strings(b"<app@acme.test>", b"BODY=8BITMIME")),
        encode_frame(b"R", strings(b"<someone@example.org>")),
        encode_frame(b"L", strings(b"From", b"app@acme.test")),
        encode_frame(b"L", strings(b"Subject", subject)),
        encode_frame(b"N"),
        encode_frame(b"B", body),
    ]


async def converse(frames: list[bytes], policy: RecordingPolicy) -> bytes:
    server_sock, client_sock = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=server_sock)
    client_reader, client_writer = await asyncio.open_connection(sock=client_sock)
    session = asyncio.create_task(MilterSession(reader, writer, policy).run())
    client_writer.write(b"".join(frames))
    await client_writer.drain()
    client_writer.write_eof()
    await asyncio.wait_for(session, 5)
    return await client_reader.read()


def negotiate() -> bytes:
    return encode_frame(b"O", struct.pack("!III", 6, POSTFIX_ACTIONS, POSTFIX_FLAGS))


def decode(data: bytes) -> list[tuple[bytes, bytes]]:
    frames = []
    while data:
        (length,) = struct.unpack("!I", data[:4])
        frames.append((data[4:5], data[5:4 + length]))
        data = data[4 + length:]
    return frames


def test_abort_mid_message_then_two_messages_on_one_connection() -> None:
    policy = RecordingPolicy()
    frames = [negotiate(), *message_frames(b"aborted", body=b"half a bo"), encode_frame(b"A"),
              *message_frames(b"first"), encode_frame(b"E"),
              *message_frames(b"second"), encode_frame(b"E"), encode_frame(b"Q")]
    replies = decode(asyncio.run(converse(frames, policy)))

    command, payload = replies[0]
    version, actions, flags = struct.unpack("!III", payload)
    assert (command, version) == (b"O", 6)
    assert Action(actions) == Action.ADDHDRS | Action.CHGHDRS | Action.CHGFROM | Action.CHGBODY
    assert ProtocolFlag(flags) & ProtocolFlag.NR_HDR and ProtocolFlag(flags) & ProtocolFlag.NR_BODY
    # Nothing is answered before end of message: each message costs one round trip.
    assert [c for c, _ in replies[1:]] == [b"h", b"e", b"c", b"h", b"e", b"c"]
    assert [m.headers[1][1] for m in policy.messages] == [b"first", b"second"]
    assert all(m.body == b"hello\r\n" for m in policy.messages)
    assert policy.messages[0].macros["auth_authen"] == "acme"
    first = policy.messages[0]
    assert (first.sender, first.sender_args) == ("app@acme.test", ["BODY=8BITMIME"])
    assert policy.closed


def test_a_policy_error_tempfails_that_message_and_not_the_next() -> None:
    policy = RecordingPolicy(fail_on="boom")
    frames = [negotiate(), *message_frames(b"bad", body=b"boom\r\n"), encode_frame(b"E"),
              *message_frames(b"good"), encode_frame(b"E")]
    replies = decode(asyncio.run(converse(frames, policy)))
    assert replies[1][0] == b"y" and replies[1][1].startswith(b"451 4.3.0")
    assert [c for c, _ in replies[2:]] == [b"h", b"e", b"c"]


def test_a_garbled_frame_closes_the_connection_without_a_verdict() -> None:
    policy = RecordingPolicy()
    frames = [negotiate(), *message_frames(b"x"), b"\xff\xff\xff\xff garbage", encode_frame(b"E")]
    replies = decode(asyncio.run(converse(frames, policy)))
    assert [c for c, _ in replies] == [b"O"]
    assert not policy.messages and policy.closed


def test_an_mta_without_chgfrom_is_refused_at_negotiation() -> None:
    policy = RecordingPolicy()
    frames = [encode_frame(b"O", struct.pack("!III", 6, 0x01, POSTFIX_FLAGS))]
    assert asyncio.run(converse(frames, policy)) == b""


def test_a_new_body_goes_in_frames_of_at_most_65535_octets() -> None:
    body = bytes(range(256)) * 300
    frames = decode(encode_modification(ReplaceBody(body)))
    assert [c for c, _ in frames] == [b"b", b"b"]
    assert [len(p) for _, p in frames] == [65535, len(body) - 65535]
    assert b"".join(p for _, p in frames) == body
