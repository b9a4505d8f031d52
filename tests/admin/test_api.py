"""The JSON API with Flask's test client: bearer tokens only, tenant tokens see their own tenant,
bodies checked against the published schema, and what the panel does done through it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from core import archive, panel_users, send_keys, tenants
from core.db import session_scope
from core.dns_records import DnsRecord
from core.domain_verify import RecordCheck
from core.events import MessageKeys, record_event
from core.models import AcceptedMessage, ArchivedMessage, PanelUser, SendingDomain, SendKey, utcnow
from tests.admin.conftest import Panel, csrf_token


@pytest.fixture
def tokens(panel: Panel) -> dict[str, str]:
    made = {}
    with session_scope(panel.app.extensions["relay"].engine) as db:
        for name in ("root", "alice"):
            found = db.query(PanelUser).filter_by(username=name).one()
            made[name] = panel_users.new_api_token(db, found, "tests")[1]
    return made


class Api:
    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, status: int, body: Any = None, **query: Any) -> Any:
        reply = self.client.open(f"/api/v1{path}", method=method, headers=self.headers, json=body,
                                 query_string=query)
        assert reply.status_code == status, (method, path, reply.get_data(as_text=True))
        return reply.get_json() if reply.data else None


def test_the_api_takes_a_bearer_token_and_nothing_else(panel: Panel, tokens: dict[str, str]) -> None:
    anonymous = panel.client()
    reply = anonymous.get("/api/v1/tenants")
    assert reply.status_code == 401 and reply.headers["WWW-Authenticate"] == "Bearer"
    assert reply.get_json() == {"error": reply.get_json()["error"]}
    for header in ("Bearer rlt_forged", f"Basic {tokens['root']}", tokens["root"]):
        assert anonymous.get("/api/v1/tenants", headers={"Authorization": header}).status_code == 401
    # A logged-in browser's cookie is no API credential: no cross-site request rides on it.
    assert panel.client("root").get("/api/v1/tenants").status_code == 401
    assert panel.client("root").post("/api/v1/tenants", json={"name": "csrf"}).status_code == 401
    # The description is public; routing errors answer in JSON with Allow kept.
    document = anonymous.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1") and "/tenants/{tenant_id}" in document["paths"]
    reply = anonymous.put("/api/v1/tenants")
    assert reply.status_code == 405 and "GET" in reply.headers["Allow"] and "error" in reply.get_json()


def test_an_admin_runs_a_tenant_through_the_api(panel: Panel, tokens: dict[str, str]) -> None:
    api = Api(panel.client(), tokens["root"])
    tenant = api.call("POST", "/tenants", 201, {"name": "initech"})
    assert tenant["status"] == "active" and tenant["limits"]["per_hour"] is None
    api.call("POST", "/tenants", 409, {"name": "initech"})
    changed = api.call("PATCH", f"/tenants/{tenant['id']}", 200, {"per_hour": 500, "per_day": 0})
    assert changed["limits"] == {"per_second": None, "per_minute": None, "per_hour": 500,
                                 "per_day": 0, "concurrent_connections": None}
    assert api.call("POST", f"/tenants/{tenant['id']}/pause", 200)["status"] == "paused"
    assert api.call("POST", f"/tenants/{tenant['id']}/resume", 200)["status"] == "active"
    credential = api.call("POST", f"/tenants/{tenant['id']}/credentials", 201)
    assert credential["username"].startswith("initech-") and len(credential["secret"]) >= 20
    listed = api.call("GET", f"/tenants/{tenant['id']}/credentials", 200)["items"]
    assert [c["username"] for c in listed] == [credential["username"]] and "secret" not in listed[0]
    api.call("DELETE", f"/tenants/{tenant['id']}/credentials/{credential['id']}", 204)
    assert api.call("GET", f"/tenants/{tenant['id']}/credentials", 200)["items"][0]["revoked_at"]
    hook = api.call("POST", f"/tenants/{tenant['id']}/webhooks", 201, {"url": "https://192.0.2.10/x"})
    for target in ("http://127.0.0.1:8080/admin", "http://10.0.0.5/", "http://169.254.169.254/",
                   "http://192.0.2.200/"):
        refused = api.call("POST", f"/tenants/{tenant['id']}/webhooks", 422, {"url": target})
        assert "may not reach" in refused["error"], (target, refused)
    hooks = api.call("GET", f"/tenants/{tenant['id']}/webhooks", 200)["items"]
    assert hook["secret"] and [h["id"] for h in hooks] == [hook["id"]]
    api.call("DELETE", f"/tenants/{tenant['id']}/webhooks/{hook['id']}", 204)

    domain = api.call("POST", "/domains", 201, {"tenant_id": tenant["id"], "name": "Mail.Initech.test",
                                                "algorithm": "ed25519"})
    assert domain["name"] == "mail.initech.test" and domain["verified_at"] is None
    purposes = {r["purpose"] for r in domain["records"]}
    assert purposes == {"dkim", "spf", "dmarc", "dmarc reports", "return-path"}
    dkim = next(r for r in domain["records"] if r["purpose"] == "dkim")
    assert dkim["value"].startswith("v=DKIM1; k=ed25519; p=")
    key = api.call("POST", f"/domains/{domain['id']}/keys", 201, {})
    assert key["state"] == "pending"
    api.call("DELETE", f"/domains/{domain['id']}/keys/{key['id']}", 204)
    only = api.call("GET", f"/domains/{domain['id']}", 200)["keys"][0]
    api.call("DELETE", f"/domains/{domain['id']}/keys/{only['id']}", 409)  # the only active key
    names = [d["name"] for d in api.call("GET", "/domains", 200, tenant_id=tenant["id"])["items"]]
    assert names == ["mail.initech.test"]

    entry = api.call("POST", "/suppressions", 201, {"address": "Gone@Example.org", "detail": "asked"})
    assert entry["address"] == "gone@example.org" and entry["tenant_id"] is None
    found = api.call("GET", "/suppressions", 200, q="gone@example")["items"]
    assert [e["id"] for e in found] == [entry["id"]]
    api.call("DELETE", f"/suppressions/{entry['id']}", 204)
    api.call("DELETE", f"/suppressions/{entry['id']}", 404)


def test_messages_events_and_bounces_through_the_api(panel: Panel, tokens: dict[str, str]) -> None:
    api = Api(panel.client(), tokens["alice"])
    found = api.call("GET", "/messages", 200, q="<m1@acme.test>")["items"]
    assert [m["key"] for m in found] == ["abcdefghijklm"]
    timeline = api.call("GET", "/messages/abcdefghijklm", 200)
    assert [e["kind"] for e in timeline["events"]] == ["delivered", "bounced"]
    tagged = {(tuple(e["tags"]), e["metadata"]["order"]) for e in timeline["events"]}
    assert tagged == {(("welcome", "spring"), "1234")}
    bounce = api.call("GET", "/bounces", 200)["items"]
    assert [b["recipient"] for b in bounce] == ["gone@acme-customer.test"]
    detail = api.call("GET", f"/bounces/{bounce[0]['id']}", 200)
    assert detail["report"]["raw"].startswith("Subject: bounce for acme")
    events = api.call("GET", "/events", 200, recipient="gone@acme-customer.test")["items"]
    assert [e["kind"] for e in events] == ["bounced"] and events[0]["report_id"]


def test_a_tenant_token_reaches_its_own_tenant_only(panel: Panel, tokens: dict[str, str]) -> None:
    api = Api(panel.client(), tokens["alice"])
    ids = panel.ids
    assert [t["name"] for t in api.call("GET", "/tenants", 200)["items"]] == ["acme"]
    for path in (f"/tenants/{ids['globex']}", f"/tenants/{ids['globex']}/credentials",
                 f"/domains/{ids['globex_domain']}", f"/bounces/{ids['globex_bounce']}",
                 "/messages/nopqrstuvwxyz"):
        api.call("GET", path, 404)
    for path in (f"/tenants/{ids['globex']}/credentials", f"/domains/{ids['globex_domain']}/verify"):
        api.call("POST", path, 404)
    api.call("DELETE", f"/suppressions/{ids['globex_suppression']}", 404)
    api.call("POST", "/domains", 404, {"tenant_id": ids["globex"], "name": "evil.test"})
    api.call("POST", "/suppressions", 403, {"address": "x@example.org"})  # the global list
    api.call("POST", "/suppressions", 404, {"address": "x@example.org", "tenant_id": ids["globex"]})
    assert api.call("POST", "/suppressions", 201, {"address": "x@example.org", "tenant_id": ids["acme"]})
    for method, path, body in (("POST", "/tenants", {"name": "mine"}), ("GET", "/pools", None),
                               ("GET", "/queue", None), ("POST", "/queue/flush", None),
                               ("POST", f"/tenants/{ids['acme']}/pause", None),
                               ("PATCH", f"/tenants/{ids['acme']}", {"per_day": 0})):
        api.call(method, path, 403, body)
    assert not any("globex" in e["recipient"] for e in api.call("GET", "/events", 200)["items"])
    assert api.call("GET", "/messages", 200, q="gone@globex-customer.test")["items"] == []


@pytest.mark.parametrize("body", [None, "not an object", {}, {"name": 7}, {"name": "UPPER"},
                                  {"name": "ok", "extra": 1}, {"name": "a\u0000b"}])
def test_a_body_the_schema_refuses_gets_a_400_saying_why(panel: Panel, tokens: dict[str, str],
                                                         body: Any) -> None:
    client = panel.client()
    reply = client.post("/api/v1/tenants", json=body, headers={"Authorization": f"Bearer {tokens['root']}"})
    assert reply.status_code == 400 and reply.get_json()["error"]


def test_bad_parameters_get_a_4xx_not_a_crash(panel: Panel, tokens: dict[str, str]) -> None:
    api = Api(panel.client(), tokens["root"])
    api.call("GET", "/tenants/99999999999999999999999", 404)
    api.call("GET", "/tenants/-1", 404)
    api.call("GET", "/tenants", 400, page="x")
    api.call("GET", "/tenants", 400, page=0)
    api.call("GET", "/tenants", 400, q="nul\x00")
    api.call("GET", "/messages/not-a-key!", 404)
    api.call("GET", "/messages", 400)
    api.call("POST", "/queue/actions", 400, {"action": "delete", "queue_ids": ["ALL"]})


def test_a_domains_compliance_with_the_bulk_sender_rules(panel: Panel, tokens: dict[str, str]) -> None:
    ids = panel.ids
    with session_scope(panel.app.extensions["relay"].engine) as db:
        domain = db.get(SendingDomain, ids["acme_domain"])
        assert domain is not None
        dmarc = DnsRecord("dmarc", "_dmarc.acme.test", "TXT", "v=DMARC1; p=none", False)
        dkim = DnsRecord("dkim", "s._domainkey.acme.test", "TXT", "v=DKIM1; p=x", True)
        tenants.record_verification(db, domain, [
            RecordCheck(dkim, True, "v=DKIM1; p=x"),
            RecordCheck(dmarc, True, "v=DMARC1; p=none; rua=mailto:dmarc@acme.test")])
        for n in range(1200):
            db.add(AcceptedMessage(message_ref=f"m{n:05d}", tenant_id=ids["acme"], sender="app@acme.test",
                                   recipients=f"r{n}@gmail.com", one_click_unsubscribe=n % 4 != 0,
                                   at=utcnow() - timedelta(seconds=1200 - n)))
        db.add(AcceptedMessage(message_ref="other", tenant_id=ids["acme"], sender="app@elsewhere.test"))
        for n in range(200):
            keys = MessageKeys(f"m{n:05d}", "", "")
            record_event(db, "delivered", f"r{n}@gmail.com", tenant_id=ids["acme"], message=keys)
            if n < 2:
                record_event(db, "complained", f"r{n}@gmail.com", tenant_id=ids["acme"], message=keys)
        elsewhere = MessageKeys("other", "", "")
        record_event(db, "complained", "r9@gmail.com", tenant_id=ids["acme"], message=elsewhere)
    api = Api(panel.client(), tokens["alice"])
    found = api.call("GET", f"/domains/{ids['acme_domain']}/compliance", 200)
    assert (found["dkim_aligned"], found["spf_aligned"], found["spf_passes"]) == (True, False, False)
    assert (found["dmarc_published"], found["dmarc_rua"]) == (True, "mailto:dmarc@acme.test")
    assert (found["recent_messages"], found["one_click_share"]) == (1000, 0.75)
    gmail = next(p for p in found["complaints"] if p["provider"] == "gmail")
    assert (gmail["sends"], gmail["complaints"], gmail["past_line"]) == (200, 2, True)
    api.call("GET", f"/domains/{ids['globex_domain']}/compliance", 404)
    page = panel.client("alice").get(f"/domains/{ids['acme_domain']}").get_data(as_text=True)
    assert "75% of the last 1000 messages" in page and "1.00% (past 0.3%)" in page


def test_a_suppression_scoped_to_one_list_through_the_api(panel: Panel, tokens: dict[str, str]) -> None:
    api = Api(panel.client(), tokens["alice"])
    acme = panel.ids["acme"]
    entry = api.call("POST", "/suppressions", 201, {"address": "reader@example.org", "tenant_id": acme,
                                                   "list_name": "weekly-news"})
    assert entry["list_name"] == "weekly-news"
    whole = api.call("POST", "/suppressions", 201, {"address": "reader@example.org", "tenant_id": acme})
    assert whole["list_name"] == "" and whole["id"] != entry["id"]
    listed = api.call("GET", "/suppressions", 200, list_name="weekly-news")["items"]
    assert [e["id"] for e in listed] == [entry["id"]]
    for bad in ("Weekly News", "x" * 65, "-lead"):
        body = {"address": "r@example.org", "tenant_id": acme, "list_name": bad}
        api.call("POST", "/suppressions", 400, body)
    root = Api(panel.client(), tokens["root"])
    root.call("POST", "/suppressions", 422, {"address": "r@example.org", "list_name": "weekly-news"})
    api.call("DELETE", f"/suppressions/{entry['id']}", 204)
    assert api.call("GET", "/suppressions", 200, list_name="weekly-news")["items"] == []


def test_a_tenant_turns_once_per_message_id_on_for_itself_only(panel: Panel, tokens: dict[str, str]) -> None:
    api = Api(panel.client(), tokens["alice"])
    acme, globex = panel.ids["acme"], panel.ids["globex"]
    assert api.call("GET", f"/tenants/{acme}", 200)["once_per_message_id"] is False
    turned = api.call("PUT", f"/tenants/{acme}/once-per-message-id", 200, {"enabled": True})
    assert turned["once_per_message_id"] is True
    api.call("PUT", f"/tenants/{globex}/once-per-message-id", 404, {"enabled": True})
    api.call("PUT", f"/tenants/{acme}/once-per-message-id", 400, {"enabled": "yes"})
    client = panel.client("alice")
    page = client.get(f"/tenants/{acme}").get_data(as_text=True)
    assert "once per Message-ID" in page and "24 h" in page
    token = csrf_token(client, f"/tenants/{acme}")
    off = client.post(f"/tenants/{acme}/once-per-message-id", data={"on": "0", "csrf_token": token},
                      follow_redirects=True).get_data(as_text=True)
    assert "every message is sent" in off
    assert api.call("GET", f"/tenants/{acme}", 200)["once_per_message_id"] is False


def test_send_keys_are_shown_once_stored_hashed_and_revoked(panel: Panel, tokens: dict[str, str]) -> None:
    api = Api(panel.client(), tokens["alice"])
    acme, globex = panel.ids["acme"], panel.ids["globex"]
    made = api.call("POST", f"/tenants/{acme}/send-keys", 201, {"name": "shop"})
    assert made["key"].startswith("rsk_") and made["name"] == "shop"
    listed = api.call("GET", f"/tenants/{acme}/send-keys", 200)["items"]
    assert [(k["id"], k["revoked_at"], k["expires_at"], k["state"]) for k in listed] == [
        (made["id"], None, None, "active")]
    assert made["key"] not in str(listed)
    api.call("POST", f"/tenants/{globex}/send-keys", 404, {})
    api.call("DELETE", f"/tenants/{globex}/send-keys/{made['id']}", 404)
    with session_scope(panel.app.extensions["relay"].engine) as db:
        stored = db.get(SendKey, made["id"])
        assert stored is not None and made["key"] not in (stored.key_sha256, stored.name)
        assert send_keys.unrevoked_key(db, made["key"]) is not None
        assert send_keys.unrevoked_key(db, tokens["alice"]) is None  # a panel token sends nothing
    api.call("DELETE", f"/tenants/{acme}/send-keys/{made['id']}", 204)
    assert api.call("GET", f"/tenants/{acme}/send-keys", 200)["items"][0]["revoked_at"] is not None
    with session_scope(panel.app.extensions["relay"].engine) as db:
        assert send_keys.unrevoked_key(db, made["key"]) is None
    # A panel token is no send key, and a send key opens no panel API.
    anonymous = panel.client()
    send_key_header = {"Authorization": f"Bearer {made['key']}"}
    assert anonymous.get("/api/v1/tenants", headers=send_key_header).status_code == 401
    client = panel.client("alice")
    page = client.post(f"/tenants/{acme}/send-keys", data={"name": "app", "csrf_token": csrf_token(client)})
    shown = re.search(r"rsk_[A-Za-z0-9_-]{40,}", page.get_data(as_text=True))
    assert shown is not None and shown.group(0) not in client.get(f"/tenants/{acme}").get_data(as_text=True)


def test_a_send_key_can_be_made_to_expire(panel: Panel, tokens: dict[str, str]) -> None:
    api = Api(panel.client(), tokens["alice"])
    acme = panel.ids["acme"]
    made = api.call("POST", f"/tenants/{acme}/send-keys", 201, {"name": "trial", "expires_in_days": 30})
    expires = datetime.fromisoformat(made["expires_at"].removesuffix("Z"))
    left = expires - datetime.now(UTC).replace(tzinfo=None)
    assert timedelta(days=29, hours=23) < left <= timedelta(days=30)
    for days in (0, 3651, "30"):
        api.call("POST", f"/tenants/{acme}/send-keys", 400, {"expires_in_days": days})
    with session_scope(panel.app.extensions["relay"].engine) as db:
        key = db.get(SendKey, made["id"])
        assert key is not None
        key.expires_at = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)
    listed = {k["id"]: k for k in api.call("GET", f"/tenants/{acme}/send-keys", 200)["items"]}
    assert listed[made["id"]]["state"] == "expired"
    client = panel.client("alice")
    page = client.post(f"/tenants/{acme}/send-keys", data={"name": "week", "expires_in_days": "7",
                                                           "csrf_token": csrf_token(client)})
    assert re.search(r"rsk_[A-Za-z0-9_-]{40,}", page.get_data(as_text=True))
    refused = client.post(f"/tenants/{acme}/send-keys", data={"name": "x", "expires_in_days": "0",
                                                              "csrf_token": csrf_token(client)},
                          follow_redirects=True)
    assert "expires in 1 to 3650 days" in refused.get_data(as_text=True)


def test_tracking_is_turned_on_per_domain_and_its_rates_are_reported(panel: Panel,
                                                                    tokens: dict[str, str]) -> None:
    ids = panel.ids
    api = Api(panel.client(), tokens["alice"])
    domain = api.call("PATCH", f"/domains/{ids['acme_domain']}", 200, {"track_clicks": True})
    assert (domain["track_opens"], domain["track_clicks"]) == (False, True)
    assert domain["tracking_base_url"] == panel.app.extensions["relay"].settings.link_base_url
    assert any(r["purpose"] == "tracking" and r["name"] == "t.acme.test" for r in domain["records"])
    api.call("PATCH", f"/domains/{ids['globex_domain']}", 404, {"track_opens": True})
    api.call("PATCH", f"/domains/{ids['acme_domain']}", 400, {"track_opens": "yes"})
    now = utcnow()
    with session_scope(panel.app.extensions["relay"].engine) as db:
        for n in range(10):
            db.add(AcceptedMessage(message_ref=f"t{n:05d}", tenant_id=ids["acme"], sender="app@acme.test",
                                   tracked_domain="acme.test", at=now - timedelta(minutes=n),
                                   opened_at=now if n < 4 else None, clicked_at=now if n < 1 else None))
            if n < 8:
                record_event(db, "delivered", f"r{n}@example.org", tenant_id=ids["acme"],
                             message=MessageKeys(f"t{n:05d}", "", ""))
    rates = api.call("GET", "/tracking/rates", 200, days=7)["items"]
    assert [(r["domain"], r["delivered"], r["opened"], r["clicked"], r["open_rate"]) for r in rates] == [
        ("acme.test", 8, 4, 1, 0.5)]
    root = Api(panel.client(), tokens["root"])
    assert root.call("GET", "/tracking/rates", 200, domain="other.test")["items"] == []
    dashboard = panel.client("alice").get("/").get_data(as_text=True)
    assert "Opens and clicks" in dashboard and "50.0%" in dashboard and "12.5%" in dashboard
    metrics = panel.client().get("/metrics", headers={"Authorization": f"Bearer {tokens['root']}"})
    text = metrics.get_data(as_text=True)
    assert 'relay_tracking_rate{domain="acme.test",kind="opened",tenant="acme"} 0.5' in text
    assert 'relay_tracking_delivered{domain="acme.test",tenant="acme"} 8.0' in text


def test_a_tenant_reaches_its_own_archive_only_and_within_the_boxs_retention(panel: Panel,
                                                                             tokens: dict[str, str]) -> None:
    ids = panel.ids
    context = panel.app.extensions["relay"]
    key = archive.archive_key(context.secret_box)
    refs = {}
    with session_scope(context.engine) as db:
        for name in ("acme", "globex"):
            content = (f"From: app@{name}.test\r\nSubject: {name} invoice\r\nContent-Type: text/html\r\n\r\n"
                       f"<html>secret of {name}</html>\r\n").encode()
            refs[name] = f"arch{name}"
            db.add(ArchivedMessage(message_ref=refs[name], tenant_id=ids[name], subject=f"{name} invoice",
                                   sender=f"app@{name}.test", recipients="r@example.org", size=len(content),
                                   sealed=archive.seal(key, content)))
    api = Api(panel.client(), tokens["alice"])
    found = api.call("GET", "/archive", 200, subject="invoice")["items"]
    assert [m["message_ref"] for m in found] == ["archacme"]
    raw = panel.client().get(f"/api/v1/messages/{refs['acme']}/raw", headers=api.headers)
    assert raw.mimetype == "message/rfc822" and b"secret of acme" in raw.data
    api.call("GET", f"/messages/{refs['globex']}/raw", 404)
    api.call("POST", f"/messages/{refs['globex']}/resend", 404, {"to": ["x@example.org"]})
    api.call("GET", "/messages/not-a-ref!/raw", 404)
    api.call("GET", "/archive", 400, since="2026-13-45")
    api.call("PUT", f"/tenants/{ids['acme']}/archive", 422, {"days": 91})  # past this box's 90
    api.call("PUT", f"/tenants/{ids['acme']}/archive", 400, {"days": 10_000})  # past any box's
    api.call("PUT", f"/tenants/{ids['globex']}/archive", 404, {"days": 5})
    kept = api.call("PUT", f"/tenants/{ids['acme']}/archive", 200, {"days": 30, "max_mib": 5})
    assert (kept["archive_days"], kept["archive_max_mib"]) == (30, 5)
    browser = panel.client("alice")
    other = refs["globex"]
    for path in (f"/archive/{other}", f"/archive/{other}/html", f"/archive/{other}/raw"):
        assert browser.get(path).status_code == 404, path
    assert "globex invoice" not in browser.get("/archive/?subject=invoice").get_data(as_text=True)
    page = browser.get(f"/archive/{refs['acme']}").get_data(as_text=True)
    assert '<iframe id="html-part" class="message-html" sandbox referrerpolicy="no-referrer"' in page
    frame = browser.get(f"/archive/{refs['acme']}/html")
    assert frame.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "sandbox" in frame.headers["Content-Security-Policy"]
    assert "secret of acme" in frame.get_data(as_text=True)
    assert "img-src data: cid:;" in frame.headers["Content-Security-Policy"]
    images = browser.get(f"/archive/{refs['acme']}/html?images=1").headers["Content-Security-Policy"]
    assert "img-src data: cid: https: http:;" in images and "script-src" not in images
