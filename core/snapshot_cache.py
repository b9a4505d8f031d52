"""An in-memory snapshot of database state that reloads when the directory version moves.

Services read only the snapshot on their hot path; a background task polls the
single directory-version row and reloads the snapshot when it has changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from sqlalchemy import Engine

from core.db import directory_version

log = logging.getLogger(__name__)


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


S = TypeVar("S", bound=Versioned)


class SnapshotCache(Generic[S]):
    def __init__(self, engine: Engine, load: Callable[[Engine], S]) -> None:
        self._engine = engine
        self._load = load
        self.snapshot = load(engine)

    def refresh_if_changed(self) -> bool:
        if directory_version(self._engine) == self.snapshot.version:
            return False
        self.snapshot = self._load(self._engine)
        log.info("directory reloaded at version %d", self.snapshot.version)
        return True

    async def keep_fresh(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.refresh_if_changed)
            except Exception:
                log.exception("directory refresh failed; serving the last snapshot")
