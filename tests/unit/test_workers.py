"""core.workers: workers that keep failing at start stop the service, for its supervisor to see."""

from __future__ import annotations

import asyncio

import pytest

from core import workers


def test_workers_that_keep_failing_at_start_stop_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "RESTART_DELAY_SECONDS", 0.01)
    forks: list[int] = []
    fork = workers._fork

    def counted(serve: workers.Serve, slot: int) -> int:
        forks.append(slot)
        return fork(serve, slot)
    monkeypatch.setattr(workers, "_fork", counted)

    async def port_taken(stop: asyncio.Event, slot: int) -> None:
        raise OSError("[Errno 98] Address already in use")

    with pytest.raises(SystemExit) as stopped:
        workers.run_processes(2, port_taken)
    assert stopped.value.code == 1
    # Two workers, two more in place of the first two to fail; the third failure stops it all.
    assert len(forks) == 4
    # A replacement takes the slot of the worker it replaces (its metrics port, say).
    assert forks[:2] == [0, 1] and set(forks[2:]) <= {0, 1}
