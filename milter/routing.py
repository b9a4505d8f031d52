"""The outbound route of a message: which delivery transport (outbound address) Postfix uses.

A tenant's pool's addresses take turns at random, each in proportion to its weight
and, while it warms up, to what is left of its step's daily cap (core/warmup.py); a paused address is never
picked. Today's sends per warming address are counted in the throttle store, so
several boxes hold one cap together. A tenant whose pool can send from none of its
addresses gets no route (the milter answers 451); only the shared default pool
with no addresses at all sends from the box's own address.

When every recipient is at one big provider, the route is that address's
transport for the provider's delivery profile, which Postfix shapes as the
provider expects (settings.delivery_profiles); an address whose pathway to that
provider a rerouting rule suspended (core/shaping.py) is passed over while
another can send.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from core.config import DeliveryProfile
from core.postfix.transports import DEFAULT_TRANSPORT, profile_transport
from core.states import SENDING_STATES
from milter.directory import IpEntry, MilterDirectory
from milter.throttle import ThrottleStore, Window


def _day_window(cap: int) -> Window:
    return Window("day", 86400, cap)


def _counter(ip: IpEntry) -> str:
    return f"ip {ip.address}"


class Router:
    def __init__(self, directory: MilterDirectory, store: ThrottleStore,
                 profiles: tuple[DeliveryProfile, ...] = (), rng: random.Random | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._directory = directory
        self._profile_of_domain = {domain: p.name for p in profiles for domain in p.domains}
        self._store = store
        self._rng = rng or random.Random()
        self._clock = clock

    async def route(self, pool_name: str, recipients: list[str]) -> str | None:
        """The delivery transport for a message, or None when its pool cannot send now."""
        profiles = {self._profile_of_domain.get(r.rpartition("@")[2].lower()) for r in recipients}
        profile = profiles.pop() if len(profiles) == 1 else None
        avoid: frozenset[str] = frozenset()
        if profile is not None:
            rerouted = self._directory.rerouted()
            avoid = frozenset(ip.transport for ip in self._ips(pool_name)
                              if profile_transport(ip.transport, profile) in rerouted)
        transport = await self.pick_transport(pool_name, avoid)
        if transport is None and avoid:  # no other address can send: the mail waits on its pathway
            transport = await self.pick_transport(pool_name)
        if transport is None or profile is None:
            return transport
        return profile_transport(transport, profile)

    def _ips(self, pool_name: str) -> tuple[IpEntry, ...]:
        pool = self._directory.pool(pool_name)
        return () if pool is None else pool.ips

    async def pick_transport(self, pool_name: str, avoid: frozenset[str] = frozenset()) -> str | None:
        """A transport of the pool's, none of those in avoid."""
        pool = self._directory.pool(pool_name)
        if pool is None or not pool.ips:
            return DEFAULT_TRANSPORT if pool is None or pool.is_default else None
        now = self._clock()
        weighted: list[tuple[IpEntry, float]] = []
        for ip in pool.ips:
            if ip.state not in SENDING_STATES or ip.transport in avoid:
                continue
            cap = ip.cap
            if cap is None:
                weighted.append((ip, float(ip.weight)))
                continue
            left = cap - await self._store.count(_counter(ip), _day_window(cap), now)
            if left > 0:
                weighted.append((ip, ip.weight * left / cap))
        while weighted:
            ip = self._rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]
            cap = ip.cap
            if cap is None or await self._store.take(_counter(ip), [_day_window(cap)], now) is None:
                return ip.transport
            weighted = [w for w in weighted if w[0] is not ip]  # its cap filled up meanwhile
        return None
