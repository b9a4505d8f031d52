"""The milter's record of every message it lets through: who sent it, as what, to whom.

The return-path becomes a VERP address that names the message by its ref; the
record, in the database, keeps the tenant, the original envelope sender and
the recipients, so that a report about the message can act only on addresses
the message really had.

Records are written by a task of their own as soon as it can, each batch (the
records of the verdicts given while the last batch was written) in one
multi-row insert: awaiting each commit before the verdict cost 40% of the
relay's throughput on SQLite, whose one writer at a time the log tailer also
needs. Waiting longer to gather bigger batches lets a bounce from the mailbox
simulator, milliseconds later, find no record yet. A report that
comes back before its message's record is written is answered 4xx by the intake,
and Postfix brings it again later. While the database is away, records wait in
memory (up to MAX_WAITING) and are written once it is back; a batch the database
refuses (a record whose tenant was removed meanwhile, say) is written record by
record, so one refused record holds up no other. On stop every waiting record is
written; a milter killed outright loses the records not yet written (those of
the batch under way, or all while the database is away): their messages are
still delivered, signed, but what comes back about them is not tied to them.

A tenant's archived copy (core/archive.py) is compressed, sealed and written with its
record, in the writing thread; while the database is away, copies past
MAX_WAITING_ARCHIVE_OCTETS are dropped (their records are kept).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError

from core.archive import seal
from core.message_tags import NONE, MessageTags, stored
from core.models import AcceptedMessage, ArchivedMessage, ArchivedRecipient

log = logging.getLogger(__name__)

MAX_WAITING = 100_000
MAX_WAITING_ARCHIVE_OCTETS = 256 * 1024 * 1024
RETRY_SECONDS = 1.0


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
    one_click_unsubscribe: bool = False
    tags: MessageTags = NONE
    tracked_domain: str = ""
    # The message as sent, for a tenant that keeps an archive; its subject for the archive's search.
    archived: bytes | None = None
    subject: str = ""

    def row(self) -> dict[str, object]:
        tags, metadata_json = stored(self.tags)
        return {
            "message_ref": self.message_ref, "tenant_id": self.tenant_id,
            "at": datetime.fromtimestamp(self.at, UTC).replace(tzinfo=None), "queue_id": self.queue_id[:32],
            "sender": self.sender[:320], "recipients": "\n".join(r.lower() for r in self.recipients),
            "message_id": self.message_id[:255], "transport": self.transport[:64],
            "one_click_unsubscribe": self.one_click_unsubscribe, "tags": tags, "metadata_json": metadata_json,
            "tracked_domain": self.tracked_domain,
        }

    def archived_row(self, key: bytes) -> dict[str, object] | None:
        if self.archived is None:
            return None
        sealed = seal(key, self.archived)
        return {"message_ref": self.message_ref, "tenant_id": self.tenant_id,
                "at": datetime.fromtimestamp(self.at, UTC).replace(tzinfo=None), "sender": self.sender[:320],
                "recipients": "\n".join(r.lower() for r in self.recipients), "subject": self.subject[:255],
                "tags": stored(self.tags)[0], "size": len(self.archived), "stored_size": len(sealed),
                "sealed": sealed}


class AcceptedRecorder:
    def __init__(self, engine: Engine, archive_key: bytes) -> None:
        self._engine = engine
        self._archive_key = archive_key
        self._waiting: list[Accepted] = []
        self._waiting_archive_octets = 0
        self._writer: asyncio.Task[None] | None = None

    def record(self, accepted: Accepted) -> None:
        if len(self._waiting) >= MAX_WAITING:
            log.error("%d message records wait for the database; the oldest is dropped", MAX_WAITING)
            del self._waiting[0]
        size = len(accepted.archived or b"")
        if self._waiting_archive_octets + size > MAX_WAITING_ARCHIVE_OCTETS:
            log.error("archived copies waiting for the database fill %d octets; message %s is not archived",
                      MAX_WAITING_ARCHIVE_OCTETS, accepted.message_ref)
            accepted = dataclasses.replace(accepted, archived=None)
        else:
            self._waiting_archive_octets += size
        self._waiting.append(accepted)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_batches())

    async def _write_batches(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            self._waiting_archive_octets = 0
            try:
                await asyncio.to_thread(self._commit_or_each, batch)
            except Exception:
                log.exception("could not write %d message records; trying again", len(batch))
                self._waiting[:0] = batch
                self._waiting_archive_octets = sum(len(a.archived or b"") for a in self._waiting)
                await asyncio.sleep(RETRY_SECONDS)

    def _commit(self, batch: list[Accepted]) -> None:
        # A Core connection, not an ORM session: half the CPU per batch (about 250 against 500 us).
        archived = [row for row in (accepted.archived_row(self._archive_key) for accepted in batch) if row]
        with self._engine.begin() as connection:
            connection.execute(insert(AcceptedMessage), [accepted.row() for accepted in batch])
            if archived:
                connection.execute(insert(ArchivedMessage), archived)
                connection.execute(insert(ArchivedRecipient), [
                    {"message_ref": row["message_ref"], "address": address, "at": row["at"]}
                    for row in archived for address in set(str(row["recipients"]).split("\n"))])

    def _commit_or_each(self, batch: list[Accepted]) -> None:
        try:
            self._commit(batch)
        except IntegrityError:
            self._commit_each(batch)

    def _commit_each(self, batch: list[Accepted]) -> None:
        for accepted in batch:
            try:
                self._commit([accepted])
            except IntegrityError as exc:
                log.error("the record of message %s was refused: %s", accepted.message_ref, exc.orig)

    async def flush(self) -> None:
        """Wait until every record so far is written (on stop)."""
        if self._writer is not None:
            await self._writer
