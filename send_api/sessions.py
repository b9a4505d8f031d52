"""Postfix sessions kept open between requests, one set per tenant and client address.

Opening a session into Postfix's internal listener costs a connection, the greeting,
XCLIENT and EHLO: more than a small message's hand-off itself. An idle session is kept
for the next request of the same tenant from the same address (XCLIENT names both, and
Postfix logs them), as the front-end keeps one per SMTP connection; one past
relay.handoff's reuse time, or closed after a temporary refusal, is dropped.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from relay.handoff import PostfixSession

MAX_IDLE = 16


class SessionPool:
    def __init__(self, socket_path: Path, helo_name: str, timeout: float) -> None:
        self._socket_path = socket_path
        self._helo_name = helo_name
        self._timeout = timeout
        self._idle: dict[tuple[str, str], list[PostfixSession]] = defaultdict(list)

    async def acquire(self, tenant: str, client_address: str, client_port: int) -> PostfixSession:
        """An open session as the tenant; UpstreamUnavailable when Postfix cannot be reached."""
        idle = self._idle[(tenant, client_address)]
        while idle:
            session = idle.pop()
            if session.is_usable:
                return session
            session.close()
        session = PostfixSession(self._socket_path, self._helo_name, self._timeout)
        await session.open(tenant, client_address, client_port)
        return session

    def release(self, tenant: str, client_address: str, session: PostfixSession) -> None:
        idle = self._idle[(tenant, client_address)]
        if session.is_usable and len(idle) < MAX_IDLE:
            idle.append(session)
        else:
            session.close()

    async def close(self) -> None:
        for idle in self._idle.values():
            for session in idle:
                await session.quit()
        self._idle.clear()
