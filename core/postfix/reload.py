"""The instance rendered again after its delivery transports (the pool addresses) changed."""

from __future__ import annotations

import os
import time

from core import shaping
from core.config import Settings
from core.db import make_engine, session_scope
from core.fsutil import write_atomically
from core.postfix.instance import PostfixInstance
from core.postfix.transports import delivery_transports


def render_postfix(settings: Settings) -> PostfixInstance:
    return _rendered(settings)[0]


def _rendered(settings: Settings) -> tuple[PostfixInstance, bool]:
    """The instance rendered from the database, and whether a file of it changed."""
    instance = PostfixInstance(settings)
    engine = make_engine(settings.effective_database_url)
    try:
        with session_scope(engine) as session:
            changed = instance.render(delivery_transports(session), shaping.overrides(session))
    finally:
        engine.dispose()
    return instance, changed


def rerender_postfix(settings: Settings) -> None:
    """After a change of pool addresses: new configuration, and a reload if Postfix runs and a
    file changed. A needless reload is not free: a session Postfix's master hands to a new smtpd
    as the reload happens can be left waiting for its greeting until another session ends.

    A reload keeps the queue; mail already queued for a transport still finds it. Only root
    writes the instance's configuration: a service running as the relay's own user (the panel
    under systemd) asks instead, by writing settings.postfix_reload_request, which a systemd path
    unit turns into a reload of mailrelay-postfix, which renders first (ansible/roles/postfix).
    """
    if os.geteuid() != 0:
        write_atomically(settings.postfix_reload_request, f"{time.time()}\n".encode())
        return
    instance, changed = _rendered(settings)
    if changed and instance.is_running():
        instance.start_or_reload()


def release_waiting_mail(settings: Settings) -> None:
    """After a pathway is cleared or its suspension ends: Postfix rendered again, and its queue
    flushed so the mail that waited goes now, not at its next retry minutes later."""
    rerender_postfix(settings)
    instance = PostfixInstance(settings)
    if instance.is_running():
        instance.queue().flush()
