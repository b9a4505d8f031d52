"""Throttle counters in the milter's memory, saved to a file so they survive a restart.

The file is rewritten atomically at most every SAVE_INTERVAL_SECONDS while counts
change, and on a clean stop; a crash loses at most that interval's counts.
Windows of a second are not saved: they are over before a restart is.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from core.fsutil import write_atomically
from core.limits import WINDOWS
from milter.throttle import CONNECTION_LEASE_SECONDS, Window

log = logging.getLogger(__name__)

SAVE_INTERVAL_SECONDS = 0.5
_SAVED_WINDOWS = frozenset(w.name for w in WINDOWS if w.window_seconds > 1)


class MemoryThrottleStore:
    """state_file None: counters kept in memory alone (milter/throttle_fallback.py's)."""

    def __init__(self, state_file: Path | None) -> None:
        self._state_file = state_file
        # (subject, window name, window index) -> messages counted
        self._counts: dict[tuple[str, str, int], int] = {}
        self._connections: dict[str, dict[str, float]] = {}
        self._dirty = False
        self._load()

    def _load(self) -> None:
        if self._state_file is None:
            return
        try:
            saved = json.loads(self._state_file.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("throttle counters in %s unreadable (%s); starting from zero", self._state_file, exc)
            return
        for subject, name, index, count in saved.get("counts", []):
            if name in _SAVED_WINDOWS:
                self._counts[(str(subject), str(name), int(index))] = int(count)

    def save(self) -> None:
        if self._state_file is None:
            return
        counts = [[t, n, i, c] for (t, n, i), c in self._counts.items() if n in _SAVED_WINDOWS]
        write_atomically(self._state_file, json.dumps({"counts": counts}).encode())
        self._dirty = False

    async def keep_saved(self) -> None:
        while True:
            await asyncio.sleep(SAVE_INTERVAL_SECONDS)
            if self._dirty:
                await asyncio.to_thread(self.save)

    def _prune(self, windows: list[Window], now: float) -> None:
        current = {(w.name, w.index(now)) for w in windows}
        stale = [k for k in self._counts if (k[1], k[2]) not in current and k[1] in {w.name for w in windows}]
        for key in stale:
            del self._counts[key]

    async def take(self, subject: str, windows: list[Window], now: float) -> Window | None:
        keys = [(subject, w.name, w.index(now)) for w in windows]
        for window, key in zip(windows, keys, strict=True):
            if self._counts.get(key, 0) >= window.limit:
                return window
        for key in keys:
            if key not in self._counts:
                self._prune(windows, now)
                break
        for key in keys:
            self._counts[key] = self._counts.get(key, 0) + 1
        self._dirty = True
        return None

    async def count(self, subject: str, window: Window, now: float) -> int:
        return self._counts.get((subject, window.name, window.index(now)), 0)

    async def hold_connection(self, subject: str, connection: str, limit: int, now: float) -> bool:
        leases = self._connections.setdefault(subject, {})
        for other, expires in list(leases.items()):
            if expires <= now:
                del leases[other]
        if connection not in leases and len(leases) >= limit:
            return False
        leases[connection] = now + CONNECTION_LEASE_SECONDS
        return True

    async def release_connection(self, subject: str, connection: str) -> None:
        self._connections.get(subject, {}).pop(connection, None)

    async def close(self) -> None:
        self.save()
