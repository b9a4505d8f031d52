"""The Postfix instance rendered from the settings and the database (its delivery transports)."""

from __future__ import annotations

import argparse
import functools
import os
import time

from sqlalchemy.orm import Session

from core.config import Settings
from core.fsutil import write_atomically
from core.pools import delivery_transports
from core.postfix_instance import PostfixInstance
from relayctl.database import Command, SessionCommand, with_session


def render_postfix(settings: Settings) -> PostfixInstance:
    instance = PostfixInstance(settings)

    def render(session: Session) -> int:
        instance.render(delivery_transports(session))
        return 0
    with_session(settings, render)
    return instance


def rerender_postfix(settings: Settings) -> None:
    """After a change of pool addresses: new configuration, and a reload if Postfix runs.

    A reload keeps the queue; mail already queued for a transport still finds it. Only root
    writes the instance's configuration: a service running as the relay's own user (the panel
    under systemd) asks instead, by writing settings.postfix_reload_request, which a systemd path
    unit turns into a reload of mailrelay-postfix, which renders first (ansible/roles/postfix).
    """
    if os.geteuid() != 0:
        write_atomically(settings.postfix_reload_request, f"{time.time()}\n".encode())
        return
    instance = render_postfix(settings)
    if instance.is_running():
        instance.start_or_reload()


def session_command_then_rerender(command: SessionCommand) -> Command:
    """As session_command, for changes of delivery transports: Postfix is rendered again after."""
    @functools.wraps(command)
    def run(settings: Settings, args: argparse.Namespace) -> int:
        code = with_session(settings, lambda session: command(settings, session, args))
        rerender_postfix(settings)
        return code
    return run
