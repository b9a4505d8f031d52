"""RFC 3834 automatic replies (vacation and the like): the person who is away."""

from __future__ import annotations

import re
from email.message import Message

from core.bounces.fields import first_address
from core.bounces.model import ReportResult

_VACATION_SUBJECT = re.compile(
    r"out of (the )?office|auto(matic)?[ -]?reply|vacation|away from|abwesen|absence", re.IGNORECASE)


def parse_autoreply(message: Message) -> list[ReportResult] | None:
    auto = str(message.get("Auto-Submitted", "")).lower().startswith("auto-replied")
    marked = auto or message.get("X-Autoreply") or message.get("X-Autorespond")
    if not marked and not _VACATION_SUBJECT.search(str(message.get("Subject", ""))):
        return None
    person = first_address(str(message.get("From", "")))
    if person is None or re.match(r"(mailer-daemon|postmaster)@", person, re.IGNORECASE):
        return None
    return [ReportResult(person, "autoreply", "vacation")]
