"""Receivers' DMARC aggregate and TLS reports, mailed to the box's port 25 through Postfix to the
intake: stored once per domain served, with their signature and the sources' PTR; hostile ones
dropped without stopping the intake; shown by the API and the panel to whom they belong."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask.testing import FlaskClient
from sqlalchemy import func, select

from admin import create_app
from core import panel_users, pools, tenants
from core.dns_records import zone_txt
from core.models import DmarcReport, DmarcReportRow, SendingDomain, TlsReportEntry
from core.secretbox import SecretBox
from tests.admin.conftest import login
from tests.support.box import DOMAIN, TENANT, Box, running_box
from tests.support.dns_server import LoopbackDns
from tests.support.sink import Sink
from tests.support.waiting import eventually
from tests.unit.test_receiver_reports import BILLION_LAUGHS, aggregate_xml, report_mail, zipped

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "receiver_reports"
REPORTER = "receiver.example"
POOL_ADDRESS = "127.0.0.5"
OTHER_ADDRESS = "192.0.2.55"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def dns_server() -> Iterator[LoopbackDns]:
    server = LoopbackDns()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def reporter_key(dns_server: LoopbackDns) -> bytes:
    """The reporter's DKIM key, its public half published on the loopback DNS."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    dns_server.add(f"s1._domainkey.{REPORTER}", "TXT",
                   zone_txt(f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"))
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="module")
def box(sink: Sink, dns_server: LoopbackDns) -> Iterator[Box]:
    dns_server.add("55.2.0.192.in-addr.arpa", "PTR", "mail.elsewhere.example.")
    with running_box(sink, dns={"nameservers": ["127.0.0.1"], "nameserver_port": dns_server.port}) as box:
        secrets = SecretBox.from_file(box.settings.effective_encryption_key_file)
        with box.db_session() as session:
            tenants.add_domain(session, secrets, TENANT, "borschow.com")  # the real Google report's
            pools.add_pool(session, "reports")
            pools.add_ip(session, "reports", POOL_ADDRESS, "out5.relay.test")
            panel_users.add_user(session, "root", PASSWORD, "admin")
            panel_users.add_user(session, "alice", PASSWORD, "tenant", TENANT)
            panel_users.add_user(session, "olga", PASSWORD, "tenant", "other")
            session.commit()
        yield box


def signed(raw: bytes, key: bytes) -> bytes:
    signature = dkim.sign(raw, b"s1", REPORTER.encode(), key, include_headers=[b"from", b"to", b"subject"])
    return signature + raw


def mail_to(box: Box, mailbox: str, raw: bytes, sender: str = f"dmarc@{REPORTER}") -> None:
    with box.inbound() as client:
        refused = client.sendmail(sender, [f"{mailbox}@{box.settings.feedback_domain}"], raw)
    assert not refused


def stored_dmarc(box: Box, domain: str) -> list[DmarcReport]:
    with box.db_session() as session:
        return list(session.scalars(select(DmarcReport).join(SendingDomain)
                                    .where(SendingDomain.name == domain).order_by(DmarcReport.id)))


def wait_for_dmarc(box: Box, domain: str, count: int) -> list[DmarcReport]:
    eventually(lambda: len(stored_dmarc(box, domain)) >= count, f"{count} DMARC report(s) for {domain}")
    return stored_dmarc(box, domain)


def panel_client(box: Box, username: str) -> FlaskClient:
    app = create_app({"RELAY_SETTINGS": box.settings, "TESTING": True})
    client = app.test_client()
    login(client, username, PASSWORD)
    return client


def api_get(box: Box, username: str, path: str) -> Any:
    """GET an API path with a new bearer token of the user's; the JSON, or the status when not 200."""
    with box.db_session() as session:
        _, token = panel_users.new_api_token(session, panel_users.user_by_name(session, username), "test")
        session.commit()
    reply = create_app({"RELAY_SETTINGS": box.settings, "TESTING": True}).test_client().get(
        f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"})
    return reply.get_json() if reply.status_code == 200 else reply.status_code


def domain_id(box: Box, name: str) -> int:
    with box.db_session() as session:
        found = session.scalar(select(SendingDomain.id).where(SendingDomain.name == name))
    assert found is not None
    return found


def test_a_signed_report_is_stored_once_with_sources_and_ptr(box: Box, reporter_key: bytes) -> None:
    xml = aggregate_xml(DOMAIN, [(OTHER_ADDRESS, 40, "fail", "fail"), (POOL_ADDRESS, 900, "pass", "pass"),
                                 ("198.51.100.7", 5, "fail", "pass")], report_id="daily-1", org=REPORTER)
    raw = signed(report_mail(gzip.compress(xml), "r.xml.gz", "application/gzip"), reporter_key)
    mail_to(box, "dmarc", raw)
    mail_to(box, "DMARC", raw)  # the same report again, and the local part in capitals
    [report] = wait_for_dmarc(box, DOMAIN, 1)
    assert (report.org_name, report.report_id, report.signed) == (REPORTER, "daily-1", True)
    assert report.policy == "p=none pct=100 adkim=r aspf=r"

    found = api_get(box, "alice", f"/domains/{domain_id(box, DOMAIN)}/dmarc?days=7")
    sources = [(s["source_ip"], s["own"], s["ptr"], s["messages"], s["failing"]) for s in found["sources"]]
    # Failing first; the pool address known as the relay's own; the other's PTR looked up.
    assert sources == [(OTHER_ADDRESS, False, "mail.elsewhere.example", 40, 40),
                       (POOL_ADDRESS, True, "", 900, 0), ("198.51.100.7", False, "", 5, 0)]
    assert [(r["org_name"], r["signed"], r["messages"]) for r in found["reports"]] == [(REPORTER, True, 945)]
    page = panel_client(box, "alice").get(f"/domains/{domain_id(box, DOMAIN)}/dmarc").get_data(as_text=True)
    assert "mail.elsewhere.example" in page and "relay pool" in page and "unsigned" not in page
    with box.db_session() as session:
        assert session.scalar(select(func.count()).select_from(DmarcReportRow)) == 3


def test_googles_real_report_is_stored_and_shown(box: Box) -> None:
    mail_to(box, "dmarc", (SAMPLES / "google-dmarc-aggregate.eml").read_bytes(),
            sender="noreply-dmarc-support@google.com")
    [report] = wait_for_dmarc(box, "borschow.com", 1)
    # Its signature cannot be checked here (Google's key of 2019 is not on the loopback DNS).
    assert (report.org_name, report.report_id, report.signed) == ("google.com", "949348866075514174", False)
    page = f"/domains/{domain_id(box, 'borschow.com')}/dmarc"
    html = panel_client(box, "root").get(page).get_data(as_text=True)
    assert "92.53.116.102" in html and "google.com" in html and "unsigned: may be made up" in html


def test_a_forged_report_is_kept_as_unsigned(box: Box, reporter_key: bytes) -> None:
    xml = aggregate_xml(DOMAIN, [("203.0.113.9", 1000, "fail", "fail")], report_id="forged-1", org=REPORTER)
    forged = signed(report_mail(xml, "r.xml", "text/xml"), reporter_key).replace(b"A report.", b"A report!")
    mail_to(box, "dmarc", forged)
    reports = wait_for_dmarc(box, DOMAIN, 2)
    assert [(r.report_id, r.signed) for r in reports] == [("daily-1", True), ("forged-1", False)]


def test_hostile_reports_do_not_stop_the_intake(box: Box, reporter_key: bytes) -> None:
    not_served = aggregate_xml("example.org", report_id="elsewhere-1", org=REPORTER)
    other_tenant = aggregate_xml("other.test", report_id="other-1", org=REPORTER)
    hostile = [
        report_mail(BILLION_LAUGHS, "r.xml", "text/xml"),
        report_mail(zipped("r.xml", b"<" * (100 * 1024 * 1024)), "r.zip", "application/zip"),
        report_mail(b"\x1f\x8b\x08\x00not gzip", "r.xml.gz", "application/gzip"),
        report_mail(not_served, "r.xml", "text/xml"),
        b"Subject: no report at all\r\n\r\nhello\r\n",
    ]
    for raw in hostile:
        mail_to(box, "dmarc", raw)
    mail_to(box, "dmarc", signed(report_mail(other_tenant, "r.xml", "text/xml"), reporter_key))
    eventually(lambda: len(stored_dmarc(box, "other.test")) == 1, "the report after the hostile ones")
    assert stored_dmarc(box, "example.org") == []
    # A tenant sees its own domains' reports only.
    other = domain_id(box, "other.test")
    assert api_get(box, "alice", f"/domains/{other}/dmarc") == 404
    assert panel_client(box, "alice").get(f"/domains/{other}/dmarc").status_code == 404
    olga = api_get(box, "olga", f"/domains/{other}/dmarc")
    assert [s["source_ip"] for s in olga["sources"]] == ["192.0.2.1"]


def tls_report(domain: str, report_id: str, failures: int) -> bytes:
    document: dict[str, Any] = {
        "organization-name": "Sender Inc.", "report-id": report_id, "contact-info": "tls@sender.example",
        "date-range": {"start-datetime": "2026-12-01T00:00:00Z", "end-datetime": "2026-12-01T23:59:59Z"},
        "policies": [{"policy": {"policy-type": "no-policy-found", "policy-domain": domain},
                      "summary": {"total-successful-session-count": 120,
                                  "total-failure-session-count": failures},
                      "failure-details": [{"result-type": "certificate-host-mismatch",
                                           "sending-mta-ip": "192.0.2.9",
                                           "receiving-mx-hostname": "relay.test",
                                           "failed-session-count": failures}]}]}
    return gzip.compress(json.dumps(document).encode())


def test_tls_reports_are_stored_per_provider(box: Box) -> None:
    bounce_domain = box.settings.bounce_domain
    mail_to(box, "tlsrpt", report_mail(tls_report(bounce_domain, "t-1", 3), "t.json.gz",
                                       "application/tlsrpt+gzip"))
    mail_to(box, "tlsrpt", report_mail(tls_report("not-ours.example", "t-2", 1), "t.json.gz",
                                       "application/tlsrpt+gzip"))
    mail_to(box, "tlsrpt", report_mail(b"[" * 100_000, "t.json", "application/tlsrpt+json"))
    mail_to(box, "tlsrpt", (SAMPLES / "google-tls-report.eml").read_bytes(),
            sender="noreply-smtp-tls-reporting@google.com")

    def entries() -> list[tuple[str, str, int]]:
        with box.db_session() as session:
            return [(e.org_name, e.domain, e.failures) for e in session.scalars(select(TlsReportEntry))]
    eventually(lambda: entries() == [("Sender Inc.", bounce_domain, 3)], "the bounce domain's TLS report")
    [provider] = api_get(box, "root", "/tls-reports")["items"]
    assert (provider["org_name"], provider["successes"], provider["failures"]) == ("Sender Inc.", 120, 3)
    assert provider["failure_types"] == {"certificate-host-mismatch": 3}
    assert api_get(box, "alice", "/tls-reports")["items"] == []
    page = panel_client(box, "root").get("/tls-reports").get_data(as_text=True)
    assert "certificate-host-mismatch: 3" in page
