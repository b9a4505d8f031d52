"""A service run as several processes of one event loop each, where more cores exist.

The front-end and the milter spend their CPU in Python, one core each at most; on a
bigger box more processes of either keep up with Postfix. The parent forks the workers
before any of them opens a database or starts a loop, passes SIGTERM and SIGINT on to
them and waits for them to finish; a worker that dies otherwise is replaced, as
Postfix's master replaces its daemons, unless workers keep failing at start. A TCP
listener is bound by each worker with SO_REUSEPORT (the kernel spreads connections over
them); a Unix socket, which has no such option, is bound once before the fork and shared.
Each worker has a slot (0 to count - 1), which its replacement takes over: a worker's own
listeners, such as its metrics port (core/metrics.py), stay where they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from types import FrameType

from core.service import run_until_signalled

log = logging.getLogger(__name__)

# Per message the front-end and the milter each take a sixth of the box's CPU or less and
# Postfix about half: one process of each keeps up until about eight cores.
CORES_PER_PROCESS = 4
RESTART_DELAY_SECONDS = 1.0
# A worker that ends this soon after its start failed to start (its port taken, say); after
# QUICK_FAILURES such ends in a row the service stops, as one process would, for its supervisor
# to see, instead of starting workers that fail forever.
QUICK_FAILURE_SECONDS = 10.0
QUICK_FAILURES = 3
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
PR_SET_PDEATHSIG = 1  # linux/prctl.h

Serve = Callable[[asyncio.Event, int], Awaitable[None]]  # the stop event, the worker's slot


def default_processes(cores: int | None = None) -> int:
    """How many processes a service runs when its setting is 0: one per CORES_PER_PROCESS cores."""
    return max(1, (cores or os.cpu_count() or 1) // CORES_PER_PROCESS)


def run_processes(count: int, serve: Serve) -> None:
    """serve() in count processes (in this one when count is 1) until SIGTERM or SIGINT;
    SystemExit(1) when workers keep failing at start."""
    if count <= 1:
        run_until_signalled(lambda stop: serve(stop, 0))
        return
    stopping = False
    workers: dict[int, tuple[float, int]] = {}  # pid: when it started, its slot
    quick_failures = 0

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):  # ended, reaped a moment ago
                os.kill(pid, signal.SIGTERM)

    def start(slot: int) -> None:
        pid = _fork(serve, slot)
        workers[pid] = (time.monotonic(), slot)
        if stopping:  # asked to stop while forking
            os.kill(pid, signal.SIGTERM)

    previous = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS}
    try:
        for slot in range(count):
            start(slot)
        while workers:
            pid, status = os.wait()
            started, slot = workers.pop(pid, (time.monotonic(), 0))
            if stopping:
                continue
            quick = time.monotonic() - started < QUICK_FAILURE_SECONDS
            quick_failures = quick_failures + 1 if quick else 0
            if quick_failures >= QUICK_FAILURES:
                log.error("workers keep failing at start (the last, %d, with status %d); stopping", pid,
                          status)
                stop(signal.SIGTERM, None)
                continue
            log.error("worker %d ended (status %d); starting another", pid, status)
            time.sleep(RESTART_DELAY_SECONDS)
            start(slot)
        if quick_failures >= QUICK_FAILURES:
            raise SystemExit(1)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _fork(serve: Serve, slot: int) -> int:
    parent = os.getpid()
    # A stop signal that reached the new worker before it set its own handlers would run the
    # parent's (a copy, in the worker) and the worker would go on serving: blocked over the fork,
    # it waits for the worker's default handler, which ends a worker that has not started.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    pid = os.fork()
    if pid:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        return pid
    code = 1
    try:
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        _stop_with(parent)
        run_until_signalled(lambda stop: serve(stop, slot))
        code = 0
    except BaseException:
        log.exception("worker %d failed", os.getpid())
    finally:
        logging.shutdown()
        os._exit(code)


def _stop_with(parent: int) -> None:
    """SIGTERM for this worker when the parent dies (killed outright, say): a worker left behind
    would go on taking connections beside the service started in its place."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        log.warning("workers may outlive their parent: prctl failed (errno %d)", ctypes.get_errno())
    if os.getppid() != parent:  # it died before prctl
        os.kill(os.getpid(), signal.SIGTERM)
