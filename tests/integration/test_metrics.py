"""Every service's Prometheus metrics on its own loopback port, read with a real HTTP client and
prometheus_client's own parser: only with the metrics token, and counting what happened."""

from __future__ import annotations

import smtplib
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core import send_keys
from core.metrics import token_sha256
from tests.integration.test_send_api import post, raw
from tests.support.box import DOMAIN, TENANT, Box, links_service, message, running_box, send_api_service
from tests.support.sink import Sink
from tests.support.waiting import eventually

TOKEN = "a metrics token for the tests"
SERVICES = ("front-end", "milter", "intake", "links", "send-api")


@pytest.fixture(scope="module")
def box(sink: Sink) -> Iterator[Box]:
    with running_box(sink, metrics={"token_sha256": token_sha256(TOKEN)}) as box, links_service(box), \
            send_api_service(box):
        yield box


def scrape(box: Box, service: str, token: str | None = TOKEN) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{box.settings.metrics.port(service)}/metrics",
                                     headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def value(box: Box, service: str, name: str, **labels: str) -> float:
    """A sample's value (0 where the series does not exist yet)."""
    status, text = scrape(box, service)
    assert status == 200, text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()))


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_serves_its_metrics_only_with_the_token(box: Box, service: str) -> None:
    assert scrape(box, service, token=None)[0] == 401
    assert scrape(box, service, token="not the token")[0] == 401
    status, text = scrape(box, service)
    assert status == 200
    names = {family.name for family in text_string_to_metric_families(text)}
    assert "process_cpu_seconds" in names  # the process's own figures, for "service down" and CPU
    assert {"front-end": "relay_smtp_submissions", "milter": "relay_milter_decisions",
            "intake": "relay_deliveries", "links": "relay_link_hits",
            "send-api": "relay_send_api_requests"}[service] in names


def test_other_paths_are_not_found(box: Box) -> None:
    port = box.settings.metrics.port("front-end")
    request = urllib.request.Request(f"http://127.0.0.1:{port}/",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 404


def test_a_submission_counts_in_the_front_end_the_milter_and_the_log_tailer(box: Box) -> None:
    def counts() -> dict[str, float]:
        return {
            "queued": value(box, "front-end", "relay_smtp_submissions_total", reply_class="2xx"),
            "auth failed": value(box, "front-end", "relay_smtp_auth_total", result="failed"),
            "auth ok": value(box, "front-end", "relay_smtp_auth_total", result="ok"),
            "tls": value(box, "front-end", "relay_smtp_tls_sessions_total", version="TLSv1.3"),
            "hand-offs": value(box, "front-end", "relay_smtp_handoff_seconds_count"),
            "accepted": value(box, "milter", "relay_milter_decisions_total", decision="accept"),
            "signed": value(box, "milter", "relay_milter_signing_seconds_count"),
            "sent": value(box, "intake", "relay_deliveries_total", status="sent", address="default",
                          provider="other"),
            "delays": value(box, "intake", "relay_delivery_delay_seconds_count", provider="other"),
        }
    before = counts()
    with box.client(login=False) as client, pytest.raises(smtplib.SMTPAuthenticationError):
        client.login(box.username, "not the password")
    with box.client() as client:
        client.sendmail(f"app@{DOMAIN}", ["reader@example.org"], message("counted"))
    box.sink.wait_for_subject("counted")
    after = eventually(lambda: (found := counts())["sent"] > before["sent"] and found, "the tailer's count")
    # smtplib tries PLAIN, then LOGIN: two failed attempts.
    assert {name: after[name] - before[name] for name in before} == {
        "queued": 1, "auth failed": 2, "auth ok": 1, "tls": 2, "hand-offs": 1, "accepted": 1, "signed": 1,
        "sent": 1, "delays": 1}


def test_a_send_over_http_counts_in_the_send_api(box: Box) -> None:
    with box.db_session() as session:
        key = send_keys.new_send_key(session, TENANT, "metrics")[1]
    path = "/api/v1/send/raw"
    before = (value(box, "send-api", "relay_send_api_requests_total", path=path, status="200"),
              value(box, "send-api", "relay_send_api_messages_total"))
    eventually(lambda: post(box, key, raw("over http, counted"))[0] == 200, "a send with the new key")
    box.sink.wait_for_subject("over http, counted")
    after = (value(box, "send-api", "relay_send_api_requests_total", path=path, status="200"),
             value(box, "send-api", "relay_send_api_messages_total"))
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
