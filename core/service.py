"""Running a service's event loop until SIGTERM or SIGINT asks it to stop."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

# The loop reports each failed accept() (out of file descriptors, say) as it retries:
# thousands a second. One line a second at most says the same.
LOOP_ERROR_INTERVAL_SECONDS = 1.0


class QuietLoopErrors:
    """An event-loop exception handler that logs each kind of error once an interval at most."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: dict[str, float] = {}
        self._unsaid: dict[str, int] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exception = context.get("exception")
        kind = f"{context.get('message', '')}: {type(exception).__name__ if exception else ''}"
        now = self._clock()
        if now - self._last.get(kind, float("-inf")) < LOOP_ERROR_INTERVAL_SECONDS:
            self._unsaid[kind] = self._unsaid.get(kind, 0) + 1
            return
        self._last[kind] = now
        unsaid = self._unsaid.pop(kind, 0)
        log.error("%s%s", context.get("message", "event loop error"),
                  f" ({unsaid} more like it not logged)" if unsaid else "", exc_info=exception)


def run_until_signalled(serve: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(QuietLoopErrors())
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(stop)

    asyncio.run(run())
