"""Once per Message-ID, for the tenants that ask (core/idempotency.py): the front-end's side.

Before the hand-off the message's Message-ID is claimed. One already queued gets
`250 2.0.0 Already queued as <queue id>` and nothing is sent; one claimed by a send still
in flight gets a 451, so the client's retry comes back for the first send's answer. A claim
left pending by a crash between Postfix's 250 and its completion is settled from the
milter's record of the message, or, with no record once the hand-off's time is long past,
taken over. Without the database the message gets a 451: the tenant asked never to send
twice, and a check that cannot be made cannot promise it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine

from core import accepted_messages, idempotency
from core.config import Settings
from core.db import session_scope
from core.message_headers import HeaderFields, header_values
from core.models import utcnow
from core.postfix.queue import queued_as
from relay import replies
from relay.directory import Directory
from relay.smtp_wire import Reply

log = logging.getLogger(__name__)

KEY_PREFIX = "message-id:"


@dataclass(frozen=True)
class Claim:
    tenant_id: int
    message_id: str

    @property
    def key(self) -> str:
        return KEY_PREFIX + self.message_id


class Resubmissions:
    def __init__(self, settings: Settings, directory: Directory, engine: Engine | None) -> None:
        self._directory = directory
        self._engine = engine
        self._hours = settings.idempotency.window_hours
        # A pending claim older than this was abandoned: no hand-off takes so long.
        self._stale = timedelta(seconds=2 * settings.postfix.handoff_timeout_seconds)

    async def claim(self, tenant: str, fields: HeaderFields) -> Claim | str | None:
        """None: this message is not checked; a Claim: send it, then settle(); or the reply to
        give instead of sending."""
        tenant_id = self._directory.once_per_message_id(tenant)
        message_ids = header_values(fields, "Message-ID")
        if tenant_id is None or len(message_ids) != 1 or not message_ids[0] or self._engine is None:
            return None
        claim = Claim(tenant_id, message_ids[0][:255])
        try:
            return await asyncio.to_thread(self._claim, self._engine, claim)
        except Exception:
            log.exception("could not check the Message-ID of a message of %s", tenant)
            return replies.RESUBMISSION_UNCHECKED

    def _claim(self, engine: Engine, claim: Claim) -> Claim | str:
        taken = idempotency.claim(engine, claim.tenant_id, claim.key, "", self._hours)
        if taken is None:
            return claim
        if taken.answer:
            return replies.ALREADY_QUEUED.format(queue_id=taken.answer)
        with session_scope(engine) as session:
            queue_id = accepted_messages.queue_id_of(session, claim.tenant_id, claim.message_id)
        if queue_id:
            idempotency.complete(engine, claim.tenant_id, claim.key, queue_id)
            return replies.ALREADY_QUEUED.format(queue_id=queue_id)
        if idempotency.take_over(engine, claim.tenant_id, claim.key, utcnow() - self._stale):
            return claim
        return replies.RESUBMISSION_IN_FLIGHT

    async def settle(self, claim: Claim, reply: Reply) -> None:
        """Record the queue id Postfix gave; or, when it queued nothing, give the claim up."""
        assert self._engine is not None
        try:
            if reply.ok:
                await asyncio.to_thread(idempotency.complete, self._engine, claim.tenant_id, claim.key,
                                        queued_as(reply.text) or reply.text[:64])
            else:
                await asyncio.to_thread(idempotency.release, self._engine, claim.tenant_id, claim.key)
        except Exception:  # the claim stays pending; a resubmission is settled from the milter's record
            log.exception("could not record the outcome of message %s", claim.message_id)
