"""API: what receivers report: DMARC aggregate reports per domain, SMTP TLS reports per provider."""

from __future__ import annotations

from typing import Any

from admin.access import tenant_scope, visible_domain
from admin.api.registry import operation
from admin.api.schemas import TIMESTAMP, Param, items, nullable, obj, timestamp
from admin.database import db
from core.dmarc_summary import dmarc_reports, dmarc_sources
from core.models import TlsReportEntry
from core.tls_summary import tls_providers

DAYS = Param("days", {"type": "integer", "minimum": 1, "maximum": 366, "default": 30},
             "Reports received in the last days")
COUNT = {"type": "integer", "minimum": 0}
SOURCE = obj({"source_ip": {"type": "string"}, "ptr": {"type": "string", "description": "\"\": none found"},
              "own": {"type": "boolean", "description": "one of the relay's pool addresses"},
              "messages": COUNT, "dkim_pass": COUNT, "spf_pass": COUNT, "dmarc_pass": COUNT,
              "failing": COUNT, "reports": COUNT})
DMARC_REPORT = obj({"org_name": {"type": "string"}, "reporter_email": {"type": "string"},
                    "report_id": {"type": "string"}, "begin_at": nullable(TIMESTAMP),
                    "end_at": nullable(TIMESTAMP),
                    "policy": {"type": "string"}, "messages": COUNT,
                    "signed": {"type": "boolean", "description": "the report's mail bore a valid DKIM "
                                                                "signature of its From domain"}})
DMARC = obj({"domain": {"type": "string"}, "sources": {"type": "array", "items": SOURCE},
             "reports": {"type": "array", "items": DMARC_REPORT}})
PROVIDER = obj({"org_name": {"type": "string"}, "successes": COUNT, "failures": COUNT,
                "domains": {"type": "array", "items": {"type": "string"}},
                "policy_types": {"type": "array", "items": {"type": "string"}},
                "failure_types": {"type": "object", "additionalProperties": COUNT},
                "signed": {"type": "boolean"}})


@operation("GET", "/domains/{domain_id}/dmarc", "What receivers' DMARC aggregate reports say about the "
           "domain: each source address, the relay's own or not, failing ones first", tag="domains",
           result=DMARC, query=(DAYS,))
def get_dmarc(domain_id: int, days: int = 30) -> dict[str, Any]:
    domain = visible_domain(domain_id)
    sources = dmarc_sources(db(), domain.id, days)
    return {"domain": domain.name,
            "sources": [{"source_ip": s.source_ip, "ptr": s.ptr, "own": s.own, "messages": s.messages,
                         "dkim_pass": s.dkim_pass, "spf_pass": s.spf_pass, "dmarc_pass": s.dmarc_pass,
                         "failing": s.failing, "reports": s.reporters} for s in sources],
            "reports": [{"org_name": r.org_name, "reporter_email": r.reporter_email, "report_id": r.report_id,
                         "begin_at": timestamp(r.begin_at), "end_at": timestamp(r.end_at), "policy": r.policy,
                         "messages": r.messages, "signed": r.signed}
                        for r in dmarc_reports(db(), domain.id, days)]}


@operation("GET", "/tls-reports", "SMTP TLS reports (RFC 8460) per reporting provider, those with "
           "failures first", tag="domains", result=items(PROVIDER), query=(DAYS,))
def list_tls_reports(days: int = 30) -> dict[str, Any]:
    return {"items": [{"org_name": p.org_name, "successes": p.successes, "failures": p.failures,
                       "domains": sorted(p.domains), "policy_types": sorted(p.policy_types),
                       "failure_types": dict(p.failure_types), "signed": p.signed}
                      for p in tls_providers(db(), tenant_scope(TlsReportEntry.tenant_id), days)]}
