"""Sending domains: add one, the DNS records to publish, a live DNS check, DKIM key rotation."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from admin.access import tenant_scope, visible_domain, visible_tenant, visible_tenants
from admin.actions import attempt
from admin.auth import admin_only, user
from admin.context import panel
from admin.database import db
from admin.forms import ActionForm, DomainForm, RotateKeyForm, TrackingForm, choices
from admin.paging import paginate
from core import tenants
from core.compliance import compliance
from core.dns_records import records_for_domain
from core.domain_verify import RecordCheck
from core.models import AcceptedMessage, DkimKey, SendingDomain
from core.tracking import base_url
from core.tracking_rates import totals, tracking_rates

bp = Blueprint("domains", __name__, url_prefix="/domains")
RATE_DAYS = 30


def _domain_form() -> DomainForm:
    form = DomainForm()
    form.tenant.choices = choices((t.id, t.name) for t in visible_tenants())
    return form


@bp.route("/")
def index() -> ResponseReturnValue:
    query = select(SendingDomain).where(tenant_scope(SendingDomain.tenant_id)).order_by(SendingDomain.name)
    if search := request.args.get("q", "").strip():
        query = query.where(SendingDomain.name.contains(search.lower(), autoescape=True))
    return render_template("domains/index.html", page=paginate(query), q=search, form=_domain_form())


@bp.route("/", methods=["POST"])
def create() -> ResponseReturnValue:
    form = _domain_form()
    if not form.validate_on_submit():
        query = (select(SendingDomain).where(tenant_scope(SendingDomain.tenant_id))
                 .order_by(SendingDomain.name))
        return render_template("domains/index.html", page=paginate(query), q="", form=form), 400
    tenant = visible_tenant(form.tenant.data or 0)
    domain = attempt(lambda: tenants.add_domain(db(), panel().secret_box, tenant.name, form.name.data or "",
                                                form.algorithm.data or "rsa")).value
    if domain is None:
        return redirect(url_for(".index"))
    flash(f"{domain.name} added. Publish the records below, then check DNS.", "success")
    return redirect(url_for(".detail", domain_id=domain.id))


def _detail(domain: SendingDomain, checks: list[RecordCheck] | None = None) -> ResponseReturnValue:
    records = records_for_domain(panel().settings, domain.name, domain.dkim_keys, domain.tracks)
    found = {(c.record.name, c.record.type): c for c in checks or []}
    rates = totals(tracking_rates(db(), AcceptedMessage.tracked_domain == domain.name, RATE_DAYS))
    return render_template("domains/detail.html", domain=domain, records=records, checks=found,
                           compliance=compliance(db(), panel().settings, domain), action=ActionForm(),
                           rotate=RotateKeyForm(), tracking=TrackingForm(obj=domain), rates=rates,
                           rate_days=RATE_DAYS,
                           tracking_base_url=base_url(panel().settings.link_base_url, domain.name,
                                                      domain.tracking_host_ok))


@bp.route("/<int:domain_id>")
def detail(domain_id: int) -> ResponseReturnValue:
    return _detail(visible_domain(domain_id))


@bp.route("/<int:domain_id>/verify", methods=["POST"])
def verify(domain_id: int) -> ResponseReturnValue:
    domain = visible_domain(domain_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    checks = tenants.verify_domain(db(), panel().settings, domain)
    if domain.verified_at is not None:
        flash(f"{domain.name} is verified: its mail may be sent and is signed.", "success")
    else:
        flash(f"{domain.name} is not verified yet: a required record is missing or differs.", "error")
    return _detail(domain, checks)


@bp.route("/<int:domain_id>/override", methods=["POST"])
@admin_only
def override(domain_id: int) -> ResponseReturnValue:
    domain = visible_domain(domain_id)
    if ActionForm().validate_on_submit():
        tenants.mark_verified_by_operator(db(), domain)
        flash(f"{domain.name} marked verified by {user().username}, without a DNS check.", "success")
    return redirect(url_for(".detail", domain_id=domain.id))


@bp.route("/<int:domain_id>/tracking", methods=["POST"])
def tracking(domain_id: int) -> ResponseReturnValue:
    domain = visible_domain(domain_id)
    form = TrackingForm()
    if form.validate_on_submit():
        tenants.set_tracking(db(), domain.name, form.track_opens.data, form.track_clicks.data)
        flash(f"Tracking of {domain.name}'s HTML mail: opens {'on' if domain.track_opens else 'off'}, "
              f"clicks {'on' if domain.track_clicks else 'off'}.", "success")
    return redirect(url_for(".detail", domain_id=domain.id))


@bp.route("/<int:domain_id>/keys", methods=["POST"])
def rotate(domain_id: int) -> ResponseReturnValue:
    domain = visible_domain(domain_id)
    form = RotateKeyForm()
    if form.validate_on_submit():
        key = attempt(lambda: tenants.add_dkim_key(db(), panel().secret_box, domain.name,
                                                   form.algorithm.data or "rsa")).value
        if key is not None:
            flash(f"New key {key.selector}: publish its record; it signs once DNS shows it, and the key it "
                  "replaces retires then.", "success")
    return redirect(url_for(".detail", domain_id=domain.id))


@bp.route("/<int:domain_id>/keys/<int:key_id>/remove", methods=["POST"])
def remove_key(domain_id: int, key_id: int) -> ResponseReturnValue:
    domain = visible_domain(domain_id)
    key = db().get(DkimKey, key_id)
    if key is None or key.domain_id != domain.id:
        abort(404)
    if ActionForm().validate_on_submit() and attempt(
            lambda: tenants.remove_dkim_key(db(), domain.name, key.selector)).ok:
        flash(f"Key {key.selector} removed; remove its DNS record too.", "success")
    return redirect(url_for(".detail", domain_id=domain.id))
