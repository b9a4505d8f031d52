"""Panel accounts and API tokens: admins see everything, tenant users one tenant.

Passwords are argon2id hashes (core.passwords); API tokens are random and long,
so a SHA-256 of each is enough to find and check it without keeping the token.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import ConflictError, InvalidInputError, NotFoundError
from core.models import ApiToken, PanelUser, utcnow
from core.passwords import hash_secret, new_token, token_digest, verify_secret
from core.tenants import get_tenant

ROLES = ("admin", "tenant")
MIN_PASSWORD_LENGTH = 12
TOKEN_PREFIX = "rlt_"
# Checked when the username is unknown, so that a wrong name takes as long as a wrong password.
_DUMMY_HASH = hash_secret(secrets.token_hex(16))


def add_user(session: Session, username: str, password: str, role: str,
             tenant_name: str | None = None) -> PanelUser:
    username = username.strip()
    if not username or len(username) > 128 or any(c.isspace() for c in username):
        raise InvalidInputError("a username is 1 to 128 characters without spaces")
    if role not in ROLES:
        raise InvalidInputError(f"role must be one of {', '.join(ROLES)}")
    if (role == "tenant") != (tenant_name is not None):
        raise InvalidInputError("a tenant user belongs to exactly one tenant; an admin to none")
    if session.scalar(select(PanelUser.id).where(PanelUser.username == username)) is not None:
        raise ConflictError(f"user {username} exists already")
    tenant_id = get_tenant(session, tenant_name).id if tenant_name is not None else None
    user = PanelUser(username=username, role=role, tenant_id=tenant_id)
    set_password(user, password)
    session.add(user)
    session.flush()
    return user


def set_password(user: PanelUser, password: str) -> None:
    """A new password, which ends every session of the user."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_secret(password)
    end_sessions(user)


def end_sessions(user: PanelUser) -> None:
    user.session_generation = (user.session_generation or 0) + 1


def check_password(user: PanelUser, password: str) -> None:
    """For what a stolen session must not do alone: the password again."""
    if not verify_secret(user.password_hash, password):
        raise InvalidInputError("This is not your current password.")


def change_password(user: PanelUser, current: str, new: str) -> None:
    check_password(user, current)
    set_password(user, new)


def _named(session: Session, username: str) -> PanelUser | None:
    return session.scalar(select(PanelUser).where(PanelUser.username == username.strip()))


def authenticate(session: Session, username: str, password: str) -> PanelUser | None:
    user = _named(session, username)
    if user is None:
        verify_secret(_DUMMY_HASH, password)
        return None
    if not verify_secret(user.password_hash, password):
        return None
    user.last_login_at = utcnow()
    return user


def user_by_name(session: Session, username: str) -> PanelUser:
    user = _named(session, username)
    if user is None:
        raise NotFoundError(f"no panel user {username}")
    return user


def list_users(session: Session) -> list[PanelUser]:
    return list(session.scalars(select(PanelUser).order_by(PanelUser.username)))


def new_api_token(session: Session, user: PanelUser, name: str) -> tuple[ApiToken, str]:
    """A new token for user; the token itself is returned once and not stored."""
    token = new_token(TOKEN_PREFIX)
    row = ApiToken(user_id=user.id, name=name.strip()[:128] or "token", token_sha256=token_digest(token))
    session.add(row)
    session.flush()
    return row, token


def user_for_token(session: Session, token: str) -> PanelUser | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == token_digest(token)))
    if row is None:
        return None
    row.last_used_at = utcnow()
    return row.user


def revoke_api_token(session: Session, user: PanelUser, token_id: int) -> None:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise NotFoundError("no such token")
    session.delete(row)

