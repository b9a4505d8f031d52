from __future__ import annotations

import asyncio

import pytest

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
