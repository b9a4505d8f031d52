"""The archive: search what was sent, look at a message (its HTML inert), download it, resend it."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from admin import archive_view
from admin.access import tenant_names, tenant_scope
from admin.actions import attempt
from admin.context import panel
from admin.database import db
from admin.forms import ResendForm
from admin.paging import paginate
from admin.resend import resend
from core.archive import ArchiveQuery, archive_key, search
from core.models import ArchivedMessage

bp = Blueprint("archive", __name__, url_prefix="/archive")


def _day(name: str) -> datetime | None:
    try:
        return datetime.strptime(request.args.get(name, ""), "%Y-%m-%d")
    except ValueError:
        return None


@bp.route("/")
def index() -> ResponseReturnValue:
    until = _day("until")
    args = request.args
    query = ArchiveQuery(subject=args.get("subject", "")[:255], sender=args.get("sender", "")[:320],
                         recipient=args.get("recipient", "")[:320], tag=args.get("tag", "")[:64],
                         since=_day("since"), until=until + timedelta(days=1) if until else None)
    page = paginate(search(query).where(tenant_scope(ArchivedMessage.tenant_id)))
    return render_template("archive/index.html", page=page, args=request.args, tenant_names=tenant_names())


@bp.route("/<ref>")
def detail(ref: str) -> ResponseReturnValue:
    archived = archive_view.visible_archived(ref)
    return render_template("archive/detail.html", message=archived, shown=archive_view.shown(archived),
                           remote_images=request.args.get("images") == "1", resend=ResendForm(),
                           tenant_names=tenant_names())


@bp.route("/<ref>/html")
def html(ref: str) -> ResponseReturnValue:
    archived = archive_view.visible_archived(ref)
    response = Response(archive_view.inert_html(archived), mimetype="text/html")
    response.headers["Content-Security-Policy"] = archive_view.frame_policy(request.args.get("images") == "1")
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.route("/<ref>/raw")
def raw(ref: str) -> ResponseReturnValue:
    archived = archive_view.visible_archived(ref)
    return Response(archive_view.raw(archived), mimetype="message/rfc822",
                    headers={"Content-Disposition": f'attachment; filename="{archived.message_ref}.eml"'})


@bp.route("/<ref>/resend", methods=["POST"])
def resend_message(ref: str) -> ResponseReturnValue:
    archived = archive_view.visible_archived(ref)
    form = ResendForm()
    if form.validate_on_submit():
        recipients = [r.strip() for r in (form.recipients.data or "").split(",") if r.strip()]
        outcome = attempt(lambda: resend(db(), panel().settings, archive_key(panel().secret_box), archived,
                                         recipients)).value
        if outcome is not None:
            refused = "; ".join(f"{r}: {why}" for r, why in outcome.refused.items())
            flash(f"Postfix answered: {outcome.reply}" + (f". Not sent to {refused}" if refused else ""),
                  "success" if outcome.queued else "error")
    return redirect(url_for(".detail", ref=archived.message_ref))
