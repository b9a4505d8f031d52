"""What the front-end knows of tenants, in memory: credentials and sending domains.

Loaded from the database at start and again whenever the directory version in
the database moves; SMTP sessions only ever read the in-memory snapshot.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.db import directory_version
from core.models import SendingDomain, SmtpCredential, Tenant

log = logging.getLogger(__name__)


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
        active = frozenset(session.scalars(select(Tenant.name).where(Tenant.status == "active")))
    return Snapshot(version, credentials, domains, active)


class Directory:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.snapshot = load_snapshot(engine)

    def credential(self, username: str) -> CredentialEntry | None:
        return self.snapshot.credentials.get(username)

    def tenant_may_send(self, tenant: str) -> bool:
        return tenant in self.snapshot.active_tenants

    def domain_is_senders(self, tenant: str, domain: str) -> bool:
        entry = self.snapshot.domains.get(domain.lower())
        return entry is not None and entry.verified and entry.tenant == tenant

    def refresh_if_changed(self) -> bool:
        if directory_version(self._engine) == self.snapshot.version:
            return False
        self.snapshot = load_snapshot(self._engine)
        log.info("directory reloaded at version %d", self.snapshot.version)
        return True

    async def keep_fresh(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.refresh_if_changed)
            except Exception:
                log.exception("directory refresh failed; serving the last snapshot")
