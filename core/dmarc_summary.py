"""What receivers' DMARC aggregate reports say about a domain: each source address with its
volume and how its mail fared (DKIM, SPF, DMARC alignment), the relay's own pool addresses
told from the others, the failing sources first; and the reports themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.models import DmarcReport, DmarcReportRow, utcnow
from core.pools import sending_ips

MAX_SOURCES = 500


@dataclass(frozen=True)
class DmarcSource:
    source_ip: str
    ptr: str
    own: bool  # one of the relay's pool addresses
    messages: int
    dkim_pass: int  # DMARC's verdict: an aligned DKIM signature passed
    spf_pass: int  # an aligned SPF pass
    dmarc_pass: int  # either of the two
    reporters: int  # how many reports name the source

    @property
    def failing(self) -> int:
        return self.messages - self.dmarc_pass


def _passed(column: InstrumentedAttribute[str]) -> ColumnElement[int]:
    return func.sum(case((column == "pass", DmarcReportRow.messages), else_=0))


def dmarc_sources(session: Session, domain_id: int, days: int) -> list[DmarcSource]:
    """The domain's sources over the last days, failing ones first, then by volume."""
    since = utcnow() - timedelta(days=days)
    either = func.sum(case(((DmarcReportRow.dkim == "pass") | (DmarcReportRow.spf == "pass"),
                            DmarcReportRow.messages), else_=0))
    rows = session.execute(
        select(DmarcReportRow.source_ip, func.max(DmarcReportRow.ptr), func.sum(DmarcReportRow.messages),
               _passed(DmarcReportRow.dkim), _passed(DmarcReportRow.spf), either,
               func.count(func.distinct(DmarcReportRow.dmarc_report_id)))
        .join(DmarcReport, DmarcReport.id == DmarcReportRow.dmarc_report_id)
        .where(DmarcReport.domain_id == domain_id, DmarcReport.received_at >= since)
        .group_by(DmarcReportRow.source_ip))
    own = {ip.address for ip in sending_ips(session)}
    sources = [DmarcSource(ip, ptr, ip in own, int(messages), int(dkim), int(spf), int(passed), int(reports))
               for ip, ptr, messages, dkim, spf, passed, reports in rows]
    sources.sort(key=lambda s: (-s.failing, -s.messages, s.source_ip))
    return sources[:MAX_SOURCES]


@dataclass(frozen=True)
class DmarcReportSummary:
    org_name: str
    reporter_email: str
    report_id: str
    begin_at: datetime | None
    end_at: datetime | None
    policy: str
    signed: bool
    messages: int


def dmarc_reports(session: Session, domain_id: int, days: int, limit: int = 100) -> list[DmarcReportSummary]:
    since = utcnow() - timedelta(days=days)
    rows = session.execute(
        select(DmarcReport, func.coalesce(func.sum(DmarcReportRow.messages), 0))
        .outerjoin(DmarcReportRow, DmarcReportRow.dmarc_report_id == DmarcReport.id)
        .where(DmarcReport.domain_id == domain_id, DmarcReport.received_at >= since)
        .group_by(DmarcReport.id)
        .order_by(DmarcReport.received_at.desc(), DmarcReport.id.desc()).limit(limit))
    return [DmarcReportSummary(r.org_name, r.reporter_email, r.report_id, r.begin_at, r.end_at, r.policy,
                               r.signed, int(messages)) for r, messages in rows]
