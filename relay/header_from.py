"""The header From of a message, for checking that its domain is the sender's own."""

from __future__ import annotations

from email.errors import HeaderParseError
from email.parser import BytesHeaderParser
from email.policy import SMTPUTF8

_parser = BytesHeaderParser(policy=SMTPUTF8)


def from_domains(content: bytes) -> list[str] | None:
    """The domains of every address in the one From header; None when there is not exactly one."""
    end = content.find(b"\r\n\r\n")
    header_block = content if end < 0 else content[: end + 4]
    message = _parser.parsebytes(header_block)
    try:
        from_headers = message.get_all("From") or []
        if len(from_headers) != 1:
            return None
        addresses = from_headers[0].addresses
    except (HeaderParseError, IndexError, ValueError, AttributeError):
        return None
    domains = [address.domain.lower() for address in addresses]
    if not domains or not all(domains):
        return None
    return domains
