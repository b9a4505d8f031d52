"""What the logged-in user may see: admins every tenant, tenant users their own only."""

from __future__ import annotations

from flask import abort
from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import InstrumentedAttribute

from admin.auth import is_admin, user
from admin.database import db
from core.models import SendingDomain, Tenant

TenantColumn = InstrumentedAttribute[int | None] | InstrumentedAttribute[int]


def tenant_scope(column: TenantColumn) -> ColumnElement[bool]:
    """A WHERE clause limiting rows to the user's tenant (none for admins)."""
    if is_admin():
        return true()
    return column == user().tenant_id


def may_see(tenant_id: int | None) -> bool:
    """Whether the user may see a row of this tenant (None: no tenant's, admins only)."""
    return is_admin() or (tenant_id is not None and tenant_id == user().tenant_id)


def tenant_names() -> dict[int, str]:
    return {t.id: t.name for t in db().scalars(select(Tenant))}


def visible_tenants() -> list[Tenant]:
    return list(db().scalars(select(Tenant).where(tenant_scope(Tenant.id)).order_by(Tenant.name)))


def visible_tenant(tenant_id: int) -> Tenant:
    tenant = db().get(Tenant, tenant_id)
    if tenant is None or not may_see(tenant.id):
        abort(404)
    return tenant


def visible_domain(domain_id: int) -> SendingDomain:
    domain = db().get(SendingDomain, domain_id)
    if domain is None or not may_see(domain.tenant_id):
        abort(404)
    return domain
