"""An HTTP receiver for webhooks on loopback: records each request, checks its signature."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core.webhooks import signature
from relayctl.cli import main as relayctl


class WebhookReceiver:
    def __init__(self, port: int, secret: str) -> None:
        self.events: list[dict[str, Any]] = []
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                expected = signature(secret, self.headers.get("X-Mailrelay-Timestamp", ""), body)
                if self.headers.get("X-Mailrelay-Signature") == expected:
                    receiver.events.append(json.loads(body))
                    self.send_response(204)
                else:
                    receiver.bad_signatures += 1
                    self.send_response(401)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def add_webhook_by_relayctl(config_path: Path, tenant: str, url: str,
                            capsys: pytest.CaptureFixture[str]) -> str:
    """Add the tenant's webhook as an operator does; the signing secret relayctl prints once."""
    assert relayctl(["--config", str(config_path), "webhook", "add", tenant, url]) == 0
    secret = re.search(r"signing secret: (\S+)", capsys.readouterr().out)
    assert secret is not None
    return secret.group(1)
