"""The milter's record of every message it lets through: who sent it, as what, to whom.

The return-path becomes a VERP address that names the message by its ref; the
record, in the database, keeps the tenant, the original envelope sender and
the recipients, so that a report about the message can act only on addresses
the message really had. It is written before the milter's verdict, so before
Postfix can queue the message: no receiver can hold mail the relay has no record
of. Records written at the same time share one commit (a group commit), so a busy
milter pays one database round trip per batch, not per message.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from core.db import session_scope
from core.models import AcceptedMessage


@dataclass(frozen=True)
class Accepted:
    at: float
    queue_id: str
    tenant_id: int
    message_ref: str
    sender: str
    recipients: list[str]
    message_id: str
    transport: str

    def row(self) -> AcceptedMessage:
        return AcceptedMessage(
            message_ref=self.message_ref, tenant_id=self.tenant_id,
            at=datetime.fromtimestamp(self.at, UTC).replace(tzinfo=None), queue_id=self.queue_id[:32],
            sender=self.sender[:320], recipients="\n".join(r.lower() for r in self.recipients),
            message_id=self.message_id[:255], transport=self.transport[:64])


class AcceptedRecorder:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._waiting: list[tuple[Accepted, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, accepted: Accepted) -> None:
        """Returns once the record is committed; raises what the database raised."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((accepted, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_batches())
        await done

    async def _write_batches(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await asyncio.to_thread(self._commit, [accepted for accepted, _ in batch])
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    def _commit(self, batch: list[Accepted]) -> None:
        with session_scope(self._engine) as session:
            session.add_all([accepted.row() for accepted in batch])
