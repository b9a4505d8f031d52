"""A recording MX as a process of its own, for a network namespace the test enters with
`ip netns exec`: python -m tests.support.mx_process HOST PORT FOLDER. Each message it
accepts becomes FOLDER/<n>.eml, with FOLDER/<n>.json holding the envelope and the peer."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class _Recorder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.original_content, bytes)
        with self.lock:
            self.count += 1
            number = self.count
        peer = session.peer[0] if isinstance(session.peer, tuple) else ""
        (self.folder / f"{number}.json").write_text(json.dumps(
            {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos, "peer": peer,
             "helo": session.host_name}))
        # Written last: a reader that sees the message sees its envelope too.
        (self.folder / f"{number}.eml").write_bytes(envelope.original_content)
        return "250 2.0.0 Ok: stored"


def main(host: str, port: int, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(_Recorder(folder), hostname=host, port=port, data_size_limit=0,
                            decode_data=False, enable_SMTPUTF8=True)
    controller.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    controller.stop()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))
