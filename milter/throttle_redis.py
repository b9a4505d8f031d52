"""Throttle counters in Redis, shared by every box; each check-and-count is one atomic script."""

from __future__ import annotations

from typing import Any

import redis.asyncio as redis

from milter.throttle import CONNECTION_LEASE_SECONDS, Window

# KEYS: one counter per window. ARGV: the limits, then each key's time to live.
# Returns 0 when counted, else the (1-based) index of the full window.
_TAKE = """
local n = #KEYS
for i = 1, n do
  if tonumber(redis.call('GET', KEYS[i]) or '0') >= tonumber(ARGV[i]) then return i end
end
for i = 1, n do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], tonumber(ARGV[n + i]))
end
return 0
"""

# KEYS[1]: sorted set of connections scored by lease expiry. ARGV: connection, limit, now, lease.
_HOLD = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], tonumber(ARGV[3]) + tonumber(ARGV[4]), ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
"""


def _key(subject: str, *parts: object) -> str:
    # The {subject} hash tag keeps one subject's keys in one cluster slot, as scripts need.
    return ":".join(["mailrelay", "{" + subject + "}", *map(str, parts)])


# A Redis box that is gone (not merely stopped) must not hold a message for long.
TIMEOUT_SECONDS = 1.0


class RedisThrottleStore:
    def __init__(self, url: str, box_id: str) -> None:
        self._redis: redis.Redis = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT_SECONDS,
                                                        socket_timeout=TIMEOUT_SECONDS)
        self._box_id = box_id
        self._take: Any = self._redis.register_script(_TAKE)
        self._hold: Any = self._redis.register_script(_HOLD)

    async def take(self, subject: str, windows: list[Window], now: float) -> Window | None:
        if not windows:
            return None
        keys = [_key(subject, w.name, w.index(now)) for w in windows]
        ttls = [int(w.ends_at(now) - now) + 1 for w in windows]
        full = int(await self._take(keys=keys, args=[w.limit for w in windows] + ttls))
        return None if full == 0 else windows[full - 1]

    async def add(self, subject: str, window: Window, now: float, count: int) -> None:
        """Count messages counted elsewhere (on one box while Redis was away) in a running window."""
        key = _key(subject, window.name, window.index(now))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(key, count)
            pipe.expire(key, int(window.ends_at(now) - now) + 1)
            await pipe.execute()

    async def count(self, subject: str, window: Window, now: float) -> int:
        return int(await self._redis.get(_key(subject, window.name, window.index(now))) or 0)

    async def hold_connection(self, subject: str, connection: str, limit: int, now: float) -> bool:
        member = f"{self._box_id}:{connection}"
        held = await self._hold(keys=[_key(subject, "connections")],
                                args=[member, limit, now, CONNECTION_LEASE_SECONDS])
        return bool(held)

    async def release_connection(self, subject: str, connection: str) -> None:
        await self._redis.zrem(_key(subject, "connections"), f"{self._box_id}:{connection}")

    async def close(self) -> None:
        await self._redis.aclose()
