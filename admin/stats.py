"""The dashboard's figures: events per day and kind (from the hourly counts), and totals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from core.models import EventCount, utcnow

CHARTED_KINDS = ("delivered", "deferred", "bounced", "complained", "suppressed")


@dataclass(frozen=True)
class Activity:
    days: list[date]
    per_kind: dict[str, list[int]]  # one count per day, for each charted kind
    last_24h: dict[str, int]


def activity(session: Session, scope: ColumnElement[bool], days: int = 14,
             now: datetime | None = None) -> Activity:
    now = now or utcnow()
    first_day = (now - timedelta(days=days - 1)).date()
    rows = session.execute(
        select(EventCount.hour, EventCount.kind, func.sum(EventCount.count))
        .where(EventCount.hour >= datetime.combine(first_day, datetime.min.time()),
               EventCount.kind.in_(CHARTED_KINDS), scope)
        .group_by(EventCount.hour, EventCount.kind))
    day_list = [first_day + timedelta(days=n) for n in range(days)]
    index = {day: n for n, day in enumerate(day_list)}
    per_kind = {kind: [0] * days for kind in CHARTED_KINDS}
    last_24h = dict.fromkeys(CHARTED_KINDS, 0)
    since = now - timedelta(hours=24)
    for hour, kind, count in rows:
        per_kind[kind][index[hour.date()]] += int(count)
        if hour >= since.replace(minute=0, second=0, microsecond=0):
            last_24h[kind] += int(count)
    return Activity(day_list, per_kind, last_24h)
