"""VERP return-paths: each message's envelope sender names it, and only we can make one.

The local part is `b.<message ref>.<mac>`, the ref random, the mac an HMAC of
it under a key derived from the box's key file: the address tells nothing about
the tenant, whom the milter's record of the message names (AcceptedMessage). Some servers lower-case
return-paths, so the tag uses only lower-case letters and digits and is read
case-insensitively. A bounce to a tag whose mac does not check out is forged.

The domain is the box's bounce domain, or `rp.<domain>` for a sending domain whose
return-path record points at the box (core/return_paths.py); the mac alone makes a tag
authentic, so the domain a report names its tag at plays no part in judging it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from core.secretbox import SecretBox

_TAG = re.compile(r"b\.([a-z2-7]{13})\.([a-z2-7]{16})")


@dataclass(frozen=True)
class VerpTag:
    message_ref: str
    authentic: bool


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def verp_key(secret_box: SecretBox) -> bytes:
    """The key of every mac here, derived from the box's key."""
    return secret_box.derived_key("verp")


def new_message_ref() -> str:
    return _b32(secrets.token_bytes(8))


def _mac(key: bytes, message_ref: str) -> str:
    return _b32(hmac.new(key, message_ref.encode(), hashlib.sha256).digest()[:10])


def verp_address(key: bytes, bounce_domain: str, message_ref: str) -> str:
    return f"b.{message_ref}.{_mac(key, message_ref)}@{bounce_domain}"


def parse_verp(key: bytes, address: str) -> VerpTag | None:
    """The tag of a VERP return-path; None when the address is no VERP address."""
    local, at, _ = address.strip().strip("<>").rpartition("@")
    if not at:
        return None
    match = _TAG.fullmatch(local.lower())
    if match is None:
        return None
    message_ref, mac = match[1], match[2]
    return VerpTag(message_ref, hmac.compare_digest(mac, _mac(key, message_ref)))


def return_path_in(text: str) -> str | None:
    """The first VERP return-path quoted in text (a feedback report's copy of the message
    names it in its Return-Path header); its tag is still to be checked."""
    found = re.search(r"(?<![\w.])" + _TAG.pattern + r"@[a-z0-9.-]+\b", text, re.IGNORECASE)
    return found.group(0).lower() if found else None


# The ref a sender of the box's own (the HTTP send API) chose and answered with before the
# hand-off, for the milter to take. Its mac is apart from the return-path's, which every
# recipient sees; the milter removes the header, so its value never leaves the box.
REF_HEADER = "X-Mailrelay-Ref"
_GIVEN_REF = re.compile(r"([a-z2-7]{13})\.([a-z2-7]{16})")


def _given_mac(key: bytes, message_ref: str) -> str:
    return _b32(hmac.new(key, b"given ref:" + message_ref.encode(), hashlib.sha256).digest()[:10])


def given_ref_value(key: bytes, message_ref: str) -> str:
    return f"{message_ref}.{_given_mac(key, message_ref)}"


def read_given_ref(key: bytes, value: str) -> str | None:
    """The ref a REF_HEADER value names, if the box made it; None for any other value."""
    match = _GIVEN_REF.fullmatch(value.strip())
    if match is None or not hmac.compare_digest(match.group(2), _given_mac(key, match.group(1))):
        return None
    return match.group(1)
