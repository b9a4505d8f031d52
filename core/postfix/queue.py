"""The Postfix instance's queue, as postqueue and postsuper show and change it.

Queue ids are checked against Postfix's alphabet before they reach postsuper, whose
argument "ALL" would otherwise act on the whole queue. postsuper runs only as root: a service
running as the relay's own user asks the root queue helper instead (core.postfix.queue_helper).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.errors import InvalidInputError, PostfixError
from core.postfix.queue_helper import ask_queue_helper

QUEUE_ID = re.compile(r"^[0-9A-Za-z]{6,20}$")
_QUEUED_AS = re.compile(r"queued as ([0-9A-Za-z]+)")


def queued_as(reply_text: str) -> str | None:
    """The queue id Postfix's 250 to a message names ("Ok: queued as 4ABC..."), if it names one."""
    found = _QUEUED_AS.search(reply_text)
    return found.group(1) if found else None


QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")
ACTIONS = {"hold": "-h", "release": "-H", "delete": "-d", "requeue": "-r"}


@dataclass(frozen=True)
class QueuedMessage:
    queue_id: str
    queue: str
    arrived: datetime
    size: int
    sender: str
    recipients: list[tuple[str, str]]  # address, why it is delayed ("" when not yet tried)


class PostfixQueue:
    def __init__(self, config_dir: Path, queue_dir: Path, helper_socket: Path | None = None) -> None:
        self._config_dir = config_dir
        self._queue_dir = queue_dir
        self._helper_socket = helper_socket

    def _run(self, *command: str, stdin: str = "") -> str:
        try:
            result = subprocess.run([*command], input=stdin, capture_output=True, text=True, timeout=60,
                                    check=False)
        except FileNotFoundError as exc:
            raise PostfixError(f"{command[0]} is not installed (apt-get install postfix)") from exc
        if result.returncode != 0:
            raise PostfixError(f"{command[0]} failed: {(result.stderr or result.stdout).strip()}")
        return result.stdout

    def messages(self, limit: int = 500) -> list[QueuedMessage]:
        out = self._run("postqueue", "-c", str(self._config_dir), "-j")
        found = []
        for line in out.splitlines()[:limit]:
            item = json.loads(line)
            found.append(QueuedMessage(
                queue_id=item["queue_id"], queue=item["queue_name"],
                arrived=datetime.fromtimestamp(item["arrival_time"], UTC).replace(tzinfo=None),
                size=int(item["message_size"]), sender=item.get("sender", ""),
                recipients=[(r["address"], r.get("delay_reason", "")) for r in item.get("recipients", [])]))
        return found

    def queue_ids(self) -> set[str]:
        """The queue ids of every message queued, from the queue's directories (cheap, unlike
        postqueue, and with no master running); a missing or unreadable directory counts as empty."""
        return {name for queue in QUEUES for _root, _dirs, files in os.walk(self._queue_dir / queue)
                for name in files}

    def size(self) -> int:
        return len(self.queue_ids())

    def act(self, action: str, queue_ids: list[str]) -> None:
        if action not in ACTIONS:
            raise InvalidInputError(f"unknown queue action {action!r}")
        if not queue_ids or not all(QUEUE_ID.match(q) for q in queue_ids):
            raise InvalidInputError("give one or more queue ids")
        if os.geteuid() != 0 and self._helper_socket is not None and self._helper_socket.exists():
            ask_queue_helper(self._helper_socket, action, queue_ids)
            return
        # "-": the ids come on standard input, one per line.
        self._run("postsuper", "-c", str(self._config_dir), ACTIONS[action], "-",
                  stdin="\n".join(queue_ids) + "\n")

    def flush(self) -> None:
        self._run("postqueue", "-c", str(self._config_dir), "-f")
