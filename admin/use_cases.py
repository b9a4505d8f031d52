"""What the panel's views and the JSON API both do: each query and ownership check once.

Views render and flash, the API answers JSON; both look things up and change them
through these. A row the user may not see is a 404, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from flask import abort
from sqlalchemy import Select, select

from admin.access import may_see, tenant_scope
from admin.context import panel
from admin.database import db
from core import pools, tenants
from core.models import IpPool, PoolIp, SmtpCredential, Suppression, Tenant, Webhook
from core.states import PoolIpState


def suppression_search(q: str = "", reason: str = "", tenant_id: int | None = None,
                       list_name: str | None = None) -> Select[Suppression]:
    """The user's suppression entries, newest first: addresses starting with q, of a reason, of a tenant,
    for a list ("": those for all mail)."""
    query = (select(Suppression).where(tenant_scope(Suppression.tenant_id))
             .order_by(Suppression.created_at.desc(), Suppression.id.desc()))
    if q.strip():
        query = query.where(Suppression.address.startswith(q.strip().lower(), autoescape=True))
    if reason:
        query = query.where(Suppression.reason == reason)
    if tenant_id is not None:
        query = query.where(Suppression.tenant_id == tenant_id)
    if list_name is not None:
        query = query.where(Suppression.list_name == list_name)
    return query


def visible_suppression(entry_id: int) -> Suppression:
    entry = db().get(Suppression, entry_id)
    if entry is None or not may_see(entry.tenant_id):
        abort(404, f"no suppression {entry_id}")
    return entry


def tenant_credential(tenant: Tenant, credential_id: int) -> SmtpCredential:
    credential = db().get(SmtpCredential, credential_id)
    if credential is None or credential.tenant_id != tenant.id:
        abort(404, f"tenant {tenant.name} has no credential {credential_id}")
    return credential


def tenant_webhook(tenant: Tenant, webhook_id: int) -> Webhook:
    webhook = db().get(Webhook, webhook_id)
    if webhook is None or webhook.tenant_id != tenant.id:
        abort(404, f"tenant {tenant.name} has no webhook {webhook_id}")
    return webhook


def pool_by_id(pool_id: int) -> IpPool:
    pool = db().get(IpPool, pool_id)
    if pool is None:
        abort(404, f"no pool {pool_id}")
    return pool


def pool_address(ip_id: int) -> PoolIp:
    """A pool address that still sends (a removed one is only its transport's leftover)."""
    ip = db().get(PoolIp, ip_id)
    if ip is None or ip.state == PoolIpState.REMOVED:
        abort(404, f"no pool address {ip_id}")
    return ip


class Keep(Enum):
    POOL = "keep the pool"


def change_tenant(tenant: Tenant, limits: Mapping[str, int | None], pool: str | Keep | None) -> None:
    """Some of its limits (None: the box default), and its pool (None: the default pool)."""
    tenants.set_limits(db(), tenant.name, limits)
    if pool is not Keep.POOL:
        pools.assign_tenant(db(), tenant.name, pool)


def transports_changed() -> None:
    """Postfix needs the new transports before any mail is routed to them: the change is committed
    first and kept either way; a PostfixError says Postfix was not reconfigured."""
    db().commit()
    panel().transports_changed()
