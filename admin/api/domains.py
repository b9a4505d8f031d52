"""API: sending domains, the DNS records to publish, live verification, DKIM keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select

from admin import patterns
from admin.access import tenant_scope, visible_domain, visible_tenant
from admin.api.registry import operation
from admin.api.schemas import ID, PAGE, SEARCH, TIMESTAMP, Param, listing, nullable, obj, timestamp
from admin.context import panel
from admin.database import db
from admin.paging import paginate
from core import tenants
from core.compliance import compliance
from core.dkim_keys import ALGORITHMS
from core.dns_records import records_for_domain
from core.domain_verify import RecordCheck
from core.errors import NotFoundError
from core.models import AcceptedMessage, SendingDomain
from core.states import DkimKeyState
from core.tracking import base_url
from core.tracking_rates import tracking_rates

RECORD = obj({"purpose": {"enum": ["dkim", "spf", "dmarc", "dmarc reports", "return-path", "tracking"]},
              "name": {"type": "string"},
              "type": {"enum": ["TXT", "CNAME"]}, "value": {"type": "string"},
              "required": {"type": "boolean"}})
KEY = obj({"id": ID, "selector": {"type": "string"}, "algorithm": {"enum": list(ALGORITHMS)},
           "state": {"enum": list(DkimKeyState)}, "created_at": TIMESTAMP})
DOMAIN = obj({"id": ID, "name": {"type": "string"}, "tenant_id": ID, "verified_at": nullable(TIMESTAMP),
              "last_checked_at": nullable(TIMESTAMP), "records": {"type": "array", "items": RECORD},
              "keys": {"type": "array", "items": KEY}, "track_opens": {"type": "boolean"},
              "track_clicks": {"type": "boolean"},
              "tracking_base_url": {"type": "string", "description": "where its tracked links point"}})
TRACKING = obj({"track_opens": {"type": "boolean"}, "track_clicks": {"type": "boolean"}}, required=())
RATE_ROW = obj({"day": {"type": "string", "format": "date"}, "tenant_id": ID, "domain": {"type": "string"},
                "delivered": {"type": "integer"}, "opened": {"type": "integer"},
                "clicked": {"type": "integer"},
                "open_rate": nullable({"type": "number"}), "click_rate": nullable({"type": "number"})})
SUMMARY = obj({"id": ID, "name": {"type": "string"}, "tenant_id": ID, "verified_at": nullable(TIMESTAMP)})
CHECK = obj({"record": RECORD, "ok": {"type": "boolean"}, "found": {"type": "string"}})
VERIFICATION = obj({"domain": DOMAIN, "verified": {"type": "boolean"},
                    "checks": {"type": "array", "items": CHECK}})
ALGORITHM = {"enum": list(ALGORITHMS), "default": "rsa"}
RATE = {"type": "number", "minimum": 0, "maximum": 1}
PROVIDER = obj({"provider": {"type": "string", "description": "a delivery profile; \"\" for all recipients"},
                "sends": {"type": "integer"}, "complaints": {"type": "integer"}, "complaint_rate": RATE,
                "past_line": {"type": "boolean"}})
COMPLIANCE = obj({
    "spf_passes": {"type": "boolean"}, "spf_aligned": {"type": "boolean"},
    "dkim_aligned": {"type": "boolean"}, "dmarc_published": {"type": "boolean"},
    "dmarc_rua": {"type": "string"},
    "recent_messages": {"type": "integer"}, "one_click_share": nullable(RATE), "complaint_line": RATE,
    "complaints": {"type": "array", "items": PROVIDER}})


def _record(record: Any) -> dict[str, Any]:
    return {"purpose": record.purpose, "name": record.name, "type": record.type, "value": record.value,
            "required": record.required}


def domain_json(domain: SendingDomain) -> dict[str, Any]:
    records = records_for_domain(panel().settings, domain.name, domain.dkim_keys, domain.tracks)
    return {"id": domain.id, "name": domain.name, "tenant_id": domain.tenant_id,
            "verified_at": timestamp(domain.verified_at),
            "last_checked_at": timestamp(domain.last_checked_at), "records": [_record(r) for r in records],
            "keys": [{"id": k.id, "selector": k.selector, "algorithm": k.algorithm, "state": k.state,
                      "created_at": timestamp(k.created_at)} for k in domain.dkim_keys],
            "track_opens": domain.track_opens, "track_clicks": domain.track_clicks,
            "tracking_base_url": base_url(panel().settings.link_base_url, domain.name,
                                          domain.tracking_host_ok)}


def _check(check: RecordCheck) -> dict[str, Any]:
    return {"record": _record(check.record), "ok": check.ok, "found": check.found}


@operation("GET", "/domains", "List sending domains", tag="domains", result=listing(SUMMARY),
           query=(SEARCH, PAGE, Param("tenant_id", ID, "Only this tenant's")))
def list_domains(q: str = "", page: int = 1, tenant_id: int | None = None) -> dict[str, Any]:
    query = select(SendingDomain).where(tenant_scope(SendingDomain.tenant_id)).order_by(SendingDomain.name)
    if q.strip():
        query = query.where(SendingDomain.name.contains(q.strip().lower(), autoescape=True))
    if tenant_id is not None:
        query = query.where(SendingDomain.tenant_id == tenant_id)
    found = paginate(query, number=page)
    return {"items": [{"id": d.id, "name": d.name, "tenant_id": d.tenant_id,
                       "verified_at": timestamp(d.verified_at)} for d in found.items],
            "page": found.number, "has_next": found.has_next}


@operation("POST", "/domains", "Add a sending domain with a new DKIM key; publish its records next",
           tag="domains", result=DOMAIN, status=201, errors=(404, 409, 422),
           body=obj({"tenant_id": ID, "name": {"type": "string", "maxLength": tenants.SENDING_DOMAIN_MAX,
                                               "pattern": patterns.DOMAIN},
                     "algorithm": ALGORITHM}, required=("tenant_id", "name")))
def create_domain(body: dict[str, Any]) -> dict[str, Any]:
    tenant = visible_tenant(body["tenant_id"])
    return domain_json(tenants.add_domain(db(), panel().secret_box, tenant.name, body["name"],
                                          body.get("algorithm", "rsa")))


@operation("GET", "/domains/{domain_id}", "A domain, its DNS records and DKIM keys", tag="domains",
           result=DOMAIN)
def get_domain(domain_id: int) -> dict[str, Any]:
    return domain_json(visible_domain(domain_id))


@operation("POST", "/domains/{domain_id}/verify", "Look its records up in DNS now; published keys start "
           "signing and the domain is verified once every required record is there", tag="domains",
           result=VERIFICATION)
def verify_domain(domain_id: int) -> dict[str, Any]:
    domain = visible_domain(domain_id)
    checks = tenants.verify_domain(db(), panel().settings, domain)
    return {"domain": domain_json(domain), "verified": domain.verified_at is not None,
            "checks": [_check(c) for c in checks]}


@operation("POST", "/domains/{domain_id}/keys", "A new DKIM key (rotation); it signs once DNS shows it",
           tag="domains", result=KEY, status=201, body=obj({"algorithm": ALGORITHM}, required=()))
def rotate_key(domain_id: int, body: dict[str, Any]) -> dict[str, Any]:
    domain = visible_domain(domain_id)
    key = tenants.add_dkim_key(db(), panel().secret_box, domain.name, body.get("algorithm", "rsa"))
    return {"id": key.id, "selector": key.selector, "algorithm": key.algorithm, "state": key.state,
            "created_at": timestamp(key.created_at)}


@operation("DELETE", "/domains/{domain_id}/keys/{key_id}", "Remove a DKIM key (not the last active one)",
           tag="domains", result=None, status=204, errors=(409,))
def remove_key(domain_id: int, key_id: int) -> None:
    domain = visible_domain(domain_id)
    key = next((k for k in domain.dkim_keys if k.id == key_id), None)
    if key is None:
        raise NotFoundError(f"{domain.name} has no DKIM key {key_id}")
    tenants.remove_dkim_key(db(), domain.name, key.selector)


@operation("GET", "/domains/{domain_id}/compliance", "How the domain meets the bulk-sender rules: SPF and "
           "DKIM aligned, DMARC with rua, one-click unsubscribe in its last 1,000 messages, complaint rates "
           "per provider", tag="domains", result=COMPLIANCE)
def get_compliance(domain_id: int) -> dict[str, Any]:
    found = compliance(db(), panel().settings, visible_domain(domain_id))
    return {"spf_passes": found.spf_passes, "spf_aligned": found.spf_aligned,
            "dkim_aligned": found.dkim_aligned, "dmarc_published": found.dmarc_published,
            "dmarc_rua": found.dmarc_rua,
            "recent_messages": found.recent_messages, "one_click_share": found.one_click_share,
            "complaint_line": found.complaint_line,
            "complaints": [{"provider": name, "sends": seen.sends, "complaints": seen.complained,
                            "complaint_rate": seen.complaint_rate,
                            "past_line": seen.complaint_rate >= found.complaint_line}
                           for name, seen in sorted(found.complaints.items())]}


@operation("PATCH", "/domains/{domain_id}", "Turn open or click tracking of the domain's HTML mail on or off",
           tag="domains", result=DOMAIN, body=TRACKING)
def change_domain(domain_id: int, body: dict[str, Any]) -> dict[str, Any]:
    domain = visible_domain(domain_id)
    return domain_json(tenants.set_tracking(db(), domain.name, body.get("track_opens"),
                                            body.get("track_clicks")))


@operation("GET", "/tracking/rates", "Open and click rates of tracked mail per day, tenant and domain",
           tag="domains", result=obj({"items": {"type": "array", "items": RATE_ROW}}),
           query=(Param("days", {"type": "integer", "minimum": 1, "maximum": 90, "default": 14},
                        "How many days back"),
                  Param("tenant_id", ID, "Only this tenant's"), Param("domain", {"type": "string"},
                                                                      "Only this domain's")))
def get_tracking_rates(days: int = 14, tenant_id: int | None = None, domain: str = "") -> dict[str, Any]:
    scope = tenant_scope(AcceptedMessage.tenant_id)
    if tenant_id is not None:
        scope = and_(scope, AcceptedMessage.tenant_id == tenant_id)
    if domain:
        scope = and_(scope, AcceptedMessage.tracked_domain == domain.strip().lower())
    return {"items": [{"day": r.day.isoformat(), "tenant_id": r.tenant_id, "domain": r.domain,
                       "delivered": r.delivered, "opened": r.opened, "clicked": r.clicked,
                       "open_rate": r.open_rate, "click_rate": r.click_rate}
                      for r in tracking_rates(db(), scope, days)]}
