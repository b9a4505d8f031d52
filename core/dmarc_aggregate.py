"""Reading a DMARC aggregate report (RFC 7489 appendix C, and DMARCbis's namespaced form).

The XML is read by defusedxml, which refuses a DTD and so every entity, internal or
external (no billion laughs, no file or network fetched), streamed with iterparse so that
only one <record> is held at a time; nesting deeper than MAX_DEPTH, more than
MAX_RECORDS records or a part of more than MAX_ELEMENTS_PER_PART elements ends the
reading with an error. Namespaces are ignored: a report is
read by element names alone, as every reporter writes them.
"""

from __future__ import annotations

import io
import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from core.report_files import BadReport

MAX_DEPTH = 12
MAX_RECORDS = 100_000
MAX_ELEMENTS_PER_PART = 10_000  # in one <record> or <report_metadata>: some twenty in a real one
MAX_TEXT = 255



@dataclass(frozen=True)
class AuthResult:
    method: str  # dkim or spf
    domain: str
    result: str
    selector: str = ""


@dataclass(frozen=True)
class AggregateRow:
    source_ip: str
    count: int
    disposition: str
    dkim: str  # the DMARC evaluation: pass when an aligned DKIM signature passed
    spf: str
    header_from: str
    results: tuple[AuthResult, ...]


@dataclass
class AggregateReport:
    org_name: str = ""
    email: str = ""
    report_id: str = ""
    begin: datetime | None = None
    end: datetime | None = None
    domain: str = ""
    policy: str = ""  # what was published: "p=reject sp=none pct=100 adkim=r aspf=r"
    rows: list[AggregateRow] = field(default_factory=list)


def _name(element: Element) -> str:
    return element.tag.rpartition("}")[2]


def _text(element: Element | None, path: str) -> str:
    if element is None:
        return ""
    for step in path.split("/"):
        element = next((child for child in element if _name(child) == step), None)
        if element is None:
            return ""
    return (element.text or "").strip()[:MAX_TEXT]


def _time(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError):
        return None


def _row(record: Element) -> AggregateRow:
    row = next((child for child in record if _name(child) == "row"), None)
    try:
        source_ip = ipaddress.ip_address(_text(row, "source_ip")).compressed
        count = int(_text(row, "count"))
    except ValueError as exc:
        raise BadReport(f"a record without a readable source address or count: {exc}") from None
    if count < 0:
        raise BadReport("a record with a negative count")
    results: list[AuthResult] = []
    for auth in (child for child in record if _name(child) == "auth_results"):
        for result in auth:
            method = _name(result)
            if method in ("dkim", "spf"):
                results.append(AuthResult(method, _text(result, "domain").lower(),
                                          _text(result, "result").lower(), _text(result, "selector")))
    return AggregateRow(source_ip, count, _text(row, "policy_evaluated/disposition").lower(),
                        _text(row, "policy_evaluated/dkim").lower(),
                        _text(row, "policy_evaluated/spf").lower(),
                        _text(record, "identifiers/header_from").lower(), tuple(results))


def read_aggregate(content: bytes) -> AggregateReport:
    """The report in an XML file; BadReport when it is not one, or breaks the limits."""
    report = AggregateReport()
    depth = elements = 0
    root: Element | None = None
    try:
        for event, element in iterparse(io.BytesIO(content), events=("start", "end"), forbid_dtd=True):
            if event == "start":
                depth += 1
                elements += 1
                if depth > MAX_DEPTH or elements > MAX_ELEMENTS_PER_PART:
                    raise BadReport(f"nested deeper than {MAX_DEPTH} or a part of more than "
                                    f"{MAX_ELEMENTS_PER_PART} elements")
                root = element if root is None else root
                continue
            depth -= 1
            if depth == 0:
                if _name(element) != "feedback":
                    raise BadReport(f"the document is <{_name(element)}>, not <feedback>")
            elif depth == 1:
                _read_part(report, element)
                assert root is not None
                del root[-1]  # read: held no longer
                elements = 0
    except (ParseError, DefusedXmlException) as exc:
        raise BadReport(f"not readable XML: {exc}") from None
    if not (report.org_name and report.report_id and report.domain):
        raise BadReport("org_name, report_id or the published domain is missing")
    return report


def _read_part(report: AggregateReport, element: Element) -> None:
    name = _name(element)
    if name == "record":
        if len(report.rows) >= MAX_RECORDS:
            raise BadReport(f"more than {MAX_RECORDS} records")
        report.rows.append(_row(element))
    elif name == "report_metadata":
        report.org_name, report.email = _text(element, "org_name"), _text(element, "email").lower()
        report.report_id = _text(element, "report_id")
        report.begin = _time(_text(element, "date_range/begin"))
        report.end = _time(_text(element, "date_range/end"))
    elif name == "policy_published":
        report.domain = _text(element, "domain").lower().rstrip(".")
        report.policy = " ".join(f"{key}={_text(element, key)}" for key in ("p", "sp", "pct", "adkim", "aspf")
                                 if _text(element, key))
