"""The identity header check against parsers mail readers and apps use: whatever it lets through,
Perl's Mail::Address and nodemailer's address parser read as addresses of the sender's own domain."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from core.header_from import domains_of_from_values, read_identities
from core.message_headers import header_fields

SUPPORT = Path(__file__).resolve().parents[1] / "support"
PIECES = ["a@own.test", "ceo@bank.com", "<a@own.test>", "<ceo@bank.com>", "App", '"App"', '"a@own.test"',
          '"ceo@bank.com"', "(ceo@bank.com)", "(note)", ",", ";", ":", " ", "<", ">", "J. Smith",
          "=?utf-8?q?ceo=40bank=2Ecom?=", '"a\\"b"', "own.test", "@", "\\"]


def other_parsers(values: list[str]) -> list[list[list[str]]]:
    text = "".join(value + "\n" for value in values)
    perl = subprocess.run(["perl", str(SUPPORT / "parse_addresses.pl")], input=text, capture_output=True,
                          text=True, timeout=60, check=True)
    node = subprocess.run(["node", str(SUPPORT / "nodemailer" / "parse_addresses.js")], input=text,
                          capture_output=True, text=True, timeout=60, check=True)
    return [[line.split() for line in output.stdout.splitlines()] for output in (perl, node)]


def test_what_the_check_lets_through_every_parser_reads_as_the_senders_own() -> None:
    generator = random.Random(5322)
    values = {"".join(generator.choice(PIECES) for _ in range(generator.randint(1, 6))) for _ in range(30000)}
    passed = sorted(v for v in values if domains_of_from_values([v]) == ["own.test"])
    assert len(passed) > 50
    perl, node = other_parsers(passed)
    for value, perl_sees, node_sees in zip(passed, perl, node, strict=True):
        for address in perl_sees + node_sees:
            assert address.lower().endswith("@own.test"), (value, perl_sees, node_sees)


@pytest.mark.parametrize("value", ["a@own.test <ceo@bank.com>", "<a@own.test> <ceo@bank.com>",
                                   "Ceo <ceo@bank.com> a@own.test", "x@own.test@bank.com", "undisclosed:;"])
def test_a_from_that_parsers_read_differently_cannot_be_read(value: str) -> None:
    assert domains_of_from_values([value]) is None


@pytest.mark.parametrize("value", ['"ceo@bank.com" <a@own.test>', "=?utf-8?q?ceo=40bank=2Ecom?= <a@own.test>",
                                   "a@own.test (ceo@bank.com)"])
def test_an_address_shown_in_a_display_name_or_comment_is_one_of_its_domains(value: str) -> None:
    assert domains_of_from_values([value]) == ["own.test", "bank.com"]


def test_plain_forms_read_as_written() -> None:
    assert domains_of_from_values(["J. Smith <a@own.test>"]) == ["own.test"]
    assert domains_of_from_values(['"Support a@own.test" <a@own.test>']) == ["own.test"]
    assert domains_of_from_values(["a@bücher.test"]) == ["xn--bcher-kva.test"]


def test_sender_and_resent_headers_are_read_too() -> None:
    identities = read_identities(header_fields(
        b"From: a@own.test\r\nSender: b@bank.com\r\nResent-From: <c@own.test>\r\n"
        b"Resent-Sender: x <y@z.test> w@v.test\r\n\r\nbody\r\n"))
    assert identities.author == ["own.test"]
    assert identities.others == [("Sender", ["bank.com"]), ("Resent-From", ["own.test"]),
                                 ("Resent-Sender", None)]
