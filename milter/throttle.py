"""Per-tenant limits (core/limits.py): messages per window, and concurrent connections.

Windows are fixed and aligned to UTC (the second, the minute, the hour, the day), so a
refusal can say exactly when to retry. The counting itself lives in a store:
in the milter's memory on one box (milter.throttle_memory), in Redis when
several boxes share a tenant's limits (milter.throttle_redis).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from core.limits import BY_NAME, CONNECTIONS, WINDOWS
from milter.metrics import THROTTLE_REFUSALS

# A connection's hold on a concurrency slot lapses this long after its last message,
# so a box that dies does not hold its slots for ever.
CONNECTION_LEASE_SECONDS = 600


# Where the counters are cannot be reached, and the settings say to refuse meanwhile.
UNAVAILABLE_REPLY = "451 4.3.0 Sending limits cannot be checked now; try again in a few minutes"


class StoreUnavailable(Exception):
    """The counters cannot be reached, and messages wait until they can."""


@dataclass(frozen=True)
class Window:
    """One of core.limits.WINDOWS with the tenant's value; its name keys its counter."""

    name: str
    seconds: int
    limit: int

    def index(self, now: float) -> int:
        return int(now // self.seconds)

    def ends_at(self, now: float) -> float:
        return (self.index(now) + 1) * self.seconds


class ThrottleStore(Protocol):
    """Counters per subject: a tenant's (its limits), or a pool address's (its warm-up cap)."""

    async def take(self, subject: str, windows: list[Window], now: float) -> Window | None:
        """Count one message in every window, unless one is full: then count none, return it."""

    async def count(self, subject: str, window: Window, now: float) -> int:
        """What the window holds now."""

    async def hold_connection(self, subject: str, connection: str, limit: int, now: float) -> bool:
        """Whether this connection may send: it holds, or now gets, one of `limit` slots."""

    async def release_connection(self, subject: str, connection: str) -> None: ...

    async def close(self) -> None: ...


def _windows(values: Mapping[str, int]) -> list[Window]:
    return [Window(w.name, w.window_seconds, values[w.name]) for w in WINDOWS if values[w.name] > 0]


class Throttle:
    def __init__(self, store: ThrottleStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._now = clock

    async def admit(self, tenant: str, connection: str, limits: Mapping[str, int]) -> str | None:
        """None when the message may go; otherwise the 451 reply that says which limit and when."""
        now = self._now()
        connections = limits[CONNECTIONS.name]
        try:
            if connections > 0 and not await self._store.hold_connection(tenant, connection, connections,
                                                                         now):
                THROTTLE_REFUSALS.labels(CONNECTIONS.name).inc()
                return CONNECTIONS.refusal_text(connections)
            full = await self._store.take(tenant, _windows(limits), now)
        except StoreUnavailable:
            return UNAVAILABLE_REPLY
        if full is None:
            return None
        THROTTLE_REFUSALS.labels(full.name).inc()
        return BY_NAME[full.name].refusal_text(full.limit, full.ends_at(now))

    async def connection_closed(self, tenant: str, connection: str) -> None:
        await self._store.release_connection(tenant, connection)
