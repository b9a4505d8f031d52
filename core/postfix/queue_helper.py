"""Queue actions for services that are not root: one request, one answer, over a Unix socket.

postsuper (hold, release, requeue, delete) runs only as root, and the panel under systemd
runs as the relay's own user with NoNewPrivileges, so sudo is out. A systemd socket unit
(ansible/roles/postfix, Accept=yes) listens on settings.postfix_queue_helper_socket for the
relay's group and starts `relayctl queue-helper` as root per connection, its standard input
and output being the connection. The request is one JSON line, {"action", "queue_ids"}; the
answer one JSON line, {"ok": true} or {"error": "..."}. The helper checks the request as
PostfixQueue.act always does (known action, ids in Postfix's alphabet), so the socket gives
its users nothing but those four actions on named messages.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import IO

from core.errors import InvalidInputError, MailrelayError, PostfixError

REQUEST_LIMIT = 64 * 1024  # 1000 ids of at most 20 characters fit with room to spare
TIMEOUT_SECONDS = 90.0


def ask_queue_helper(socket_path: Path, action: str, queue_ids: list[str]) -> None:
    request = json.dumps({"action": action, "queue_ids": queue_ids}).encode() + b"\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(TIMEOUT_SECONDS)
            connection.connect(str(socket_path))
            connection.sendall(request)
            connection.shutdown(socket.SHUT_WR)
            answer = connection.makefile("rb").readline(REQUEST_LIMIT)
    except OSError as exc:
        raise PostfixError(f"the queue helper at {socket_path} did not answer: {exc}") from exc
    try:
        reply = json.loads(answer)
    except ValueError as exc:
        raise PostfixError("the queue helper gave no answer") from exc
    if "error" in reply:
        raise (InvalidInputError if reply.get("invalid") else PostfixError)(str(reply["error"]))


def serve_queue_request(requests: IO[bytes], answers: IO[bytes],
                        act: Callable[[str, list[str]], None]) -> None:
    """Read one request, carry it out with act, write the answer."""
    reply: dict[str, object]
    try:
        request = json.loads(requests.readline(REQUEST_LIMIT))
        if not isinstance(request, dict):
            raise InvalidInputError("a request is a JSON object")
        action, queue_ids = request.get("action"), request.get("queue_ids")
        if not isinstance(action, str) or not isinstance(queue_ids, list) \
                or not all(isinstance(q, str) for q in queue_ids):
            raise InvalidInputError("a request names an action and a list of queue ids")
        act(action, queue_ids)
        reply = {"ok": True}
    except ValueError:
        reply = {"error": "a request is one line of JSON", "invalid": True}
    except InvalidInputError as exc:
        reply = {"error": str(exc), "invalid": True}
    except MailrelayError as exc:
        reply = {"error": str(exc)}
    answers.write(json.dumps(reply).encode() + b"\n")
    answers.flush()
