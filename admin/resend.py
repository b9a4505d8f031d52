"""Resend an archived message (core/archive.py) to the same or other recipients, through the whole
path: a session on Postfix's internal listener as the tenant (relay/handoff.py, as the front-end
and the send API hand off), so the milter throttles, signs, tracks and records it as a new
message with a ref of its own.

What the relay added when it first sent the message is taken off first (its DKIM signatures,
the one-click unsubscribe fields that name the first recipient) and the message gets a new
Message-ID, since receivers drop a second message with an ID they have seen. Refused before
Postfix is asked: a tenant that may not send, a recipient that is not an address, one the
tenant (or the box) suppresses.
"""

from __future__ import annotations

import asyncio
import email.utils
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from core import suppressions
from core.archive import unseal
from core.config import Settings
from core.errors import InvalidInputError
from core.models import ArchivedMessage, Tenant
from core.postfix.instance import PostfixInstance
from core.states import SENDING_STATUSES
from relay.handoff import PostfixSession, UpstreamUnavailable

MAX_RECIPIENTS = 50
# Fields the relay wrote at the top (its signatures) and the one-click fields it added.
_RELAY_ADDED = (b"dkim-signature", b"list-unsubscribe", b"list-unsubscribe-post")


@dataclass(frozen=True)
class Resent:
    reply: str  # Postfix's reply: 250 and the queue id, or its refusal
    refused: dict[str, str] = field(default_factory=dict)  # recipient: why it was not sent to

    @property
    def queued(self) -> bool:
        return self.reply.startswith("250")


def resend_content(message: bytes, settings: Settings) -> bytes:
    """The archived message made ready to go again: the relay's own fields off, a new Message-ID."""
    head, _, body = message.partition(b"\r\n\r\n")
    unsubscribe_link = f"{settings.link_base_url}/u/".encode()
    kept = []
    top = True
    for name, raw in _fields(head):
        lowered = name.lower()
        top = top and lowered == b"dkim-signature"
        one_click = lowered in _RELAY_ADDED[1:] and (lowered.endswith(b"-post") or unsubscribe_link in raw)
        ours = top or one_click
        if not ours and lowered != b"message-id":
            kept.append(raw)
    message_id = email.utils.make_msgid(domain=settings.hostname).encode()
    return b"\r\n".join([*kept, b"Message-ID: " + message_id]) + b"\r\n\r\n" + body


def _fields(head: bytes) -> list[tuple[bytes, bytes]]:
    """Each header field of a header block: its name and its raw lines."""
    found: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and found:
            found[-1] = (found[-1][0], found[-1][1] + b"\r\n" + line)
        else:
            found.append((line.partition(b":")[0].strip(), line))
    return found


def resend(session: Session, settings: Settings, key: bytes, archived: ArchivedMessage,
           recipients: list[str]) -> Resent:
    """Send the archived message to these recipients (none: its own); InvalidInputError for a
    request that cannot be sent at all."""
    tenant = session.get(Tenant, archived.tenant_id)
    if tenant is None or tenant.status not in SENDING_STATUSES:
        raise InvalidInputError("this tenant may not send mail now")
    wanted = [r.strip() for r in recipients if r.strip()] or archived.recipients.split("\n")
    if len(wanted) > MAX_RECIPIENTS:
        raise InvalidInputError(f"at most {MAX_RECIPIENTS} recipients")
    refused: dict[str, str] = {}
    for address in wanted:
        try:
            normalized = suppressions.normalize_address(address)
        except InvalidInputError as exc:
            refused[address] = str(exc)
            continue
        found = (suppressions.find(session, tenant.id, normalized)
                 or suppressions.find(session, None, normalized))
        if found is not None:
            refused[address] = f"suppressed ({found.reason})"
    sendable = [r for r in wanted if r not in refused]
    if not sendable:
        return Resent("550 5.1.1 No recipient may be sent to", refused)
    content = resend_content(unseal(key, archived.sealed), settings)
    reply = asyncio.run(_hand_off(settings, tenant.name, archived.sender, sendable, content))
    return Resent(reply, refused)


async def _hand_off(settings: Settings, tenant: str, sender: str, recipients: list[str],
                    content: bytes) -> str:
    postfix = PostfixSession(PostfixInstance(settings).submit_socket, settings.hostname,
                             settings.postfix.handoff_timeout_seconds)
    try:
        await postfix.open(tenant, "127.0.0.1", 0)
        reply = await postfix.submit(sender, [], recipients, content)
    except UpstreamUnavailable:
        return "451 4.3.0 Postfix could not be reached; try again"
    finally:
        await postfix.quit()
    return str(reply)
