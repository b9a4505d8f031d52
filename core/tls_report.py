"""Reading an SMTP TLS report (RFC 8460 section 4): how one sender's connections to a
domain's MX hosts went, per policy, with the failures by kind.

The standard library's json reads it (a report is small; the file was capped when it was
unpacked); nesting past Python's recursion limit, wrong types and missing fields make a
BadReport, never a crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.report_files import BadReport

MAX_TEXT = 255
MAX_POLICIES = 1_000
MAX_FAILURE_KINDS = 100



@dataclass(frozen=True)
class TlsFailure:
    result_type: str
    receiving_mx: str
    sending_ip: str
    sessions: int


@dataclass(frozen=True)
class TlsPolicyResult:
    policy_type: str  # sts, tlsa or no-policy-found
    domain: str
    successes: int
    failures: int
    failure_details: tuple[TlsFailure, ...]


@dataclass(frozen=True)
class TlsReport:
    org_name: str
    report_id: str
    begin: datetime | None
    end: datetime | None
    policies: tuple[TlsPolicyResult, ...]


def _str(value: object) -> str:
    return value.strip()[:MAX_TEXT] if isinstance(value, str) else ""


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadReport("a session count that is not a whole number")
    return value


def _time(value: object) -> datetime | None:
    try:
        at = datetime.fromisoformat(_str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    offset = at.utcoffset()
    return (at - offset if offset else at).replace(tzinfo=None)


def _dict(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadReport("an object was expected")
    return value


def _policy(entry: object) -> TlsPolicyResult:
    policy, summary = _dict(_dict(entry).get("policy")), _dict(_dict(entry).get("summary", {}))
    details = _dict(entry).get("failure-details", [])
    if not isinstance(details, list):
        raise BadReport("failure-details is not a list")
    failures = tuple(TlsFailure(_str(d.get("result-type")), _str(d.get("receiving-mx-hostname")).lower(),
                                _str(d.get("sending-mta-ip")), _count(d.get("failed-session-count", 0)))
                     for d in map(_dict, details[:MAX_FAILURE_KINDS]))
    domain = _str(policy.get("policy-domain")).lower().rstrip(".")
    return TlsPolicyResult(_str(policy.get("policy-type")), domain,
                           _count(summary.get("total-successful-session-count", 0)),
                           _count(summary.get("total-failure-session-count", 0)), failures)


def read_tls_report(content: bytes) -> TlsReport:
    """The report in a JSON file; BadReport when it is not one."""
    try:
        document = _dict(json.loads(content))
    except (ValueError, RecursionError) as exc:
        raise BadReport(f"not readable JSON: {str(exc)[:200]}") from None
    policies = document.get("policies")
    if not isinstance(policies, list) or not policies or len(policies) > MAX_POLICIES:
        raise BadReport(f"policies must be a list of 1 to {MAX_POLICIES}")
    date_range = _dict(document.get("date-range", {}))
    report = TlsReport(_str(document.get("organization-name")), _str(document.get("report-id")),
                       _time(date_range.get("start-datetime")), _time(date_range.get("end-datetime")),
                       tuple(_policy(entry) for entry in policies))
    if not (report.org_name and report.report_id) or any(not p.domain for p in report.policies):
        raise BadReport("organization-name, report-id or a policy-domain is missing")
    return report
