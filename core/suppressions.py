"""The suppression list: per tenant, and global (every tenant). Addresses are kept lower-cased.

Hard bounces and complaints add to it; an operator adds and removes by hand. The
front-end refuses a suppressed recipient at RCPT, from its in-memory directory.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import bump_directory_version
from core.errors import InvalidInputError, NotFoundError
from core.events import record_event
from core.models import Suppression
from core.tenants import get_tenant

REASONS = ("hard_bounce", "complaint", "manual")


def normalize_address(address: str) -> str:
    local, at, domain = address.strip().strip("<>").rpartition("@")
    if not at or not local or not domain:
        raise InvalidInputError(f"{address!r} is not an e-mail address")
    return f"{local}@{domain}".lower()


def _find(session: Session, tenant_id: int | None, address: str) -> Suppression | None:
    query = select(Suppression).where(Suppression.address == address)
    owner = Suppression.tenant_id.is_(None) if tenant_id is None else Suppression.tenant_id == tenant_id
    query = query.where(owner)
    return session.scalar(query)


def suppress(session: Session, tenant_name: str | None, address: str, reason: str,
             detail: str = "") -> Suppression:
    """Add an address (for a tenant, or for all when tenant_name is None); adding it again keeps the first."""
    if reason not in REASONS:
        raise InvalidInputError(f"reason must be one of {', '.join(REASONS)}")
    tenant_id = None if tenant_name is None else get_tenant(session, tenant_name).id
    normalized = normalize_address(address)
    existing = _find(session, tenant_id, normalized)
    if existing is not None:
        return existing
    entry = Suppression(tenant_id=tenant_id, address=normalized, reason=reason, detail=detail)
    session.add(entry)
    bump_directory_version(session)
    session.flush()
    return entry


def unsuppress(session: Session, tenant_name: str | None, address: str) -> None:
    tenant_id = None if tenant_name is None else get_tenant(session, tenant_name).id
    entry = _find(session, tenant_id, normalize_address(address))
    if entry is None:
        scope = "globally" if tenant_name is None else f"for {tenant_name}"
        raise NotFoundError(f"{address} is not suppressed {scope}")
    remove_entry(session, entry)


def remove_entry(session: Session, entry: Suppression) -> None:
    """Remove an entry; the front-ends' directories drop it on their next refresh."""
    session.delete(entry)
    bump_directory_version(session)


def list_suppressions(session: Session, tenant_name: str | None = None,
                      limit: int = 100) -> list[Suppression]:
    query = select(Suppression).order_by(Suppression.created_at.desc()).limit(limit)
    if tenant_name is not None:
        query = query.where(Suppression.tenant_id == get_tenant(session, tenant_name).id)
    return list(session.scalars(query))


def record_refusal(session: Session, tenant_name: str, address: str, reason: str) -> None:
    """The front-end refused a suppressed recipient: the tenant hears of it (a "suppressed" event)."""
    tenant = get_tenant(session, tenant_name)
    record_event(session, "suppressed", normalize_address(address), f"refused at RCPT: {reason}",
                 tenant_id=tenant.id)
