"""How many connections the front-end holds: per client (core.client_address) and in all.

Past either cap a new connection is answered 421 4.7.0 and closed at once, so
idle connections from one address cannot take the slots of everybody else, and
the process never reaches its file-descriptor limit: each connection holds two
descriptors (the client's, and Postfix's once it sends), so the total is kept
under half the limit, less a reserve.
"""

from __future__ import annotations

import logging
import resource
from collections import Counter

from core.client_address import client_key

log = logging.getLogger(__name__)

DESCRIPTORS_PER_CONNECTION = 2
RESERVED_DESCRIPTORS = 64


def raise_descriptor_limit() -> int:
    """Lift the soft limit on open files to the hard one; the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class ConnectionLimits:
    def __init__(self, total: int, per_client: int, descriptor_limit: int) -> None:
        affordable = max(1, (descriptor_limit - RESERVED_DESCRIPTORS) // DESCRIPTORS_PER_CONNECTION)
        if total > affordable:
            log.warning("smtp.max_connections %d lowered to %d: the process may open %d files", total,
                        affordable, descriptor_limit)
        self.total = min(total, affordable)
        self.per_client = per_client
        self._open: Counter[str] = Counter()
        self._count = 0

    def admit(self, address: str) -> bool:
        key = client_key(address)
        if self._count >= self.total or (self.per_client and self._open[key] >= self.per_client):
            return False
        self._open[key] += 1
        self._count += 1
        return True

    def release(self, address: str) -> None:
        key = client_key(address)
        self._open[key] -= 1
        if self._open[key] <= 0:
            del self._open[key]
        self._count -= 1
