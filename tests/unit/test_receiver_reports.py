"""Receivers' DMARC aggregate and TLS reports: read whole from real samples, and hostile files
refused within limits, never a crash, never an entity expanded or fetched."""

from __future__ import annotations

import base64
import gzip
import io
import json
import time
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from core.dmarc_aggregate import MAX_DEPTH, read_aggregate
from core.report_files import MAX_FILE_OCTETS, BadReport, gunzipped, report_files
from core.tls_report import read_tls_report

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "receiver_reports"


def aggregate_xml(domain: str = "acme.test", rows: list[tuple[str, int, str, str]] | None = None,
                  report_id: str = "r-1", org: str = "receiver.example") -> bytes:
    """A DMARC aggregate report as RFC 7489 appendix C has it; rows: (ip, count, dkim, spf)."""
    records = "".join(
        f"<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>"
        f"<disposition>none</disposition><dkim>{dkim}</dkim><spf>{spf}</spf></policy_evaluated></row>"
        f"<identifiers><header_from>{domain}</header_from></identifiers><auth_results>"
        f"<dkim><domain>{domain}</domain><selector>s1</selector><result>{dkim}</result></dkim>"
        f"<spf><domain>bounces.{domain}</domain><result>{spf}</result></spf></auth_results></record>"
        for ip, count, dkim, spf in (rows or [("192.0.2.1", 3, "pass", "pass")]))
    return (f'<?xml version="1.0" encoding="UTF-8"?><feedback><report_metadata><org_name>{org}</org_name>'
            f"<email>dmarc@{org}</email><report_id>{report_id}</report_id><date_range><begin>1700000000"
            f"</begin><end>1700086399</end></date_range></report_metadata><policy_published>"
            f"<domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><pct>100</pct>"
            f"</policy_published>{records}</feedback>").encode()


def report_mail(attachment: bytes, name: str, content_type: str,
                sender: str = "dmarc@receiver.example") -> bytes:
    encoded = base64.encodebytes(attachment).decode()
    return (f"From: {sender}\r\nTo: dmarc@feedback.relay.test\r\nSubject: Report domain: acme.test\r\n"
            'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
            "--b\r\nContent-Type: text/plain\r\n\r\nA report.\r\n"
            f'--b\r\nContent-Type: {content_type}; name="{name}"\r\nContent-Transfer-Encoding: base64\r\n'
            f'Content-Disposition: attachment; filename="{name}"\r\n\r\n{encoded}\r\n--b--\r\n').encode()


def zipped(name: str, content: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, content)
    return out.getvalue()


def test_googles_real_report_in_a_zip_is_read_whole() -> None:
    files = report_files((SAMPLES / "google-dmarc-aggregate.eml").read_bytes())
    assert [f.name for f in files] == ["google.com!borschow.com!1549929600!1550015999.xml"]
    report = read_aggregate(files[0].content)
    assert (report.org_name, report.report_id, report.domain) == ("google.com", "949348866075514174",
                                                                  "borschow.com")
    assert report.policy == "p=reject sp=reject pct=100 adkim=r aspf=r"
    assert report.begin == datetime(2019, 2, 12) and report.end == datetime(2019, 2, 12, 23, 59, 59)
    assert [(r.source_ip, r.count, r.disposition, r.dkim, r.spf) for r in report.rows] == [
        ("92.53.116.102", 1, "reject", "fail", "fail")]


def test_outlooks_real_report_with_namespaces_is_read() -> None:
    report = read_aggregate((SAMPLES / "outlook-dmarc-aggregate.xml").read_bytes())
    assert (report.org_name, report.domain, report.email) == ("Outlook.com", "example.com",
                                                              "dmarcreport@microsoft.com")
    assert [(r.source_ip, r.header_from, [(a.method, a.result) for a in r.results]) for r in report.rows] == [
        ("100.24.188.149", "example.com", [("spf", "fail")])]


def test_googles_real_tls_report_is_read() -> None:
    files = report_files((SAMPLES / "google-tls-report.eml").read_bytes())
    report = read_tls_report(files[0].content)
    assert report.org_name == "Google Inc." and report.begin == datetime(2024, 9, 3)
    assert [(p.policy_type, p.domain) for p in report.policies] == [("no-policy-found", "cardinalhealth.ca")]


def test_the_rfc_8460_example_is_read_with_its_failures() -> None:
    example = {
        "organization-name": "Company-X", "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
        "date-range": {"start-datetime": "2016-04-01T00:00:00Z", "end-datetime": "2016-04-01T23:59:59Z"},
        "policies": [{"policy": {"policy-type": "sts", "policy-domain": "company-y.example"},
                      "summary": {"total-successful-session-count": 5326, "total-failure-session-count": 303},
                      "failure-details": [{"result-type": "certificate-expired",
                                           "sending-mta-ip": "2001:db8::1",
                                           "receiving-mx-hostname": "mx1.mail.company-y.example",
                                           "failed-session-count": 100}]}]}
    report = read_tls_report(json.dumps(example).encode())
    [policy] = report.policies
    assert (policy.successes, policy.failures) == (5326, 303)
    assert [(f.result_type, f.sessions) for f in policy.failure_details] == [("certificate-expired", 100)]


@pytest.mark.parametrize("packing", ["xml", "gzip", "zip"])
def test_a_report_is_read_bare_gzipped_or_zipped(packing: str) -> None:
    xml = aggregate_xml()
    attachment, name, kind = {
        "xml": (xml, "r.xml", "text/xml"),
        "gzip": (gzip.compress(xml), "r.xml.gz", "application/gzip"),
        "zip": (zipped("r.xml", xml), "r.zip", "application/zip"),
    }[packing]
    [found] = report_files(report_mail(attachment, name, kind))
    assert read_aggregate(found.content).rows[0].count == 3


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE feedback [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<feedback><report_metadata><org_name>&d;</org_name></report_metadata></feedback>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE feedback [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<feedback><report_metadata><org_name>&secret;</org_name><report_id>1</report_id></report_metadata>
<policy_published><domain>acme.test</domain></policy_published></feedback>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?><!DOCTYPE feedback SYSTEM "http://127.0.0.1:9/x.dtd"><feedback/>"""


@pytest.mark.parametrize("hostile", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD,
                                     b"<feedback>" * (MAX_DEPTH + 1),
                                     b"<feedback><record>" + b"<x/>" * 20_000 + b"</record></feedback>",
                                     b"<feedback><report_metadata>", b"not xml at all", b"",
                                     b"<other/>", aggregate_xml().replace(b"<count>3", b"<count>-3"),
                                     aggregate_xml().replace(b"192.0.2.1", b"not-an-address")],
                         ids=["billion-laughs", "external-entity", "external-dtd", "deep", "wide", "cut",
                              "not-xml", "empty", "other-root", "negative-count", "bad-address"])
def test_hostile_xml_is_refused(hostile: bytes) -> None:
    with pytest.raises(BadReport):
        read_aggregate(hostile)


def test_a_100_mb_zip_bomb_stops_at_the_cap_quickly() -> None:
    bomb = zipped("r.xml", b"<" * (100 * 1024 * 1024))
    assert len(bomb) < 200_000
    started = time.monotonic()
    assert report_files(report_mail(bomb, "r.zip", "application/zip")) == []
    assert time.monotonic() - started < 5
    with pytest.raises(BadReport):
        gunzipped(gzip.compress(b"\0" * (MAX_FILE_OCTETS + 1)))


@pytest.mark.parametrize("broken", [b"\x1f\x8b\x08\x00garbage", gzip.compress(aggregate_xml())[:-20],
                                    b"PK\x03\x04xx"])
def test_broken_gzip_and_zip_are_left_out(broken: bytes) -> None:
    assert report_files(report_mail(broken, "r.xml.gz", "application/gzip")) == []


@pytest.mark.parametrize("hostile", [b"[" * 100_000, b'{"policies": "x"}', b'{"policies": []}', b"{}",
                                     b"\xff",
                                     json.dumps({"organization-name": "x", "report-id": "1", "policies": [
                                         {"policy": {"policy-domain": "a.test"},
                                          "summary": {"total-successful-session-count": "many"}}]}).encode()],
                         ids=["deep", "not-a-list", "no-policies", "empty", "not-utf8", "bad-count"])
def test_hostile_tls_reports_are_refused(hostile: bytes) -> None:
    with pytest.raises(BadReport):
        read_tls_report(hostile)
