from __future__ import annotations

from core.auth_guard import Attempt, AuthFailureGuard
from core.config import AuthFailureSettings

SETTINGS = AuthFailureSettings(window_seconds=900, slowdown_after=3, slowdown_seconds=2, lockout_after=5,
                               lockout_seconds=900)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_another_users_success_resets_nothing() -> None:
    guard = AuthFailureGuard(SETTINGS, Clock())
    for n in range(4):
        guard.record_failure(Attempt.of("192.0.2.1", f"guess{n}"))
    guard.record_success(Attempt.of("192.0.2.1", "own-valid-user"))
    guard.record_failure(Attempt.of("192.0.2.1", "guess5"))
    assert guard.client_locked_out("192.0.2.1")


def test_a_username_alone_is_slowed_never_locked() -> None:
    """Anyone could otherwise lock a user out by failing under its name."""
    guard = AuthFailureGuard(SETTINGS, Clock())
    delays = [guard.record_failure(Attempt.of(f"198.51.100.{n}", "victim")) for n in range(10)]
    assert delays[0] == 0 and delays[-1] == SETTINGS.slowdown_seconds
    assert not guard.is_locked_out(Attempt.of("203.0.113.9", "victim"))
    for _ in range(5):
        guard.record_failure(Attempt.of("203.0.113.9", "victim"))
    assert guard.is_locked_out(Attempt.of("203.0.113.9", "victim"))
    assert not guard.is_locked_out(Attempt.of("203.0.113.10", "victim"))


def test_ipv6_clients_count_by_their_64() -> None:
    guard = AuthFailureGuard(SETTINGS, Clock())
    for n in range(5):
        guard.record_failure(Attempt.of(f"2001:db8:1:2::{n + 1:x}", f"u{n}"))
    assert guard.client_locked_out("2001:db8:1:2:ffff::1")
    assert not guard.client_locked_out("2001:db8:1:3::1")


def test_old_failures_are_forgotten() -> None:
    clock = Clock()
    guard = AuthFailureGuard(SETTINGS, clock)
    for n in range(1000):
        guard.record_failure(Attempt.of(f"10.0.{n // 250}.{n % 250}", "x"))
    assert len(guard) > 2000
    clock.now += SETTINGS.window_seconds + SETTINGS.lockout_seconds + 1
    guard.record_failure(Attempt.of("10.9.9.9", "y"))
    assert len(guard) == 3
