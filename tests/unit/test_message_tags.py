"""Tags and metadata: what the send API writes, the milter reads back; what it refuses."""

from __future__ import annotations

import pytest

from core import message_tags
from core.errors import InvalidInputError
from core.message_tags import MessageTags


def test_what_the_send_api_writes_reads_back_the_same() -> None:
    given = message_tags.checked(["welcome", "spring-2027", "welcome"],
                                 {"order": "1234", "name": "Zoë \"Z\""})
    assert given.tags == ("welcome", "spring-2027")
    lines = message_tags.header_lines(given).decode().split("\r\n")
    assert all(len(line) < 998 and line.isascii() for line in lines)
    values = {line.partition(": ")[0]: [line.partition(": ")[2]] for line in lines if line}
    assert message_tags.read(values[message_tags.TAGS_HEADER], values[message_tags.METADATA_HEADER]) == given
    assert message_tags.header_lines(MessageTags()) == b""


def test_a_folded_header_reads_as_written() -> None:
    read = message_tags.read(["a,\r\n b"], ['{"order":\r\n "12\r\n 34"}'])
    assert read == MessageTags(("a", "b"), {"order": "12 34"})


@pytest.mark.parametrize("tags, metadata, error", [
    ("welcome", {}, "list of strings"),
    (["a b"], {}, "each 1-64"),
    (["x"] * 11, {}, "at most 10"),
    (["a,b"], {}, "each 1-64"),
    ([], {"n": 1}, "values are strings"),
    ([], {"bad key": "x"}, "keys"),
    ([], {f"k{n}": "x" for n in range(21)}, "at most 20"),
    ([], {"k": "é" * 200}, "900 octets as JSON"),
    ([], ["k"], "object"),
])
def test_bad_tags_and_metadata_are_refused_saying_why(tags: object, metadata: object, error: str) -> None:
    with pytest.raises(InvalidInputError, match=error):
        message_tags.checked(tags, metadata)


@pytest.mark.parametrize("tags, metadata", [(["a", "b"], []), ([], ["{}", "{}"]), ([], ["[1]"]),
                                            ([], ["{not json"]), (["a\u00a0b"], [])])
def test_a_message_whose_headers_do_not_read_is_refused(tags: list[str], metadata: list[str]) -> None:
    with pytest.raises(InvalidInputError):
        message_tags.read(tags, metadata)
