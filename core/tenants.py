"""Tenant logic: tenants, their SMTP credentials and their sending domains.

Every change bumps the directory version, so running services reload their caches.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import limits
from core.config import Settings
from core.db import bump_directory_version
from core.dkim_keys import default_selector, generate_key
from core.dns_records import records_for_domain
from core.domain_verify import RecordCheck, check_record, dmarc_rua, make_resolver
from core.errors import ConflictError, InvalidInputError, NotFoundError
from core.models import DkimKey, SendingDomain, SmtpCredential, Tenant, utcnow
from core.passwords import generate_secret, hash_secret
from core.return_paths import return_path_domain
from core.secretbox import SecretBox
from core.states import DkimKeyState

# The longest name made from a sending domain is its DKIM record's, "<selector>._domainkey.<domain>",
# with selectors of up to 11 characters; a DNS name has at most 253.
SENDING_DOMAIN_MAX = 253 - len("mr202611r99._domainkey.")
TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class NewCredential:
    username: str
    secret: str


def normalize_domain(name: str) -> str:
    try:
        ascii_name = name.strip().rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise InvalidInputError(f"{name!r} is not a valid domain name") from exc
    labels = ascii_name.split(".")
    if len(labels) < 2 or len(ascii_name) > 253 or not all(_DOMAIN_LABEL.match(x) for x in labels):
        raise InvalidInputError(f"{name!r} is not a valid domain name")
    return ascii_name


def get_tenant(session: Session, name: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        raise NotFoundError(f"no tenant named {name!r}")
    return tenant


def add_tenant(session: Session, name: str) -> Tenant:
    if not TENANT_NAME.match(name):
        raise InvalidInputError(
            "a tenant name is 1-63 lower-case letters, digits and '-', not starting with '-'")
    if session.scalar(select(Tenant).where(Tenant.name == name)) is not None:
        raise ConflictError(f"tenant {name!r} exists already")
    tenant = Tenant(name=name)
    session.add(tenant)
    bump_directory_version(session)
    session.flush()
    return tenant


def list_tenants(session: Session) -> list[Tenant]:
    return list(session.scalars(select(Tenant).order_by(Tenant.name)))


def add_credential(session: Session, tenant_name: str) -> NewCredential:
    tenant = get_tenant(session, tenant_name)
    username = f"{tenant.name}-{secrets.token_hex(4)}"
    secret = generate_secret()
    session.add(SmtpCredential(tenant=tenant, username=username, secret_hash=hash_secret(secret)))
    bump_directory_version(session)
    return NewCredential(username, secret)


def revoke_credential(session: Session, username: str) -> None:
    credential = session.scalar(select(SmtpCredential).where(SmtpCredential.username == username))
    if credential is None or credential.revoked_at is not None:
        raise NotFoundError(f"no active credential {username!r}")
    credential.revoked_at = utcnow()
    bump_directory_version(session)


def add_domain(session: Session, secret_box: SecretBox, tenant_name: str, domain_name: str,
               algorithm: str = "rsa") -> SendingDomain:
    tenant = get_tenant(session, tenant_name)
    name = normalize_domain(domain_name)
    if len(name) > SENDING_DOMAIN_MAX:
        raise InvalidInputError(f"a sending domain has at most {SENDING_DOMAIN_MAX} characters: "
                                "the names of its DNS records must fit in 253")
    if session.scalar(select(SendingDomain).where(SendingDomain.name == name)) is not None:
        raise ConflictError(f"domain {name!r} belongs to a tenant already")
    domain = SendingDomain(tenant=tenant, name=name)
    key = generate_key(algorithm)
    domain.dkim_keys.append(DkimKey(
        selector=default_selector(algorithm),
        algorithm=key.algorithm,
        private_key_encrypted=secret_box.encrypt(key.private_pem),
        public_key_b64=key.public_b64,
    ))
    session.add(domain)
    bump_directory_version(session)
    session.flush()
    return domain


def get_domain(session: Session, name: str) -> SendingDomain:
    domain = session.scalar(select(SendingDomain).where(SendingDomain.name == normalize_domain(name)))
    if domain is None:
        raise NotFoundError(f"no sending domain {name!r}")
    return domain


def _all_ok(checks: list[RecordCheck], purpose: str) -> bool:
    found = [c.ok for c in checks if c.record.purpose == purpose]
    return bool(found) and all(found)


def record_verification(session: Session, domain: SendingDomain, checks: list[RecordCheck],
                        now: datetime | None = None) -> None:
    """Store what a DNS check found; the domain is verified while its DKIM record checks out."""
    purposes = ("dkim", "spf", "dmarc", "return-path", "tracking")
    ok = {purpose: _all_ok(checks, purpose) for purpose in purposes}
    now = now or utcnow()
    def sending_as() -> tuple[bool, str | None, bool]:
        return domain.verified_at is not None, return_path_domain(domain), domain.tracking_host_ok

    was_sending_as = sending_as()
    domain.dkim_ok, domain.spf_ok = ok["dkim"], ok["spf"]
    domain.dmarc_ok, domain.return_path_ok = ok["dmarc"], ok["return-path"]
    domain.tracking_host_ok = ok["tracking"]
    domain.dmarc_rua = next((dmarc_rua(c.found) for c in checks if c.record.purpose == "dmarc" and c.ok), "")
    domain.last_checked_at = now
    required_ok = all(c.ok for c in checks if c.record.required)
    domain.verified_at = (domain.verified_at or now) if required_ok else None
    if was_sending_as != sending_as():
        bump_directory_version(session)
    published = {c.record.name.partition("._domainkey.")[0]
                 for c in checks if c.record.purpose == "dkim" and c.ok}
    activate_published_keys(session, domain, published)


def verify_domain(session: Session, settings: Settings, domain: SendingDomain) -> list[RecordCheck]:
    """Look each of the domain's records up in DNS now and store what was found."""
    resolver = make_resolver(settings)
    checks = [check_record(resolver, record)
              for record in records_for_domain(settings, domain.name, domain.dkim_keys, domain.tracks)]
    record_verification(session, domain, checks)
    return checks


def set_limits(session: Session, tenant_name: str, changes: Mapping[str, int | None]) -> Tenant:
    """Set some of a tenant's limits (core/limits.py): a number (0: no limit), or None for the box
    default."""
    tenant = get_tenant(session, tenant_name)
    for name, value in changes.items():
        limits.check(name, value)
    own = {**tenant.limits, **changes}
    tenant.limits = {name: value for name, value in own.items() if value is not None}
    bump_directory_version(session)
    return tenant


def set_once_per_message_id(session: Session, tenant_name: str, on: bool) -> Tenant:
    tenant = get_tenant(session, tenant_name)
    if tenant.once_per_message_id != on:
        tenant.once_per_message_id = on
        bump_directory_version(session)
    return tenant


def set_one_click_unsubscribe(session: Session, domain_name: str, on: bool) -> SendingDomain:
    domain = get_domain(session, domain_name)
    if domain.one_click_unsubscribe != on:
        domain.one_click_unsubscribe = on
        bump_directory_version(session)
    return domain


def set_tracking(session: Session, domain_name: str, opens: bool | None = None,
                 clicks: bool | None = None) -> SendingDomain:
    """Turn open or click tracking of the domain's HTML mail on or off; None leaves it as it is."""
    domain = get_domain(session, domain_name)
    wanted = (domain.track_opens if opens is None else opens,
              domain.track_clicks if clicks is None else clicks)
    if wanted != (domain.track_opens, domain.track_clicks):
        domain.track_opens, domain.track_clicks = wanted
        bump_directory_version(session)
    return domain


def mark_verified_by_operator(session: Session, domain: SendingDomain) -> None:
    """The operator vouches for the domain and its keys without a DNS check (a box with no public DNS)."""
    if domain.verified_at is None:
        domain.verified_at = utcnow()
        bump_directory_version(session)
    activate_published_keys(session, domain,
                            {k.selector for k in domain.dkim_keys if k.state == DkimKeyState.PENDING})


def add_dkim_key(session: Session, secret_box: SecretBox, domain_name: str, algorithm: str) -> DkimKey:
    """A new key for rotation (or a second algorithm). It signs only once its record is seen in DNS."""
    domain = get_domain(session, domain_name)
    taken = {k.selector for k in domain.dkim_keys}
    base = default_selector(algorithm)
    selector = next(s for s in (base, *(f"{base}{n}" for n in range(2, 100))) if s not in taken)
    generated = generate_key(algorithm)
    key = DkimKey(selector=selector, algorithm=generated.algorithm, state=DkimKeyState.PENDING,
                  private_key_encrypted=secret_box.encrypt(generated.private_pem),
                  public_key_b64=generated.public_b64)
    domain.dkim_keys.append(key)
    session.flush()
    return key


def activate_published_keys(session: Session, domain: SendingDomain, published: set[str]) -> list[DkimKey]:
    """Pending keys whose record is published start signing; each retires the older key of its algorithm."""
    activated = [k for k in domain.dkim_keys if k.state == DkimKeyState.PENDING and k.selector in published]
    for key in activated:
        for older in domain.dkim_keys:
            if older.state == DkimKeyState.ACTIVE and older.algorithm == key.algorithm:
                older.state = DkimKeyState.RETIRED
        key.state = DkimKeyState.ACTIVE
    if activated:
        bump_directory_version(session)
    return activated


def remove_dkim_key(session: Session, domain_name: str, selector: str) -> None:
    domain = get_domain(session, domain_name)
    key = next((k for k in domain.dkim_keys if k.selector == selector), None)
    if key is None:
        raise NotFoundError(f"{domain.name} has no DKIM key with selector {selector!r}")
    if key.state == DkimKeyState.ACTIVE and not any(
            k.state == DkimKeyState.ACTIVE for k in domain.dkim_keys if k is not key):
        raise ConflictError(f"{selector} is the only active key of {domain.name}; rotate to a new one first")
    domain.dkim_keys.remove(key)
    session.delete(key)
    bump_directory_version(session)
