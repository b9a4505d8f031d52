"""An in-memory snapshot of database state that reloads when the directory version moves.

Services read only the snapshot on their hot path; a background task polls the
single directory-version row and reloads the snapshot when it has changed. Each load
writes the version now served to a file of the service's own (Settings.directory_loaded_file),
so an operator, or a test, sees when a change has reached every service.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from sqlalchemy import Engine

from core.db import directory_version
from core.fsutil import write_atomically

log = logging.getLogger(__name__)
# A change made in the panel or by relayctl reaches every service within this: one small
# SELECT per service per interval.
POLL_SECONDS = 1.0
# The services that serve a snapshot, by the name of their loaded file.
SERVICES = ("front-end", "milter", "intake")


def served_version(loaded_file: Path) -> int | None:
    """The version a service last loaded; None if it never has (or is not installed here)."""
    try:
        return int(loaded_file.read_text())
    except (FileNotFoundError, ValueError):
        return None


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


S = TypeVar("S", bound=Versioned)


class SnapshotCache(Generic[S]):
    def __init__(self, engine: Engine, load: Callable[[Engine], S], loaded_file: Path) -> None:
        self._engine = engine
        self._load = load
        self._loaded_file = loaded_file
        self.snapshot = load(engine)
        self._report()

    def refresh_if_changed(self) -> bool:
        if directory_version(self._engine) == self.snapshot.version:
            return False
        self.snapshot = self._load(self._engine)
        log.info("directory reloaded at version %d", self.snapshot.version)
        self._report()
        return True

    def _report(self) -> None:
        write_atomically(self._loaded_file, f"{self.snapshot.version}\n".encode())

    async def keep_fresh(self, interval: float = POLL_SECONDS) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.refresh_if_changed)
            except Exception:
                log.exception("directory refresh failed; serving the last snapshot")
