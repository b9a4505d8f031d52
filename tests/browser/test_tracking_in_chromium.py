"""Opens and clicks end to end: an HTML message through the front-end is delivered with tracked
links and signed (Mail::DKIM checks it); headless Chromium reading it loads the pixel and, on a
click, lands on the original page (served by the test); the opened and clicked events reach the
tenant's webhook and the message's timeline in the panel."""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from relayctl.cli import main as relayctl
from tests.integration.test_milter import publish_keys, verify
from tests.support.box import DOMAIN, TENANT, Box, links_service, running_box
from tests.support.chromium import chromium, needs_chromium
from tests.support.dns_server import LoopbackDns
from tests.support.panel import log_in, panel_service
from tests.support.sink import Sink, free_port
from tests.support.waiting import eventually
from tests.support.web_page import RecordingPage
from tests.support.webhook_receiver import WebhookReceiver, add_webhook_by_relayctl

pytestmark = needs_chromium

# A desktop browser's agent: headless Chromium's own says HeadlessChrome, as scanners' do.
DESKTOP = ("--user-agent=Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/120.0 Safari/537.36")


@pytest.fixture(scope="module")
def box(sink: Sink, dns: LoopbackDns) -> Iterator[Box]:
    port = free_port()
    with running_box(sink, dns={"nameservers": ["127.0.0.1"], "nameserver_port": dns.port},
                     links={"port": port, "public_url": f"http://127.0.0.1:{port}"},
                     tracking={"machine_seconds": 2}) as box, links_service(box):
        publish_keys(box, dns, DOMAIN)
        yield box


def test_a_tracked_message_is_opened_and_clicked_in_chromium(box: Box, dns: LoopbackDns, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    landing = RecordingPage(b"<html><head><title>Landing</title></head><body><h1>Winter offers</h1></body>"
                            b"</html>")
    hook_port = free_port()
    receiver = WebhookReceiver(hook_port, add_webhook_by_relayctl(
        box.config_path, TENANT, f"http://127.0.0.1:{hook_port}/hook", capsys))
    receiver.start()
    try:
        assert relayctl(["--config", str(box.config_path), "domain", "tracking", DOMAIN, "--opens", "on",
                         "--clicks", "on"]) == 0
        destination = f"http://127.0.0.1:{landing.port}/offers?season=winter&id=7"
        sent = EmailMessage()
        sent["From"], sent["To"], sent["Subject"] = f"app@{DOMAIN}", "reader@example.org", "winter offers"
        sent.set_content("Our winter offers: " + destination)
        href = destination.replace("&", "&amp;")
        sent.add_alternative(f'<html><body><h1>Winter</h1><p><a id="offer" href="{href}">See the offers</a>'
                             "</p></body></html>", subtype="html")

        def tracked() -> bytes | None:
            with box.client() as client:
                client.sendmail(f"app@{DOMAIN}", ["reader@example.org"], sent.as_bytes())
            content = box.sink.wait_for_subject("winter offers")[-1].content
            return content if b"/c/" in content else None
        # The milter learns of the change within its directory poll.
        content = eventually(tracked, "a message with tracked links", timeout=60, every=2.0)
        received = box.sink.with_subject("winter offers")[-1]
        assert verify(box, dns, received)[-1] == "RESULT pass"
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert destination not in html and f"{box.settings.link_base_url}/o/" in html
        assert parsed.get_body(("plain",)).get_content().strip().endswith(destination)  # type: ignore[union-attr]
        ref = received.mail_from.split(".")[1]
        page = tmp_path / "message.html"
        page.write_text(html)

        def delivered() -> bool:
            return any(e["type"] == "delivered" and e["message_ref"] == ref for e in receiver.events)
        eventually(delivered, "the delivered event", timeout=60)
        time.sleep(box.settings.tracking.machine_seconds + 0.5)  # past a link scanner's seconds
        with chromium(DESKTOP) as browser:
            browser.get(page.as_uri())
            offer = expected_conditions.element_to_be_clickable((By.ID, "offer"))
            WebDriverWait(browser, 30).until(offer).click()
            WebDriverWait(browser, 30).until(expected_conditions.title_is("Landing"))
            assert browser.current_url == destination

        def reached(kind: str) -> list[dict[str, Any]]:
            return [e for e in receiver.events if e["type"] == kind and e["message_ref"] == ref]
        clicked = eventually(lambda: reached("clicked"), "the clicked event at the webhook", timeout=60)
        assert clicked[0]["recipient"] == "reader@example.org"
        assert f"url={destination} machine=no" in clicked[0]["detail"]
        opens = eventually(lambda: reached("opened"), "the opened events at the webhook", timeout=60)
        assert any("machine=no" in e["detail"] for e in opens)
        timeline = panel_timeline(box, ref)
        for kind in ("delivered", "opened", "clicked"):
            assert kind in timeline
    finally:
        receiver.stop()
        landing.stop()


def panel_timeline(box: Box, ref: str) -> str:
    """The message's timeline in the panel, as an admin logged in with Chromium sees it."""
    with panel_service(box) as base, chromium() as browser:
        log_in(browser, base, f"/messages/{ref}")
        return browser.find_element(By.CSS_SELECTOR, "ol.timeline").text
