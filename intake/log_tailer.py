"""The Postfix log tailer: each delivery outcome (sent, deferred, bounced, expired) becomes an event.

It writes the events of a batch of lines and the position it has read to in one
transaction, so after a crash or restart it resumes where the last commit ended
and no event is written twice. What it knows of messages still queued (their
tenant from sasl_username, their message-id) is saved with the position.

Rotation (`postfix logrotate` renames the file): the open file is read to its end
before the new one is opened. A rotation while the tailer is stopped is followed
too when the renamed file is still there uncompressed; once Postfix's compressor
has replaced it, its unread tail is lost.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import IO

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.db import session_scope
from core.events import MessageKeys, record_event
from core.models import LogPosition, Tenant
from core.postfix_log import STATUS_EVENTS, Delivery, QueueFact, read_line

log = logging.getLogger(__name__)

MAX_BATCH_OCTETS = 4 * 1024 * 1024


class LogTailer:
    def __init__(self, engine: Engine, log_path: Path, box_name: str) -> None:
        self._engine = engine
        self._path = log_path
        # Relay boxes sharing a database each keep their log at the same path.
        self._key = f"{box_name}:{log_path}"
        self._handle: IO[bytes] | None = None

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
        with session_scope(self._engine) as session:
            position = self._position(session)
            handle = self._open(position)
            if handle is None:
                return 0
            handle.seek(position.offset)
            data = handle.read(MAX_BATCH_OCTETS)
            complete = data[: data.rfind(b"\n") + 1]
            pending: dict[str, dict[str, str]] = json.loads(position.pending)
            written = self._apply(session, complete.decode("utf-8", "replace").splitlines(), pending)
            position.offset += len(complete)
            position.pending = json.dumps(pending)
            if not data and self._rotated(handle):
                self._switch_to_new_file(position)
        return written

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

    def _apply(self, session: Session, lines: list[str], pending: dict[str, dict[str, str]]) -> int:
        tenant_ids: dict[str, int | None] = {}
        written = 0
        for line in lines:
            fact = read_line(line)
            if isinstance(fact, QueueFact):
                if fact.removed:
                    pending.pop(fact.queue_id, None)
                elif fact.tenant is not None:
                    pending.setdefault(fact.queue_id, {})["tenant"] = fact.tenant
                elif fact.message_id is not None and fact.queue_id in pending:
                    pending[fact.queue_id]["message_id"] = fact.message_id
                elif fact.message_ref is not None and fact.queue_id in pending:
                    pending[fact.queue_id]["message_ref"] = fact.message_ref
            elif isinstance(fact, Delivery) and fact.queue_id in pending:
                known = pending[fact.queue_id]
                tenant = known.get("tenant", "")
                if tenant not in tenant_ids:
                    tenant_ids[tenant] = session.scalar(select(Tenant.id).where(Tenant.name == tenant))
                detail = f"dsn={fact.dsn} relay={fact.relay} ({fact.text})"
                keys = MessageKeys(known.get("message_ref", ""), fact.queue_id, known.get("message_id", ""))
                record_event(session, STATUS_EVENTS[fact.status], fact.recipient, detail,
                             tenant_id=tenant_ids[tenant], message=keys)
                written += 1
        return written
