"""A line of JSON for every message the milter lets through: who sent it, and as what.

The return-path becomes a VERP address, so the original envelope sender is kept
here, with the queue id and message ref that later events (delivery, bounce)
are matched by.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class Accepted:
    at: float
    queue_id: str
    tenant: str
    message_ref: str
    sender: str
    return_path: str
    recipients: list[str]
    message_id: str
    transport: str


class AcceptedLog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[str] = path.open("a", encoding="utf-8")

    def write(self, record: Accepted) -> None:
        self._handle.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def read_accepted(path: Path) -> list[Accepted]:
    if not path.exists():
        return []
    return [Accepted(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line]
