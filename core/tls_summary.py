"""What senders' SMTP TLS reports say, per reporting provider: sessions that succeeded and
failed, and the failures by kind."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from core.models import TlsReportEntry, utcnow


@dataclass
class TlsProvider:
    org_name: str
    successes: int = 0
    failures: int = 0
    domains: set[str] = field(default_factory=set)
    policy_types: set[str] = field(default_factory=set)
    failure_types: Counter[str] = field(default_factory=Counter)
    signed: bool = True  # every report of the provider came signed


def tls_providers(session: Session, scope: ColumnElement[bool], days: int) -> list[TlsProvider]:
    """Per provider over the last days, those with failures first."""
    since = utcnow() - timedelta(days=days)
    providers: dict[str, TlsProvider] = {}
    for entry in session.scalars(select(TlsReportEntry).where(TlsReportEntry.received_at >= since, scope)):
        provider = providers.setdefault(entry.org_name, TlsProvider(entry.org_name))
        provider.successes += entry.successes
        provider.failures += entry.failures
        provider.domains.add(entry.domain)
        provider.policy_types.add(entry.policy_type)
        provider.signed = provider.signed and entry.signed
        for detail in entry.failure_details:
            sessions = detail.get("sessions", 0)
            counted = sessions if isinstance(sessions, int) else 0
            provider.failure_types[str(detail.get("result_type", ""))] += counted
    return sorted(providers.values(), key=lambda p: (-p.failures, p.org_name))
