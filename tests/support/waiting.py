"""The tests' one way to wait: poll until a condition holds, or fail saying what never came."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(find: Callable[[], T], what: str, timeout: float = 20.0, every: float = 0.05) -> T:
    """find()'s first truthy result within timeout seconds; else AssertionError naming what."""
    deadline = time.monotonic() + timeout
    while True:
        found = find()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise AssertionError(f"no {what} within {timeout:g}s (last: {found!r})")
        time.sleep(every)
