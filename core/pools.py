"""IP pools: the outbound addresses tenants send from, their weights, states and warm-up.

Each address is a delivery transport in Postfix's master.cf (core.postfix.transports),
bound to it and saying its HELO name. Tenants without a pool of their own use the shared
default pool; while that has no addresses, the box sends from its own address.
"""

from __future__ import annotations

import ipaddress
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import is_hostname
from core.db import bump_directory_version
from core.errors import ConflictError, InvalidInputError, NotFoundError
from core.events import record_event
from core.ip_checks import IpCheck
from core.models import IpPool, PoolIp, utcnow
from core.states import PoolIpState
from core.tenants import get_tenant

DEFAULT_POOL = "default"
POOL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def default_pool(session: Session) -> IpPool:
    pool = session.scalar(select(IpPool).where(IpPool.is_default.is_(True)))
    if pool is None:
        pool = IpPool(name=DEFAULT_POOL, is_default=True)
        session.add(pool)
        session.flush()
    return pool


def get_pool(session: Session, name: str) -> IpPool:
    if name == DEFAULT_POOL:
        return default_pool(session)
    pool = session.scalar(select(IpPool).where(IpPool.name == name))
    if pool is None:
        raise NotFoundError(f"no IP pool {name!r}")
    return pool


def add_pool(session: Session, name: str) -> IpPool:
    if not POOL_NAME.fullmatch(name):
        raise InvalidInputError(f"pool name {name!r}: lower-case letters, digits, - and _")
    if name == DEFAULT_POOL or session.scalar(select(IpPool).where(IpPool.name == name)) is not None:
        raise ConflictError(f"pool {name!r} exists already")
    pool = IpPool(name=name)
    session.add(pool)
    session.flush()
    return pool


def parse_caps(text: str) -> list[int]:
    try:
        caps = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise InvalidInputError(f"warm-up caps {text!r}: numbers separated by commas") from exc
    if any(cap < 1 for cap in caps):
        raise InvalidInputError("warm-up caps must be 1 or more")
    return caps


def add_ip(session: Session, pool_name: str, address: str, helo_name: str, weight: int = 100,
           warmup_caps: list[int] | None = None) -> PoolIp:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError as exc:
        raise InvalidInputError(f"{address!r} is not an IPv4 or IPv6 address") from exc
    helo = helo_name.lower().rstrip(".")
    if not is_hostname(helo) or "." not in helo:
        raise InvalidInputError(f"HELO name {helo_name!r} is not a host name")
    if weight < 1:
        raise InvalidInputError("weight must be 1 or more")
    existing = session.scalar(select(PoolIp).where(PoolIp.address == parsed.compressed))
    if existing is not None and existing.state != PoolIpState.REMOVED:
        raise ConflictError(f"{parsed.compressed} is in pool {existing.pool.name} already")
    if existing is not None:
        session.delete(existing)
        session.flush()
    ip = PoolIp(pool=get_pool(session, pool_name), address=parsed.compressed, helo_name=helo, weight=weight,
                state=PoolIpState.WARMING if warmup_caps else PoolIpState.ACTIVE,
                warmup_caps=",".join(map(str, warmup_caps or [])),
                warmup_started=utcnow() if warmup_caps else None,
                warmup_step_since=utcnow() if warmup_caps else None)
    session.add(ip)
    bump_directory_version(session)
    session.flush()
    return ip


def get_ip(session: Session, address: str) -> PoolIp:
    ip = session.scalar(select(PoolIp).where(PoolIp.address == address))
    if ip is None or ip.state == PoolIpState.REMOVED:
        raise NotFoundError(f"no pool address {address!r}")
    return ip


def set_weight(session: Session, address: str, weight: int) -> PoolIp:
    if weight < 1:
        raise InvalidInputError("weight must be 1 or more")
    ip = get_ip(session, address)
    ip.weight = weight
    bump_directory_version(session)
    return ip


def pause_ip(session: Session, address: str, reason: str) -> PoolIp:
    ip = get_ip(session, address)
    ip.state, ip.paused_reason = PoolIpState.PAUSED, reason[:255]
    bump_directory_version(session)
    return ip


def resume_ip(session: Session, address: str) -> PoolIp:
    ip = get_ip(session, address)
    ip.state = PoolIpState.WARMING if warmup_cap(ip) is not None else PoolIpState.ACTIVE
    ip.paused_reason = ""
    bump_directory_version(session)
    return ip


def remove_ip(session: Session, address: str) -> None:
    """The address sends no new mail; its transport stays (unbound) for mail already queued."""
    ip = get_ip(session, address)
    ip.state = PoolIpState.REMOVED
    bump_directory_version(session)


def assign_tenant(session: Session, tenant_name: str, pool_name: str | None) -> None:
    """The pool a tenant sends from; None (or the default pool's name): the shared default pool."""
    tenant = get_tenant(session, tenant_name)
    pool = default_pool(session) if pool_name is None else get_pool(session, pool_name)
    tenant.pool = None if pool.is_default else pool
    bump_directory_version(session)


def warmup_cap(ip: PoolIp) -> int | None:
    """The daily cap of the address's warm-up step; None once past the last (or with none)."""
    if not ip.warmup_caps or ip.warmup_started is None:
        return None
    caps = parse_caps(ip.warmup_caps)
    return caps[ip.warmup_step] if 0 <= ip.warmup_step < len(caps) else None


def pools_by_name(session: Session) -> dict[str, IpPool]:
    default_pool(session)
    return {pool.name: pool for pool in session.scalars(select(IpPool).order_by(IpPool.name))}


def record_check(session: Session, check: IpCheck) -> PoolIp:
    """Store a check's findings; an address newly listed on a blocklist is paused, saying where."""
    ip = get_ip(session, check.address)
    ip.fcrdns_ok, ip.listed_on, ip.last_checked_at = check.fcrdns_ok, ",".join(check.listed_on), utcnow()
    if check.listed_on and ip.state != PoolIpState.PAUSED:
        reason = f"listed on {', '.join(check.listed_on)}"
        pause_ip(session, check.address, reason)
        record_event(session, "ip_paused", check.address, f"{reason}; it sends nothing until resumed")
    return ip


def sending_ips(session: Session) -> list[PoolIp]:
    return list(session.scalars(select(PoolIp).where(PoolIp.state != PoolIpState.REMOVED)
                                .order_by(PoolIp.address)))
