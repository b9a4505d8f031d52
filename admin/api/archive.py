"""API: the archive of sent messages (search, a message as sent, resend) and a tenant's retention."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response

from admin import archive_view
from admin.access import tenant_scope, visible_tenant
from admin.api.registry import ApiError, operation
from admin.api.schemas import ID, PAGE, TIMESTAMP, Param, listing, obj, text, timestamp
from admin.api.tenants import TENANT, tenant_json
from admin.context import panel
from admin.database import db
from admin.message_log import MESSAGE_KEY
from admin.paging import paginate
from admin.resend import MAX_RECIPIENTS, resend
from core import archive
from core.models import ArchivedMessage

STRINGS = {"type": "array", "items": {"type": "string"}}
ARCHIVED = obj({"message_ref": {"type": "string"}, "tenant_id": ID, "at": TIMESTAMP,
                "sender": {"type": "string"}, "recipients": STRINGS, "subject": {"type": "string"},
                "tags": STRINGS, "size": {"type": "integer"}})
REF = {"message_ref": {"type": "string", "pattern": MESSAGE_KEY.pattern}}
DAY = {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
RESENT = obj({"reply": {"type": "string"}, "queued": {"type": "boolean"},
              "refused": {"type": "object", "additionalProperties": {"type": "string"}}})


def _day(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        raise ApiError(400, f"{value!r} is no day") from None


@operation("GET", "/archive", "Search the archive of sent messages, newest first", tag="archive",
           result=listing(ARCHIVED),
           query=(Param("subject", text(255), "Subject contains"),
                  Param("sender", text(320), "Sender contains"),
                  Param("recipient", text(320), "A recipient's whole address"),
                  Param("tag", text(64), "Sent with this tag"),
                  Param("since", DAY, "Sent on or after this day (with neither since nor until: "
                                      "the last 7 days)"),
                  Param("until", DAY, "Sent before this day"), PAGE))
def search_archive(subject: str = "", sender: str = "", recipient: str = "", tag: str = "", since: str = "",
                   until: str = "", page: int = 1) -> dict[str, Any]:
    query = archive.ArchiveQuery(subject, sender, recipient, tag, _day(since), _day(until))
    found = paginate(archive.search(query).where(tenant_scope(ArchivedMessage.tenant_id)), number=page)
    return {"items": [{"message_ref": m.message_ref, "tenant_id": m.tenant_id, "at": timestamp(m.at),
                       "sender": m.sender, "recipients": m.recipients.split("\n"), "subject": m.subject,
                       "tags": [t for t in m.tags.split(",") if t], "size": m.size} for m in found.items],
            "page": found.number, "has_next": found.has_next}


@operation("GET", "/messages/{message_ref}/raw", "An archived message as it was sent (RFC 5322)",
           tag="archive", result={"type": "string"}, path_params=REF, media_type="message/rfc822")
def archived_raw(message_ref: str) -> Response:
    found = archive_view.visible_archived(message_ref)
    return Response(archive_view.raw(found), mimetype="message/rfc822")


@operation("POST", "/messages/{message_ref}/resend", "Send an archived message again, through the whole "
           "path, as a new message (to its own recipients, or to others)", tag="archive", result=RESENT,
           path_params=REF, body=obj({"to": {"type": "array", "maxItems": MAX_RECIPIENTS,
                                             "items": text(320, 3)}}, required=()), errors=(422,))
def resend_archived(message_ref: str, body: dict[str, Any]) -> dict[str, Any]:
    found = archive_view.visible_archived(message_ref)
    key = archive.archive_key(panel().secret_box)
    outcome = resend(db(), panel().settings, key, found, body.get("to", []))
    return {"reply": outcome.reply, "queued": outcome.queued, "refused": outcome.refused}


@operation("PUT", "/tenants/{tenant_id}/archive", "Keep the tenant's sent messages this many days (0: none, "
           "up to the box's maximum) within a size cap (MiB; 0: the box default)", tag="archive",
           result=TENANT, errors=(422,),
           body=obj({"days": {"type": "integer", "minimum": 0, "maximum": archive.MAX_DAYS},
                     "max_mib": {"type": "integer", "minimum": 0, "maximum": archive.MAX_CAP_MIB}},
                    required=("days",)))
def set_archive(tenant_id: int, body: dict[str, Any]) -> dict[str, Any]:
    tenant = visible_tenant(tenant_id)
    archive.set_archive(db(), panel().settings.archive, tenant, body["days"], body.get("max_mib"))
    return tenant_json(tenant)
