"""What a report says about one recipient."""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("hard", "soft", "complaint", "autoreply", "delivered", "unknown")


@dataclass(frozen=True)
class ReportResult:
    recipient: str
    kind: str
    reason: str
    status: str | None = None
    reply_code: int | None = None
    feedback_type: str | None = None
