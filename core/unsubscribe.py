"""One-click unsubscribe (RFC 8058, RFC 2369): the token in its links, the list a message is for.

A message is bulk mail of a list when the app names the list in LIST_HEADER, or when
its From domain has one-click unsubscribe on for all its mail (list "": all the tenant's
mail). The milter then adds List-Unsubscribe with an https link to the link service
(links/) and a mailto to the feedback domain, and List-Unsubscribe-Post, all signed.

The token names tenant, list and recipient, sealed with AES-SIV under a key derived
from the box's key: authenticated (a changed, cut or made-up token opens to nothing),
deterministic (one recipient's links are the same in every message, so a repeat is
harmless) and unreadable. It is lower-case base32, so it survives in a mailto local
part whose case a server changes.
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core import suppressions
from core.db import retry_once_on_conflict
from core.errors import InvalidInputError
from core.events import record_event
from core.message_headers import HeaderFields, header_values
from core.models import Tenant
from core.secretbox import SecretBox

# The header an app names a message's list in; it never leaves the box.
LIST_HEADER = "X-Mailrelay-List"
MAILTO_PREFIX = "u-"
ONE_CLICK_BODY = "List-Unsubscribe=One-Click"
_TENANT = struct.Struct(">I")


@dataclass(frozen=True)
class Unsubscribe:
    tenant_id: int
    list_name: str
    recipient: str


def list_name(values: list[str]) -> str | None:
    """The list a message names in its LIST_HEADER values; None when it names none.
    InvalidInputError for more than one, or a name that is not one."""
    if not values:
        return None
    if len(values) > 1:
        raise InvalidInputError(f"{LIST_HEADER} may appear once")
    return suppressions.check_list_name(values[0])


def list_header_values(fields: HeaderFields) -> list[str]:
    """The LIST_HEADER values in a message's header block, unfolded."""
    return header_values(fields, LIST_HEADER)


def token_key(secret_box: SecretBox) -> bytes:
    """The key every service seals and opens tokens with, derived from the box's key."""
    return secret_box.derived_key("unsubscribe")


def make_token(key: bytes, unsubscribe: Unsubscribe) -> str:
    plain = (_TENANT.pack(unsubscribe.tenant_id) + unsubscribe.list_name.encode() + b"\0"
             + unsubscribe.recipient.lower().encode())
    return base64.b32encode(AESSIV(key).encrypt(plain, None)).decode().rstrip("=").lower()


def read_token(key: bytes, token: str) -> Unsubscribe | None:
    """What a token names; None for anything that is not a token of this box."""
    if not 40 <= len(token) <= 800 or not token.isascii():
        return None
    try:
        sealed = base64.b32decode(token.upper() + "=" * (-len(token) % 8))
        plain = AESSIV(key).decrypt(sealed, None)
    except (binascii.Error, ValueError, InvalidTag):
        return None
    list_part, _, recipient = plain[_TENANT.size:].partition(b"\0")
    return Unsubscribe(_TENANT.unpack(plain[:_TENANT.size])[0], list_part.decode(), recipient.decode())


@dataclass(frozen=True)
class UnsubscribeLinks:
    """What the milter needs to write one-click unsubscribe headers."""

    key: bytes
    link_base_url: str
    feedback_domain: str

    def headers(self, unsubscribe: Unsubscribe) -> list[tuple[str, str]]:
        """List-Unsubscribe, folded between its two addresses, and List-Unsubscribe-Post."""
        token = make_token(self.key, unsubscribe)
        mailto = f"mailto:{MAILTO_PREFIX}{token}@{self.feedback_domain}"
        return [("List-Unsubscribe", f"<{self.link_base_url}/u/{token}>,\n\t<{mailto}>"),
                ("List-Unsubscribe-Post", ONE_CLICK_BODY)]


def unsubscribe(session: Session, unsubscribe: Unsubscribe, via: str) -> bool:
    """Suppress the recipient for the tenant and list, with an `unsubscribed` event; a repeat
    changes nothing. False when the token's tenant is gone."""
    tenant = session.get(Tenant, unsubscribe.tenant_id)
    if tenant is None:
        return False
    scope = f"list {unsubscribe.list_name}" if unsubscribe.list_name else "all mail"
    detail = f"{scope}, by {via}"
    if suppressions.suppress_new(session, tenant.name, unsubscribe.recipient, "unsubscribe", detail,
                                 list_name=unsubscribe.list_name) is not None:
        record_event(session, "unsubscribed", unsubscribe.recipient, detail, tenant_id=tenant.id)
    return True


def record_unsubscribe(engine: Engine, unsubscribe_request: Unsubscribe, via: str) -> bool:
    """unsubscribe() in a transaction of its own. A concurrent request for the same recipient and
    list (a provider's retry, a double click) may insert first: then the second try finds it."""
    return retry_once_on_conflict(engine, lambda session: unsubscribe(session, unsubscribe_request, via))
