"""A message's identity headers (From; Sender, Resent-*), for checking their domains are the sender's.

The stdlib's strict address parser reads each value, as receivers checking
DMARC would. Mail readers and other libraries read a malformed value their own
ways (`a@own.test <ceo@bank.com>` is a@own.test to one, ceo@bank.com to the
next), so a value with any defect but a period in a display name is refused, and
so is one whose addresses are not written out whole.
A display name or comment can show an address too (`"ceo@bank.com"
<a@own.test>`): every address written anywhere in the value, encoded words
decoded, counts as one of its domains, so each must be the sender's own.

Parsing is slow and an app sends the same values again and again, so verdicts
are cached by the header's raw value.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from email.errors import HeaderParseError, ObsoleteHeaderDefect
from email.policy import SMTPUTF8

from core.message_headers import HeaderFields

# Headers that name who sent or resent the message, beside From.
OTHER_IDENTITY_HEADERS = ("sender", "resent-from", "resent-sender")
_MENTIONED = re.compile(r"[^\s<>()\[\]\",;:@]+@([^\s<>()\[\]\",;:@]+)")
_HARMLESS_DEFECTS = ("period in 'phrase'",)


@dataclass(frozen=True)
class Identities:
    """The domains each identity header names; None for a header that cannot be read plainly."""

    from_headers: int
    author: list[str] | None
    others: list[tuple[str, list[str] | None]]


def read_identities(headers: HeaderFields) -> Identities:
    # UTF-8 headers (RFC 6532) read as text; other bytes stay undecodable, a defect.
    others = [(name, _listed(_domains_of(name.lower(), value))) for name, value in headers
              if name.lower() in OTHER_IDENTITY_HEADERS]
    from_values = [value for name, value in headers if name.lower() == "from"]
    return Identities(len(from_values), domains_of_from_values(from_values), others)


def domains_of_from_values(values: list[str]) -> list[str] | None:
    """The domains of the one From header, its addresses' first; None unless exactly one reads plainly."""
    if len(values) != 1:
        return None
    return _listed(_domains_of("from", values[0]))


def _listed(domains: tuple[str, ...] | None) -> list[str] | None:
    return None if domains is None else list(domains)


def _ascii_domain(domain: str) -> str | None:
    try:
        return domain.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


@functools.lru_cache(maxsize=4096)
def _domains_of(name: str, raw_value: str) -> tuple[str, ...] | None:
    try:
        header = SMTPUTF8.header_fetch_parse(name, raw_value)
        addresses = header.addresses
    except (HeaderParseError, IndexError, ValueError, AttributeError):
        return None
    if any(not (isinstance(d, ObsoleteHeaderDefect) and str(d) in _HARMLESS_DEFECTS) for d in header.defects):
        return None
    # An address folded or commented apart ('"a"@ own.test') is one address to some parsers, two to others.
    if any(address.addr_spec not in raw_value for address in addresses):
        return None
    domains = [_ascii_domain(address.domain) for address in addresses]
    if not domains or not all(domains):
        return None
    for text in (raw_value, str(header)):
        for mentioned in _MENTIONED.findall(text):
            domains.append(_ascii_domain(mentioned) or mentioned.lower())
    return tuple(dict.fromkeys(d for d in domains if d))
