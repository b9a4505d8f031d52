"""API: the message log (search, a message's timeline) and the event stream."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from admin import message_log
from admin.access import tenant_scope
from admin.api.registry import operation
from admin.api.schemas import (
    ID,
    PAGE,
    TIMESTAMP,
    Param,
    Schema,
    items,
    listing,
    nullable,
    obj,
    text,
    timestamp,
)
from admin.database import db
from admin.paging import paginate
from core.errors import NotFoundError
from core.message_tags import MAX_TAGS, NONE, of_messages
from core.models import Event

EVENT = obj({"id": ID, "at": TIMESTAMP, "kind": {"type": "string"}, "tenant_id": nullable(ID),
             "recipient": {"type": "string"}, "detail": {"type": "string"}, "message_ref": {"type": "string"},
             "queue_id": {"type": "string"}, "message_id": {"type": "string"}, "report_id": nullable(ID),
             "tags": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_TAGS},
             "metadata": {"type": "object", "additionalProperties": {"type": "string"}}})
FOUND = obj({"key": {"type": "string"}, "message_id": {"type": "string"},
             "recipients": {"type": "array", "items": {"type": "string"}}, "last_kind": {"type": "string"},
             "last_at": TIMESTAMP, "tenant_id": nullable(ID)})
TIMELINE = obj({"key": {"type": "string"}, "message_id": {"type": "string"},
                "message_refs": {"type": "array", "items": {"type": "string"}},
                "queue_ids": {"type": "array", "items": {"type": "string"}},
                "events": {"type": "array", "items": EVENT}})
MESSAGE_KEY: Schema = {"type": "string", "pattern": message_log.MESSAGE_KEY.pattern}


def events_json(events: list[Event]) -> list[dict[str, Any]]:
    """The events, each with the tags and metadata its message was sent with."""
    tags = of_messages(db(), (e.message_ref for e in events))
    return [{"id": e.id, "at": timestamp(e.at), "kind": e.kind, "tenant_id": e.tenant_id,
             "recipient": e.subject, "detail": e.detail, "message_ref": e.message_ref,
             "queue_id": e.queue_id, "message_id": e.message_id, "report_id": e.report_id,
             **tags.get(e.message_ref, NONE).json()} for e in events]


@operation("GET", "/messages", "Find messages by recipient, Message-ID, queue id or message ref",
           tag="messages", result=items(FOUND), query=(Param("q", text(320, 1), required=True),))
def find_messages(q: str) -> dict[str, Any]:
    return {"items": [{"key": m.key, "message_id": m.message_id, "recipients": m.recipients,
                       "last_kind": m.last_kind, "last_at": timestamp(m.last_at), "tenant_id": m.tenant_id}
                      for m in message_log.find_messages(q)]}


@operation("GET", "/messages/{key}", "A message's events, oldest first", tag="messages", result=TIMELINE,
           path_params={"key": MESSAGE_KEY})
def get_message(key: str) -> dict[str, Any]:
    found = message_log.timeline(key)
    if found is None:
        raise NotFoundError(f"no message {key}")
    return {"key": key, "message_id": found.message_id, "message_refs": found.refs,
            "queue_ids": found.queue_ids, "events": events_json(found.events)}


@operation("GET", "/events", "Events, newest first", tag="messages", result=listing(EVENT),
           query=(Param("kind", text(32)), Param("tenant_id", ID), Param("recipient", text(320)), PAGE, ))
def list_events(kind: str = "", tenant_id: int | None = None, recipient: str = "",
                page: int = 1) -> dict[str, Any]:
    query = select(Event).where(tenant_scope(Event.tenant_id)).order_by(Event.at.desc(), Event.id.desc())
    if kind:
        query = query.where(Event.kind == kind)
    if tenant_id is not None:
        query = query.where(Event.tenant_id == tenant_id)
    if recipient.strip():
        query = query.where(Event.subject == recipient.strip().lower())
    found = paginate(query, number=page)
    return {"items": events_json(found.items), "page": found.number, "has_next": found.has_next}
