"""Open and click tracking: the tokens in tracked links, and where those links point.

A tracked link is `<base>/c/TOKEN` (a click, redirected to the original URL) or
`<base>/o/TOKEN` (the open pixel). The base is the box's link host, or
`t.<domain>` once domain verify has seen that name's CNAME to the link host.

The token holds what the link service needs and nothing it must look up: the
tenant, the message ref, the recipient (empty for a message with several), the day
it was made and, for a click, the original URL. It is sealed with AES-SIV under a
key derived from the box's key, and the kind and the host the link points at are
its associated data: a changed or cut token, an open token at /c/, or a token of
one tracking host presented at another opens to nothing. So no redirect goes
anywhere the relay did not write itself (no open redirect). A token older than
settings.tracking.token_days opens to nothing as well.
"""

from __future__ import annotations

import base64
import binascii
import functools
import struct
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from core.secretbox import SecretBox

CLICK = "c"
OPEN = "o"
_VERSION = 1
# Version, day made (days since EPOCH), tenant id, then NUL-separated ref, recipient, URL.
_HEAD = struct.Struct(">BHI")
_EPOCH = date(2024, 1, 1)
# Longest token accepted: a URL of 4 KiB sealed and in base64.
MAX_TOKEN = 6000


@dataclass(frozen=True)
class Tracked:
    tenant_id: int
    message_ref: str
    recipient: str
    url: str = ""  # a click's destination; "" for an open
    made_on: date = field(default_factory=lambda: datetime.now(UTC).date())


def tracking_host(domain: str) -> str:
    return f"t.{domain}"


def token_key(secret_box: SecretBox) -> bytes:
    return secret_box.derived_key("tracking")


def host_of(base_url: str) -> str:
    """The host name a base URL points at, lower-case, without its port."""
    return (urlsplit(base_url).hostname or "").lower()


@functools.lru_cache(maxsize=4)
def _cipher(key: bytes) -> AESSIV:
    """One cipher per key: making one costs more than sealing a token with it."""
    return AESSIV(key)


def _day(day: date) -> int:
    return (day - _EPOCH).days


def make_token(key: bytes, kind: str, host: str, tracked: Tracked) -> str:
    plain = (_HEAD.pack(_VERSION, _day(tracked.made_on), tracked.tenant_id)
             + b"\0".join((tracked.message_ref.encode(), tracked.recipient.lower().encode(),
                           tracked.url.encode())))
    sealed = _cipher(key).encrypt(plain, [kind.encode(), host.lower().encode()])
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def read_token(key: bytes, kind: str, host: str, token: str, max_days: int,
               today: date | None = None) -> Tracked | None:
    """What a token names; None for anything not made here for this kind and host, or too old."""
    if not 32 <= len(token) <= MAX_TOKEN or not token.isascii():
        return None
    try:
        sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        plain = _cipher(key).decrypt(sealed, [kind.encode(), host.lower().encode()])
        version, day, tenant_id = _HEAD.unpack(plain[:_HEAD.size])
        ref, recipient, url = plain[_HEAD.size:].decode().split("\0")
    except (binascii.Error, ValueError, InvalidTag, struct.error, UnicodeDecodeError):
        return None
    made_on = date.fromordinal(_EPOCH.toordinal() + day)
    today = today or datetime.now(UTC).date()
    if version != _VERSION or (today - made_on).days > max_days:
        return None
    return Tracked(tenant_id, ref, recipient, url, made_on)


@dataclass(frozen=True)
class TrackingLinks:
    """What the milter needs to write a message's tracked links."""

    key: bytes
    base_url: str
    opens: bool
    clicks: bool

    def url(self, kind: str, tracked: Tracked) -> str:
        return f"{self.base_url}/{kind}/{make_token(self.key, kind, host_of(self.base_url), tracked)}"


def base_url(link_base_url: str, domain: str, host_ok: bool) -> str:
    """Where a domain's tracked links point: t.<domain> once its record is seen, with the link
    service's scheme and port; else the link service itself."""
    if not host_ok:
        return link_base_url
    parts = urlsplit(link_base_url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{tracking_host(domain)}{port}"
