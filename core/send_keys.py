"""Send keys: what an app shows the HTTP send API. A key can only send, as its tenant; it is
shown once when made, stored as its SHA-256, may be made to expire after some days, and is
revoked for good. Panel API tokens (core.panel_users) are apart: neither opens the other's door."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from core.db import bump_directory_version
from core.errors import InvalidInputError, NotFoundError
from core.models import SendKey, utcnow
from core.passwords import new_token, token_digest
from core.tenants import get_tenant

KEY_PREFIX = "rsk_"
MAX_EXPIRES_IN_DAYS = 3650


def new_send_key(session: Session, tenant_name: str, name: str,
                 expires_in_days: int | None = None) -> tuple[SendKey, str]:
    """A new key for the tenant, for good or for expires_in_days; the key itself is returned
    this once and not stored."""
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRES_IN_DAYS:
        raise InvalidInputError(f"expires_in_days: from 1 to {MAX_EXPIRES_IN_DAYS} days, or none")
    tenant = get_tenant(session, tenant_name)
    secret = new_token(KEY_PREFIX)
    expires_at = None if expires_in_days is None else utcnow() + timedelta(days=expires_in_days)
    key = SendKey(tenant_id=tenant.id, name=name.strip()[:128] or "send key", key_sha256=token_digest(secret),
                  expires_at=expires_at)
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


def unrevoked_key(session: Session, secret: str) -> SendKey | None:
    """The key with its tenant unless revoked; else None. Whether it has expired is asked at each
    use (expired()), and whether the tenant may send now is the send's own check."""
    if not secret.startswith(KEY_PREFIX):
        return None
    return session.scalar(select(SendKey).options(joinedload(SendKey.tenant)).where(
        SendKey.key_sha256 == token_digest(secret), SendKey.revoked_at.is_(None)))


def expired(expires_at: datetime | None, now: datetime | None = None) -> bool:
    return expires_at is not None and (now or utcnow()) >= expires_at


def state(key: SendKey) -> str:
    """active, expired or revoked."""
    if key.revoked_at is not None:
        return "revoked"
    return "expired" if expired(key.expires_at) else "active"
