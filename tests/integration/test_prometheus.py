"""A real Prometheus scrapes a box's services and its panel with the shipped alert rules loaded:
a query returns the front-end's submission count, every dashboard and alert expression is
valid PromQL, and every metric they name is one a service serves."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from core.metrics import token_sha256
from tests.integration.test_metrics import SERVICES, scrape
from tests.support.box import (
    DOMAIN,
    REPO,
    Box,
    links_service,
    message,
    running_box,
    send_api_service,
    wait_for_port,
)
from tests.support.panel import panel_service
from tests.support.sink import Sink, free_port
from tests.support.waiting import eventually

TOKEN = "a metrics token for the tests"
MONITORING = REPO / "monitoring"
METRIC_NAME = re.compile(r"\b(relay_[a-z_]+|up)\b(?!\s*\()")


@pytest.fixture(scope="module")
def box(sink: Sink) -> Iterator[Box]:
    if shutil.which("prometheus") is None:
        pytest.skip("prometheus is not installed (scripts/install-deps installs it)")
    with running_box(sink, metrics={"token_sha256": token_sha256(TOKEN)}) as box, links_service(box), \
            send_api_service(box), panel_service(box):
        yield box


@pytest.fixture(scope="module")
def prometheus(box: Box, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("prometheus")
    (folder / "metrics-token").write_text(TOKEN)
    jobs: list[dict[str, Any]] = [
        {"job_name": f"mailrelay-{service}",
         "authorization": {"credentials_file": str(folder / "metrics-token")},
         "static_configs": [{"targets": [f"127.0.0.1:{box.settings.metrics.port(service)}"]}]}
        for service in SERVICES]
    # The panel takes the same token (or an admin's API token).
    jobs.append({"job_name": "mailrelay-panel", "metrics_path": "/metrics",
                 "authorization": {"credentials_file": str(folder / "metrics-token")},
                 "static_configs": [{"targets": [f"127.0.0.1:{box.settings.panel.port}"]}]})
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
              "rule_files": [str(MONITORING / "alerts.yml")], "scrape_configs": jobs}
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    process = subprocess.Popen(["prometheus", f"--config.file={folder / 'prometheus.yml'}",
                                f"--storage.tsdb.path={folder / 'data'}",
                                f"--web.listen-address=127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=(folder / "prometheus.log").open("wb"))
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        eventually(lambda: _ready(f"http://127.0.0.1:{port}"), "Prometheus ready", timeout=60, every=0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


def _ready(prometheus: str) -> bool:
    try:
        with urllib.request.urlopen(f"{prometheus}/-/ready", timeout=5) as reply:
            return reply.status == 200
    except OSError:
        return False


def api(prometheus: str, path: str, **params: str) -> Any:
    url = f"{prometheus}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=30) as reply:
        answer = json.loads(reply.read())
    assert answer["status"] == "success", answer
    return answer["data"]


def expressions() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    return ([target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
            + [rule["expr"] for group in rules["groups"] for rule in group["rules"]])


def test_every_target_is_up_and_a_query_returns_the_submission_count(box: Box, prometheus: str) -> None:
    def targets_down() -> list[tuple[str, str]]:
        found = api(prometheus, "/api/v1/targets")["activeTargets"]
        active = {target["labels"]["job"]: target for target in found}
        jobs = [f"mailrelay-{service}" for service in (*SERVICES, "panel")]
        return [(job, active[job]["lastError"] if job in active else "not found yet") for job in jobs
                if job not in active or active[job]["health"] != "up"]
    try:
        eventually(lambda: not targets_down(), "every target up", timeout=60, every=1)
    finally:
        assert not targets_down()
    with box.client() as client:
        client.sendmail(f"app@{DOMAIN}", ["reader@example.org"], message("seen by prometheus"))
        client.sendmail(f"app@{DOMAIN}", ["reader@example.org"], message("seen by prometheus too"))

    def submissions() -> float:
        result = api(prometheus, "/api/v1/query",
                     query='sum(relay_smtp_submissions_total{job="mailrelay-front-end", reply_class="2xx"})')
        return float(result["result"][0]["value"][1]) if result["result"] else 0.0
    assert eventually(lambda: submissions() >= 2, "the two submissions in Prometheus", timeout=30, every=1)
    rules = api(prometheus, "/api/v1/rules")["groups"]
    assert {rule["name"] for group in rules for rule in group["rules"]} >= {
        "MailrelayServiceDown", "MailrelayCertificateExpiring", "MailrelayPoolAddressListed"}
    assert all(rule["health"] == "ok" for group in rules for rule in group["rules"])


def test_every_dashboard_and_alert_expression_is_valid_and_names_served_metrics(
        box: Box, prometheus: str) -> None:
    served = set()
    for service in SERVICES:
        status, text = scrape(box, service)
        assert status == 200
        served |= {family.name for family in text_string_to_metric_families(text)}
    panel_text = _panel_metrics(box)
    served |= {family.name for family in text_string_to_metric_families(panel_text)}
    suffixes = ("", "_total", "_bucket", "_count", "_sum")
    known = {name + suffix for name in served for suffix in suffixes} | {"up"}
    for expression in expressions():
        api(prometheus, "/api/v1/query", query=expression)  # a PromQL error is a 400
        named = set(METRIC_NAME.findall(expression))
        assert named and named <= known, (expression, named - known)


def _panel_metrics(box: Box) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{box.settings.panel.port}/metrics",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        return str(reply.read().decode())
