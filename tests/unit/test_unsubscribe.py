from __future__ import annotations

import pytest

from core.errors import InvalidInputError
from core.message_headers import header_fields
from core.unsubscribe import Unsubscribe, list_header_values, list_name, make_token, read_token

KEY = b"u" * 32


def test_a_token_opens_to_what_it_names_in_any_case_and_says_nothing_readable() -> None:
    named = Unsubscribe(42, "weekly", "reader@example.org")
    token = make_token(KEY, named)
    assert make_token(KEY, named) == token  # the same link in every message: a repeat is harmless
    assert read_token(KEY, token) == named and read_token(KEY, token.upper()) == named
    assert "reader" not in token and "weekly" not in token and token.isalnum()


def test_a_changed_cut_lengthened_or_foreign_token_opens_to_nothing() -> None:
    token = make_token(KEY, Unsubscribe(1, "", "a@example.org"))
    changed = token[:5] + ("2" if token[5] != "2" else "3") + token[6:]
    foreign = make_token(b"x" * 32, Unsubscribe(1, "", "a@example.org"))
    for bad in (token[:-1], token[1:], token + "a", changed, foreign, "", "!" * 60, "é" * 60):
        assert read_token(KEY, bad) is None, bad


def test_the_list_header_is_read_once_unfolded_and_checked() -> None:
    content = header_fields(b"From: a@b.test\r\nX-Mailrelay-List:\r\n  Weekly-News\r\nSubject: x\r\n\r\n"
                            b"X-Mailrelay-List: body\r\n")
    assert list_header_values(content) == ["Weekly-News"]
    assert list_name(list_header_values(content)) == "weekly-news"
    assert list_name([]) is None
    for values in (["a", "b"], ["has space"], ["x" * 65], [""], ["-lead"]):
        with pytest.raises(InvalidInputError):
            list_name(values)
