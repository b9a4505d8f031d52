"""Throttle windows and both stores: memory (with its file) and Redis (the real server)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from milter.throttle import Throttle, ThrottleStore
from milter.throttle_memory import MemoryThrottleStore
from milter.throttle_redis import RedisThrottleStore

NOON = 1_795_000_000.0  # a fixed instant, so windows are deterministic
def limits_of(per_second: int, per_minute: int, per_hour: int, per_day: int,
           concurrent_connections: int) -> dict[str, int]:
    return {"per_second": per_second, "per_minute": per_minute, "per_hour": per_hour, "per_day": per_day,
            "concurrent_connections": concurrent_connections}


NO_LIMITS = limits_of(0, 0, 0, 0, 0)


class Clock:
    def __init__(self) -> None:
        self.now = NOON

    def __call__(self) -> float:
        return self.now


def run(coroutine: object) -> object:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


def _redis_url() -> str:
    url = os.environ.get("RELAY_TEST_REDIS_URL")
    if not url:
        pytest.skip("RELAY_TEST_REDIS_URL is not set (.ci/run sets it where Redis runs)")
    return url


@pytest.fixture(params=["memory", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    tenant_prefix = uuid.uuid4().hex[:8]

    def make(box: str = "box1") -> ThrottleStore:
        if request.param == "memory":
            return MemoryThrottleStore(tmp_path / "throttle.json")
        return RedisThrottleStore(_redis_url(), box)

    make.tenant = f"t{tenant_prefix}"  # type: ignore[attr-defined]
    yield make


async def _admit_many(throttle: Throttle, tenant: str, limits: dict[str, int],
                      count: int) -> list[str | None]:
    return [await throttle.admit(tenant, "c1", limits) for _ in range(count)]


def test_per_second_limit_refuses_and_names_the_limit(make_store: object) -> None:
    clock = Clock()
    tenant = make_store.tenant  # type: ignore[attr-defined]
    limits = limits_of(3, 0, 0, 0, 0)

    async def scenario() -> None:
        throttle = Throttle(make_store(), clock)  # type: ignore[operator]
        results = await _admit_many(throttle, tenant, limits, 4)
        assert results[:3] == [None, None, None]
        assert results[3] is not None and results[3].startswith("451 4.7.1")
        assert "3 messages per second" in results[3]
        clock.now += 1
        assert await throttle.admit(tenant, "c1", limits) is None

    run(scenario())


def test_per_minute_limit_refuses_until_the_minute_ends(make_store: object) -> None:
    clock = Clock()
    tenant = make_store.tenant  # type: ignore[attr-defined]
    limits = limits_of(0, 2, 0, 0, 0)

    async def scenario() -> None:
        throttle = Throttle(make_store(), clock)  # type: ignore[operator]
        clock.now += 60 - clock.now % 60  # at the start of a minute
        results = await _admit_many(throttle, tenant, limits, 3)
        assert results[:2] == [None, None]
        assert results[2] is not None and "2 messages per minute" in results[2]
        clock.now += 30
        assert await throttle.admit(tenant, "c1", limits) is not None
        clock.now += 30
        assert await throttle.admit(tenant, "c1", limits) is None

    run(scenario())


def test_a_refused_message_is_not_counted(make_store: object) -> None:
    clock = Clock()
    tenant = make_store.tenant  # type: ignore[attr-defined]
    limits = limits_of(1, 0, 0, 5, 0)

    async def scenario() -> None:
        throttle = Throttle(make_store(), clock)  # type: ignore[operator]
        assert (await _admit_many(throttle, tenant, limits, 3))[1:] != [None, None]
        for _ in range(4):
            clock.now += 1
            assert await throttle.admit(tenant, "c1", limits) is None
        clock.now += 1
        refusal = await throttle.admit(tenant, "c1", limits)
        assert refusal is not None and "Daily quota of 5 messages" in refusal and "UTC" in refusal

    run(scenario())


def test_concurrent_connections(make_store: object) -> None:
    tenant = make_store.tenant  # type: ignore[attr-defined]
    limits = limits_of(0, 0, 0, 0, 2)

    async def scenario() -> None:
        throttle = Throttle(make_store(), Clock())  # type: ignore[operator]
        assert await throttle.admit(tenant, "a", limits) is None
        assert await throttle.admit(tenant, "b", limits) is None
        refusal = await throttle.admit(tenant, "c", limits)
        assert refusal is not None and "2 concurrent connections" in refusal
        assert await throttle.admit(tenant, "a", limits) is None  # a connection holding a slot keeps it
        await throttle.connection_closed(tenant, "a")
        assert await throttle.admit(tenant, "c", limits) is None

    run(scenario())


def test_memory_counts_survive_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    first = MemoryThrottleStore(tmp_path / "throttle.json")
    limits = limits_of(0, 0, 0, 2, 0)
    assert run(_admit_many(Throttle(first, clock), "acme", limits, 2)) == [None, None]
    run(first.close())
    second = MemoryThrottleStore(tmp_path / "throttle.json")
    assert run(Throttle(second, clock).admit("acme", "c1", limits)) is not None
    clock.now += 86400
    assert run(Throttle(second, clock).admit("acme", "c1", limits)) is None


def test_a_damaged_counter_file_starts_from_zero(tmp_path: Path) -> None:
    (tmp_path / "throttle.json").write_text("{not json")
    store = MemoryThrottleStore(tmp_path / "throttle.json")
    assert run(Throttle(store, Clock()).admit("acme", "c1", limits_of(0, 0, 0, 1, 0))) is None


def test_two_boxes_share_a_tenants_limits_through_redis() -> None:
    url = _redis_url()
    tenant = f"t{uuid.uuid4().hex[:8]}"
    clock = Clock()
    limits = limits_of(0, 0, 4, 0, 1)

    async def scenario() -> list[str | None]:
        box1 = Throttle(RedisThrottleStore(url, "box1"), clock)
        box2 = Throttle(RedisThrottleStore(url, "box2"), clock)
        results = [await box1.admit(tenant, "c1", limits), await box2.admit(tenant, "c1", limits)]
        await box1.connection_closed(tenant, "c1")
        results += [await box2.admit(tenant, "c1", limits) for _ in range(4)]
        return results

    results = run(scenario())
    assert results[0] is None
    assert results[1] is not None and "concurrent connections" in results[1]
    assert results[2:5] == [None, None, None]
    assert results[5] is not None and "Hourly limit of 4 messages" in results[5]
