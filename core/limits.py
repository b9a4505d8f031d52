"""A tenant's sending limits, defined once: each row here is a limit everywhere.

Its name is the setting under `limits:` (the box default), the key in the tenant's
own limits (core.models.Tenant.limits), the CLI flag (`relayctl tenant limits
--per-second`), the panel's field and the API's property; a window's name is also
its counter's key in the throttle's stores. A tenant's own values live in one JSON
column, so a new window is one row here and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from core.errors import InvalidInputError


@dataclass(frozen=True)
class Limit:
    name: str
    label: str
    # The box's default; 0 means no limit.
    default: int
    # A window's length; 0 for the limit on concurrent connections, which is no window.
    window_seconds: int
    # The 451's text: {limit} and {retry}, when the window ends (a UTC datetime).
    refusal: str

    def refusal_text(self, limit: int, window_ends_at: float | None = None) -> str:
        retry = None if window_ends_at is None else datetime.fromtimestamp(window_ends_at, UTC)
        return "451 4.7.1 " + self.refusal.format(limit=limit, retry=retry)


LIMITS: tuple[Limit, ...] = (
    Limit("per_second", "Per second", 50, 1,
          "Sending rate limit of {limit} messages per second reached; try again in 1 second"),
    Limit("per_minute", "Per minute", 0, 60,
          "Sending rate limit of {limit} messages per minute reached; try again after {retry:%H:%M:%S} UTC"),
    Limit("per_hour", "Per hour", 0, 3600,
          "Hourly limit of {limit} messages reached; try again after {retry:%H:%M} UTC"),
    Limit("per_day", "Per day", 50000, 86400,
          "Daily quota of {limit} messages reached; try again after {retry:%Y-%m-%d %H:%M} UTC"),
    Limit("concurrent_connections", "Connections", 20, 0,
          "Limit of {limit} concurrent connections reached; try again shortly"),
)
BY_NAME = {limit.name: limit for limit in LIMITS}
WINDOWS = tuple(limit for limit in LIMITS if limit.window_seconds)
CONNECTIONS = BY_NAME["concurrent_connections"]
# The most a limit may be set to: beyond it, a limit is no limit.
MAXIMUM = 10_000_000


def check(name: str, value: int | None) -> None:
    """A tenant's own value: a number from 0 (no limit) to MAXIMUM, or None (the box default)."""
    if name not in BY_NAME:
        raise InvalidInputError(f"no limit named {name!r}; one of {', '.join(BY_NAME)}")
    if value is not None and not 0 <= value <= MAXIMUM:
        raise InvalidInputError(f"{name} must be 0 (no limit) to {MAXIMUM}")


def effective(own: Mapping[str, int], defaults: Mapping[str, int]) -> dict[str, int]:
    """Each limit as it holds for a tenant: its own value, else the box default."""
    return {limit.name: own.get(limit.name, defaults[limit.name]) for limit in LIMITS}


def default_values() -> dict[str, int]:
    return {limit.name: limit.default for limit in LIMITS}
