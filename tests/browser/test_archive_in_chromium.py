"""The archive end to end: a message sent through the front-end is kept whole and sealed, found by
subject through the API, shown in headless Chromium with its hostile HTML inert (no script runs,
nothing remote is fetched until images are asked for), downloaded raw, resent through the whole
path as a new signed message, and gone once the tenant's archive is turned off and swept."""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import select

from core import archive, panel_users, suppressions, tenants
from core.models import AcceptedMessage, ArchivedMessage
from core.secretbox import SecretBox
from relayctl.cli import main as relayctl
from tests.integration.test_milter import publish_keys, verify
from tests.support.box import DOMAIN, TENANT, Box, running_box
from tests.support.chromium import chromium, needs_chromium
from tests.support.dns_server import LoopbackDns
from tests.support.panel import ADMIN, log_in, panel_service
from tests.support.sink import Sink
from tests.support.waiting import eventually
from tests.support.web_page import RecordingPage

pytestmark = needs_chromium



def hostile(watcher: RecordingPage) -> EmailMessage:
    remote = f"http://127.0.0.1:{watcher.port}"
    message = EmailMessage()
    message["From"], message["To"] = f"app@{DOMAIN}", "reader@example.org"
    message["Subject"] = "Order 4711 shipped"
    message.set_content("Your order 4711 has shipped; the parcel number is 99-ZX.")
    message.add_alternative(
        f'<html><head><meta http-equiv="refresh" content="0;url={remote}/refresh">'
        f'<link rel="stylesheet" href="{remote}/link.css">'
        f"<style>body {{ background: url({remote}/css-background) }}"
        f" @import url({remote}/import.css);</style>"
        f"<script>fetch('{remote}/script'); document.title = 'script ran';</script></head>"
        f'<body onload="fetch(\'{remote}/onload\')"><h1 id="shipped">Your order 4711 has shipped</h1>'
        f'<img src="{remote}/image.gif" onerror="fetch(\'{remote}/onerror\')" alt="logo">'
        f'<form action="{remote}/form" method="post"><input name="card" value="1234"></form>'
        f"<script>document.forms[0].submit()</script>"
        f'<iframe src="{remote}/frame"></iframe><object data="{remote}/object"></object>'
        f'<a href="{remote}/link">Track it</a></body></html>', subtype="html")
    return message


@pytest.fixture(scope="module")
def box(sink: Sink, dns: LoopbackDns) -> Iterator[Box]:
    with running_box(sink, dns={"nameservers": ["127.0.0.1"], "nameserver_port": dns.port},
                     smtp={"max_message_size": 26 * 1024 * 1024}) as box, panel_service(box):
        publish_keys(box, dns, DOMAIN)
        yield box


@pytest.fixture(scope="module")
def token(box: Box) -> str:
    with box.db_session() as session:
        return panel_users.new_api_token(session, panel_users.user_by_name(session, ADMIN), "tests")[1]


def api(box: Box, token: str, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{box.settings.panel.port}/api/v1{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def without_received(content: bytes) -> bytes:
    """The message without Postfix's Received field (written after the milter, so not archived)."""
    return re.sub(rb"^Received: .*?\r\n(?![ \t])", b"", content, count=1, flags=re.MULTILINE | re.DOTALL)


def stored(box: Box, ref: str) -> ArchivedMessage | None:
    with box.db_session() as session:
        return session.get(ArchivedMessage, ref)


def test_a_sent_message_is_archived_shown_inert_downloaded_resent_and_swept(
        box: Box, dns: LoopbackDns, token: str) -> None:
    watcher = RecordingPage(content_type="image/gif")
    try:
        assert relayctl(["--config", str(box.config_path), "tenant", "archive", TENANT, "--days", "30"]) == 0
        box.directory_loaded()
        with box.client() as client:
            client.sendmail(f"app@{DOMAIN}", ["reader@example.org"], hostile(watcher).as_bytes())
        received = box.sink.wait_for_subject("Order 4711 shipped")[0]
        # The milter writes its record, and the archived copy with it, a moment after its verdict.
        kept = eventually(lambda: stored(box, received.mail_from.split(".")[1]), "the message in the archive")
        ref = kept.message_ref
        key = archive.archive_key(SecretBox.from_file(box.settings.effective_encryption_key_file))
        assert archive.unseal(key, kept.sealed) == without_received(received.content)
        for text in (b"4711", b"99-ZX", b"shipped", b"reader@example.org"):
            assert text not in kept.sealed
        status, found = api(box, token, "GET", "/archive?subject=4711")
        assert status == 200 and [m["message_ref"] for m in json.loads(found)["items"]][:1] == [ref]
        status, raw = api(box, token, "GET", f"/messages/{ref}/raw")
        assert status == 200 and raw == without_received(received.content)

        with chromium() as browser:
            log_in(browser, f"http://127.0.0.1:{box.settings.panel.port}", f"/archive/{ref}")
            assert "99-ZX" in browser.find_element(By.ID, "text-part").text
            frame = browser.find_element(By.ID, "html-part")
            browser.switch_to.frame(frame)
            assert browser.find_element(By.ID, "shipped").text == "Your order 4711 has shipped"
            assert browser.execute_script("return document.title") != "script ran"
            browser.switch_to.default_content()
            time.sleep(2)
            assert watcher.paths == [], watcher.paths
            browser.find_element(By.ID, "show-images").click()
            eventually(lambda: "/image.gif" in watcher.paths, "the image, once asked for", timeout=30)
            time.sleep(2)
            assert set(watcher.paths) <= {"/image.gif", "/css-background"}, watcher.paths

        with box.db_session() as session:
            suppressions.suppress(session, TENANT, "gone@example.org", "hard_bounce")
        status, answer = api(box, token, "POST", f"/messages/{ref}/resend",
                             {"to": ["again@example.org", "gone@example.org"]})
        outcome = json.loads(answer)
        assert status == 200 and outcome["queued"], outcome
        assert outcome["refused"] == {"gone@example.org": "suppressed (hard_bounce)"}
        again = eventually(lambda: [m for m in box.sink.with_subject("Order 4711 shipped")
                                    if m.rcpt_tos == ["again@example.org"]], "the resent message",
                           timeout=60)[0]
        assert verify(box, dns, again)[-1] == "RESULT pass"
        new_ref = again.mail_from.split(".")[1]
        assert new_ref != ref and again.content.count(b"DKIM-Signature:") == 1
        with box.db_session() as session:
            resent = session.get(AcceptedMessage, new_ref)
            assert resent is not None and resent.recipients == "again@example.org"

        with box.db_session() as session:
            tenant_id = tenants.get_tenant(session, TENANT).id
        status, _ = api(box, token, "PUT", f"/tenants/{tenant_id}/archive", {"days": 0})
        assert status == 200
        with box.db_session() as session:
            archive.sweep(session, box.settings.archive)
            assert session.scalars(select(ArchivedMessage)).all() == []
        assert api(box, token, "GET", f"/messages/{ref}/raw")[0] == 404
    finally:
        watcher.stop()


def test_a_25_mb_message_is_archived_whole(box: Box, token: str) -> None:
    assert relayctl(["--config", str(box.config_path), "tenant", "archive", TENANT, "--days", "1"]) == 0
    box.directory_loaded()
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = f"app@{DOMAIN}", "big@example.org", "a big one"
    message.set_content("see the attachment")
    message.add_attachment(os.urandom(18 * 1024 * 1024), maintype="application", subtype="octet-stream",
                           filename="big.bin")

    with box.client() as client:
        client.sendmail(f"app@{DOMAIN}", ["big@example.org"], message.as_bytes())
    received = box.sink.wait_for_subject("a big one", timeout=120)[0]
    kept = eventually(lambda: stored(box, received.mail_from.split(".")[1]), "the big message in the archive",
                      timeout=60)
    assert len(received.content) > 24 * 1024 * 1024
    assert kept.size == len(without_received(received.content))
    status, raw = api(box, token, "GET", f"/messages/{kept.message_ref}/raw")
    assert status == 200 and raw == without_received(received.content)
