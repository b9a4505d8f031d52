"""Fake MX hosts for the test world: each on a loopback address of its own, port 25.

Each records who connected (source address, HELO) and what it received, and answers
RCPT with scripted replies on demand (a 4xx now, a 5xx always, a rate limit, ...), else 250.
"""

from __future__ import annotations

import ssl
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.sink import Received


@dataclass
class _MxHandler:
    received: list[Received] = field(default_factory=list)
    scripted: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    always: dict[str, str] = field(default_factory=dict)
    # (how many recipients it takes, the reply to every one past that): a receiver's rate limit.
    throttle: tuple[int, str] | None = None
    taken: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        with self.lock:
            queued = self.scripted.get(address)
            reply = queued.popleft() if queued else self.always.get(address, "")
            if not reply and self.throttle is not None and self.taken >= self.throttle[0]:
                reply = self.throttle[1]
            if not reply:
                self.taken += 1
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.original_content, bytes)
        peer = session.peer[0] if isinstance(session.peer, tuple) else ""
        with self.lock:
            self.received.append(Received(envelope.mail_from or "", list(envelope.rcpt_tos),
                                          envelope.original_content, peer, session.host_name or ""))
        return "250 2.0.0 Ok: queued"


class FakeMx:
    def __init__(self, address: str, port: int = 25, tls_context: ssl.SSLContext | None = None) -> None:
        """tls_context: offer STARTTLS with it; None: no STARTTLS."""
        self.address = address
        self._handler = _MxHandler()
        self._controller = Controller(self._handler, hostname=address, port=port, decode_data=False,
                                      enable_SMTPUTF8=True, data_size_limit=0, tls_context=tls_context)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def reply_next(self, recipient: str, *replies: str) -> None:
        """Answer the next RCPTs for this recipient with these replies, then 250 again."""
        with self._handler.lock:
            self._handler.scripted[recipient].extend(replies)

    def always_reply(self, recipient: str, reply: str) -> None:
        with self._handler.lock:
            self._handler.always[recipient] = reply

    def throttle_after(self, recipients: int, reply: str) -> None:
        """Take this many more recipients, then answer every RCPT with reply, until unthrottled."""
        with self._handler.lock:
            self._handler.throttle, self._handler.taken = (recipients, reply), 0

    def unthrottle(self) -> None:
        with self._handler.lock:
            self._handler.throttle = None

    @property
    def received(self) -> list[Received]:
        with self._handler.lock:
            return list(self._handler.received)
