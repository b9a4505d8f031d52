"""A bounded load for tests of failures under load: messages sent one after another in a thread
of their own until the test stops it, each one's outcome kept."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Load:
    """send(n) sends message n and gives its subject and whether it was accepted (250)."""

    def __init__(self, send: Callable[[int], tuple[str, bool]], pause: float = 0.0) -> None:
        self._send = send
        self._pause = pause
        self.outcomes: list[tuple[str, float, bool]] = []  # subject, when its answer came, accepted
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            subject, accepted = self._send(n)
            self.outcomes.append((subject, time.monotonic(), accepted))
            n += 1
            time.sleep(self._pause)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(120)

    def accepted(self) -> list[str]:
        return [subject for subject, _, accepted in self.outcomes if accepted]

    def refused(self) -> list[str]:
        return [subject for subject, _, accepted in self.outcomes if not accepted]

    def answered_between(self, start: float, end: float) -> int:
        return len([when for _, when, _ in self.outcomes if start < when < end])
