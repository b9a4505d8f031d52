"""The archive of sent messages: each accepted message of a tenant that keeps one, as it left the
relay (signed, its links tracked), for its support team to look at, download and resend.

Where it is kept: the shared database (ArchivedMessage), so that every box's panel and API
reach every message whichever box sent it, one backup holds it with the rest, and the
milter writes it in the same transaction as the message's record. A message is zlib-
compressed, then sealed with AES-256-GCM under a key derived from the box's key (every box
of a cluster has the same key file), so the stored bytes show nothing of it; subject,
sender, recipients and tags stay readable, as search needs them. The cost: HTML mail of
30 KiB compresses to about a quarter (tests/unit/test_archive.py measures the newsletter
layout at under 0.3), so a million such messages take about 8 GB of database storage;
at $0.10 to $0.20 per GB-month of block storage, $1 to $2 a month per million kept. An
object store would cost a tenth of that per GB but needs a second credential on every box,
its own backup and a second place to search; the database is the simpler choice until
archives outgrow it.

What is not kept: Postfix's own Received line (Postfix writes it after the milter, which
never sees it).
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import ColumnElement, Select, delete, func, literal, select, true
from sqlalchemy.orm import Session

from core.config import ArchiveSettings
from core.db import bump_directory_version
from core.errors import InvalidInputError
from core.models import ArchivedMessage, ArchivedRecipient, Tenant, utcnow
from core.secretbox import SecretBox

_NONCE = 12
# What any box allows; a box's own maximum retention (archive.max_days) is at most MAX_DAYS.
MAX_DAYS = 3650
MAX_CAP_MIB = 1024 * 1024
COMPRESSION_LEVEL = 6


class DamagedArchive(Exception):
    """A stored message that does not open with this box's key."""


def archive_key(secret_box: SecretBox) -> bytes:
    return secret_box.derived_key("archive")


def seal(key: bytes, message: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, zlib.compress(message, COMPRESSION_LEVEL), None)


def unseal(key: bytes, sealed: bytes) -> bytes:
    try:
        return zlib.decompress(AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], None))
    except (InvalidTag, zlib.error, ValueError) as exc:
        raise DamagedArchive("the archived message does not open with this box's key") from exc


def set_archive(session: Session, settings: ArchiveSettings, tenant: Tenant, days: int | None = None,
                max_mib: int | None = None) -> Tenant:
    """A tenant's retention (0: no archive) and size cap (0: the box default); None leaves one as it
    is. InvalidInputError past the operator's maximum."""
    if days is not None and not 0 <= days <= settings.max_days:
        raise InvalidInputError(f"archive retention is 0 (off) to {settings.max_days} days on this box")
    if max_mib is not None and not 0 <= max_mib <= MAX_CAP_MIB:
        raise InvalidInputError(f"an archive size cap is 0 (the box default) to {MAX_CAP_MIB} MiB")
    if days is not None and days != tenant.archive_days:
        tenant.archive_days = days
        bump_directory_version(session)
    if max_mib is not None:
        tenant.archive_max_mib = max_mib
    return tenant


def cap_octets(settings: ArchiveSettings, tenant: Tenant) -> int:
    return (tenant.archive_max_mib or settings.default_max_mib) * 1024 * 1024


def sweep(session: Session, settings: ArchiveSettings, now: datetime | None = None) -> int:
    """Remove each tenant's messages older than its retention (all of them once it is 0), then its
    oldest past its cap; how many were removed."""
    now = now or utcnow()
    removed = 0
    held = select(ArchivedMessage.tenant_id).distinct()
    for tenant in session.scalars(select(Tenant).where(Tenant.id.in_(held))):
        if not tenant.archive_days:  # its archive was turned off: nothing is kept
            removed += _delete(session, tenant.id, true())
            continue
        cutoff = now - timedelta(days=min(tenant.archive_days, settings.max_days))
        removed += _delete(session, tenant.id, ArchivedMessage.at < cutoff)
        newest_first = func.sum(ArchivedMessage.stored_size).over(order_by=ArchivedMessage.at.desc())
        running = (select(ArchivedMessage.at, newest_first.label("held"))
                   .where(ArchivedMessage.tenant_id == tenant.id).subquery())
        past_cap = session.scalar(select(func.max(running.c.at))
                                  .where(running.c.held > cap_octets(settings, tenant)))
        if past_cap is not None:
            removed += _delete(session, tenant.id, ArchivedMessage.at <= past_cap)
    return removed


def _delete(session: Session, tenant_id: int, condition: ColumnElement[bool]) -> int:
    result = session.execute(delete(ArchivedMessage).where(ArchivedMessage.tenant_id == tenant_id, condition))
    return int(result.rowcount)  # type: ignore[attr-defined]


# A search that names no time reads this many days back, so that it reads one bounded range of
# the time index whatever the archive holds.
DEFAULT_SEARCH_DAYS = 7


@dataclass(frozen=True)
class ArchiveQuery:
    """What a search asks for; empty fields ask for nothing; with neither since nor until, the last
    DEFAULT_SEARCH_DAYS days."""

    subject: str = ""
    sender: str = ""
    recipient: str = ""  # the whole address
    tag: str = ""
    since: datetime | None = None
    until: datetime | None = None


def search(query: ArchiveQuery) -> Select[ArchivedMessage]:
    """The archived messages a query finds, newest first (a caller adds the tenant scope and paging).
    Every condition is on the tenant and time index first, so a search reads one range of it."""
    found = select(ArchivedMessage).order_by(ArchivedMessage.at.desc(), ArchivedMessage.message_ref.desc())
    for column, value in ((ArchivedMessage.subject, query.subject), (ArchivedMessage.sender, query.sender)):
        if value.strip():
            found = found.where(column.icontains(value.strip(), autoescape=True))
    if query.recipient.strip():
        address = query.recipient.strip().lower()
        found = found.where(ArchivedMessage.message_ref.in_(
            select(ArchivedRecipient.message_ref).where(ArchivedRecipient.address == address)))
    if query.tag.strip():
        tag = query.tag.strip()
        found = found.where((literal(",") + ArchivedMessage.tags + ",").contains(f",{tag},", autoescape=True))
    since = query.since
    if since is None and query.until is None:
        since = utcnow() - timedelta(days=DEFAULT_SEARCH_DAYS)
    if since is not None:
        found = found.where(ArchivedMessage.at >= since)
    if query.until is not None:
        found = found.where(ArchivedMessage.at < query.until)
    return found
