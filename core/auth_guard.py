"""Repeated authentication failures (SMTP AUTH, panel login): slowed down, then locked out.

Failures are counted under several keys at once: the client (an IPv4 address or
IPv6 /64, core.client_address), the client with the username it tried, and the
username alone. The first two lock out; the username alone only slows down, or
anyone could lock a user out by failing under its name. A success clears only
the keys of that username: one valid credential must not buy unlimited guesses
at others. Records are forgotten once their failures have left the window.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.client_address import client_key
from core.config import AuthFailureSettings


@dataclass
class _Record:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0


@dataclass(frozen=True)
class Attempt:
    """Who tried: the keys an attempt is counted under."""

    client: str
    username: str

    @classmethod
    def of(cls, address: str, username: str) -> Attempt:
        return cls(f"client:{client_key(address)}", username.strip().lower()[:256])

    @property
    def pair(self) -> str:
        return f"{self.client} user:{self.username}"

    @property
    def user(self) -> str:
        return f"user:{self.username}"


class AuthFailureGuard:
    def __init__(self, settings: AuthFailureSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._swept = clock()

    def _locked(self, key: str) -> bool:
        record = self._records.get(key)
        return record is not None and record.locked_until > self._clock()

    def client_locked_out(self, address: str) -> bool:
        return self._locked(Attempt.of(address, "").client)

    def is_locked_out(self, attempt: Attempt) -> bool:
        return self._locked(attempt.client) or self._locked(attempt.pair)

    def record_failure(self, attempt: Attempt) -> float:
        """Note a failure; return how long to wait before answering it."""
        self._sweep()
        return max(self._count(attempt.client, True), self._count(attempt.pair, True),
                   self._count(attempt.user, False))

    def _count(self, key: str, may_lock: bool) -> float:
        now = self._clock()
        record = self._records.setdefault(key, _Record())
        horizon = now - self._settings.window_seconds
        record.failures = [t for t in record.failures if t > horizon]
        record.failures.append(now)
        count = len(record.failures)
        if may_lock and count >= self._settings.lockout_after:
            record.locked_until = now + self._settings.lockout_seconds
        return self._settings.slowdown_seconds if count >= self._settings.slowdown_after else 0.0

    def record_success(self, attempt: Attempt) -> None:
        for key in (attempt.pair, attempt.user):
            record = self._records.get(key)
            if record is not None and record.locked_until <= self._clock():
                del self._records[key]

    def _sweep(self) -> None:
        now = self._clock()
        if now - self._swept < self._settings.window_seconds:
            return
        self._swept = now
        horizon = now - self._settings.window_seconds
        self._records = {
            key: record for key, record in self._records.items()
            if record.locked_until > now or any(t > horizon for t in record.failures)
        }

    def __len__(self) -> int:
        return len(self._records)
