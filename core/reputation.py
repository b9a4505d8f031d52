"""The reputation guard: each tenant's bounce and complaint rates over a sliding window.

A send is a delivery outcome in Postfix's log (delivered or bounced); a bounce is a
bounced outcome; a complaint is a feedback report, counted once per complaining
recipient, since anyone who got one message can send reports about it. Past the
warning rate a tenant is warned (an event), past the pause rate it is paused (for
complaints, once min_complaints recipients complained): the front-end then
answers 451 4.7.1 until the operator resumes it. A resume starts the tenant's
window afresh: what was counted before it is not counted again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core.config import ReputationSettings
from core.db import bump_directory_version
from core.events import record_event
from core.models import Event, Tenant, utcnow
from core.states import SENDING_STATUSES, TenantStatus


def _counts(session: Session, since: datetime) -> dict[int, dict[str, int]]:
    resumed = (select(Event.tenant_id, func.max(Event.at).label("at"))
               .where(Event.kind == "tenant_resumed", Event.at >= since).group_by(Event.tenant_id).subquery())
    start = case((resumed.c.at.is_not(None), resumed.c.at), else_=since)
    counted = case((Event.kind == "complained", func.count(Event.subject.distinct())), else_=func.count())
    rows = session.execute(
        select(Event.tenant_id, Event.kind, counted)
        .outerjoin(resumed, resumed.c.tenant_id == Event.tenant_id)
        .where(Event.at >= since, Event.at > start, Event.tenant_id.is_not(None),
               Event.kind.in_(("delivered", "bounced", "complained")))
        .group_by(Event.tenant_id, Event.kind)
    )
    counts: dict[int, dict[str, int]] = {}
    for tenant_id, kind, count in rows:
        if tenant_id is not None:
            counts.setdefault(tenant_id, {})[kind] = count
    return counts


def guard(session: Session, settings: ReputationSettings, now: datetime | None = None) -> list[str]:
    """Warn or pause the tenants past their thresholds; the names of those whose state changed."""
    counts = _counts(session, (now or utcnow()) - timedelta(hours=settings.window_hours))
    changed = []
    for tenant in session.scalars(select(Tenant).where(Tenant.status.in_(SENDING_STATUSES))):
        seen = counts.get(tenant.id, {})
        sends = seen.get("delivered", 0) + seen.get("bounced", 0)
        if sends < settings.min_sends:
            continue
        bounce_rate = seen.get("bounced", 0) / sends
        complaints = seen.get("complained", 0)
        complaint_rate = complaints / sends
        rates = f"bounce rate {bounce_rate:.1%}, complaint rate {complaint_rate:.2%} over {sends} sends"
        if bounce_rate >= settings.bounce_pause or (complaint_rate >= settings.complaint_pause
                                                    and complaints >= settings.min_complaints):
            tenant.status = TenantStatus.PAUSED
            record_event(session, "tenant_paused", tenant.name, rates, tenant_id=tenant.id)
            bump_directory_version(session)
            changed.append(tenant.name)
        elif tenant.status == TenantStatus.ACTIVE and (bounce_rate >= settings.bounce_warn
                                            or complaint_rate >= settings.complaint_warn):
            tenant.status = TenantStatus.WARNED
            record_event(session, "tenant_warned", tenant.name, rates, tenant_id=tenant.id)
            changed.append(tenant.name)
    return changed


def pause(session: Session, tenant: Tenant, reason: str) -> None:
    tenant.status = TenantStatus.PAUSED
    record_event(session, "tenant_paused", tenant.name, reason, tenant_id=tenant.id)
    bump_directory_version(session)


def resume(session: Session, tenant: Tenant) -> None:
    tenant.status = TenantStatus.ACTIVE
    record_event(session, "tenant_resumed", tenant.name, "by the operator", tenant_id=tenant.id)
    bump_directory_version(session)
