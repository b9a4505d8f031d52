"""The header From of a message, for checking that its domain is the sender's own.

The stdlib's strict address parser reads the From value, as receivers checking
DMARC would; it is slow, and an app sends the same From again and again, so
its verdicts are cached by the header's raw value.
"""

from __future__ import annotations

import functools
from email.errors import HeaderParseError
from email.parser import BytesHeaderParser
from email.policy import SMTPUTF8

_parser = BytesHeaderParser(policy=SMTPUTF8)


def from_domains(content: bytes) -> list[str] | None:
    """The domains of every address in the one From header; None when there is not exactly one."""
    end = content.find(b"\r\n\r\n")
    header_block = content if end < 0 else content[: end + 4]
    headers = _parser.parsebytes(header_block).raw_items()
    return domains_of_from_values([value for name, value in headers if name.lower() == "from"])


def domains_of_from_values(values: list[str]) -> list[str] | None:
    """As from_domains, for the raw values of a message's From headers, already split out."""
    if len(values) != 1:
        return None
    domains = _domains_of(values[0])
    return None if domains is None else list(domains)


@functools.lru_cache(maxsize=4096)
def _domains_of(raw_value: str) -> tuple[str, ...] | None:
    try:
        addresses = SMTPUTF8.header_fetch_parse("From", raw_value).addresses
    except (HeaderParseError, IndexError, ValueError, AttributeError):
        return None
    domains = tuple(address.domain.lower() for address in addresses)
    if not domains or not all(domains):
        return None
    return domains
