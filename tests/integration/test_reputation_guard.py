"""The reputation guard in a running box: complaints at one provider pause a tenant whose overall
complaint rate is under the tenant's line (the sink stands in for the providers' MX hosts)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.events import recent_events
from tests.integration.test_intake import arf, delivered_message_ref, return_path_of
from tests.support.box import DOMAIN, TENANT, Box, running_box
from tests.support.sink import Sink
from tests.support.waiting import eventually

# A provider, as the tenant overall, is judged from min_sends sends on.
REPUTATION = {"min_sends": 10, "min_complaints": 3, "bounce_warn": 0.9, "bounce_pause": 0.95,
              "complaint_warn": 0.5, "complaint_pause": 0.5,
              "provider_complaint_warn": 0.05, "provider_complaint_pause": 0.1}


@pytest.fixture(scope="module")
def box(sink: Sink) -> Iterator[Box]:
    with running_box(sink, reputation=REPUTATION) as box:
        yield box


def test_gmail_complaints_past_its_line_pause_a_tenant_under_the_overall_line(box: Box) -> None:
    gmail = [f"fan{n}@gmail.com" for n in range(10)]
    others = [f"fan{n}@example.org" for n in range(10)]
    refs = {}
    for group in (gmail[:5], gmail[5:], others[:5], others[5:]):
        ref = delivered_message_ref(box, group)
        refs.update(dict.fromkeys(group, ref))
    feedback = f"fbl@{box.settings.feedback_domain}"
    with box.inbound() as client:
        for reader in gmail[:3]:  # 3 of 20 sends overall (15%, under 50%); 3 of 10 at gmail (30%)
            report = arf(return_path_of(box, refs[reader]), reader)
            client.sendmail("feedbackloop@mx.example.org", [feedback], report)

    def paused() -> list[str]:
        with box.db_session() as session:
            return [e.detail for e in recent_events(session, "tenant_paused") if e.subject == TENANT]
    [detail] = eventually(paused, "the tenant paused by the guard", timeout=60)
    assert detail.startswith("at gmail: ") and "complaint rate 30.00% over 10 sends" in detail
    box.directory_loaded()
    with box.client() as client:
        code, reply = client.mail(f"app@{DOMAIN}")
    assert code == 451 and b"paused" in reply
