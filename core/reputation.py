"""The reputation guard: each tenant's bounce and complaint rates over a sliding window, overall
and at each big provider.

A send is a delivery outcome in Postfix's log (delivered or bounced); a bounce is a
bounced outcome; a complaint is a feedback report, counted once per complaining
recipient, since anyone who got one message can send reports about it. A provider is a
delivery profile: its domains name the recipients it judges on, as Gmail judges a
sender by the complaints of its own users alone. Past the warning rate a tenant is
warned (an event), past the pause rate it is paused (for complaints, once min_complaints
recipients complained): the front-end then answers 451 4.7.1 until the operator resumes
it. A resume starts the tenant's window afresh: what was counted before it is not
counted again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from core.accepted_messages import sent_from
from core.config import DeliveryProfile, ReputationSettings
from core.db import bump_directory_version
from core.events import record_event
from core.models import AcceptedMessage, Event, Tenant, utcnow
from core.states import SENDING_STATUSES, TenantStatus

ALL_PROVIDERS = ""


@dataclass(frozen=True)
class Outcomes:
    delivered: int = 0
    bounced: int = 0
    complained: int = 0

    @property
    def sends(self) -> int:
        return self.delivered + self.bounced

    @property
    def bounce_rate(self) -> float:
        return self.bounced / self.sends if self.sends else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complained / self.sends if self.sends else 0.0

    def __add__(self, other: Outcomes) -> Outcomes:
        return Outcomes(self.delivered + other.delivered, self.bounced + other.bounced,
                        self.complained + other.complained)


def _provider(profiles: tuple[DeliveryProfile, ...]) -> ColumnElement[str]:
    """The delivery profile an event's recipient belongs to, or "" for any other domain."""
    recipient = func.lower(Event.subject)
    whens = [(or_(*(recipient.like(f"%@{domain}") for domain in p.domains)), literal(p.name))
             for p in profiles]
    return case(*whens, else_=literal(ALL_PROVIDERS)) if whens else literal(ALL_PROVIDERS)


def outcomes(session: Session, profiles: tuple[DeliveryProfile, ...], since: datetime,
             sender_domain: str = "") -> dict[tuple[int, str], Outcomes]:
    """Each tenant's outcomes since then (or since its last resume), overall (provider "") and at
    each provider; only of mail sent from sender_domain when one is named."""
    resumed = (select(Event.tenant_id, func.max(Event.at).label("at"))
               .where(Event.kind == "tenant_resumed", Event.at >= since).group_by(Event.tenant_id).subquery())
    start = case((resumed.c.at.is_not(None), resumed.c.at), else_=since)
    counted = case((Event.kind == "complained", func.count(Event.subject.distinct())), else_=func.count())
    provider = _provider(profiles).label("provider")
    query = (select(Event.tenant_id, Event.kind, provider, counted)
             .outerjoin(resumed, resumed.c.tenant_id == Event.tenant_id)
             .where(Event.at >= since, Event.at > start, Event.tenant_id.is_not(None),
                    Event.kind.in_(("delivered", "bounced", "complained")))
             .group_by(Event.tenant_id, Event.kind, provider))
    if sender_domain:
        query = query.join(AcceptedMessage, and_(AcceptedMessage.message_ref == Event.message_ref,
                                                 sent_from(sender_domain)))
    found: dict[tuple[int, str], Outcomes] = {}
    for tenant_id, kind, provider_name, count in session.execute(query):
        one = Outcomes(**{kind: count})
        for key in {(tenant_id, ALL_PROVIDERS), (tenant_id, provider_name)}:
            found[key] = found.get(key, Outcomes()) + one
    return found


def _rates(seen: Outcomes, where: str) -> str:
    return (f"{where}bounce rate {seen.bounce_rate:.1%}, complaint rate {seen.complaint_rate:.2%} "
            f"over {seen.sends} sends")


def _verdict(settings: ReputationSettings, by_provider: dict[str, Outcomes]) -> tuple[str, str]:
    """"pause", "warn" or "" for a tenant, and the rates that decided it."""
    def judged(seen: Outcomes) -> bool:
        return seen.sends >= settings.min_sends

    def complaints_past(seen: Outcomes, line: float) -> bool:
        return seen.complaint_rate >= line and seen.complained >= settings.min_complaints

    overall = by_provider.get(ALL_PROVIDERS, Outcomes())
    providers = {name: seen for name, seen in sorted(by_provider.items()) if name and judged(seen)}
    if judged(overall) and (overall.bounce_rate >= settings.bounce_pause
                            or complaints_past(overall, settings.complaint_pause)):
        return "pause", _rates(overall, "")
    for name, seen in providers.items():
        if complaints_past(seen, settings.provider_complaint_pause):
            return "pause", _rates(seen, f"at {name}: ")
    if judged(overall) and (overall.bounce_rate >= settings.bounce_warn
                            or overall.complaint_rate >= settings.complaint_warn):
        return "warn", _rates(overall, "")
    for name, seen in providers.items():
        if seen.complaint_rate >= settings.provider_complaint_warn:
            return "warn", _rates(seen, f"at {name}: ")
    return "", ""


def guard(session: Session, settings: ReputationSettings, profiles: tuple[DeliveryProfile, ...],
          now: datetime | None = None) -> list[str]:
    """Warn or pause the tenants past their thresholds; the names of those whose state changed."""
    counts = outcomes(session, profiles, (now or utcnow()) - timedelta(hours=settings.window_hours))
    per_tenant: dict[int, dict[str, Outcomes]] = {}
    for (tenant_id, provider), seen in counts.items():
        per_tenant.setdefault(tenant_id, {})[provider] = seen
    changed = []
    for tenant in session.scalars(select(Tenant).where(Tenant.status.in_(SENDING_STATUSES))):
        verdict, rates = _verdict(settings, per_tenant.get(tenant.id, {}))
        if verdict == "pause":
            pause(session, tenant, rates)
            changed.append(tenant.name)
        elif verdict == "warn" and tenant.status == TenantStatus.ACTIVE:
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
