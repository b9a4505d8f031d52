"""The database stopped under load: the box keeps accepting and delivering for the tenants and
credentials it knows; when the database is back the milter's records, the tailer's events and
positions catch up, each message delivered and recorded once."""

from __future__ import annotations

import smtplib
import threading
import time

from sqlalchemy import func, select

from core.models import AcceptedMessage, Event
from tests.support.box import DOMAIN, Box, message, running_box
from tests.support.postgres_server import postgres_server
from tests.support.sink import Sink
from tests.support.waiting import eventually

AWAY_SECONDS = 20


class Load:
    """One client sending a message a connection, until stopped; what each got."""

    def __init__(self, box: Box) -> None:
        self._box = box
        self.replies: list[tuple[str, float, str]] = []  # subject, when, the reply or error
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            subject = f"load {n}"
            n += 1
            try:
                with self._box.client() as client:
                    client.sendmail(f"app@{DOMAIN}", ["reader@example.org"], message(subject))
                outcome = "250"
            except (smtplib.SMTPException, OSError) as exc:
                outcome = f"{type(exc).__name__}: {exc}"
            self.replies.append((subject, time.monotonic(), outcome))
            time.sleep(0.2)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(60)


def test_the_database_stopped_under_load(sink: Sink) -> None:
    with postgres_server() as database, running_box(sink, database_url=database.url) as box:
        box.directory_loaded()
        with Load(box) as load:
            time.sleep(3)
            database.stop()
            stopped = time.monotonic()
            time.sleep(AWAY_SECONDS)
            database.start()
            started = time.monotonic()
            time.sleep(5)
        refused = [reply for reply in load.replies if reply[2] != "250"]
        assert not refused, refused
        while_away = [s for s, at, _ in load.replies if stopped < at < started]
        assert len(while_away) >= AWAY_SECONDS  # about 4 a second
        subjects = [subject for subject, _, _ in load.replies]
        for subject in subjects:
            sink.wait_for_subject(subject, timeout=120)
        twice = [subject for subject in subjects if len(sink.with_subject(subject)) != 1]
        assert not twice

        def recorded() -> tuple[int, int, int] | None:
            with box.db_session() as session:
                found = (session.scalar(select(func.count()).select_from(AcceptedMessage)) or 0,
                         session.scalar(select(func.count()).where(Event.kind == "delivered")) or 0,
                         session.scalar(select(func.count(func.distinct(Event.queue_id)))
                                        .where(Event.kind == "delivered")) or 0)
            return found if found[1] >= len(subjects) else None
        counts = eventually(recorded, "every delivery recorded", timeout=120, every=1)
        assert counts == (len(subjects), len(subjects), len(subjects))
