"""Throttle counters in Redis, and what happens while Redis cannot be reached
(milter.redis_unavailable).

- "local" (the default): mail keeps flowing. Each check is counted in this process's memory,
  so every limit still holds per box meanwhile (a tenant may send its limit from each box);
  when Redis answers again the counts taken here for windows still running are added to
  Redis's, so the shared count includes them, and the memory is dropped.
- "refuse": every message gets StoreUnavailable, which the throttle answers with a 451 that
  says why; clients retry, as they do for any 4xx.

After a failure Redis is tried again at most every RETRY_SECONDS, so while it is away no
message waits for a connection timeout, and one that hangs costs at most the timeouts of
RedisThrottleStore.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import RedisError

from milter.metrics import REDIS_UNAVAILABLE
from milter.throttle import StoreUnavailable, Window
from milter.throttle_memory import MemoryThrottleStore
from milter.throttle_redis import RedisThrottleStore

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0
MODES = ("local", "refuse")

T = TypeVar("T")


class _Away:
    """What _shared gives while Redis is away."""


AWAY = _Away()


class FallbackThrottleStore:
    def __init__(self, redis: RedisThrottleStore, mode: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        assert mode in MODES
        self._redis = redis
        self._mode = mode
        self._clock = clock
        self._retry_at = 0.0
        self._local = MemoryThrottleStore(None)
        # (subject, window name, window index) -> (messages counted here, the window's seconds)
        self._unsynced: dict[tuple[str, str, int], tuple[int, int]] = {}

    async def _shared(self, call: Callable[[], Awaitable[T]], now: float | None) -> T | _Away:
        """call's answer from Redis; AWAY when Redis is away (or known to be, until the retry).
        Counts taken here meanwhile go to Redis first, by the windows they fall in at now."""
        if self._clock() < self._retry_at:
            return AWAY
        try:
            if self._unsynced and now is not None:
                await self._reconcile(now)
            return await call()
        except (RedisError, OSError) as exc:
            if self._retry_at == 0.0:
                log.error("Redis cannot be reached (%s); throttle counters: %s until it is back", exc,
                          "this box's own" if self._mode == "local" else "refusing mail")
            self._retry_at = self._clock() + RETRY_SECONDS
            return AWAY

    def _away(self) -> None:
        REDIS_UNAVAILABLE.labels(self._mode).inc()
        if self._mode == "refuse":
            raise StoreUnavailable("Redis, where the sending limits are counted, cannot be reached")

    async def _reconcile(self, now: float) -> None:
        for (subject, name, index), (count, seconds) in list(self._unsynced.items()):
            window = Window(name, seconds, 0)
            if window.index(now) == index:
                await self._redis.add(subject, window, now, count)
            del self._unsynced[(subject, name, index)]
        self._local = MemoryThrottleStore(None)
        if self._retry_at:
            log.warning("Redis is back; counts taken meanwhile are added to it")
        self._retry_at = 0.0

    async def take(self, subject: str, windows: list[Window], now: float) -> Window | None:
        shared = await self._shared(lambda: self._redis.take(subject, windows, now), now)
        if not isinstance(shared, _Away):
            return shared
        self._away()
        full = await self._local.take(subject, windows, now)
        if full is None:
            for window in windows:
                key = (subject, window.name, window.index(now))
                self._unsynced[key] = (self._unsynced.get(key, (0, 0))[0] + 1, window.seconds)
        return full

    async def count(self, subject: str, window: Window, now: float) -> int:
        shared = await self._shared(lambda: self._redis.count(subject, window, now), now)
        if not isinstance(shared, _Away):
            return shared
        self._away()
        return await self._local.count(subject, window, now)

    async def hold_connection(self, subject: str, connection: str, limit: int, now: float) -> bool:
        shared = await self._shared(lambda: self._redis.hold_connection(subject, connection, limit, now), now)
        if not isinstance(shared, _Away):
            return shared
        self._away()
        return await self._local.hold_connection(subject, connection, limit, now)

    async def release_connection(self, subject: str, connection: str) -> None:
        await self._local.release_connection(subject, connection)
        await self._shared(lambda: self._redis.release_connection(subject, connection), None)

    async def close(self) -> None:
        await self._redis.close()
