"""The message log: find messages by recipient, Message-ID, queue id or message ref; each one's timeline."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import or_, select

from admin.access import tenant_names, tenant_scope
from admin.database import db
from core.models import Event, Tenant

bp = Blueprint("messages", __name__, url_prefix="/messages")

_KEY = re.compile(r"^[0-9A-Za-z]{6,32}$")
MAX_FOUND = 200


@dataclass(frozen=True)
class FoundMessage:
    key: str  # message ref, else queue id
    message_id: str
    recipients: list[str]
    last_kind: str
    last_at: datetime
    tenant_id: int | None


def search_events(text: str, limit: int = MAX_FOUND) -> list[Event]:
    """Events whose recipient, Message-ID, queue id or message ref is text (each an indexed column)."""
    text = text.strip()
    wanted = [Event.subject == text.lower(), Event.message_id == text,
              Event.message_id == f"<{text.strip('<>')}>"]
    if _KEY.match(text):
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


@bp.route("/")
def index() -> ResponseReturnValue:
    text = request.args.get("q", "").strip()[:320]
    found = group_messages(search_events(text)) if text else []
    return render_template("messages/index.html", q=text, found=found, tenant_names=tenant_names())


@bp.route("/<key>")
def timeline(key: str) -> ResponseReturnValue:
    if not _KEY.match(key):
        abort(404)
    first = list(db().scalars(select(Event).where(
        or_(Event.message_ref == key.lower(), Event.queue_id == key.upper()), tenant_scope(Event.tenant_id))))
    if not first:
        abort(404)
    # A message ref and a queue id name the same message: gather the events under either.
    refs = {e.message_ref for e in first if e.message_ref}
    queue_ids = {e.queue_id for e in first if e.queue_id}
    events = list(db().scalars(
        select(Event).where(or_(Event.message_ref.in_(refs), Event.queue_id.in_(queue_ids)),
                            tenant_scope(Event.tenant_id))
        .order_by(Event.at, Event.id)))
    message_id = next((e.message_id for e in events if e.message_id), "")
    tenant = db().get(Tenant, events[0].tenant_id) if events[0].tenant_id else None
    return render_template("messages/timeline.html", key=key, events=events, message_id=message_id,
                           tenant=tenant, refs=sorted(refs), queue_ids=sorted(queue_ids))
