"""Warm-up that advances on good feedback: once a step (settings.warmup.step_hours) is over, a
warming address moves to its next daily cap only when its mail over the step fared well.

Its outcomes are the events of the messages the milter routed through the address's
transports (its own and its delivery profiles'), tied by message ref: delivered, deferred
(each deferral counts), bounced, complained. Rates: bounces over delivered and bounced;
deferrals over all outcomes; complaints over delivered. All at or under their thresholds
(and enough outcomes to judge): it advances. One over: it holds. One over twice its
threshold: a bad day, it steps back. The reason is kept on the address for the panel.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.config import WarmupSettings
from core.db import bump_directory_version
from core.events import NewEvent
from core.models import AcceptedMessage, Event, PoolIp, utcnow
from core.pools import parse_caps
from core.postfix.transports import profile_transport, transport_name
from core.states import PoolIpState

OUTCOMES = ("delivered", "deferred", "bounced", "complained")


def outcomes(session: Session, ip: PoolIp, since: datetime) -> Counter[str]:
    transport = transport_name(ip.address)
    rows = session.execute(
        select(Event.kind, func.count())
        .join(AcceptedMessage, AcceptedMessage.message_ref == Event.message_ref)
        .where(or_(AcceptedMessage.transport == transport,
                   AcceptedMessage.transport.startswith(profile_transport(transport, ""), autoescape=True)),
               Event.at >= since, Event.kind.in_(OUTCOMES))
        .group_by(Event.kind))
    return Counter({kind: count for kind, count in rows})


def _rates(seen: Counter[str]) -> dict[str, float]:
    delivered, bounced = seen["delivered"], seen["bounced"]
    return {"bounce": bounced / max(1, delivered + bounced),
            "deferral": seen["deferred"] / max(1, sum(seen.values())),
            "complaint": seen["complained"] / max(1, delivered)}


def judgement(seen: Counter[str], settings: WarmupSettings) -> tuple[int, str]:
    """-1, 0 or +1 steps, and why."""
    rates = _rates(seen)
    limits = {"bounce": settings.max_bounce_rate, "deferral": settings.max_deferral_rate,
              "complaint": settings.max_complaint_rate}
    shown = ", ".join(f"{name} {rate:.1%}" for name, rate in rates.items())
    over = [name for name, rate in rates.items() if rate > limits[name]]
    if any(rates[name] > 2 * limits[name] for name in over):
        return -1, f"stepped back after a bad day: {shown} (past twice the line: {', '.join(over)})"
    if over:
        return 0, f"held: {shown} (over the line: {', '.join(over)})"
    if sum(seen.values()) < settings.min_outcomes:
        return 0, f"held: {sum(seen.values())} outcomes, too few to judge"
    return 1, f"advanced: {shown}"


def advance_warmups(session: Session, settings: WarmupSettings,
                    now: datetime | None = None) -> list[NewEvent]:
    """Judge every warming address whose step is over; the events of what became of each."""
    now = now or utcnow()
    events = []
    due = now - timedelta(hours=settings.step_hours)
    for ip in session.scalars(select(PoolIp).where(PoolIp.state == PoolIpState.WARMING,
                                                   PoolIp.warmup_step_since <= due)):
        assert ip.warmup_step_since is not None
        steps, why = judgement(outcomes(session, ip, ip.warmup_step_since), settings)
        caps = parse_caps(ip.warmup_caps)
        ip.warmup_step = max(0, ip.warmup_step + steps)
        ip.warmup_step_since, ip.warmup_note = now, why[:255]
        if ip.warmup_step >= len(caps):
            ip.state, ip.warmup_note = PoolIpState.ACTIVE, f"warmed up; {why}"[:255]
        kind = {1: "warmup_advanced", 0: "warmup_held", -1: "warmup_stepped_back"}[steps]
        cap = caps[ip.warmup_step] if ip.warmup_step < len(caps) else "none"
        where = f"step {ip.warmup_step + 1} of {len(caps)}, cap {cap}"
        events.append(NewEvent(kind, ip.address, f"{where}: {why}"))
    if events:
        bump_directory_version(session)
    return events
