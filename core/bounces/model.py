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
    # The address the sender used, when the report names it apart (a DSN's Original-Recipient:
    # the message reached recipient through an alias or a forward).
    original_recipient: str | None = None
