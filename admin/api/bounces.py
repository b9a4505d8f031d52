"""API: bounces, complaints and auto-replies, with the report as it came back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from admin.access import may_see, tenant_scope
from admin.api.messages import EVENT, events_json
from admin.api.registry import operation
from admin.api.schemas import PAGE, Param, listing, nullable, obj, text
from admin.database import db
from admin.paging import paginate
from core.bounces.parser import parse_report
from core.errors import NotFoundError
from core.events import REPORT_KINDS
from core.models import Event, Report

RESULT = obj({"recipient": {"type": "string"}, "kind": {"type": "string"}, "reason": {"type": "string"},
              "status": nullable({"type": "string"}), "reply_code": nullable({"type": "integer"}),
              "feedback_type": nullable({"type": "string"})})
REPORT = obj({"envelope_recipient": {"type": "string"}, "truncated": {"type": "boolean"},
              "raw": {"type": "string",
                      "description": "The report as it came, as text; never render it as HTML"},
              "results": {"type": "array", "items": RESULT}})
DETAIL = obj({"event": EVENT, "report": nullable(REPORT)})


@operation("GET", "/bounces", "Bounces, complaints and other reports, newest first", tag="bounces",
           result=listing(EVENT), query=(Param("kind", {"enum": list(REPORT_KINDS)}),
                                         Param("q", text(320), "Recipients starting with this"), PAGE))
def list_reports(kind: str = "", q: str = "", page: int = 1) -> dict[str, Any]:
    query = (select(Event).where(Event.kind.in_((kind,) if kind else REPORT_KINDS),
                                 tenant_scope(Event.tenant_id))
             .order_by(Event.at.desc(), Event.id.desc()))
    if q.strip():
        query = query.where(Event.subject.startswith(q.strip().lower(), autoescape=True))
    found = paginate(query, number=page)
    return {"items": events_json(found.items), "page": found.number, "has_next": found.has_next}


@operation("GET", "/bounces/{event_id}", "A report event with the report and what the parser read in it",
           tag="bounces", result=DETAIL)
def get_report(event_id: int) -> dict[str, Any]:
    event = db().get(Event, event_id)
    if event is None or event.kind not in REPORT_KINDS or not may_see(event.tenant_id):
        raise NotFoundError(f"no report event {event_id}")
    report = db().get(Report, event.report_id) if event.report_id else None
    described = None
    if report is not None:
        results = parse_report(report.raw.encode("utf-8", "replace"))
        described = {"envelope_recipient": report.envelope_recipient, "truncated": report.truncated,
                     "raw": report.raw, "results": [
                         {"recipient": r.recipient, "kind": r.kind, "reason": r.reason, "status": r.status,
                          "reply_code": r.reply_code, "feedback_type": r.feedback_type} for r in results]}
    return {"event": events_json([event])[0], "report": described}
