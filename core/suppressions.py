"""The suppression list: per tenant, and global (every tenant). Addresses are kept lower-cased.

Hard bounces and complaints add to it, and so do unsubscribes (core/unsubscribe.py),
for all of a tenant's mail or for one of its lists; an operator adds and removes by
hand. The front-end refuses a suppressed recipient at RCPT, from its in-memory
directory; one suppressed for a list only, once DATA shows the message's list.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import bump_directory_version
from core.errors import InvalidInputError, NotFoundError
from core.events import record_event
from core.models import Suppression
from core.tenants import get_tenant

REASONS = ("hard_bounce", "complaint", "manual", "unsubscribe")
LIST_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def check_list_name(name: str) -> str:
    """A list's name (core/unsubscribe.py) as it is kept; InvalidInputError for one that is none."""
    lowered = name.strip().lower()
    if LIST_NAME.fullmatch(lowered) is None:
        raise InvalidInputError("a list name is 1-64 of a-z, 0-9, '.', '_' and '-'")
    return lowered


def normalize_address(address: str) -> str:
    local, at, domain = address.strip().strip("<>").rpartition("@")
    if not at or not local or not domain:
        raise InvalidInputError(f"{address!r} is not an e-mail address")
    return f"{local}@{domain}".lower()


def find(session: Session, tenant_id: int | None, address: str, list_name: str = "") -> Suppression | None:
    query = select(Suppression).where(Suppression.address == normalize_address(address),
                                      Suppression.list_name == list_name)
    owner = Suppression.tenant_id.is_(None) if tenant_id is None else Suppression.tenant_id == tenant_id
    query = query.where(owner)
    return session.scalar(query)


def suppress(session: Session, tenant_name: str | None, address: str, reason: str,
             detail: str = "", list_name: str = "") -> Suppression:
    """Add an address (for a tenant, or for all when tenant_name is None; for all mail, or for one
    list of the tenant's); adding it again keeps the first."""
    entry, _added = _suppress(session, tenant_name, address, reason, detail, list_name)
    return entry


def suppress_new(session: Session, tenant_name: str | None, address: str, reason: str,
                 detail: str = "", list_name: str = "") -> Suppression | None:
    """As suppress; None when the address was suppressed so already."""
    entry, added = _suppress(session, tenant_name, address, reason, detail, list_name)
    return entry if added else None


def _suppress(session: Session, tenant_name: str | None, address: str, reason: str, detail: str,
              list_name: str) -> tuple[Suppression, bool]:
    if reason not in REASONS:
        raise InvalidInputError(f"reason must be one of {', '.join(REASONS)}")
    if list_name and tenant_name is None:
        raise InvalidInputError("a list's suppression is a tenant's")
    list_name = check_list_name(list_name) if list_name else ""
    tenant_id = None if tenant_name is None else get_tenant(session, tenant_name).id
    normalized = normalize_address(address)
    existing = find(session, tenant_id, normalized, list_name)
    if existing is not None:
        return existing, False
    entry = Suppression(tenant_id=tenant_id, address=normalized, reason=reason, detail=detail,
                        list_name=list_name)
    session.add(entry)
    bump_directory_version(session)
    session.flush()
    return entry, True


def unsuppress(session: Session, tenant_name: str | None, address: str, list_name: str = "") -> None:
    tenant_id = None if tenant_name is None else get_tenant(session, tenant_name).id
    entry = find(session, tenant_id, address, list_name)
    if entry is None:
        scope = "globally" if tenant_name is None else f"for {tenant_name}"
        scope += f" (list {list_name})" if list_name else ""
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
