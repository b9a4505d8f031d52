"""Per-tenant limits: messages per second, hour and day, and concurrent connections.

Windows are fixed and aligned to UTC (the second, the hour, the day), so a
refusal can say exactly when to retry. The counting itself lives in a store:
in the milter's memory on one box (milter.throttle_memory), in Redis when
several boxes share a tenant's limits (milter.throttle_redis).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from milter.directory import Limits

# A connection's hold on a concurrency slot lapses this long after its last message,
# so a box that dies does not hold its slots for ever.
CONNECTION_LEASE_SECONDS = 600


@dataclass(frozen=True)
class Window:
    name: str
    seconds: int
    limit: int

    def index(self, now: float) -> int:
        return int(now // self.seconds)

    def ends_at(self, now: float) -> float:
        return (self.index(now) + 1) * self.seconds


class ThrottleStore(Protocol):
    async def take(self, tenant: str, windows: list[Window], now: float) -> Window | None:
        """Count one message in every window, unless one is full: then count none, return it."""

    async def count(self, tenant: str, window: Window, now: float) -> int:
        """What the window holds now."""

    async def hold_connection(self, tenant: str, connection: str, limit: int, now: float) -> bool:
        """Whether this connection may send: it holds, or now gets, one of `limit` slots."""

    async def release_connection(self, tenant: str, connection: str) -> None: ...

    async def close(self) -> None: ...


def _windows(limits: Limits) -> list[Window]:
    candidates = [Window("second", 1, limits.per_second), Window("minute", 60, limits.per_minute),
                  Window("hour", 3600, limits.per_hour), Window("day", 86400, limits.per_day)]
    return [w for w in candidates if w.limit > 0]


def refusal_text(window: Window, now: float) -> str:
    retry = datetime.fromtimestamp(window.ends_at(now), UTC)
    if window.name == "second":
        return (f"451 4.7.1 Sending rate limit of {window.limit} messages per second reached; "
                "try again in 1 second")
    if window.name == "minute":
        return (f"451 4.7.1 Sending rate limit of {window.limit} messages per minute reached; "
                f"try again after {retry:%H:%M:%S} UTC")
    if window.name == "hour":
        return (f"451 4.7.1 Hourly limit of {window.limit} messages reached; "
                f"try again after {retry:%H:%M} UTC")
    return (f"451 4.7.1 Daily quota of {window.limit} messages reached; "
            f"try again after {retry:%Y-%m-%d %H:%M} UTC")


def connections_refusal(limit: int) -> str:
    return f"451 4.7.1 Limit of {limit} concurrent connections reached; try again shortly"


class Throttle:
    def __init__(self, store: ThrottleStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._now = clock

    async def admit(self, tenant: str, connection: str, limits: Limits) -> str | None:
        """None when the message may go; otherwise the 451 reply that says which limit and when."""
        now = self._now()
        if limits.connections > 0 and not await self._store.hold_connection(
                tenant, connection, limits.connections, now):
            return connections_refusal(limits.connections)
        full = await self._store.take(tenant, _windows(limits), now)
        return None if full is None else refusal_text(full, now)

    async def connection_closed(self, tenant: str, connection: str) -> None:
        await self._store.release_connection(tenant, connection)
