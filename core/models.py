"""The relay's tables. Schema changes go through alembic (migrations/), never create_all."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Travels to Postfix as the SASL login (XCLIENT LOGIN=) and back in its log.
    name: Mapped[str] = mapped_column(String(63), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    credentials: Mapped[list[SmtpCredential]] = relationship(back_populates="tenant")
    domains: Mapped[list[SendingDomain]] = relationship(back_populates="tenant")


class SmtpCredential(Base):
    __tablename__ = "smtp_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    tenant: Mapped[Tenant] = relationship(back_populates="credentials")


class SendingDomain(Base):
    __tablename__ = "sending_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the DKIM record checked out; only verified domains may send.
    verified_at: Mapped[datetime | None] = mapped_column(default=None)
    last_checked_at: Mapped[datetime | None] = mapped_column(default=None)
    dkim_ok: Mapped[bool] = mapped_column(default=False)
    spf_ok: Mapped[bool] = mapped_column(default=False)
    dmarc_ok: Mapped[bool] = mapped_column(default=False)
    return_path_ok: Mapped[bool] = mapped_column(default=False)

    tenant: Mapped[Tenant] = relationship(back_populates="domains")
    dkim_keys: Mapped[list[DkimKey]] = relationship(back_populates="domain")


class DkimKey(Base):
    __tablename__ = "dkim_keys"
    __table_args__ = (UniqueConstraint("domain_id", "selector"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("sending_domains.id", ondelete="CASCADE"), index=True)
    selector: Mapped[str] = mapped_column(String(63))
    algorithm: Mapped[str] = mapped_column(String(16))
    # The PEM private key, encrypted with the key in settings.encryption_key_file.
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    # The p= value of the DNS record.
    public_key_b64: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    domain: Mapped[SendingDomain] = relationship(back_populates="dkim_keys")


class DirectoryVersion(Base):
    """One row whose counter rises on every change the running services cache.

    Services poll this single value and reload their caches when it moves, so
    the hot path never queries the database.
    """

    __tablename__ = "directory_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
