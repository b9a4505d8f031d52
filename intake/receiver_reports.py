"""What receivers report about the mail: DMARC aggregate reports to dmarc@ and SMTP TLS reports
to tlsrpt@ the feedback domain, stored per domain for the panel and the API.

Anyone can send such mail. A report counts only for a domain the box serves (a tenant's
sending domain; for TLS reports also the box's own receiving domains); others are dropped
with a log line, answered 250 all the same, since a refusal would go back to whatever
sender the mail claims. A report is stored once per reporter and report id, however often
it comes. Whether the report's mail bore a valid DKIM signature of its From domain is
stored with it (`signed`), so the panel can tell a report of Google's from one anybody
made up. Source addresses get their PTR looked up, at most MAX_PTR_LOOKUPS per report,
the largest sources first, within PTR_SECONDS.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import dkim
import dns.exception
import dns.resolver
import dns.reversename
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from core.dmarc_aggregate import AggregateReport, read_aggregate
from core.domain_verify import lookup
from core.models import DmarcReport, DmarcReportRow, SendingDomain, TlsReportEntry
from core.report_files import BadReport, report_files
from core.tls_report import TlsReport, read_tls_report

log = logging.getLogger(__name__)

MAX_PTR_LOOKUPS = 50
PTR_SECONDS = 10.0  # for all of a report's lookups: a resolver away must not hold the intake


@dataclass(frozen=True)
class Stored:
    stored: int  # reports (or TLS policy entries) newly stored
    dropped: int  # files that were no report, or about a domain not served here
    signed: bool


def signed_by_sender(raw: bytes, resolver: dns.resolver.Resolver) -> bool:
    """A DKIM signature of the message verifies, made by the From domain or a parent of it."""
    message = email.message_from_bytes(raw[:65536], policy=email.policy.compat32)
    from_domain = email.utils.parseaddr(str(message.get("From", "")))[1].rpartition("@")[2].lower()
    if not from_domain:
        return False

    def txt(name: bytes, timeout: int = 5) -> bytes:
        found = lookup(resolver, name.decode("ascii", "replace"), "TXT")
        return found[0].encode() if found else b""

    checker = dkim.DKIM(raw)
    for index, signature in enumerate(message.get_all("DKIM-Signature") or []):
        tags = dict(part.strip().split("=", 1) for part in str(signature).split(";") if "=" in part)
        signer = "".join(tags.get("d", "").split()).lower()
        aligned = signer and (from_domain == signer or from_domain.endswith("." + signer))
        try:
            if aligned and checker.verify(idx=index, dnsfunc=txt):
                return True
        except (dkim.DKIMException, ValueError, IndexError):
            continue
    return False


def _ptr_names(resolver: dns.resolver.Resolver, report: AggregateReport) -> dict[str, str]:
    volume: dict[str, int] = {}
    for row in report.rows:
        volume[row.source_ip] = volume.get(row.source_ip, 0) + row.count
    names = {}
    deadline = time.monotonic() + PTR_SECONDS
    for address in sorted(volume, key=volume.__getitem__, reverse=True)[:MAX_PTR_LOOKUPS]:
        if time.monotonic() > deadline:
            break
        try:
            found = lookup(resolver, dns.reversename.from_address(address).to_text(), "PTR")
        except (dns.exception.DNSException, ValueError):
            found = []
        names[address] = found[0].rstrip(".")[:253] if found else ""
    return names


def _store_aggregate(session: Session, report: AggregateReport, signed: bool, ptr: dict[str, str]) -> bool:
    domain = session.scalar(select(SendingDomain).where(SendingDomain.name == report.domain))
    if domain is None:
        log.info("DMARC report from %s for %s: not a domain served here; dropped", report.org_name[:80],
                 report.domain[:253])
        return False
    known = session.scalar(select(DmarcReport.id).where(
        DmarcReport.domain_id == domain.id, DmarcReport.org_name == report.org_name,
        DmarcReport.report_id == report.report_id))
    if known is not None:
        return False
    stored = DmarcReport(domain_id=domain.id, org_name=report.org_name, reporter_email=report.email,
                         report_id=report.report_id, begin_at=report.begin, end_at=report.end,
                         policy=report.policy, signed=signed)
    session.add(stored)
    session.flush()
    if report.rows:
        session.execute(insert(DmarcReportRow), [{
            "dmarc_report_id": stored.id, "source_ip": row.source_ip, "ptr": ptr.get(row.source_ip, ""),
            "messages": row.count, "disposition": row.disposition[:16], "dkim": row.dkim[:16],
            "spf": row.spf[:16], "header_from": row.header_from[:253],
            "auth_results": "; ".join(f"{r.method} {r.domain} {r.result}" for r in row.results)[:4000],
        } for row in report.rows])
    return True


def _tls_domains(session: Session, own: frozenset[str]) -> Callable[[str], tuple[bool, int | None]]:
    def served(name: str) -> tuple[bool, int | None]:
        tenant_id = session.scalar(select(SendingDomain.tenant_id).where(SendingDomain.name == name))
        return (tenant_id is not None or name in own), tenant_id
    return served


def _store_tls(session: Session, report: TlsReport, signed: bool, own: frozenset[str]) -> tuple[int, int]:
    served = _tls_domains(session, own)
    stored = dropped = 0
    for policy in report.policies:
        is_served, tenant_id = served(policy.domain)
        known = session.scalar(select(TlsReportEntry.id).where(
            TlsReportEntry.org_name == report.org_name, TlsReportEntry.report_id == report.report_id,
            TlsReportEntry.domain == policy.domain, TlsReportEntry.policy_type == policy.policy_type))
        if not is_served or known is not None:
            dropped += not is_served
            continue
        session.add(TlsReportEntry(
            tenant_id=tenant_id, org_name=report.org_name, report_id=report.report_id, begin_at=report.begin,
            end_at=report.end, domain=policy.domain, policy_type=policy.policy_type[:32],
            successes=policy.successes, failures=policy.failures, signed=signed,
            failure_details=[{"result_type": f.result_type, "receiving_mx": f.receiving_mx,
                              "sending_ip": f.sending_ip, "sessions": f.sessions}
                             for f in policy.failure_details]))
        stored += 1
    return stored, dropped


def record_dmarc_reports(engine: Engine, resolver: dns.resolver.Resolver, raw: bytes) -> Stored:
    """Store the aggregate reports a message carries. Raises only when the database fails."""
    signed = signed_by_sender(raw, resolver)
    reports: list[tuple[AggregateReport, dict[str, str]]] = []
    dropped = 0
    for found in report_files(raw):
        try:
            report = read_aggregate(found.content)
        except BadReport as exc:
            log.info("an attachment that is no DMARC report (%s): %s", found.name[:80], exc)
            dropped += 1
            continue
        reports.append((report, _ptr_names(resolver, report)))
    stored = 0
    with Session(engine) as session, session.begin():
        for report, ptr in reports:
            kept = _store_aggregate(session, report, signed, ptr)
            stored += kept
            dropped += not kept
    return Stored(stored, dropped, signed)


def record_tls_reports(engine: Engine, resolver: dns.resolver.Resolver, raw: bytes,
                       own_domains: frozenset[str]) -> Stored:
    """Store the TLS reports a message carries, per policy. Raises only when the database fails."""
    signed = signed_by_sender(raw, resolver)
    reports: list[TlsReport] = []
    dropped = 0
    for found in report_files(raw):
        try:
            reports.append(read_tls_report(found.content))
        except BadReport as exc:
            log.info("an attachment that is no TLS report (%s): %s", found.name[:80], exc)
            dropped += 1
    stored = 0
    with Session(engine) as session, session.begin():
        for report in reports:
            kept, not_served = _store_tls(session, report, signed, own_domains)
            stored += kept
            dropped += not_served
    return Stored(stored, dropped, signed)
