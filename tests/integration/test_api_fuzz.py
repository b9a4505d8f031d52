"""schemathesis against the JSON API of a whole running box (its Postfix queue included), from
the OpenAPI description the panel serves: every check, and no server error; the panel's
operations with a panel token, the send operations against the send API with a send key."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from core import panel_users, send_keys
from core.models import Event
from tests.support.box import DOMAIN, REPO, TENANT, Box, message, running_box, send_api_service, wait_for_port
from tests.support.dns_server import LoopbackDns
from tests.support.sink import Sink
from tests.support.waiting import eventually

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.fixture(scope="module")
def panel_box(sink: Sink) -> Iterator[tuple[Box, str]]:
    dns = LoopbackDns()  # domain verification asks it, and it knows no name: nothing leaves the box
    dns.start()
    try:
        with running_box(sink, dns={"nameservers": ["127.0.0.1"], "nameserver_port": dns.port}) as box:
            with box.db_session() as session:
                admin = panel_users.add_user(session, "fuzzer", "a long enough passphrase", "admin")
                token = panel_users.new_api_token(session, admin, "schemathesis")[1]
            panel = subprocess.Popen([sys.executable, "-m", "admin", str(box.config_path)], cwd=REPO)
            try:
                wait_for_port("127.0.0.1", box.settings.panel.port)
                yield box, token
            finally:
                panel.terminate()
                panel.wait(20)
    finally:
        dns.stop()


def a_bounce(box: Box) -> tuple[int, str]:
    """Send to the simulator's bounce@ and wait for the bounce: its event id and message ref."""
    with box.client() as client:
        client.sendmail(f"app@{DOMAIN}", [f"bounce@{box.settings.simulator_domain}"], message("fuzz seed"))
    def bounced() -> tuple[int, str] | None:
        with box.db_session() as session:
            event = session.scalar(select(Event).where(Event.kind == "bounced"))
            return (event.id, event.message_ref) if event is not None and event.message_ref else None
    return eventually(bounced, "the simulator's bounce", timeout=60, every=0.5)


def fuzz_config(box: Box) -> Path:
    """Real ids for the operations that read a message or a report, so schemathesis reaches them;
    what a webhook URL may be answered."""
    event_id, ref = a_bounce(box)
    config = box.root / "schemathesis.toml"
    config.write_text(f"""
# A body the schema admits is still refused where its From is no verified domain of the tenant's
# (403), an address does not parse or base64 does not decode (400), or nothing is left to send (422).
[[operations]]
include-tag = "send"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "403", "422", "429", "503"]

[[operations]]
include-path = "/bounces/{{event_id}}"
parameters = {{ event_id = {event_id} }}

[[operations]]
include-path = "/messages/{{key}}"
parameters = {{ key = "{ref}" }}

# A webhook URL the schema admits is still refused (422) where its host resolves to an address
# webhooks may not reach (loopback, private...): no schema can say where a name resolves.
[[operations]]
include-path = "/tenants/{{tenant_id}}/webhooks"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429", "5xx"]

# A retention the schema admits is still refused (422) past this box's archive.max_days.
[[operations]]
include-path = "/tenants/{{tenant_id}}/archive"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "422", "429", "5xx"]
""")
    return config


def schemathesis(box: Box, config: Path, url: str, token: str, *only: str) -> str:
    """schemathesis over the operations the options pick; its output, having asserted it passed."""
    document = f"http://127.0.0.1:{box.settings.panel.port}/api/v1/openapi.json"
    result = subprocess.run(
        [str(SCHEMATHESIS), "--config-file", str(config), "run", document, "--url", url, *only,
         "--checks", "all", "--header", f"Authorization: Bearer {token}",
         # One worker: Python 3.11.7's ast.parse, which hypothesis calls, fails at random in threads
         # ("AST constructor recursion depth mismatch", CPython gh-106905).
         "--max-examples", "25", "--workers", "1", "--request-timeout", "60",
         "--generation-deterministic", "--no-color"],
        capture_output=True, text=True, timeout=850, cwd=box.root, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20_000:]
    return output


@pytest.mark.timeout(900)
def test_schemathesis_finds_no_server_error_and_no_departure_from_the_description(
        panel_box: tuple[Box, str]) -> None:
    box, token = panel_box
    config = fuzz_config(box)
    panel_api = f"http://127.0.0.1:{box.settings.panel.port}/api/v1"
    schemathesis(box, config, panel_api, token, "--exclude-tag", "send")
    with box.db_session() as session:
        send_key = send_keys.new_send_key(session, TENANT, "schemathesis")[1]
    with send_api_service(box):
        output = schemathesis(box, config, f"http://127.0.0.1:{box.settings.send_api.port}/api/v1", send_key,
                              "--include-tag", "send")
    assert "3 selected" in output, output  # /send, /send/raw and /send/batch
