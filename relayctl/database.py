"""A database session for one relayctl command, committed when the command returns."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable

from sqlalchemy.orm import Session

from core.config import Settings
from core.db import make_engine, session_scope
from core.postfix.reload import rerender_postfix


def with_session(settings: Settings, action: Callable[[Session], int]) -> int:
    engine = make_engine(settings.effective_database_url)
    try:
        with session_scope(engine) as session:
            return action(session)
    finally:
        engine.dispose()


SessionCommand = Callable[[Settings, Session, argparse.Namespace], int]
Command = Callable[[Settings, argparse.Namespace], int]


def session_command(command: SessionCommand) -> Command:
    """A relayctl command that runs inside one database session."""
    @functools.wraps(command)
    def run(settings: Settings, args: argparse.Namespace) -> int:
        return with_session(settings, lambda session: command(settings, session, args))
    return run


def session_command_then_rerender(command: SessionCommand) -> Command:
    """As session_command, for changes of delivery transports: Postfix is rendered again after."""
    @functools.wraps(command)
    def run(settings: Settings, args: argparse.Namespace) -> int:
        code = with_session(settings, lambda session: command(settings, session, args))
        rerender_postfix(settings)
        return code
    return run
