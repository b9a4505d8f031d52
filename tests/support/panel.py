"""The panel (python -m admin) running beside a box, with an admin to log in as, for the browser
tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from relayctl.cli import main as relayctl
from tests.support.box import REPO, Box, wait_for_port

ADMIN = "root"
ADMIN_PASSWORD = "a long admin passphrase"


@contextmanager
def panel_service(box: Box) -> Iterator[str]:
    """The panel, with the admin ADMIN added; its base URL."""
    os.environ["RELAY_PANEL_PASSWORD"] = ADMIN_PASSWORD
    try:
        assert relayctl(["--config", str(box.config_path), "user", "add", ADMIN, "--role", "admin"]) == 0
    finally:
        del os.environ["RELAY_PANEL_PASSWORD"]
    panel = subprocess.Popen([sys.executable, "-m", "admin", str(box.config_path)], cwd=REPO)
    try:
        wait_for_port("127.0.0.1", box.settings.panel.port)
        yield f"http://127.0.0.1:{box.settings.panel.port}"
    finally:
        panel.terminate()
        panel.wait(20)


def log_in(browser: WebDriver, base: str, path: str) -> None:
    """Log in as ADMIN on the page a visit to path is sent to, then open path."""
    browser.get(base + path)
    browser.find_element(By.NAME, "username").send_keys(ADMIN)
    browser.find_element(By.NAME, "password").send_keys(ADMIN_PASSWORD)
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.XPATH, "//button[normalize-space()='Log in']").click()
    WebDriverWait(browser, 30).until(expected_conditions.staleness_of(page))
    browser.get(base + path)
