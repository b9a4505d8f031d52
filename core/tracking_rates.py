"""Open and click rates per tenant, sending domain and day the mail was sent: of the tracked
messages delivered, the share a person opened, and the share in which a person clicked a link
(core/engagement.py). Machine opens and clicks count toward neither."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, exists, func, select
from sqlalchemy.orm import Session

from core.models import AcceptedMessage, Event, utcnow


@dataclass(frozen=True)
class TrackingRate:
    day: date
    tenant_id: int
    domain: str
    delivered: int
    opened: int
    clicked: int

    @property
    def open_rate(self) -> float | None:
        return self.opened / self.delivered if self.delivered else None

    @property
    def click_rate(self) -> float | None:
        return self.clicked / self.delivered if self.delivered else None


def tracking_rates(session: Session, scope: ColumnElement[bool], days: int = 14, now: datetime | None = None,
                   since_hours: int | None = None) -> list[TrackingRate]:
    """One row per day, tenant and domain with tracked mail, oldest first, from the start of the day
    days - 1 before now (or the last since_hours). scope: a condition on AcceptedMessage."""
    now = now or utcnow()
    since = (now - timedelta(hours=since_hours) if since_hours is not None
             else datetime.combine((now - timedelta(days=days - 1)).date(), datetime.min.time()))
    delivered = exists().where(Event.message_ref == AcceptedMessage.message_ref, Event.kind == "delivered")
    day = func.date(AcceptedMessage.at)
    rows = session.execute(
        select(day, AcceptedMessage.tenant_id, AcceptedMessage.tracked_domain,
               func.sum(case((delivered, 1), else_=0)),
               func.sum(case((and_(delivered, AcceptedMessage.opened_at.is_not(None)), 1), else_=0)),
               func.sum(case((and_(delivered, AcceptedMessage.clicked_at.is_not(None)), 1), else_=0)))
        .where(AcceptedMessage.tracked_domain != "", AcceptedMessage.at >= since, scope)
        .group_by(day, AcceptedMessage.tenant_id, AcceptedMessage.tracked_domain))
    found = [TrackingRate(date.fromisoformat(str(on)[:10]), tenant_id, domain, int(sent or 0),
                          int(opened or 0), int(clicked or 0))
             for on, tenant_id, domain, sent, opened, clicked in rows]
    return sorted(found, key=lambda r: (r.day, r.tenant_id, r.domain))


def totals(rates: list[TrackingRate]) -> list[TrackingRate]:
    """The rows summed per tenant and domain over their days (day: the first of them)."""
    summed: dict[tuple[int, str], TrackingRate] = {}
    for rate in rates:
        seen = summed.get((rate.tenant_id, rate.domain))
        summed[(rate.tenant_id, rate.domain)] = rate if seen is None else TrackingRate(
            seen.day, rate.tenant_id, rate.domain, seen.delivered + rate.delivered, seen.opened + rate.opened,
            seen.clicked + rate.clicked)
    return list(summed.values())

