"""A recording SMTP sink on loopback: where the test Postfix delivers."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.waiting import eventually


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    source_address: str = ""
    helo: str = ""


@dataclass
class _Recorder:
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.original_content, bytes)
        with self.lock:
            peer = session.peer[0] if isinstance(session.peer, tuple) else ""
            self.messages.append(Received(envelope.mail_from or "", list(envelope.rcpt_tos),
                                          envelope.original_content, peer, session.host_name or ""))
        return "250 2.0.0 Ok: stored"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class Sink:
    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._recorder = _Recorder()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self._recorder, hostname=self.host, port=self.port,
                                      data_size_limit=0, decode_data=False,
                                      enable_SMTPUTF8=True)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[Received]:
        with self._recorder.lock:
            return list(self._recorder.messages)

    def clear(self) -> None:
        with self._recorder.lock:
            self._recorder.messages.clear()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        def arrived() -> list[Received]:
            messages = self.messages
            return messages if len(messages) >= count else []
        return eventually(arrived, f"{count} messages at the sink", timeout)

    def with_subject(self, subject: str) -> list[Received]:
        return [m for m in self.messages if f"Subject: {subject}\r\n".encode() in m.content]

    def wait_for_subject(self, subject: str, timeout: float = 20.0) -> list[Received]:
        return eventually(lambda: self.with_subject(subject), f"message {subject!r} at the sink", timeout)
