"""What the milter knows, in memory: tenants with their limits, domains with their signing keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

from core import limits, pools, shaping, tracking
from core.config import Settings
from core.db import directory_version
from core.models import IpPool, SendingDomain, Tenant
from core.postfix.transports import transport_name
from core.return_paths import return_path_domain
from core.secretbox import SecretBox
from core.snapshot_cache import SnapshotCache
from core.states import SENDING_STATUSES, DkimKeyState, PoolIpState
from core.tracking import TrackingLinks
from milter.dkim_signer import SigningKey


@dataclass(frozen=True)
class TenantEntry:
    id: int
    active: bool
    # Each limit by name (core/limits.py) as it holds for the tenant; 0: no limit.
    limits: Mapping[str, int]
    pool: str
    # Whether its sent messages are archived (core/archive.py).
    archive: bool = False


@dataclass(frozen=True)
class IpEntry:
    address: str
    transport: str
    weight: int
    state: str
    cap: int | None  # the daily cap of its warm-up step (core/warmup.py); None: none


@dataclass(frozen=True)
class PoolEntry:
    is_default: bool
    ips: tuple[IpEntry, ...]


@dataclass(frozen=True)
class DomainEntry:
    tenant: str
    verified: bool
    keys: tuple[SigningKey, ...]
    # Where the VERP return-path of the domain's mail is (core/return_paths.py); None: the bounce domain.
    return_path_domain: str | None = None
    # One-click unsubscribe on all the domain's mail, not only on messages that name a list.
    one_click_unsubscribe: bool = False
    # Where and what its HTML mail's tracked links track; None: tracking is off.
    tracking: TrackingLinks | None = None


@dataclass(frozen=True)
class MilterSnapshot:
    version: int
    tenants: dict[str, TenantEntry] = field(default_factory=dict)
    domains: dict[str, DomainEntry] = field(default_factory=dict)
    pools: dict[str, PoolEntry] = field(default_factory=dict)
    # Suspended pathways to route new mail around (core/shaping.py).
    rerouted: frozenset[str] = frozenset()


class MilterDirectory(SnapshotCache[MilterSnapshot]):
    def __init__(self, engine: Engine, settings: Settings, secret_box: SecretBox) -> None:
        self._settings = settings
        self._secret_box = secret_box
        self._tracking_key = tracking.token_key(secret_box)
        super().__init__(engine, self._load_snapshot, settings.directory_loaded_file("milter"))

    def _load_snapshot(self, engine: Engine) -> MilterSnapshot:
        with Session(engine) as session, session.begin():
            version = directory_version(engine)
            default = pools.DEFAULT_POOL
            tenants = {
                t.name: TenantEntry(t.id, t.status in SENDING_STATUSES,
                                    limits.effective(t.limits, self._settings.limits),
                                    t.pool.name if t.pool is not None else default, t.archive_days > 0)
                for t in session.scalars(select(Tenant).options(selectinload(Tenant.pool)))
            }
            pool_entries = {
                pool.name: PoolEntry(pool.is_default, tuple(
                    IpEntry(ip.address, transport_name(ip.address), ip.weight, ip.state, pools.warmup_cap(ip))
                    for ip in pool.ips if ip.state != PoolIpState.REMOVED))
                for pool in session.scalars(select(IpPool).options(selectinload(IpPool.ips)))
            }
            domains = {}
            query = select(SendingDomain).options(
                selectinload(SendingDomain.dkim_keys), selectinload(SendingDomain.tenant))
            for domain in session.scalars(query):
                # RSA first: it is the signature every receiver can check.
                active = sorted((k for k in domain.dkim_keys if k.state == DkimKeyState.ACTIVE),
                                key=lambda k: k.algorithm, reverse=True)
                keys = tuple(self._signing_key(domain.name, k.selector, k.private_key_encrypted)
                             for k in active)
                domains[domain.name] = DomainEntry(domain.tenant.name, domain.verified_at is not None, keys,
                                                   return_path_domain(domain), domain.one_click_unsubscribe,
                                                   self._tracking(domain))
            rerouted = shaping.rerouted(session)
        return MilterSnapshot(version, tenants, domains, pool_entries, rerouted)

    def _tracking(self, domain: SendingDomain) -> TrackingLinks | None:
        if not (domain.track_opens or domain.track_clicks):
            return None
        base = tracking.base_url(self._settings.link_base_url, domain.name, domain.tracking_host_ok)
        return TrackingLinks(self._tracking_key, base, domain.track_opens, domain.track_clicks)

    def _signing_key(self, domain: str, selector: str, encrypted_pem: str) -> SigningKey:
        return SigningKey.from_pem(domain, selector, self._secret_box.decrypt(encrypted_pem))

    def tenant(self, name: str) -> TenantEntry | None:
        return self.snapshot.tenants.get(name)

    def pool(self, name: str) -> PoolEntry | None:
        return self.snapshot.pools.get(name)

    def rerouted(self) -> frozenset[str]:
        return self.snapshot.rerouted

    def sending_domain(self, tenant: str, domain: str) -> DomainEntry | None:
        """A verified domain of this tenant; None for anything else."""
        entry = self.snapshot.domains.get(domain.lower())
        if entry is None or not entry.verified or entry.tenant != tenant:
            return None
        return entry
