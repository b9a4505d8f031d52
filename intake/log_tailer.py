"""The Postfix log tailer: each delivery outcome (sent, deferred, bounced, expired) becomes an event,
saying how the connection was secured (tls=Verified, Trusted, Untrusted, Anonymous, or none: the
level the delivery met, from the TLS line its process logged just before), and each deferral
goes to adaptive shaping (core/shaping.py).

It writes the events of a batch of lines (core.events.record_events: one insert for
all of them) and the position it has read to in one transaction, so after a crash or
restart it resumes where the last commit ended and no event is written twice. What it
knows of messages still queued (their tenant from sasl_username, their message-id) is
saved with the position.

A gap: when Postfix's master dies, its log daemon dies with it, and what the
other daemons did meanwhile goes unlogged. At the master's next start line the
messages still pending that are no longer queued are marked; once the tailer
has caught up with the log (and a few seconds have passed, so a line being
written is not missed), each recipient of a marked message (from the milter's
record) without a final outcome gets an `outcome_unlogged` event.

Rotation (`postfix logrotate` renames the file): the open file is read to its end
before the new one is opened. A rotation while the tailer is stopped is followed
too when the renamed file is still there uncompressed; once Postfix's compressor
has replaced it, its unread tail is lost.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.config import Settings
from core.db import session_scope
from core.events import MessageKeys, NewEvent, record_events
from core.models import AcceptedMessage, Event, LogPosition, Tenant
from core.postfix.log import STATUS_EVENTS, Delivery, MasterStarted, QueueFact, TlsSession, read_line
from core.shaping import Deferral, record_deferrals
from intake.metrics import observe_deliveries

log = logging.getLogger(__name__)

MAX_BATCH_OCTETS = 4 * 1024 * 1024
SETTLE_SECONDS = 5.0
MAX_TLS_PROCESSES = 10_000
FINAL_EVENTS = ("delivered", "bounced", "expired")
UNLOGGED = ("left Postfix's queue while its log was down (its master had died); "
            "the outcome was not logged")


class LogTailer:
    def __init__(self, engine: Engine, log_path: Path, box_name: str,
                 queue_ids: Callable[[], set[str]], clock: Callable[[], float] = time.time,
                 settings: Settings | None = None) -> None:
        self._engine = engine
        self._settings = settings  # None: no adaptive shaping
        # The TLS level each delivery process's last connection met, until its delivery line
        # (it may come in the next poll); a restart forgets it.
        self._tls: dict[str, str] = {}
        self._queue_ids = queue_ids
        self._clock = clock
        self._path = log_path
        # Relay boxes sharing a database each keep their log at the same path.
        self._key = f"{box_name}:{log_path}"
        self._handle: IO[bytes] | None = None
        self._deliveries: list[Delivery] = []  # this poll's, for the metrics once it is committed

    def _position(self, session: Session) -> LogPosition:
        position = session.scalar(select(LogPosition).where(LogPosition.path == self._key))
        if position is None:
            # Kept under the bare path before positions were kept per box: carry on from there.
            position = session.scalar(select(LogPosition).where(LogPosition.path == str(self._path)))
            if position is None:
                position = LogPosition(inode=0, offset=0, pending="{}")
                session.add(position)
            position.path = self._key
        return position

    def poll(self) -> int:
        """Read what was added since the last poll; the number of events written."""
        self._deliveries = []
        with session_scope(self._engine) as session:
            position = self._position(session)
            handle = self._open(position)
            if handle is None:
                return 0
            handle.seek(position.offset)
            data = handle.read(MAX_BATCH_OCTETS)
            complete = data[: data.rfind(b"\n") + 1]
            pending: dict[str, dict[str, str]] = json.loads(position.pending)
            new = self._apply(session, complete.decode("utf-8", "replace").splitlines(), pending)
            if len(data) < MAX_BATCH_OCTETS:
                new += self._settle_unlogged(session, pending)
            record_events(session, new)
            position.offset += len(complete)
            position.pending = json.dumps(pending)
            if not data and self._rotated(handle):
                self._switch_to_new_file(position)
        observe_deliveries(self._deliveries)
        return len(new)

    def _open(self, position: LogPosition) -> IO[bytes] | None:
        if self._handle is not None:
            return self._handle
        try:
            inode = self._path.stat().st_ino
        except FileNotFoundError:
            return None
        if position.inode and position.inode != inode:
            rotated = self._find_rotated(position.inode)
            if rotated is None:
                log.warning("the log was rotated while the tailer was stopped and the old file is gone; "
                            "resuming at the start of the new one")
                position.inode, position.offset = inode, 0
            else:
                self._handle = rotated.open("rb")
                return self._handle
        position.inode = inode
        self._handle = self._path.open("rb")
        return self._handle

    def _find_rotated(self, inode: int) -> Path | None:
        for candidate in self._path.parent.glob(self._path.name + ".*"):
            if candidate.stat().st_ino == inode:
                return candidate
        return None

    def _rotated(self, handle: IO[bytes]) -> bool:
        try:
            return self._path.stat().st_ino != os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            return False

    def _switch_to_new_file(self, position: LogPosition) -> None:
        if self._handle is not None:
            self._handle.close()
        self._handle = None
        position.inode, position.offset = self._path.stat().st_ino, 0

    def _apply(self, session: Session, lines: list[str],
               pending: dict[str, dict[str, str]]) -> list[NewEvent]:
        tenant_ids: dict[str, int | None] = {}
        new = []
        deferrals = []
        tls = self._tls
        if len(tls) > MAX_TLS_PROCESSES:  # TLS lines whose delivery line never came
            tls.clear()
        for line in lines:
            fact = read_line(line)
            if isinstance(fact, MasterStarted) and pending:
                queued = self._queue_ids()
                for queue_id, known in pending.items():
                    if queue_id not in queued:
                        known.setdefault("unlogged_since", str(self._clock()))
            elif isinstance(fact, QueueFact):
                if fact.removed:
                    pending.pop(fact.queue_id, None)
                elif fact.tenant is not None:
                    pending.setdefault(fact.queue_id, {})["tenant"] = fact.tenant
                elif fact.message_id is not None and fact.queue_id in pending:
                    pending[fact.queue_id]["message_id"] = fact.message_id
                elif fact.message_ref is not None and fact.queue_id in pending:
                    pending[fact.queue_id]["message_ref"] = fact.message_ref
            elif isinstance(fact, TlsSession):
                tls[fact.process] = fact.level
            elif isinstance(fact, Delivery) and fact.queue_id in pending:
                known = pending[fact.queue_id]
                tenant = known.get("tenant", "")
                if tenant not in tenant_ids:
                    tenant_ids[tenant] = session.scalar(select(Tenant.id).where(Tenant.name == tenant))
                level = tls.pop(fact.process, "none") if fact.relay not in ("", "none") else "none"
                detail = f"dsn={fact.dsn} relay={fact.relay} tls={level} ({fact.text})"
                keys = MessageKeys(known.get("message_ref", ""), fact.queue_id, known.get("message_id", ""))
                new.append(NewEvent(STATUS_EVENTS[fact.status], fact.recipient, detail, tenant_ids[tenant],
                                    keys))
                self._deliveries.append(fact)
            if isinstance(fact, Delivery) and fact.status == "deferred" and fact.transport:
                deferrals.append(Deferral(fact.transport, fact.relay_host, fact.text))
        if deferrals and self._settings is not None:
            new += record_deferrals(session, self._settings, deferrals)
        return new

    def _settle_unlogged(self, session: Session, pending: dict[str, dict[str, str]]) -> list[NewEvent]:
        new = []
        now = self._clock()
        settled = [queue_id for queue_id, known in pending.items()
                   if now - float(known.get("unlogged_since", "inf")) >= SETTLE_SECONDS]
        for queue_id in settled:
            known = pending.pop(queue_id)
            accepted = session.get(AcceptedMessage, known.get("message_ref", ""))
            keys = MessageKeys(known.get("message_ref", ""), queue_id, known.get("message_id", ""))
            if accepted is None:
                new.append(NewEvent("outcome_unlogged", queue_id, UNLOGGED, message=keys))
                continue
            final = {subject.lower() for subject in session.scalars(
                select(Event.subject).where(Event.queue_id == queue_id, Event.kind.in_(FINAL_EVENTS)))}
            for recipient in accepted.recipients.split("\n"):
                if recipient not in final:
                    new.append(NewEvent("outcome_unlogged", recipient, UNLOGGED, accepted.tenant_id, keys))
            log.warning("queue id %s left the queue while Postfix's log was down", queue_id)
        return new
