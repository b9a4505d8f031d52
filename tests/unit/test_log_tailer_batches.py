"""The log tailer writes a poll's events in one batch: a batch that fails half-written (the
process dies, the database refuses) leaves nothing, and the next poll writes each event once,
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core import events
from core.db import session_scope
from core.models import Event, EventCount, WebhookDelivery
from intake.log_tailer import LogTailer
from tests.support.postfix_log import add_hooked_tenant, delivered_lines

MESSAGES = 40


def postfix_log(path: Path, first: int, count: int) -> None:
    with path.open("a") as log:
        log.write("\n".join(delivered_lines(first, count)) + "\n")


@pytest.mark.parametrize("breaks_at", ["the webhook outbox", "the commit"])
def test_a_batch_interrupted_half_written_is_neither_lost_nor_doubled(
        engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, breaks_at: str) -> None:
    add_hooked_tenant(engine)
    log = tmp_path / "postfix.log"
    postfix_log(log, 0, MESSAGES)
    tailer = LogTailer(engine, log, "box", set)
    recorded = events.record_events

    def half_then_break(session: Session, new: list[events.NewEvent]) -> list[int]:
        recorded(session, new[: len(new) // 2])
        if breaks_at == "the commit":
            recorded(session, new[len(new) // 2:])
        raise RuntimeError(f"killed at {breaks_at}")
    monkeypatch.setattr("intake.log_tailer.record_events", half_then_break)
    with pytest.raises(RuntimeError):
        tailer.poll()
    with session_scope(engine) as session:
        assert session.scalars(select(Event)).first() is None
    monkeypatch.setattr("intake.log_tailer.record_events", recorded)
    postfix_log(log, MESSAGES, MESSAGES)  # more arrives meanwhile
    assert tailer.poll() == 2 * MESSAGES
    assert tailer.poll() == 0
    with session_scope(engine) as session:
        subjects = Counter(session.scalars(select(Event.subject).where(Event.kind == "delivered")))
        assert subjects == Counter({f"r{n}@example.org": 1 for n in range(2 * MESSAGES)})
        assert session.scalar(select(EventCount.count).where(EventCount.kind == "delivered")) == 2 * MESSAGES
        outbox = Counter(session.scalars(select(WebhookDelivery.event_id)))
        assert len(outbox) == 2 * MESSAGES and set(outbox.values()) == {1}
        message_ids = list(session.scalars(select(Event.message_id).order_by(Event.id)))
        assert message_ids == [f"<m{n}@acme.test>" for n in range(2 * MESSAGES)]
