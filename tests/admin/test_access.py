"""Every route needs a login and the right role; tenant users see only their tenant; forms need CSRF."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from tests.admin.conftest import PASSWORD, Panel, csrf_token

OPEN_ENDPOINTS = {"static", "auth.login", "api.openapi"}


def routes(panel: Panel) -> list[tuple[str, str]]:
    """Each (method, url) of the panel, with 1 for every id in the path."""
    found = []
    for rule in panel.app.url_map.iter_rules():
        if rule.endpoint in OPEN_ENDPOINTS:
            continue
        url = _url(rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, url))
    return found


def _url(rule: Rule) -> str:
    return re.sub(r"<(?:int:)?([^>]+)>", "1", rule.rule)


def test_every_route_refuses_a_visitor_who_is_not_logged_in(panel: Panel) -> None:
    client = panel.client()
    checked = routes(panel)
    assert len(checked) > 30
    for method, url in checked:
        reply = client.open(url, method=method)
        if url == "/metrics" or url.startswith("/api/"):
            assert reply.status_code == 401, url  # a bearer token, no login page
        else:
            assert reply.status_code == 302 and "/login" in reply.headers["Location"], (method, url)


def test_every_form_without_its_csrf_token_is_refused(panel: Panel) -> None:
    client = panel.client("root")
    # The API takes no cookies, so no cross-site request rides on a session (tests/admin/test_api.py).
    posts = [url for method, url in routes(panel) if method == "POST" and not url.startswith("/api/")]
    assert len(posts) > 15
    for url in posts:
        reply = client.post(url, data={"name": "evil", "address": "x@example.org"})
        assert reply.status_code == 400, url
        assert "Form refused" in reply.get_data(as_text=True), url
    # ... and with a token from another session, too.
    other = panel.client("alice")
    stolen = csrf_token(other)
    assert client.post("/tenants/", data={"name": "evil", "csrf_token": stolen}).status_code == 400
    assert "evil" not in client.get("/tenants/").get_data(as_text=True)


ADMIN_ONLY = ["/pools/", "/queue/", "/users/", "/pathways/"]


def test_tenant_users_cannot_reach_admin_pages(panel: Panel) -> None:
    client = panel.client("alice")
    for url in ADMIN_ONLY:
        assert client.get(url).status_code == 403, url
    token = csrf_token(client)
    acme = panel.ids["acme"]
    for url in ("/tenants/", f"/tenants/{acme}/limits", f"/tenants/{acme}/pause", "/pools/", "/users/",
                "/queue/flush", f"/domains/{panel.ids['acme_domain']}/override",
                "/pathways/smtp_127_0_0_2__gmail/clear"):
        assert client.post(url, data={"csrf_token": token, "name": "x"}).status_code == 403, url


def test_tenant_users_cannot_reach_another_tenants_data(panel: Panel) -> None:
    client = panel.client("alice")
    ids = panel.ids
    token = csrf_token(client)
    for url in (f"/tenants/{ids['globex']}", f"/domains/{ids['globex_domain']}",
                f"/bounces/{ids['globex_bounce']}", "/messages/nopqrstuvwxyz", f"/?tenant={ids['globex']}"):
        assert client.get(url).status_code == 404, url
    for url in (f"/tenants/{ids['globex']}/credentials", f"/tenants/{ids['globex']}/webhooks",
                f"/domains/{ids['globex_domain']}/verify", f"/domains/{ids['globex_domain']}/keys",
                f"/suppressions/{ids['globex_suppression']}/remove"):
        assert client.post(url, data={"csrf_token": token, "url": "http://x.test/"}).status_code == 404, url
    # Lists and searches show acme's rows only.
    for url in ("/domains/", "/bounces/", "/suppressions/", "/suppressions/export.csv", "/tenants/1"):
        page = client.get(url).get_data(as_text=True)
        assert "globex" not in page, url
    def search(text: str) -> str:
        return client.get("/messages/", query_string={"q": text}).get_data(as_text=True)
    globex_queue_id = f"4A{ids['globex']}B2C3D4E5"
    for text in ("gone@globex-customer.test", "<m1@globex.test>", "nopqrstuvwxyz", globex_queue_id):
        assert "No message matches" in search(text), text
    assert "/messages/abcdefghijklm" in search("<m1@acme.test>")
    assert "gone@acme-customer.test" in client.get("/suppressions/").get_data(as_text=True)
    # A tenant user may not add to the global list, nor to another tenant's.
    for tenant in (0, ids["globex"]):
        reply = client.post("/suppressions/", data={"csrf_token": token, "tenant": tenant,
                                                    "address": "x@example.org"})
        assert reply.status_code == 400  # not among the form's choices
    assert client.get(f"/tenants/{ids['acme']}").status_code == 200


@pytest.mark.parametrize("target", ["https://evil.test/", "//evil.test/", "/\\evil.test"])
def test_login_does_not_redirect_away_from_the_panel(panel: Panel, target: str) -> None:
    client = panel.client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token
    reply = client.post("/login", query_string={"next": target},
                        data={"username": "root", "password": PASSWORD, "csrf_token": token[1]})
    assert reply.status_code == 302
    assert reply.headers["Location"] == "/"


def _copied(panel: Panel, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of the client's session cookie."""
    thief = panel.client()
    cookie = client.get_cookie("relay_session")
    assert cookie is not None
    thief.set_cookie("relay_session", cookie.value)
    return thief


def test_logout_ends_every_session_of_the_user_copied_cookies_included(panel: Panel) -> None:
    client, elsewhere = panel.client("alice"), panel.client("alice")
    thief = _copied(panel, client)
    assert thief.get("/account/").status_code == 200
    assert client.post("/logout", data={"csrf_token": csrf_token(client)}).status_code == 302
    for browser in (client, thief, elsewhere):
        reply = browser.get("/account/")
        assert reply.status_code == 302 and "/login" in reply.headers["Location"]
    assert panel.client("alice").get("/account/").status_code == 200  # logging in again works


def test_a_new_password_ends_the_other_sessions_and_tokens_need_the_password(panel: Panel) -> None:
    client = panel.client("alice")
    thief = _copied(panel, client)
    new = "a brand new passphrase"
    reply = client.post("/account/password", data={"current": PASSWORD, "new": new,
                                                    "csrf_token": csrf_token(client)})
    assert reply.status_code == 302
    assert client.get("/account/").status_code == 200  # the one that changed it goes on
    assert thief.get("/account/").status_code == 302
    token = csrf_token(client)
    assert client.post("/account/tokens", data={"name": "x", "csrf_token": token}).status_code == 400
    wrong = client.post("/account/tokens", data={"name": "x", "password": PASSWORD, "csrf_token": token})
    assert wrong.status_code == 400 and "not your current password" in wrong.get_data(as_text=True)
    made = client.post("/account/tokens", data={"name": "x", "password": new, "csrf_token": token})
    assert made.status_code == 200 and 'id="new-token"' in made.get_data(as_text=True)
