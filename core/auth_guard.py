"""Repeated authentication failures from one client (SMTP AUTH, panel login): slowed down, then locked out."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.config import AuthFailureSettings


@dataclass
class _Record:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class AuthFailureGuard:
    def __init__(self, settings: AuthFailureSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        self._records: dict[str, _Record] = {}

    def is_locked_out(self, address: str) -> bool:
        record = self._records.get(address)
        return record is not None and record.locked_until > self._clock()

    def record_failure(self, address: str) -> float:
        """Note a failure; return how long to wait before answering it."""
        now = self._clock()
        record = self._records.setdefault(address, _Record())
        horizon = now - self._settings.window_seconds
        record.failures = [t for t in record.failures if t > horizon]
        record.failures.append(now)
        count = len(record.failures)
        if count >= self._settings.lockout_after:
            record.locked_until = now + self._settings.lockout_seconds
        if count >= self._settings.slowdown_after:
            return self._settings.slowdown_seconds
        return 0.0

    def record_success(self, address: str) -> None:
        record = self._records.get(address)
        if record is not None and record.locked_until <= self._clock():
            del self._records[address]

    def forget_expired(self) -> None:
        now = self._clock()
        horizon = now - self._settings.window_seconds
        self._records = {
            address: record for address, record in self._records.items()
            if record.locked_until > now or any(t > horizon for t in record.failures)
        }
