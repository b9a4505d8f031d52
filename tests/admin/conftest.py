from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from admin import create_app
from core import panel_users, suppressions, tenants
from core.config import PanelSettings, Settings, WebhookSettings
from core.db import make_engine, migrate, session_scope
from core.events import MessageKeys, record_event
from core.models import AcceptedMessage
from core.secretbox import SecretBox, create_key_file
from intake.reports import keep_report
from tests.support.box import box_root, reset_postgres

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("RELAY_TEST_DATABASE_URL") else [])
PASSWORD = "correct horse battery"
# The operator's own receivers, in a test network: webhooks reach public addresses, and these.
ALLOWED_WEBHOOK_NETWORK = "192.0.2.0/28"
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


@dataclass
class Panel:
    app: Flask
    settings: Settings
    ids: dict[str, int]

    def client(self, username: str | None = None) -> FlaskClient:
        client = self.app.test_client()
        if username is not None:
            login(client, username)
        return client


def csrf_token(client: FlaskClient, page: str = "/account/") -> str:
    html = client.get(page).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, f"no CSRF token on {page}"
    return match.group(1) or match.group(2)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> None:
    page = client.get("/login").get_data(as_text=True)
    match = _CSRF.search(page)
    assert match
    reply = client.post("/login", data={"username": username, "password": password,
                                        "csrf_token": match.group(1) or match.group(2)})
    assert reply.status_code == 302, reply.get_data(as_text=True)


def make_settings(state_dir: Path, database_url: str) -> Settings:
    return Settings(hostname="relay.test", state_dir=state_dir, database_url=database_url,
                    panel=PanelSettings(secure_cookies=True),
                    webhooks=WebhookSettings(allow_networks=(ALLOWED_WEBHOOK_NETWORK,)))


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """A state directory that Postfix's own user can enter (pytest's tmp_path is private to root)."""
    with box_root() as root:
        yield root


@pytest.fixture(params=BACKENDS)
def panel(request: pytest.FixtureRequest, state_dir: Path) -> Iterator[Panel]:
    """A panel on a fresh database with two tenants, acme and globex, each with a domain, a tenant
    user (alice, bob), a bounce with its report, a delivered message and a suppression; and an
    admin (root)."""
    if request.param == "sqlite":
        url = f"sqlite:///{state_dir / 'relay.db'}"
    else:
        url = os.environ["RELAY_TEST_DATABASE_URL"]
        reset_postgres(url)
    settings = make_settings(state_dir, url)
    create_key_file(settings.effective_encryption_key_file)
    migrate(url)
    engine = make_engine(url)
    box = SecretBox.from_file(settings.effective_encryption_key_file)
    ids: dict[str, int] = {}
    with session_scope(engine) as session:
        panel_users.add_user(session, "root", PASSWORD, "admin")
        for name, person in (("acme", "alice"), ("globex", "bob")):
            tenant = tenants.add_tenant(session, name)
            ids[name] = tenant.id
            ids[f"{name}_domain"] = tenants.add_domain(session, box, name, f"{name}.test").id
            panel_users.add_user(session, person, PASSWORD, "tenant", name)
            ref = "abcdefghijklm" if name == "acme" else "nopqrstuvwxyz"
            keys = MessageKeys(ref, f"4A{tenant.id}B2C3D4E5", f"<m1@{name}.test>")
            session.add(AcceptedMessage(message_ref=ref, tenant_id=tenant.id, tags="welcome,spring",
                                        metadata_json='{"order":"1234"}'))
            record_event(session, "delivered", f"ok@{name}-customer.test", "dsn=2.0.0", tenant.id, keys)
            raw = f"Subject: bounce for {name}\n\n5.1.1".encode()
            report = keep_report(session, "b.x@bounces.relay.test", raw, tenant.id)
            ids[f"{name}_bounce"] = record_event(session, "bounced", f"gone@{name}-customer.test",
                                                 "reason=userunknown", tenant.id, keys, report.id)
            ids[f"{name}_suppression"] = suppressions.suppress(session, name, f"gone@{name}-customer.test",
                                                               "hard_bounce").id
    engine.dispose()
    app = create_app({"RELAY_SETTINGS": settings, "TESTING": True})
    yield Panel(app, settings, ids)
    app.extensions["relay"].engine.dispose()
