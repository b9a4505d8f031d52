"""The panel end to end in real headless Chromium (Debian's chromium and chromedriver), against a
whole running box: log in, create a tenant and a domain, read its DNS records, send through the
mailbox simulator, and see the bounce and the suppression appear; a hostile report shows inert."""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterator

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.support.box import Box, running_box
from tests.support.chromium import chromium, needs_chromium
from tests.support.panel import ADMIN_PASSWORD, panel_service
from tests.support.sink import Sink
from tests.support.waiting import eventually

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def box(sink: Sink) -> Iterator[Box]:
    with running_box(sink) as box, panel_service(box):
        yield box


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


def url(box: Box, path: str) -> str:
    return f"http://127.0.0.1:{box.settings.panel.port}{path}"


def click(driver: WebDriver, text: str, accept: bool = False) -> None:
    """Press a button that submits a form, and wait for the page that answers."""
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.XPATH, f"//button[normalize-space()='{text}']").click()
    if accept:
        WebDriverWait(driver, 10).until(expected_conditions.alert_is_present()).accept()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(page))
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def body(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def test_an_admin_sets_up_a_tenant_sends_through_the_simulator_and_sees_the_bounce(
        box: Box, browser: WebDriver) -> None:
    browser.get(url(box, "/tenants/"))
    assert "/login" in browser.current_url
    browser.find_element(By.NAME, "username").send_keys("root")
    browser.find_element(By.NAME, "password").send_keys(ADMIN_PASSWORD)
    click(browser, "Log in")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Tenants"
    browser.get(url(box, "/"))
    services = browser.find_element(By.XPATH, "//h2[text()='Services']/..").text
    assert "Postfix up" in services and "Milter up" in services and "Bounce intake up" in services
    browser.get(url(box, "/tenants/"))

    browser.find_element(By.NAME, "name").send_keys("webshop")
    click(browser, "Create tenant")
    assert "Tenant webshop created" in body(browser)
    tenant_url = browser.current_url

    browser.get(url(box, "/domains/"))
    Select(browser.find_element(By.NAME, "tenant")).select_by_visible_text("webshop")
    browser.find_element(By.NAME, "name").send_keys("webshop.test")
    click(browser, "Add domain")
    page = body(browser)
    assert "webshop.test added" in page
    assert "rsa._domainkey.webshop.test" in page or "._domainkey.webshop.test" in page
    assert "v=DKIM1; k=rsa; p=" in page
    assert len(browser.find_elements(By.CSS_SELECTOR, "button.copy")) >= 8
    click(browser, "Mark verified", accept=True)
    assert "marked verified" in body(browser)

    browser.get(tenant_url)
    click(browser, "New credential")
    secret = browser.find_element(By.ID, "new-secret").text
    username = browser.find_element(By.CSS_SELECTOR, ".flash.secret p:nth-of-type(2)").text
    assert username.startswith("webshop-") and len(secret) == 32

    bounce_to = f"bounce@{box.settings.simulator_domain}"

    def sent() -> bool:
        # The front-end learns of the new credential within its directory poll.
        try:
            with smtplib.SMTP("127.0.0.1", box.submission_port, timeout=30) as client:
                client.starttls(context=box.tls_context())
                client.login(username, secret)
                client.sendmail("app@webshop.test", [bounce_to], message)
            return True
        except (smtplib.SMTPException, OSError):
            return False
    message = (f"From: app@webshop.test\r\nTo: {bounce_to}\r\nSubject: rehearsal\r\n"
               "Message-ID: <rehearsal@webshop.test>\r\n\r\nhi\r\n").encode()
    eventually(sent, "the front-end accepts the new credential", timeout=60, every=1.0)

    def shows(path: str, text: str) -> Callable[[], bool]:
        def check() -> bool:
            browser.get(url(box, path))
            return text in body(browser)
        return check
    eventually(shows("/bounces/?kind=bounced", bounce_to), "the bounce in the panel", timeout=90, every=1.0)
    eventually(shows("/suppressions/", bounce_to), "the suppression in the panel", timeout=90, every=1.0)
    assert "hard_bounce" in body(browser)
    browser.get(url(box, "/messages/?q=%3Crehearsal%40webshop.test%3E"))
    browser.get(browser.find_element(By.CSS_SELECTOR, "td a[href^='/messages/']").get_attribute("href") or "")
    timeline = body(browser)
    assert "bounced" in timeline and bounce_to in timeline


def test_a_report_carrying_html_and_script_is_shown_inert(box: Box, browser: WebDriver) -> None:
    hostile = (b"From: <script>window.xss=1</script>\r\nTo: b@bounces.relay.test\r\nSubject: x\r\n"
               b"Content-Type: text/html\r\n\r\n<script>window.xss=2;document.title='owned'</script>"
               b"<img src=x onerror=\"window.xss=3\"><b id=\"bold\">bold</b>\r\n")
    forged = "b.aaaaaaaaaaaaa.bbbbbbbbbbbbbbbb@bounces.relay.test"
    with smtplib.SMTP("127.0.0.1", box.settings.postfix.inbound_port, timeout=30) as client:
        client.sendmail("", [forged], hostile)
    browser.get(url(box, "/bounces/?kind=forged_report"))

    def listed() -> bool:
        browser.get(url(box, "/bounces/?kind=forged_report"))
        return forged in body(browser)
    eventually(listed, "the forged report in the panel", timeout=60, every=1.0)
    browser.get(browser.find_element(By.CSS_SELECTOR, "td a[href^='/bounces/']").get_attribute("href") or "")
    raw = browser.find_element(By.ID, "raw-report").text
    assert "<script>window.xss=2;document.title='owned'</script>" in raw
    assert browser.execute_script("return window.xss === undefined") is True
    assert "owned" not in browser.title
    assert not browser.find_elements(By.ID, "bold")
    with pytest.raises(NoAlertPresentException):
        _ = browser.switch_to.alert
