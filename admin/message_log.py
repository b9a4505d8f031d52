"""Finding messages in the event log, shared by the message pages and the JSON API.

A message is known by its message ref (from the VERP return path) and by Postfix's queue
ids; events carry one or both, so a message's timeline gathers the events under either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from admin.access import tenant_scope
from admin.database import db
from core.models import Event

MESSAGE_KEY = re.compile(r"^[0-9A-Za-z]{6,32}$")
MAX_FOUND = 200


@dataclass(frozen=True)
class FoundMessage:
    key: str  # message ref, else queue id
    message_id: str
    recipients: list[str]
    last_kind: str
    last_at: datetime
    tenant_id: int | None


@dataclass(frozen=True)
class Timeline:
    events: list[Event]
    message_id: str
    refs: list[str]
    queue_ids: list[str]


def search_events(text: str, limit: int = MAX_FOUND) -> list[Event]:
    """Events whose recipient, Message-ID, queue id or message ref is text (each an indexed column)."""
    text = text.strip()
    wanted = [Event.subject == text.lower(), Event.message_id == text,
              Event.message_id == f"<{text.strip('<>')}>"]
    if MESSAGE_KEY.match(text):
        wanted += [Event.queue_id == text.upper(), Event.message_ref == text.lower()]
    query = (select(Event).where(or_(*wanted), tenant_scope(Event.tenant_id))
             .order_by(Event.at.desc(), Event.id.desc()).limit(limit))
    return list(db().scalars(query))


def group_messages(events: list[Event]) -> list[FoundMessage]:
    grouped: dict[str, list[Event]] = {}
    for event in events:
        key = event.message_ref or event.queue_id or f"event-{event.id}"
        grouped.setdefault(key, []).append(event)
    found = []
    for key, items in grouped.items():
        latest = items[0]
        message_id = next((e.message_id for e in items if e.message_id), "")
        recipients = sorted({e.subject for e in items})
        found.append(FoundMessage(key, message_id, recipients, latest.kind, latest.at, latest.tenant_id))
    return found


def find_messages(text: str) -> list[FoundMessage]:
    return group_messages(search_events(text[:320])) if text.strip() else []


def timeline(key: str) -> Timeline | None:
    """The events of the message a ref or queue id names, oldest first; None if the user sees none."""
    if not MESSAGE_KEY.match(key):
        return None
    first = list(db().scalars(select(Event).where(
        or_(Event.message_ref == key.lower(), Event.queue_id == key.upper()), tenant_scope(Event.tenant_id))))
    if not first:
        return None
    refs = {e.message_ref for e in first if e.message_ref}
    queue_ids = {e.queue_id for e in first if e.queue_id}
    events = list(db().scalars(
        select(Event).where(or_(Event.message_ref.in_(refs), Event.queue_id.in_(queue_ids)),
                            tenant_scope(Event.tenant_id))
        .order_by(Event.at, Event.id)))
    message_id = next((e.message_id for e in events if e.message_id), "")
    return Timeline(events, message_id, sorted(refs), sorted(queue_ids))
