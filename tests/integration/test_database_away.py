"""The database stopped under load: the box keeps accepting and delivering for the tenants and
credentials it knows; when the database is back the milter's records, the tailer's events and
positions catch up, each message delivered and recorded once."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable

from sqlalchemy import func, select

from core.models import AcceptedMessage, Event
from tests.support.box import DOMAIN, Box, message, running_box
from tests.support.load import Load
from tests.support.postgres_server import postgres_server
from tests.support.sink import Sink
from tests.support.waiting import eventually

AWAY_SECONDS = 20


def sender(box: Box) -> Callable[[int], tuple[str, bool]]:
    def send(n: int) -> tuple[str, bool]:
        subject = f"load {n}"
        try:
            with box.client() as client:
                client.sendmail(f"app@{DOMAIN}", ["reader@example.org"], message(subject))
        except (smtplib.SMTPException, OSError):
            return subject, False
        return subject, True
    return send


def test_the_database_stopped_under_load(sink: Sink) -> None:
    with postgres_server() as database, running_box(sink, database_url=database.url) as box:
        box.directory_loaded()
        with Load(sender(box), pause=0.2) as load:
            time.sleep(3)
            database.stop()
            stopped = time.monotonic()
            time.sleep(AWAY_SECONDS)
            database.start()
            started = time.monotonic()
            time.sleep(5)
        assert not load.refused()
        assert load.answered_between(stopped, started) >= AWAY_SECONDS  # about 4 a second
        subjects = load.accepted()
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
