"""The panel's pages do what they say, with validation messages, and show hostile content inert."""

from __future__ import annotations

import csv
import dataclasses
import io
import re

import pytest
from sqlalchemy import select

from admin import create_app
from core import box_records, pools, shaping
from core.db import make_engine, session_scope
from core.events import record_event, record_events
from core.models import PanelUser, SendingDomain, SmtpCredential, Suppression
from intake.reports import keep_report
from tests.admin.conftest import PASSWORD, Panel, csrf_token, login
from tests.support.dns_server import LoopbackDns


def test_an_admin_creates_a_tenant_and_a_domain_and_sees_its_dns_records(panel: Panel) -> None:
    client = panel.client("root")
    token = csrf_token(client, "/tenants/")
    refused = client.post("/tenants/", data={"name": "Not Valid!", "csrf_token": token})
    assert refused.status_code == 400
    assert "Lower-case letters, digits" in refused.get_data(as_text=True)
    made = client.post("/tenants/", data={"name": "initech", "csrf_token": token})
    assert made.status_code == 302
    tenant_page = client.get(made.headers["Location"]).get_data(as_text=True)
    assert "Tenant initech created" in tenant_page
    tenant_id = int(made.headers["Location"].rsplit("/", 1)[1])
    bad = client.post("/domains/", data={"tenant": tenant_id, "name": "not a domain", "algorithm": "rsa",
                                         "csrf_token": token})
    assert bad.status_code == 400 and "A domain name such as" in bad.get_data(as_text=True)
    added = client.post("/domains/", data={"tenant": tenant_id, "name": "initech.test",
                                           "algorithm": "ed25519", "csrf_token": token})
    assert added.status_code == 302
    page = client.get(added.headers["Location"]).get_data(as_text=True)
    assert "initech.test added" in page
    assert "._domainkey.initech.test" in page and "v=DKIM1" in page and "k=ed25519" in page
    assert page.count('class="copy"') >= 8
    assert "not verified" in page


def test_a_tenant_user_turns_tracking_on_for_a_domain_of_its_own_only(panel: Panel) -> None:
    client = panel.client("alice")
    own, other = panel.ids["acme_domain"], panel.ids["globex_domain"]
    token = csrf_token(client, f"/domains/{own}")
    turned_on = client.post(f"/domains/{own}/tracking", data={"track_opens": "y", "csrf_token": token})
    assert turned_on.status_code == 302
    page = client.get(f"/domains/{own}").get_data(as_text=True)
    assert "opens on, clicks off" in page and "t.acme.test" in page
    elsewhere = client.post(f"/domains/{other}/tracking", data={"track_opens": "y", "csrf_token": token})
    assert elsewhere.status_code == 404
    client.post(f"/domains/{own}/tracking", data={"track_clicks": "y"})  # no CSRF token: changes nothing
    with session_scope(panel.app.extensions["relay"].engine) as db:
        domain = db.get(SendingDomain, own)
        assert domain is not None and (domain.track_opens, domain.track_clicks) == (True, False)


def test_a_new_smtp_password_is_shown_once_and_kept_only_hashed(panel: Panel) -> None:
    client = panel.client("alice")
    acme = panel.ids["acme"]
    reply = client.post(f"/tenants/{acme}/credentials", data={"csrf_token": csrf_token(client)})
    page = reply.get_data(as_text=True)
    secret = re.search(r'<code id="new-secret">([A-Za-z0-9]{32})</code>', page)
    assert secret, page
    with client.session_transaction() as session:
        assert secret[1] not in repr(dict(session))
    assert secret[1] not in client.get(f"/tenants/{acme}").get_data(as_text=True)
    with session_scope(panel.app.extensions["relay"].engine) as db:
        stored = db.scalars(select(SmtpCredential.secret_hash)).all()
    assert stored and all(h.startswith("$argon2id$") and secret[1] not in h for h in stored)


def test_a_bounce_carrying_html_and_script_is_shown_as_inert_text(panel: Panel) -> None:
    hostile = (b"From: <script>alert('from')</script>\nSubject: x\n\n"
               b"<script>document.title='owned'</script><img src=x onerror=alert(1)>"
               b"<a href=\"javascript:alert(2)\">click</a>")
    with session_scope(panel.app.extensions["relay"].engine) as db:
        report = keep_report(db, "b.x@bounces.relay.test", hostile, panel.ids["acme"])
        event_id = record_event(db, "bounced", "<b>victim</b>@acme-customer.test", "<i>detail</i>",
                                panel.ids["acme"], report_id=report.id)
    client = panel.client("alice")
    for url in (f"/bounces/{event_id}", "/bounces/"):
        reply = client.get(url)
        page = reply.get_data(as_text=True)
        assert "<script>" not in page and "<img src=x" not in page and "<b>victim" not in page, url
        assert "script-src 'self'" in reply.headers["Content-Security-Policy"]
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
    page = client.get(f"/bounces/{event_id}").get_data(as_text=True)
    assert "&lt;script&gt;document.title=" in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_suppressions_are_added_removed_exported_and_imported(panel: Panel) -> None:
    client = panel.client("alice")
    acme = panel.ids["acme"]
    token = csrf_token(client, "/suppressions/")
    bad = client.post("/suppressions/", data={"tenant": acme, "address": "nobody", "csrf_token": token})
    assert bad.status_code == 400 and "An e-mail address." in bad.get_data(as_text=True)
    client.post("/suppressions/", data={"tenant": acme, "address": "=1+2@evil.test",
                                        "detail": "@SUM(1+1)", "csrf_token": token})
    bad_list = client.post("/suppressions/", data={"tenant": acme, "address": "a@example.org",
                                                   "list_name": "Weekly News!", "csrf_token": token})
    assert bad_list.status_code == 400 and "1-64 of a-z" in bad_list.get_data(as_text=True)
    scoped = client.post("/suppressions/", data={"tenant": acme, "address": "reader@example.org",
                                                 "list_name": "weekly-news", "csrf_token": token},
                         follow_redirects=True).get_data(as_text=True)
    assert "reader@example.org suppressed for list weekly-news" in scoped
    assert "<code>weekly-news</code>" in client.get("/suppressions/?q=reader").get_data(as_text=True)
    exported = client.get("/suppressions/export.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0] == ["address", "tenant", "list", "reason", "detail", "created_at"]
    injected = next(r for r in rows if "evil.test" in r[0])
    assert injected[0].startswith("'=") and injected[4] == "'@SUM(1+1)" and injected[2] == ""
    assert next(r for r in rows if r[0] == "reader@example.org")[2] == "weekly-news"
    upload = "address\nnew1@example.org\nnot-an-address\nNEW2@Example.ORG\n"
    reply = client.post("/suppressions/import", data={
        "tenant": acme, "csrf_token": token, "file": (io.BytesIO(upload.encode()), "list.csv")},
        content_type="multipart/form-data", follow_redirects=True)
    page = reply.get_data(as_text=True)
    assert "2 address(es) imported" in page and "line 3" in page
    with session_scope(panel.app.extensions["relay"].engine) as db:
        rows = db.scalars(select(Suppression).where(Suppression.tenant_id == acme))
        entries = {s.address: s.id for s in rows}
    assert {"new1@example.org", "new2@example.org"} <= set(entries)
    removed = client.post(f"/suppressions/{entries['new1@example.org']}/remove", data={"csrf_token": token},
                          follow_redirects=True).get_data(as_text=True)
    assert "new1@example.org removed" in removed
    assert "new1@example.org" not in client.get("/suppressions/").get_data(as_text=True)
    assert "new2@example.org" in client.get("/suppressions/?q=new").get_data(as_text=True)


def test_logins_are_locked_out_after_repeated_failures(panel: Panel) -> None:
    client = panel.client()
    token = csrf_token(client, "/login")
    for _ in range(5):
        reply = client.post("/login", data={"username": "root", "password": "wrong password!",
                                            "csrf_token": token})
        assert reply.status_code == 401 and "Wrong username or password" in reply.get_data(as_text=True)
    locked = client.post("/login", data={"username": "root", "password": PASSWORD, "csrf_token": token})
    assert locked.status_code == 429 and "Too many failed logins" in locked.get_data(as_text=True)
    # The user is not locked out everywhere: anyone could do that by failing under its name.
    elsewhere = panel.client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.50"
    token = csrf_token(elsewhere, "/login")
    reply = elsewhere.post("/login", data={"username": "root", "password": PASSWORD, "csrf_token": token})
    assert reply.status_code == 302


def test_session_cookie_is_secure_httponly_and_samesite(panel: Panel) -> None:
    client = panel.client()
    token = csrf_token(client, "/login")
    reply = client.post("/login", data={"username": "root", "password": PASSWORD, "csrf_token": token})
    cookie = reply.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    with session_scope(panel.app.extensions["relay"].engine) as db:
        hashes = db.scalars(select(PanelUser.password_hash)).all()
    assert all(h.startswith("$argon2id$") for h in hashes)


def test_metrics_answer_an_admin_token_only(panel: Panel) -> None:
    root, alice = panel.client("root"), panel.client("alice")
    tokens = []
    for client in (root, alice):
        page = client.post("/account/tokens", data={"name": "scraper", "password": PASSWORD,
                                                    "csrf_token": csrf_token(client)})
        found = re.search(r'<code id="new-token">(rlt_[^<]+)</code>', page.get_data(as_text=True))
        assert found
        tokens.append(found[1])
    anonymous = panel.client()
    reply = anonymous.get("/metrics", headers={"Authorization": f"Bearer {tokens[0]}"})
    assert reply.status_code == 200
    text = reply.get_data(as_text=True)
    assert 'relay_events_total{kind="delivered",tenant="acme"} 1.0' in text
    assert "relay_suppressions 2.0" in text
    assert anonymous.get("/metrics", headers={"Authorization": f"Bearer {tokens[1]}"}).status_code == 403
    assert anonymous.get("/metrics", headers={"Authorization": "Bearer rlt_forged"}).status_code == 401


def test_dashboard_counts_each_tenants_mail(panel: Panel) -> None:
    page = panel.client("root").get("/").get_data(as_text=True)
    assert re.search(r"<strong>2</strong><span>delivered · 24 h", page)
    assert "<svg" in page and "Services" in page and "Memory" in page
    mine = panel.client("alice").get("/").get_data(as_text=True)
    assert re.search(r"<strong>1</strong><span>delivered · 24 h", mine) and "Services" not in mine


def test_message_timeline_gathers_a_messages_events(panel: Panel) -> None:
    client = panel.client("alice")
    page = client.get("/messages/abcdefghijklm").get_data(as_text=True)
    assert page.count('<li><time>') == 2 and "delivered" in page and "bounced" in page
    assert "&lt;m1@acme.test&gt;" in page


def test_an_admin_adds_a_pool_address_and_postfix_gets_its_transport(panel: Panel) -> None:
    client = panel.client("root")
    token = csrf_token(client, "/pools/")
    assert client.post("/pools/", data={"name": "bulk", "csrf_token": token}).status_code == 302
    page = client.get("/pools/").get_data(as_text=True)
    pool_id = re.findall(r'action="/pools/(\d+)/ips"', page)[-1]
    bad = client.post(f"/pools/{pool_id}/ips", data={"address": "127.0.0.50", "helo_name": "mta",
                                                     "weight": 100, "csrf_token": token})
    assert bad.status_code == 400 and "A domain name such as" in bad.get_data(as_text=True)
    form = {"address": "127.0.0.50", "helo_name": "mta50.relay.test", "weight": 100, "warmup": "50,100",
            "csrf_token": token}
    added = client.post(f"/pools/{pool_id}/ips", data=form, follow_redirects=True)
    assert "127.0.0.50 added to bulk" in added.get_data(as_text=True)
    master = (panel.settings.postfix_instance_dir / "conf" / "master.cf").read_text()
    assert "smtp_bind_address=127.0.0.50" in master
    assert "warming" in client.get("/pools/").get_data(as_text=True)


@pytest.mark.parametrize("url", ["/suppressions/?q=a%00b", "/messages/?q=%00", "/tenants/?q=%00",
                                 "/bounces/?q=%00", "/domains/?q=%00", "/domains/?%00=x"])
def test_a_nul_in_a_search_is_refused_not_a_crash(panel: Panel, url: str) -> None:
    assert panel.client("root").get(url).status_code == 400


def test_the_dns_page_checks_the_boxs_records_and_the_dashboard_says_when_they_do_not_match(
        panel: Panel, dns: LoopbackDns) -> None:
    own_dns = dataclasses.replace(panel.settings.dns, nameservers=("127.0.0.1",), nameserver_port=dns.port,
                                  own_addresses=("192.0.2.7",))
    settings = dataclasses.replace(panel.settings, dns=own_dns)
    dns.records.clear()  # the module's DNS server: what an earlier database's run published
    app = create_app({"RELAY_SETTINGS": settings, "TESTING": True})
    client = app.test_client()
    login(client, "root")
    assert "have not been checked yet" in client.get("/").get_data(as_text=True)
    page = client.get("/dns/").get_data(as_text=True)
    assert "v=spf1 ip4:192.0.2.7 -all" in page and "not checked" in page
    assert panel.client("alice").get("/dns/").status_code == 403

    dns.add("bounces.relay.test", "MX", "10 relay.test.")
    checked = client.post("/dns/check", data={"csrf_token": csrf_token(client, "/dns/")},
                          follow_redirects=True)
    assert "records do not match" in checked.get_data(as_text=True)
    warning = client.get("/").get_data(as_text=True)
    assert "This box's DNS does not match" in warning and "feedback.relay.test" in warning

    with session_scope(make_engine(settings.effective_database_url)) as session:
        for record in box_records.records_now(session, settings, {}):
            dns.add(record.name, record.type, record.value if record.type != "TXT" else f'"{record.value}"')
    checked = client.post("/dns/check", data={"csrf_token": csrf_token(client, "/dns/")},
                          follow_redirects=True)
    assert "records match" in checked.get_data(as_text=True)
    assert "dns-warning" not in client.get("/").get_data(as_text=True)
    # A pool change changes what is expected: the dashboard says so before the next check.
    with session_scope(make_engine(settings.effective_database_url)) as session:
        pools.add_ip(session, "default", "192.0.2.99", "out99.relay.test")
    assert "v=spf1 ip4:192.0.2.7 ip4:192.0.2.99 -all" in client.get("/dns/").get_data(as_text=True)
    assert "_spf.relay.test" in client.get("/").get_data(as_text=True)
    app.extensions["relay"].engine.dispose()


def test_an_admin_sees_the_pathways_receivers_held_back(panel: Panel) -> None:
    engine = make_engine(panel.settings.effective_database_url)
    with session_scope(engine) as session:
        deferral = shaping.Deferral("smtp_127_0_0_2__gmail", "gmail-smtp-in.l.google.com",
                                    "host gmail-smtp-in.l.google.com said: 421-4.7.28 unusual rate")
        record_events(session, shaping.record_deferrals(session, panel.settings, [deferral]))
    engine.dispose()
    page = panel.client("root").get("/pathways/").get_data(as_text=True)
    assert "smtp_127_0_0_2__gmail" in page and "slowed" in page and "1 at once, 5s apart" in page
    assert "gmail-rate" in page and "Clear" in page
