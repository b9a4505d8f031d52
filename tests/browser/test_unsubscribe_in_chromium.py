"""The unsubscribe page in headless Chromium: opening the link unsubscribes nobody; the button does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from core.models import Suppression
from tests.support.box import Box, links_service, running_box
from tests.support.chromium import chromium, needs_chromium
from tests.support.sink import Sink, free_port

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def box(sink: Sink) -> Iterator[Box]:
    port = free_port()
    with running_box(sink, links={"port": port, "public_url": f"http://127.0.0.1:{port}"}) as box, \
            links_service(box):
        yield box


def test_opening_the_link_unsubscribes_nobody_and_the_button_does(box: Box) -> None:
    token = box.unsubscribe_token("r@example.org", "offers")
    link = f"{box.settings.link_base_url}/u/{token}"

    def suppressed() -> list[str]:
        with box.db_session() as session:
            return [s.list_name for s in session.query(Suppression).filter_by(address="r@example.org")]

    with chromium() as driver:
        driver.get(link)
        assert driver.find_element(By.TAG_NAME, "h1").text == "Unsubscribe"
        driver.get(link)  # a prefetch, a scanner, a second look: still nothing
        assert suppressed() == []
        page = driver.find_element(By.TAG_NAME, "html")
        driver.find_element(By.ID, "unsubscribe").click()
        WebDriverWait(driver, 30).until(expected_conditions.staleness_of(page))
        assert driver.find_element(By.TAG_NAME, "h1").text == "Unsubscribed"
    assert suppressed() == ["offers"]
