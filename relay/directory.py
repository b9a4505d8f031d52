"""What the front-end knows of tenants, in memory: credentials and sending domains.

Loaded from the database at start and again whenever the directory version in
the database moves; SMTP sessions only ever read the in-memory snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.db import directory_version
from core.models import SendingDomain, SmtpCredential, Suppression, Tenant
from core.snapshot_cache import SnapshotCache
from core.states import SENDING_STATUSES, TenantStatus


@dataclass(frozen=True)
class CredentialEntry:
    tenant: str
    secret_hash: str


@dataclass(frozen=True)
class DomainEntry:
    tenant: str
    verified: bool


@dataclass(frozen=True)
class Snapshot:
    version: int
    credentials: dict[str, CredentialEntry] = field(default_factory=dict)
    domains: dict[str, DomainEntry] = field(default_factory=dict)
    active_tenants: frozenset[str] = frozenset()
    # (tenant name, or "" for every tenant; lower-cased address) -> why it is suppressed
    suppressed: dict[tuple[str, str], str] = field(default_factory=dict)
    # Paused by the reputation guard: told to try again later, not refused for good.
    paused_tenants: frozenset[str] = frozenset()
    # (tenant name, lower-cased address) -> the lists it is suppressed for (unsubscribed from)
    suppressed_lists: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    # The ids of the tenants that send each Message-ID once (Tenant.once_per_message_id), by name.
    once_per_message_id: dict[str, int] = field(default_factory=dict)


def load_snapshot(engine: Engine) -> Snapshot:
    with Session(engine) as session, session.begin():
        version = directory_version(engine)
        credentials = {
            username: CredentialEntry(tenant, secret_hash)
            for username, secret_hash, tenant in session.execute(
                select(SmtpCredential.username, SmtpCredential.secret_hash, Tenant.name)
                .join(Tenant)
                .where(SmtpCredential.revoked_at.is_(None))
            )
        }
        domains = {
            name: DomainEntry(tenant, verified_at is not None)
            for name, verified_at, tenant in session.execute(
                select(SendingDomain.name, SendingDomain.verified_at, Tenant.name).join(Tenant)
            )
        }
        active = frozenset(session.scalars(select(Tenant.name).where(Tenant.status.in_(SENDING_STATUSES))))
        paused = frozenset(session.scalars(select(Tenant.name).where(Tenant.status == TenantStatus.PAUSED)))
        suppressed = {}
        lists: dict[tuple[str, str], set[str]] = {}
        for address, reason, list_name, tenant in session.execute(
                select(Suppression.address, Suppression.reason, Suppression.list_name, Tenant.name)
                .outerjoin(Tenant)):
            if list_name:
                lists.setdefault((tenant, address), set()).add(list_name)
            else:
                suppressed[(tenant or "", address)] = reason
        once = {name: tenant_id for name, tenant_id in session.execute(
            select(Tenant.name, Tenant.id).where(Tenant.once_per_message_id.is_(True)))}
    return Snapshot(version, credentials, domains, active, suppressed, paused,
                    {key: frozenset(names) for key, names in lists.items()}, once)


class Directory(SnapshotCache[Snapshot]):
    def __init__(self, engine: Engine, loaded_file: Path) -> None:
        super().__init__(engine, load_snapshot, loaded_file)

    def credential(self, username: str) -> CredentialEntry | None:
        return self.snapshot.credentials.get(username)

    def tenant_is_paused(self, tenant: str) -> bool:
        return tenant in self.snapshot.paused_tenants

    def tenant_may_send(self, tenant: str) -> bool:
        return tenant in self.snapshot.active_tenants

    def suppression(self, tenant: str, address: str) -> str | None:
        """Why mail to this address is refused for this tenant (or for all); None when it is not."""
        suppressed = self.snapshot.suppressed
        lowered = address.lower()
        return suppressed.get((tenant, lowered)) or suppressed.get(("", lowered))

    def once_per_message_id(self, tenant: str) -> int | None:
        """The tenant's id when it sends each Message-ID once; else None."""
        return self.snapshot.once_per_message_id.get(tenant)

    def unsubscribed(self, tenant: str, address: str, list_name: str) -> bool:
        return list_name in self.snapshot.suppressed_lists.get((tenant, address.lower()), ())

    def domain_is_senders(self, tenant: str, domain: str) -> bool:
        entry = self.snapshot.domains.get(domain.lower())
        return entry is not None and entry.verified and entry.tenant == tenant
