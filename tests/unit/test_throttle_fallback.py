"""milter.redis_unavailable against a real Redis that is stopped and started again: local counts
on the box and adds its counts to Redis when it is back; refuse answers a 451 that says why."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from milter.throttle import UNAVAILABLE_REPLY, Throttle
from milter.throttle_fallback import RETRY_SECONDS, FallbackThrottleStore
from milter.throttle_redis import TIMEOUT_SECONDS, RedisThrottleStore
from tests.support.redis_server import RedisServer, redis_server
from tests.unit.test_throttle import limits_of

PER_HOUR = 3


class Ticks:
    """The fallback's monotonic clock, moved by the test past its retry interval."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path) as running:
        yield running


def _hour_count(server: RedisServer, tenant: str) -> int:
    client = redis.Redis(port=server.port)
    keys = client.keys(f"mailrelay:{{{tenant}}}:per_hour:*")
    return sum(int(client.get(key) or 0) for key in keys)


def test_local_counts_on_the_box_while_redis_is_away_and_adds_its_counts_when_back(
        server: RedisServer) -> None:
    tenant, ticks = f"t{uuid.uuid4().hex[:8]}", Ticks()
    limits = limits_of(0, 0, PER_HOUR, 0, 0)

    async def scenario() -> tuple[list[str | None], list[str | None], list[str | None]]:
        throttle = Throttle(FallbackThrottleStore(RedisThrottleStore(server.url, "box1"), "local", ticks))
        before = [await throttle.admit(tenant, "c1", limits)]
        server.stop()
        away = [await throttle.admit(tenant, "c1", limits) for _ in range(PER_HOUR + 1)]
        server.start()  # an empty Redis: what it held is gone with the process
        ticks.now += RETRY_SECONDS
        back = [await throttle.admit(tenant, "c1", limits) for _ in range(PER_HOUR)]
        return before, away, back

    before, away, back = asyncio.run(scenario())
    assert before == [None]
    # Away: the box counts alone, and its own count holds the limit.
    assert away[:PER_HOUR] == [None] * PER_HOUR
    assert away[PER_HOUR] is not None and "Hourly limit" in away[PER_HOUR]
    # Back (an empty Redis: the one counted before is gone with its process): the box's three went
    # to Redis, so the hour is full across boxes.
    assert all(r is not None and "Hourly limit" in r for r in back)
    assert _hour_count(server, tenant) == PER_HOUR


def test_refuse_answers_a_451_while_redis_is_away_and_sends_again_when_back(server: RedisServer) -> None:
    tenant, ticks = f"t{uuid.uuid4().hex[:8]}", Ticks()
    limits = limits_of(0, 0, PER_HOUR, 0, 2)

    async def scenario() -> list[str | None]:
        throttle = Throttle(FallbackThrottleStore(RedisThrottleStore(server.url, "box1"), "refuse", ticks))
        results = [await throttle.admit(tenant, "c1", limits)]
        server.stop()
        results += [await throttle.admit(tenant, "c1", limits) for _ in range(2)]
        server.start()
        results.append(await throttle.admit(tenant, "c1", limits))  # not retried yet: still refused
        ticks.now += RETRY_SECONDS
        results.append(await throttle.admit(tenant, "c1", limits))
        return results

    results = asyncio.run(scenario())
    assert results == [None, UNAVAILABLE_REPLY, UNAVAILABLE_REPLY, UNAVAILABLE_REPLY, None]
    assert results[1] is not None and results[1].startswith("451 4.3.0 ")


def test_a_redis_that_hangs_costs_one_timeout_then_none_until_the_retry() -> None:
    """A Redis box gone from the network (no reset, no answer): a listener that never accepts."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(0)
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        tenant, ticks = f"t{uuid.uuid4().hex[:8]}", Ticks()

        async def scenario() -> list[tuple[str | None, float]]:
            throttle = Throttle(FallbackThrottleStore(RedisThrottleStore(url, "box1"), "local", ticks))
            timed = []
            for _ in range(3):
                started = time.monotonic()
                verdict = await throttle.admit(tenant, "c1", limits_of(0, 0, PER_HOUR, 0, 0))
                timed.append((verdict, time.monotonic() - started))
            return timed

        timed = asyncio.run(scenario())
    assert [verdict for verdict, _ in timed] == [None, None, None]
    assert timed[0][1] < TIMEOUT_SECONDS * 3
    assert all(seconds < 0.1 for _, seconds in timed[1:])


def test_counts_taken_while_away_go_to_the_window_of_the_throttle_clock(server: RedisServer) -> None:
    """The windows are the throttle's (its clock), not the machine's time of the reconciling."""
    tenant, ticks = f"t{uuid.uuid4().hex[:8]}", Ticks()
    limits = limits_of(0, 0, PER_HOUR, 0, 0)
    an_hour_long_ago = 7200.5

    async def scenario() -> list[str | None]:
        throttle = Throttle(FallbackThrottleStore(RedisThrottleStore(server.url, "box1"), "local", ticks),
                            clock=lambda: an_hour_long_ago)
        server.stop()
        for _ in range(PER_HOUR):
            assert await throttle.admit(tenant, "c1", limits) is None
        server.start()
        ticks.now += RETRY_SECONDS
        return [await throttle.admit(tenant, "c1", limits)]

    back = asyncio.run(scenario())
    assert back[0] is not None and "Hourly limit" in back[0]
    assert _hour_count(server, tenant) == PER_HOUR
