"""Tenants: the list, a new one, limits and pool, pause and resume, SMTP credentials, webhooks."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from admin.access import tenant_scope, visible_tenant
from admin.actions import attempt
from admin.auth import admin_only, is_admin, user
from admin.context import panel
from admin.database import db
from admin.forms import ActionForm, ArchiveForm, LimitsForm, SendKeyForm, TenantForm, WebhookForm, choices
from admin.paging import paginate
from admin.use_cases import change_tenant, tenant_credential, tenant_webhook
from core import archive, reputation, send_keys, tenants, webhooks
from core.limits import LIMITS
from core.models import IpPool, SmtpCredential, Tenant, Webhook

bp = Blueprint("tenants", __name__, url_prefix="/tenants")


@bp.route("/")
def index() -> ResponseReturnValue:
    if not is_admin():
        return redirect(url_for(".detail", tenant_id=user().tenant_id))
    query = select(Tenant).where(tenant_scope(Tenant.id)).order_by(Tenant.name)
    if search := request.args.get("q", "").strip():
        query = query.where(Tenant.name.contains(search, autoescape=True))
    return render_template("tenants/index.html", page=paginate(query), q=search, form=TenantForm())


@bp.route("/", methods=["POST"])
@admin_only
def create() -> ResponseReturnValue:
    form = TenantForm()
    if not form.validate_on_submit():
        page = paginate(select(Tenant).order_by(Tenant.name))
        return render_template("tenants/index.html", page=page, q="", form=form), 400
    tenant = attempt(lambda: tenants.add_tenant(db(), form.name.data or "")).value
    if tenant is None:
        return redirect(url_for(".index"))
    flash(f"Tenant {tenant.name} created. Add a domain and a credential to start sending.", "success")
    return redirect(url_for(".detail", tenant_id=tenant.id))


def _limits_form(tenant: Tenant) -> LimitsForm:
    form = LimitsForm(data=dict(tenant.limits)) if request.method == "GET" else LimitsForm()
    form.pool.choices = choices([("", "The default pool")] + [
        (p.name, p.name) for p in db().scalars(select(IpPool).order_by(IpPool.name))])
    if request.method == "GET":
        form.pool.data = tenant.pool.name if tenant.pool else ""
    return form


def _detail(tenant: Tenant, limits: LimitsForm | None = None, webhook: WebhookForm | None = None,
            shown_secret: tuple[str, str] | None = None, status: int = 200) -> ResponseReturnValue:
    credentials = db().scalars(select(SmtpCredential).where(SmtpCredential.tenant_id == tenant.id)
                               .order_by(SmtpCredential.created_at.desc())).all()
    hooks = db().scalars(select(Webhook).where(Webhook.tenant_id == tenant.id)).all()
    return render_template("tenants/detail.html", tenant=tenant, credentials=credentials, webhooks=hooks,
                           keys=send_keys.send_keys(db(), tenant.name), key_state=send_keys.state,
                           max_expires_in_days=send_keys.MAX_EXPIRES_IN_DAYS,
                           limits=limits or _limits_form(tenant), webhook_form=webhook or WebhookForm(),
                           action=ActionForm(), shown_secret=shown_secret,
                           defaults=panel().settings.limits, sending_limits=LIMITS,
                           idempotency_hours=panel().settings.idempotency.window_hours,
                           archive_form=ArchiveForm(obj=tenant),
                           archive_settings=panel().settings.archive), status


@bp.route("/<int:tenant_id>")
def detail(tenant_id: int) -> ResponseReturnValue:
    return _detail(visible_tenant(tenant_id))


@bp.route("/<int:tenant_id>/limits", methods=["POST"])
@admin_only
def limits(tenant_id: int) -> ResponseReturnValue:
    tenant = visible_tenant(tenant_id)
    form = _limits_form(tenant)
    if not form.validate_on_submit():
        return _detail(tenant, limits=form, status=400)
    values = {limit.name: form[limit.name].data for limit in LIMITS}

    if attempt(lambda: change_tenant(tenant, values, form.pool.data or None)).ok:
        flash("Limits saved.", "success")
    return redirect(url_for(".detail", tenant_id=tenant.id))


@bp.route("/<int:tenant_id>/pause", methods=["POST"])
@admin_only
def pause(tenant_id: int) -> ResponseReturnValue:
    tenant = visible_tenant(tenant_id)
    if ActionForm().validate_on_submit():
        reputation.pause(db(), tenant, f"paused by {user().username}")
        flash(f"{tenant.name} is paused: its mail is refused with 4.7.x until it is resumed.", "success")
    return redirect(url_for(".detail", tenant_id=tenant.id))


@bp.route("/<int:tenant_id>/resume", methods=["POST"])
@admin_only
def resume(tenant_id: int) -> ResponseReturnValue:
    tenant = visible_tenant(tenant_id)
    if ActionForm().validate_on_submit():
        reputation.resume(db(), tenant)
        flash(f"{tenant.name} may send again.", "success")
    return redirect(url_for(".detail", tenant_id=tenant.id))


@bp.route("/<int:tenant_id>/once-per-message-id", methods=["POST"])
def once_per_message_id(tenant_id: int) -> ResponseReturnValue:
    tenant = visible_tenant(tenant_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    on = request.form.get("on") == "1"
    tenants.set_once_per_message_id(db(), tenant.name, on)
    flash(f"{tenant.name}: " + ("each Message-ID is sent once; a resubmission is answered 'already queued'."
                                if on else "every message is sent, whatever its Message-ID."), "success")
    return redirect(url_for(".detail", tenant_id=tenant.id))


@bp.route("/<int:tenant_id>/archive", methods=["POST"])
def archive_settings(tenant_id: int) -> ResponseReturnValue:
    tenant = visible_tenant(tenant_id)
    form = ArchiveForm()
    settings = panel().settings.archive
    if form.validate_on_submit() and attempt(lambda: archive.set_archive(
            db(), settings, tenant, form.archive_days.data, form.archive_max_mib.data or 0)).ok:
        kept = f"kept {tenant.archive_days} days" if tenant.archive_days else "not kept"
        flash(f"{tenant.name}: sent messages are {kept}.", "success")
    return redirect(url_for(".detail", tenant_id=tenant.id))


@bp.route("/<int:tenant_id>/credentials", methods=["POST"])
def add_credential(tenant_id: int) -> ResponseReturnValue:
    tenant = visible_tenant(tenant_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    credential = tenants.add_credential(db(), tenant.name)
    # Shown in this response only, never put in the session or a flash message.
    return _detail(tenant, shown_secret=(credential.username, credential.secret))


@bp.route("/<int:tenant_id>/credentials/<int:credential_id>/revoke", methods=["POST"])
def revoke_credential(tenant_id: int, credential_id: int) -> ResponseReturnValue:
    tenant = visible_tenant(tenant_id)
    credential = tenant_credential(tenant, credential_id)
    if ActionForm().validate_on_submit() and attempt(
            lambda: tenants.revoke_credential(db(), credential.username)).ok:
        flash(f"Credential {credential.username} revoked.", "success")
    return redirect(url_for(".detail", tenant_id=tenant.id))


@bp.route("/<int:tenant_id>/send-keys", methods=["POST"])
def add_send_key(tenant_id: int) -> ResponseReturnValue:
    tenant = visible_tenant(tenant_id)
    form = SendKeyForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return redirect(url_for(".detail", tenant_id=tenant.id))
    key, secret = send_keys.new_send_key(db(), tenant.name, form.name.data or "", form.expires_in_days.data)
    # Shown in this response only, never put in the session or a flash message.
    return _detail(tenant, shown_secret=(f"Send key {key.name}", secret))


@bp.route("/<int:tenant_id>/send-keys/<int:key_id>/revoke", methods=["POST"])
def revoke_send_key(tenant_id: int, key_id: int) -> ResponseReturnValue:
    tenant = visible_tenant(tenant_id)
    if ActionForm().validate_on_submit() and attempt(
            lambda: send_keys.revoke_send_key(db(), tenant.name, key_id)).ok:
        flash("Send key revoked.", "success")
    return redirect(url_for(".detail", tenant_id=tenant.id))


@bp.route("/<int:tenant_id>/webhooks", methods=["POST"])
def add_webhook(tenant_id: int) -> ResponseReturnValue:
    tenant = visible_tenant(tenant_id)
    form = WebhookForm()
    if not form.validate_on_submit():
        return _detail(tenant, webhook=form, status=400)
    made = attempt(
        lambda: webhooks.add_webhook(db(), panel().secret_box, panel().settings.webhooks, tenant.name,
                                     form.url.data or "")).value
    if made is None:
        return redirect(url_for(".detail", tenant_id=tenant.id))
    return _detail(tenant, shown_secret=(f"webhook {made[0].url}", made[1]))


@bp.route("/<int:tenant_id>/webhooks/<int:webhook_id>/remove", methods=["POST"])
def remove_webhook(tenant_id: int, webhook_id: int) -> ResponseReturnValue:
    tenant = visible_tenant(tenant_id)
    webhook = tenant_webhook(tenant, webhook_id)
    if ActionForm().validate_on_submit():
        webhooks.remove_webhook(db(), webhook.id)
        flash("Webhook removed.", "success")
    return redirect(url_for(".detail", tenant_id=tenant.id))
