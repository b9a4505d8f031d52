"""VERP return-paths: each message's envelope sender names it, and only we can make one.

The local part is `b.<tenant id>.<message ref>.<mac>`, the mac an HMAC of the
rest under a key derived from the box's key file. Some servers lower-case
return-paths, so the tag uses only lower-case letters and digits and is read
case-insensitively. A bounce to a tag whose mac does not check out is forged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

_TAG = re.compile(r"b\.(\d{1,12})\.([a-z2-7]{13})\.([a-z2-7]{16})")


@dataclass(frozen=True)
class VerpTag:
    tenant_id: int
    message_ref: str
    authentic: bool


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def new_message_ref() -> str:
    return _b32(secrets.token_bytes(8))


def _mac(key: bytes, tenant_id: int, message_ref: str) -> str:
    return _b32(hmac.new(key, f"{tenant_id}.{message_ref}".encode(), hashlib.sha256).digest()[:10])


def verp_address(key: bytes, bounce_domain: str, tenant_id: int, message_ref: str) -> str:
    return f"b.{tenant_id}.{message_ref}.{_mac(key, tenant_id, message_ref)}@{bounce_domain}"


def parse_verp(key: bytes, bounce_domain: str, address: str) -> VerpTag | None:
    """The tag of a return-path on our bounce domain; None when the address is no VERP address."""
    local, at, domain = address.strip().strip("<>").rpartition("@")
    if not at or domain.lower() != bounce_domain.lower():
        return None
    match = _TAG.fullmatch(local.lower())
    if match is None:
        return None
    tenant_id, message_ref, mac = int(match[1]), match[2], match[3]
    return VerpTag(tenant_id, message_ref, hmac.compare_digest(mac, _mac(key, tenant_id, message_ref)))


def return_path_in(text: str, bounce_domain: str) -> str | None:
    """The first VERP return-path quoted in text (a feedback report's copy of the message
    names it in its Return-Path header); its tag is still to be checked."""
    found = re.search(r"(?<![\w.])" + _TAG.pattern + "@" + re.escape(bounce_domain) + r"\b", text,
                      re.IGNORECASE)
    return found.group(0).lower() if found else None
