"""core.workers: workers that keep failing at start stop the service, for its supervisor to see."""

from __future__ import annotations

import asyncio
import os
import signal
import time

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


def test_a_stop_signal_at_a_workers_birth_ends_it() -> None:
    """SIGTERM reaching a worker before it sets its own handlers (the parent stopping while it
    forks) must end it, not run the parent's handler in the worker and leave it serving."""
    armed = [True]
    os.register_at_fork(after_in_child=lambda: armed[0] and os.kill(os.getpid(), signal.SIGTERM))
    previous = signal.signal(signal.SIGTERM, lambda *_: None)  # the parent's, as run_processes sets
    try:
        pid = workers._fork(lambda stop, slot: stop.wait(), 0)
    finally:
        armed[0] = False
        signal.signal(signal.SIGTERM, previous)
    deadline = time.monotonic() + 10
    while (ended := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if ended[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert ended[0] == pid and os.WIFSIGNALED(ended[1]) and os.WTERMSIG(ended[1]) == signal.SIGTERM
