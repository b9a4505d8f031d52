"""The Postfix log tailer: delivery events, exactly once, across a crash and a log rotation."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import delete

from core.db import make_engine
from core.events import recent_events
from core.models import Event, Tenant
from intake.log_tailer import SETTLE_SECONDS, LogTailer
from tests.support.box import DOMAIN, TENANT, Box, message


def send(box: Box, subjects: list[str]) -> list[str]:
    queue_ids = []
    with box.client() as client:
        for subject in subjects:
            client.mail(f"app@{DOMAIN}")
            client.rcpt("someone@example.org")
            code, reply = client.data(message(subject))
            assert code == 250
            queue_ids.append(reply.decode().rsplit(" ", 1)[1])
    return queue_ids


def delivered_events(box: Box, queue_ids: list[str], timeout: float = 30.0) -> Counter[str]:
    deadline = time.monotonic() + timeout
    while True:
        with box.db_session() as session:
            tenant_id = session.query(Tenant).filter_by(name=TENANT).one().id
            events = [e for e in recent_events(session, "delivered", limit=100_000)
                      if e.tenant_id == tenant_id]
            seen = Counter(e.queue_id for e in events)
        if all(seen[q] for q in queue_ids) or time.monotonic() > deadline:
            return seen
        time.sleep(0.3)


def test_each_delivery_is_one_event_though_the_tailer_is_killed_mid_burst(box: Box) -> None:
    first = send(box, [f"burst {n}" for n in range(15)])
    assert box.intake is not None
    box.intake.send_signal(signal.SIGKILL)
    box.intake.wait(10)
    second = send(box, [f"burst {n}" for n in range(15, 30)])
    box.start_intake()
    seen = delivered_events(box, first + second)
    assert {q: seen[q] for q in first + second} == dict.fromkeys(first + second, 1)
    with box.db_session() as session:
        events = recent_events(session, "delivered", limit=100_000)
    assert any(e.message_id == "<burst-3@acme.test>" and "dsn=2.0.0" in e.detail and len(e.message_ref) == 13
               for e in events)


def test_a_rotated_log_is_followed(box: Box) -> None:
    before = send(box, ["before rotation"])
    delivered_events(box, before)
    subprocess.run(["postfix", "-c", str(box.instance.config_dir), "logrotate"], check=True,
                   capture_output=True)
    after = send(box, ["after rotation 1", "after rotation 2"])
    seen = delivered_events(box, after)
    assert [seen[q] for q in before + after] == [1, 1, 1]


def test_a_message_that_left_the_queue_while_the_log_was_down_is_reported(box: Box, tmp_path: Path) -> None:
    """A dead master takes its log daemon along: what was delivered meanwhile has no line. The
    tailer, at the master's next start, finds the message gone from the queue."""
    [queue_id] = send(box, ["lost lines"])
    delivered_events(box, [queue_id])
    with box.db_session() as session:  # as if its delivery had never been logged
        session.execute(delete(Event).where(Event.queue_id == queue_id))
    kept = [line for line in box.postfix_log().splitlines()
            if f"{queue_id}:" in line and "status=" not in line and not line.endswith(": removed")]
    restart = "Dec  2 06:48:19 relay relaytest/master[999]: daemon started -- version 3.7.11"
    log = tmp_path / "postfix.log"
    log.write_text("\n".join([*kept, restart]) + "\n")
    now = [1000.0]
    engine = make_engine(box.settings.effective_database_url)
    tailer = LogTailer(engine, log, "gap-test", box.instance.queue(through_helper=False).queue_ids,
                       clock=lambda: now[0])
    try:
        tailer.poll()
        now[0] += SETTLE_SECONDS
        tailer.poll()
    finally:
        engine.dispose()
    with box.db_session() as session:
        unlogged = [(e.subject, e.tenant_id is not None) for e in recent_events(session, "outcome_unlogged")
                    if e.queue_id == queue_id]
    assert unlogged == [("someone@example.org", True)]
