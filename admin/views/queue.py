"""The Postfix queue (admins only): list, hold, release, requeue, delete, flush."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from admin.context import panel
from admin.forms import ActionForm, QueueActionForm
from core.errors import MailrelayError
from core.postfix.queue import QueuedMessage

bp = Blueprint("queue", __name__, url_prefix="/queue")


@bp.route("/")
def index() -> ResponseReturnValue:
    messages: list[QueuedMessage] = []
    error = ""
    try:
        messages = panel().queue.messages()
    except MailrelayError as exc:
        error = str(exc)
    if search := request.args.get("q", "").strip().lower():
        messages = [m for m in messages if search in m.queue_id.lower() or search in m.sender.lower()
                    or any(search in address.lower() for address, _why in m.recipients)]
    return render_template("queue/index.html", messages=messages, error=error, q=search,
                           form=QueueActionForm(), action=ActionForm())


@bp.route("/", methods=["POST"])
def act() -> ResponseReturnValue:
    form = QueueActionForm()
    if form.validate_on_submit():
        queue_ids = request.form.getlist("queue_id") or (form.queue_ids.data or "").split()
        try:
            panel().queue.act(form.action.data or "", queue_ids)
            flash(f"{form.action.data}: {len(queue_ids)} message(s).", "success")
        except MailrelayError as exc:
            flash(str(exc), "error")
    return redirect(url_for(".index"))


@bp.route("/flush", methods=["POST"])
def flush() -> ResponseReturnValue:
    if ActionForm().validate_on_submit():
        try:
            panel().queue.flush()
            flash("Postfix is retrying the deferred mail now.", "success")
        except MailrelayError as exc:
            flash(str(exc), "error")
    return redirect(url_for(".index"))
