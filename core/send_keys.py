"""Send keys: what an app shows the HTTP send API. A key can only send, as its tenant; it is
shown once when made, stored as its SHA-256, and revoked for good. Panel API tokens
(core.panel_users) are apart: neither opens the other's door."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import bump_directory_version
from core.errors import NotFoundError
from core.models import SendKey, Tenant, utcnow
from core.passwords import new_token, token_digest
from core.tenants import get_tenant

KEY_PREFIX = "rsk_"


def new_send_key(session: Session, tenant_name: str, name: str) -> tuple[SendKey, str]:
    """A new key for the tenant; the key itself is returned this once and not stored."""
    tenant = get_tenant(session, tenant_name)
    secret = new_token(KEY_PREFIX)
    key = SendKey(tenant_id=tenant.id, name=name.strip()[:128] or "send key", key_sha256=token_digest(secret))
    session.add(key)
    session.flush()
    return key, secret


def send_keys(session: Session, tenant_name: str) -> list[SendKey]:
    tenant = get_tenant(session, tenant_name)
    return list(session.scalars(select(SendKey).where(SendKey.tenant_id == tenant.id).order_by(SendKey.id)))


def revoke_send_key(session: Session, tenant_name: str, key_id: int) -> SendKey:
    key = session.get(SendKey, key_id)
    if key is None or key.tenant_id != get_tenant(session, tenant_name).id:
        raise NotFoundError(f"{tenant_name} has no send key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        bump_directory_version(session)
    return key


def tenant_for_key(session: Session, secret: str) -> Tenant | None:
    """The tenant a key sends as, while the key stands; else None. (Whether the tenant may send
    now is the send's own check.)"""
    if not secret.startswith(KEY_PREFIX):
        return None
    return session.scalar(select(Tenant).join(SendKey).where(
        SendKey.key_sha256 == token_digest(secret), SendKey.revoked_at.is_(None)))
