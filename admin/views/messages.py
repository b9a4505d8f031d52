"""The message log: find messages by recipient, Message-ID, queue id or message ref; each one's timeline."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue

from admin.access import tenant_names
from admin.database import db
from admin.message_log import find_messages, timeline
from core.models import Tenant

bp = Blueprint("messages", __name__, url_prefix="/messages")


@bp.route("/")
def index() -> ResponseReturnValue:
    text = request.args.get("q", "").strip()[:320]
    return render_template("messages/index.html", q=text, found=find_messages(text),
                           tenant_names=tenant_names())


@bp.route("/<key>", endpoint="timeline")
def detail(key: str) -> ResponseReturnValue:
    found = timeline(key)
    if found is None:
        abort(404)
    first = found.events[0]
    tenant = db().get(Tenant, first.tenant_id) if first.tenant_id else None
    return render_template("messages/timeline.html", key=key, events=found.events,
                           message_id=found.message_id, tenant=tenant, refs=found.refs,
                           queue_ids=found.queue_ids)
