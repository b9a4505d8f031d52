"""What the panel's views share: the settings, the database engine, the key box and the login guard."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import Engine

from core.auth_guard import AuthFailureGuard
from core.config import Settings
from core.postfix.instance import PostfixInstance
from core.postfix.queue import PostfixQueue
from core.secretbox import SecretBox


@dataclass
class PanelContext:
    settings: Settings
    engine: Engine
    login_guard: AuthFailureGuard
    secret_box: SecretBox
    # Called after a change of pool addresses: renders Postfix's transports and reloads it.
    transports_changed: Callable[[], None]
    # AuthFailureGuard is not thread-safe; waitress serves requests from several threads.
    guard_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def postfix(self) -> PostfixInstance:
        return PostfixInstance(self.settings)

    @property
    def queue(self) -> PostfixQueue:
        return self.postfix.queue()


def panel() -> PanelContext:
    context: PanelContext = current_app.extensions["relay"]
    return context
