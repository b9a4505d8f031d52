"""Adaptive shaping applied to this box's Postfix (core/shaping.py): pathways whose time is up
climb back, and when what main.cf must say of the pathways changed (here or on another box
sharing the database), the instance is rendered again and reloaded; when a suspension ends,
the queue is flushed so the mail that waited goes at once."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from core import shaping
from core.config import Settings
from core.db import session_scope
from core.events import record_events
from core.postfix.reload import release_waiting_mail, rerender_postfix

log = logging.getLogger(__name__)


class Shaper:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._applied: shaping.Overrides | None = None  # None: not yet rendered by this process

    def poll(self) -> bool:
        """Whether the instance was rendered again."""
        with session_scope(self._engine) as session:
            record_events(session, shaping.step(session, self._settings))
            wanted = shaping.overrides(session)
        if wanted == self._applied:
            return False
        lifted = set(self._applied.deferred if self._applied else ()) - set(wanted.deferred)
        (release_waiting_mail if lifted else rerender_postfix)(self._settings)
        log.info("pathways: suspended %s; slowed %s", ", ".join(wanted.deferred) or "none",
                 ", ".join(f"{t} ({c} at once, {d}s apart)" for t, c, d in wanted.limits) or "none")
        self._applied = wanted
        return True
