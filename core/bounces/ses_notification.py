"""Amazon SES notifications forwarded by SNS as mail: one JSON object in a text body.

SES reports bounces, complaints and deliveries of mail sent through it this way
(notificationType Bounce, Complaint or Delivery). SNS cuts long notifications, so a
body that is not whole JSON is still read, by its fields, as far as it goes.
"""

from __future__ import annotations

import json
import re
from email.message import Message
from typing import Any

from core.bounces.fields import TEXT_LIMIT, content_type, reply_code_in, status_in, text_of
from core.bounces.model import ReportResult
from core.bounces.reasons import Diagnosis, kind_for, reason_for

_TYPE = re.compile(r'"notificationType"\s*:\s*"(Bounce|Complaint|Delivery)"')
_ADDRESS_FIELD = re.compile(r'"emailAddress"\s*:\s*"([^"\s]+@[^"\s]+)"')
_FEEDBACK_TYPE = re.compile(r'"complaintFeedbackType"\s*:\s*"([\w-]+)"')
_DIAGNOSTIC = re.compile(r'"diagnosticCode"\s*:\s*"((?:[^"\\]|\\.)*)"')
_STATUS = re.compile(r'"status"\s*:\s*"(\d\.\d{1,3}\.\d{1,3})"')


def _body(message: Message) -> str:
    if message.is_multipart():
        part = next((p for p in message.walk() if content_type(p) == "text/plain"), None)
        return text_of(part) if part is not None else ""
    return text_of(message)


def _notification(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    if start < 0:
        return None
    try:
        found, _end = json.JSONDecoder().raw_decode(text[start:TEXT_LIMIT])
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than any notification
        return None
    return found if isinstance(found, dict) else None


def parse_ses_notification(message: Message) -> list[ReportResult] | None:
    """None when the message is no SES notification."""
    text = _body(message)
    kind = _TYPE.search(text)
    if kind is None:
        return None
    whole = _notification(text)
    if whole is not None:
        return _from_json(whole)
    return _from_fields(kind.group(1), text)


def _from_json(notification: dict[str, Any]) -> list[ReportResult]:
    kind = notification.get("notificationType")
    if kind == "Complaint":
        complaint = notification.get("complaint") or {}
        feedback_type = str(complaint.get("complaintFeedbackType") or "other")
        return [ReportResult(str(r.get("emailAddress")), "complaint", "feedback", feedback_type=feedback_type)
                for r in complaint.get("complainedRecipients") or [] if r.get("emailAddress")]
    if kind == "Delivery":
        delivery = notification.get("delivery") or {}
        response = str(delivery.get("smtpResponse", ""))
        status, code = status_in(response), reply_code_in(response)
        return [ReportResult(str(r), "delivered", "delivered", status, code)
                for r in delivery.get("recipients") or []]
    bounce = notification.get("bounce") or {}
    return [_bounced(str(r.get("emailAddress")), str(r.get("diagnosticCode") or ""),
                     str(r.get("status") or ""), bounce.get("bounceType") == "Transient")
            for r in bounce.get("bouncedRecipients") or [] if r.get("emailAddress")]


def _from_fields(kind: str, text: str) -> list[ReportResult]:
    recipients = list(dict.fromkeys(_ADDRESS_FIELD.findall(text)))
    if kind == "Complaint":
        feedback = _FEEDBACK_TYPE.search(text)
        feedback_type = feedback.group(1) if feedback else "other"
        return [ReportResult(r, "complaint", "feedback", feedback_type=feedback_type) for r in recipients]
    if kind == "Delivery":
        return [ReportResult(r, "delivered", "delivered") for r in recipients]
    diagnostic = _DIAGNOSTIC.search(text)
    status = _STATUS.search(text)
    return [_bounced(r, diagnostic.group(1) if diagnostic else "", status.group(1) if status else "",
                     '"bounceType":"Transient"' in text) for r in recipients]


def _bounced(recipient: str, diagnostic: str, status_field: str, transient: bool) -> ReportResult:
    status = status_in(status_field) or status_in(diagnostic)
    code = reply_code_in(diagnostic.partition(";")[2] or diagnostic)
    reason = reason_for(Diagnosis(status, code, diagnostic, delayed=transient))
    return ReportResult(recipient, kind_for(reason, status, code), reason, status, code)
