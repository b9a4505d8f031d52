"""The header block as Postfix's cleanup reads it, without the email package."""

from __future__ import annotations

from core.header_from import read_identities
from core.message_headers import header_fields, header_values


def test_fields_in_order_unfolded() -> None:
    content = (b"From: App\r\n <a@own.test>\r\nSubject:  hi\r\n\tthere\r\nX-Empty:\r\n\r\n"
               b"From: body@bank.com\r\n")
    assert header_fields(content) == [("From", "App <a@own.test>"), ("Subject", "hi\tthere"), ("X-Empty", "")]


def test_a_space_before_the_colon_still_names_the_field() -> None:
    # Postfix reads "From : x" as a From header (obsolete syntax), so the front-end must check it.
    identities = read_identities(header_fields(b"Subject: hi\r\nFrom : ceo@bank.com\r\n\r\nbody\r\n"))
    assert identities.from_headers == 1
    assert identities.author == ["bank.com"]


def test_a_line_that_is_no_field_ends_the_header_block() -> None:
    content = b"From: a@own.test\r\nnot a field\r\nFrom: ceo@bank.com\r\n\r\nbody\r\n"
    assert header_fields(content) == [("From", "a@own.test")]
    assert header_fields(b"From a@own.test Mon Jan  1\r\nFrom: x@y.test\r\n\r\n") == []
    assert header_fields(b" leading continuation\r\nFrom: x@y.test\r\n\r\n") == []


def test_undecodable_octets_stay_undecodable_in_fields_and_are_replaced_in_values() -> None:
    content = b"Subject: caf\xe9\r\nMessage-ID: <m\xff@own.test>\r\n\r\n"
    assert header_fields(content)[0] == ("Subject", "caf\udce9")
    assert header_values(header_fields(content), "message-id") == ["<m\ufffd@own.test>"]


def test_a_message_without_an_empty_line_is_all_header() -> None:
    assert header_values(header_fields(b"Message-ID: <1@own.test>\r\nSubject: x"), "Subject") == ["x"]
