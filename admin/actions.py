"""Running a change a form asked for: a refusal (MailrelayError) becomes a message, and nothing is kept."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from flask import flash

from admin.database import db
from core.errors import MailrelayError

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    ok: bool
    value: T | None = None


def attempt(action: Callable[[], T]) -> Outcome[T]:
    try:
        value = action()
        db().flush()
    except MailrelayError as exc:
        db().rollback()
        flash(str(exc), "error")
        return Outcome(False)
    return Outcome(True, value)
