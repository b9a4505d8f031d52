"""Adaptive shaping: a receiver's throttling reply suspends or slows the pathway it came on, which
then climbs back a step at a time while replies stay clean. KumoMTA's traffic shaping
automation is the model.

A pathway is a delivery transport of a delivery profile: one outbound address sending to one
big provider (core/postfix/transports.py). Only those are shaped: the rules name a
provider's replies, and the provider's hosts, so a look-alike reply from anyone else's MX
counts for nothing; the plain transport of an address, which carries mail to every other
domain, keeps Postfix's own per-destination backoff. The log tailer hands each deferral to
`record_deferrals`; rules are data in the settings (settings.shaping).

A rule may reroute: while the pathway is suspended the milter sends the pool's new mail
for that provider from its other addresses (milter/routing.py), when one of them can send.

How Postfix is told: a suspended pathway is in main.cf's defer_transports, so its mail
waits in the queue (deferred, never bounced by the relay; note that a manual flush of the
queue delivers it anyway), and a slowed one gets its own destination concurrency and rate
delay; main.cf is rendered from these rows (core/postfix/instance.py) by every box, and the
intake's `apply` reloads Postfix when what it renders changed, and flushes the queue when a
suspension ends so the waiting mail goes at once. State lives in the shared database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import DeliveryProfile, Settings, ShapingRule
from core.db import bump_directory_version
from core.errors import NotFoundError
from core.events import NewEvent
from core.models import PathwayState, utcnow

SUSPENDED = "suspended"
SLOWED = "slowed"
PROFILE_SEPARATOR = "__"  # core.postfix.transports.profile_transport
MAX_REASON = 500


@dataclass(frozen=True)
class Deferral:
    transport: str
    relay_host: str  # the replying host's name, from the log's relay=
    text: str


@dataclass(frozen=True)
class Overrides:
    """What main.cf must say of the shaped pathways."""

    deferred: tuple[str, ...] = ()
    limits: tuple[tuple[str, int, int], ...] = ()  # transport, concurrency, rate delay seconds


NOT_SHAPED = Overrides()


def profile_of(transport: str) -> str:
    """The delivery profile of a pathway's transport; "" for an address's plain transport."""
    return transport.rpartition(PROFILE_SEPARATOR)[2] if PROFILE_SEPARATOR in transport else ""


def matching_rule(rules: tuple[ShapingRule, ...], deferral: Deferral) -> ShapingRule | None:
    profile = profile_of(deferral.transport)
    if not profile:
        return None
    text, host = deferral.text.lower(), deferral.relay_host.lower().rstrip(".")
    for rule in rules:
        if rule.provider and rule.provider != profile:
            continue
        if rule.hosts and not re.search(rule.hosts, host):
            continue
        if re.search(rule.reply, text):
            return rule
    return None


def _profile(settings: Settings, transport: str) -> DeliveryProfile | None:
    return next((p for p in settings.delivery_profiles if p.name == profile_of(transport)), None)


def _event(state: PathwayState, kind: str, detail: str) -> NewEvent:
    return NewEvent(kind, state.transport, detail)


def _hit(session: Session, settings: Settings, deferral: Deferral, rule: ShapingRule,
         now: datetime) -> NewEvent | None:
    profile = _profile(settings, deferral.transport)
    assert profile is not None
    until = now + timedelta(seconds=rule.seconds)
    reason = deferral.text[:MAX_REASON]
    state = session.get(PathwayState, deferral.transport)
    if state is None:
        state = PathwayState(transport=deferral.transport, state="", rule=rule.name, reason=reason, since=now,
                             until=until, concurrency=profile.concurrency,
                             rate_delay_seconds=profile.rate_delay_seconds, hits=0)
        session.add(state)
    before = state.state
    state.hits += 1
    if rule.action == "suspend":
        state.state, state.rule, state.reason = SUSPENDED, rule.name, reason
        state.until, state.reroute = max(state.until, until), rule.reroute
        kind = "pathway_suspended"
    else:
        if state.state == SUSPENDED:  # a suspension outranks a slowdown
            return None
        state.state, state.rule, state.reason, state.until = SLOWED, rule.name, reason, until
        state.concurrency = min(state.concurrency, rule.concurrency)
        state.rate_delay_seconds = max(state.rate_delay_seconds, rule.rate_delay_seconds)
        kind = "pathway_slowed"
    if before == state.state:
        return None
    bump_directory_version(session)  # the milter routes around a rerouting suspension
    return _event(state, kind, f"rule={rule.name} until={state.until:%Y-%m-%d %H:%M:%S} UTC "
                               f"concurrency={state.concurrency} rate_delay={state.rate_delay_seconds}s "
                               f"({reason})")


def record_deferrals(session: Session, settings: Settings, deferrals: list[Deferral],
                     now: datetime | None = None) -> list[NewEvent]:
    """Apply the rules to a batch of deferrals; the events of pathways whose state changed. A flood
    of deferrals costs one row update per pathway and rule."""
    now = now or utcnow()
    seen: dict[tuple[str, str], Deferral] = {}
    rules: dict[str, ShapingRule] = {}
    for deferral in deferrals:
        rule = matching_rule(settings.shaping.rules, deferral)
        if rule is not None:
            seen[(deferral.transport, rule.name)] = deferral
            rules[rule.name] = rule
    events = [_hit(session, settings, deferral, rules[name], now) for (_, name), deferral in seen.items()]
    return [e for e in events if e is not None]


def step(session: Session, settings: Settings, now: datetime | None = None) -> list[NewEvent]:
    """Pathways whose time is up climb back a step: a suspended one sends again with one connection;
    a slowed one gets one more and half the delay, until it is back at its profile's limits."""
    now = now or utcnow()
    events = []
    for state in session.scalars(select(PathwayState).where(PathwayState.until <= now)):
        profile = _profile(settings, state.transport)
        if profile is None:  # its profile is gone from the settings
            session.delete(state)
            continue
        if state.state == SUSPENDED:
            state.state, state.concurrency, state.reroute = SLOWED, 1, False
            bump_directory_version(session)
            state.rate_delay_seconds = max(state.rate_delay_seconds, profile.rate_delay_seconds)
        else:
            state.concurrency = min(profile.concurrency, state.concurrency + 1)
            state.rate_delay_seconds = max(profile.rate_delay_seconds, state.rate_delay_seconds // 2)
        state.until = now + timedelta(seconds=settings.shaping.step_seconds)
        if (state.concurrency, state.rate_delay_seconds) == (profile.concurrency, profile.rate_delay_seconds):
            events.append(_event(state, "pathway_restored", "replies stayed clean: at the profile's limits"))
            session.delete(state)
        else:
            events.append(_event(state, "pathway_slowed", f"climbing back: concurrency={state.concurrency} "
                                                          f"rate_delay={state.rate_delay_seconds}s"))
    return events


def overrides(session: Session) -> Overrides:
    states = list(session.scalars(select(PathwayState).order_by(PathwayState.transport)))
    return Overrides(tuple(s.transport for s in states if s.state == SUSPENDED),
                     tuple((s.transport, s.concurrency, s.rate_delay_seconds) for s in states
                           if s.state == SLOWED))


def rerouted(session: Session) -> frozenset[str]:
    """Suspended pathways whose new mail goes from the pool's other addresses (milter/routing.py)."""
    return frozenset(session.scalars(select(PathwayState.transport).where(
        PathwayState.state == SUSPENDED, PathwayState.reroute.is_(True))))


def pathways(session: Session) -> list[PathwayState]:
    return list(session.scalars(select(PathwayState).order_by(PathwayState.transport)))


def clear(session: Session, transport: str) -> NewEvent:
    """The operator's word: the pathway sends as configured again."""
    state = session.get(PathwayState, transport)
    if state is None:
        raise NotFoundError(f"pathway {transport} is neither suspended nor slowed")
    session.delete(state)
    bump_directory_version(session)
    return NewEvent("pathway_restored", transport, "cleared by the operator")
