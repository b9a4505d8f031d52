"""IP pools (admins only): addresses, weights, warm-up, states, PTR and blocklist status."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from admin.actions import attempt
from admin.database import db
from admin.forms import ActionForm, PauseIpForm, PoolForm, PoolIpForm, WeightForm
from admin.use_cases import pool_address, pool_by_id, transports_changed
from core import pools
from core.errors import MailrelayError
from core.models import IpPool, Tenant

bp = Blueprint("pools", __name__, url_prefix="/pools")


def _index(pool_form: PoolForm | None = None, ip_form: PoolIpForm | None = None, ip_pool: int | None = None,
           status: int = 200) -> ResponseReturnValue:
    all_pools = list(db().scalars(select(IpPool).order_by(IpPool.is_default.desc(), IpPool.name)))
    per_pool = select(Tenant.pool_id, func.count()).group_by(Tenant.pool_id)
    tenant_counts = dict(db().execute(per_pool).all())
    caps = {ip.id: pools.warmup_cap(ip) for p in all_pools for ip in p.ips}
    ip_forms = {p.id: ip_form if ip_form is not None and p.id == ip_pool else PoolIpForm(formdata=None)
                for p in all_pools}
    return render_template("pools/index.html", pools=all_pools, tenant_counts=tenant_counts, caps=caps,
                           pool_form=pool_form or PoolForm(), ip_forms=ip_forms, ip_pool=ip_pool,
                           action=ActionForm(), weight=WeightForm(), pause=PauseIpForm()), status


@bp.route("/")
def index() -> ResponseReturnValue:
    return _index()


def _transports_changed() -> None:
    try:
        transports_changed()
    except MailrelayError as exc:
        flash(f"Saved, but Postfix was not reconfigured: {exc}. Run `relayctl init` on the box.", "error")


@bp.route("/", methods=["POST"])
def create() -> ResponseReturnValue:
    form = PoolForm()
    if not form.validate_on_submit():
        return _index(pool_form=form, status=400)
    if attempt(lambda: pools.add_pool(db(), form.name.data or "")).ok:
        flash(f"Pool {form.name.data} created.", "success")
    return redirect(url_for(".index"))


@bp.route("/<int:pool_id>/ips", methods=["POST"])
def add_ip(pool_id: int) -> ResponseReturnValue:
    pool = pool_by_id(pool_id)
    form = PoolIpForm()
    if not form.validate_on_submit():
        return _index(ip_form=form, ip_pool=pool.id, status=400)
    added = attempt(lambda: pools.add_ip(db(), pool.name, (form.address.data or "").strip(),
                                         form.helo_name.data or "", form.weight.data or 100,
                                         pools.parse_caps(form.warmup.data or "") or None))
    if added.ok:
        _transports_changed()
        flash(f"{form.address.data} added to {pool.name}; Postfix has its transport.", "success")
    return redirect(url_for(".index"))


@bp.route("/ips/<int:ip_id>/weight", methods=["POST"])
def weight(ip_id: int) -> ResponseReturnValue:
    ip = pool_address(ip_id)
    form = WeightForm()
    if form.validate_on_submit() and attempt(
            lambda: pools.set_weight(db(), ip.address, form.weight.data or 1)).ok:
        flash(f"{ip.address} now has weight {ip.weight}.", "success")
    elif form.errors:
        flash("; ".join(e for errors in form.errors.values() for e in errors), "error")
    return redirect(url_for(".index"))


@bp.route("/ips/<int:ip_id>/pause", methods=["POST"])
def pause(ip_id: int) -> ResponseReturnValue:
    ip = pool_address(ip_id)
    form = PauseIpForm()
    if form.validate_on_submit():
        pools.pause_ip(db(), ip.address, form.reason.data or "paused by an admin")
        flash(f"{ip.address} is paused: it sends nothing until resumed.", "success")
    return redirect(url_for(".index"))


@bp.route("/ips/<int:ip_id>/resume", methods=["POST"])
def resume(ip_id: int) -> ResponseReturnValue:
    ip = pool_address(ip_id)
    if ActionForm().validate_on_submit():
        pools.resume_ip(db(), ip.address)
        flash(f"{ip.address} sends again ({ip.state}).", "success")
    return redirect(url_for(".index"))


@bp.route("/ips/<int:ip_id>/remove", methods=["POST"])
def remove(ip_id: int) -> ResponseReturnValue:
    ip = pool_address(ip_id)
    if ActionForm().validate_on_submit():
        pools.remove_ip(db(), ip.address)
        _transports_changed()
        flash(f"{ip.address} removed; mail already queued for it still leaves from it.", "success")
    return redirect(url_for(".index"))
