from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.data_reader import READ_LIMIT, DataFault, ReadResult, read_message


def read(data: bytes, max_size: int = 100_000) -> tuple[ReadResult, bytes]:
    async def run() -> tuple[ReadResult, bytes]:
        reader = asyncio.StreamReader(limit=READ_LIMIT)
        reader.feed_data(data)
        reader.feed_eof()
        result = await read_message(reader, max_size)
        return result, await reader.read()
    return asyncio.run(run())


def test_message_ends_only_at_crlf_dot_crlf() -> None:
    result, rest = read(b"a\r\n.\nb\n.\r\nc\r\n.\r\nNEXT")
    assert result.fault is None
    # The dot lines after bare LFs are content; unstuffed like any line, they are empty.
    assert result.content == b"a\r\n\r\nb\r\n\r\nc\r\n"
    assert rest == b"NEXT"


def test_dot_stuffing_is_removed() -> None:
    result, _ = read(b"..leading dot\r\n.\r\n")
    assert result.content == b".leading dot\r\n"


@pytest.mark.parametrize("data,fault", [
    (b"a\rb\r\n.\r\n", DataFault.BARE_CR),
    (b"a\r.\r\n.\r\n", DataFault.BARE_CR),
    (b"a\0b\r\n.\r\n", DataFault.NUL),
    (b"x" * 999 + b"\r\n.\r\n", DataFault.LINE_TOO_LONG),
    (b"x" * (READ_LIMIT * 3) + b"\r\n.\r\n", DataFault.LINE_TOO_LONG),
    (b"xxxxxxxxx\r\n" * 2000 + b".\r\n", DataFault.TOO_BIG),
    (b"xxxxxxxx.\r\n" * 20000 + b".\r\n", DataFault.TOO_BIG),
])
def test_faults_are_reported_after_reading_to_the_end(data: bytes, fault: DataFault) -> None:
    result, rest = read(data + b"NEXT", max_size=10_000)
    assert result.fault is fault
    assert rest == b"NEXT"


def test_a_998_octet_line_is_fine() -> None:
    result, _ = read(b"x" * 998 + b"\r\n.\r\n")
    assert result.fault is None


def test_crlf_split_by_an_overlong_line_still_ends_the_message() -> None:
    # The stream reader's limit falls between the CR and the LF of the long line.
    data = b"x" * (READ_LIMIT - 1) + b"\r\n.\r\nNEXT"
    result, rest = read(data)
    assert result.fault is DataFault.LINE_TOO_LONG
    assert rest == b"NEXT"


def test_empty_message_and_a_dot_ending_a_line() -> None:
    assert read(b".\r\nNEXT") == (ReadResult(b"", None), b"NEXT")
    result, rest = read(b"The end.\r\nx.\r\n.\r\nNEXT")
    assert (result.content, rest) == (b"The end.\r\nx.\r\n", b"NEXT")


def test_terminator_split_across_reads_and_a_line_ended_by_bare_lf() -> None:
    async def run() -> tuple[ReadResult, bytes]:
        reader = asyncio.StreamReader(limit=READ_LIMIT)
        task = asyncio.create_task(read_message(reader, 100_000))
        for piece in (b"a\r", b"\nb\n", b".", b"\r\nc\r\n", b".\r", b"\nNEXT"):
            reader.feed_data(piece)
            await asyncio.sleep(0)
        reader.feed_eof()
        return await task, await reader.read()
    result, rest = asyncio.run(run())
    assert (result.content, rest) == (b"a\r\nb\r\n\r\nc\r\n", b"NEXT")


def reference_read(stream: bytes, max_size: int) -> tuple[ReadResult, bytes]:
    """RFC 5321 read plainly: the message ends at the first <CRLF>.<CRLF>, counting a CRLF before
    its start; each line is unstuffed and checked on its own."""
    virtual = b"\r\n" + stream
    end = virtual.find(b"\r\n.\r\n")
    raw, rest = virtual[2:end + 2], virtual[end + 5:]
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")[:-1]
    if any(b"\r" in line for line in lines):
        return ReadResult(b"", DataFault.BARE_CR), rest
    if any(b"\0" in line for line in lines):
        return ReadResult(b"", DataFault.NUL), rest
    unstuffed = [line[1:] if line.startswith(b".") else line for line in lines]
    if any(len(line) > 998 for line in unstuffed):
        return ReadResult(b"", DataFault.LINE_TOO_LONG), rest
    content = b"".join(line + b"\r\n" for line in unstuffed)
    if len(content) > max_size:
        return ReadResult(b"", DataFault.TOO_BIG), rest
    return ReadResult(content, None), rest


pieces = st.lists(st.sampled_from([b"\r", b"\n", b".", b"\r\n", b"\r\n.", b".\r\n", b"x", b"\0", b"abc",
                                   b"x" * 600, b"\r\n.\r", b"\n.\r\n"]), max_size=40)


@settings(max_examples=400, deadline=None)
@given(pieces, st.lists(st.integers(1, 7), min_size=1, max_size=8))
def test_blocks_read_as_the_plain_reading_whatever_the_stream_carries(parts: list[bytes],
                                                                      cuts: list[int]) -> None:
    stream = b"".join(parts) + b"\r\n.\r\nNEXT"
    expected = reference_read(stream, 5000)

    async def run() -> tuple[ReadResult, bytes]:
        reader = asyncio.StreamReader(limit=64)  # a small limit: many blocks cut short
        task = asyncio.create_task(read_message(reader, 5000))
        position = 0
        for n in range(len(stream)):
            if position >= len(stream):
                break
            size = cuts[n % len(cuts)]
            reader.feed_data(stream[position:position + size])
            position += size
            await asyncio.sleep(0)
        reader.feed_eof()
        return await task, await reader.read()
    assert asyncio.run(run()) == expected
