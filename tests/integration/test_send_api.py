"""The HTTP send API against real Postfix and the milter: raw sends, Idempotency-Key, bad input."""

from __future__ import annotations

import base64
import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from core import panel_users, send_keys
from core.models import PanelUser
from tests.integration.test_milter import publish_keys, verify
from tests.support.box import DOMAIN, TENANT, Box, message, running_box, send_api_service
from tests.support.dns_server import LoopbackDns
from tests.support.sink import Sink, free_port


class Service:
    """The box's send API, which a test may restart."""

    def __init__(self, box: Box) -> None:
        self._box = box
        self._running = contextlib.ExitStack()

    def start(self) -> None:
        self._running.enter_context(send_api_service(self._box))

    def stop(self) -> None:
        self._running.close()


@pytest.fixture(scope="module")
def service(sink: Sink, dns: LoopbackDns) -> Iterator[Service]:
    with running_box(sink, dns={"nameservers": ["127.0.0.1"], "nameserver_port": dns.port}) as box:
        publish_keys(box, dns, DOMAIN)
        running = Service(box)
        running.start()
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture(scope="module")
def box(service: Service) -> Box:
    return service._box


@pytest.fixture(scope="module")
def key(box: Box) -> str:
    with box.db_session() as session:
        return send_keys.new_send_key(session, TENANT, "tests")[1]


def post(box: Box, key: str, body: bytes | dict[str, Any], headers: dict[str, str] | None = None,
         path: str = "/api/v1/send/raw") -> tuple[int, dict[str, Any], dict[str, str]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{box.settings.send_api.port}{path}", data=data, method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read()), dict(reply.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}"), dict(error.headers)


def raw(subject: str, to: str = "reader@example.org", sender: str = f"app@{DOMAIN}",
        **extra: Any) -> dict[str, Any]:
    content = message(subject, sender=sender, to=to)
    return {"from": f"app@{DOMAIN}", "to": [to], "message": base64.b64encode(content).decode(), **extra}


def test_a_raw_send_is_queued_signed_and_answered_with_its_queue_id(box: Box, dns: LoopbackDns,
                                                                   key: str) -> None:
    status, answer, _ = post(box, key, raw("over http"))
    assert status == 200, answer
    assert answer["accepted"] == ["reader@example.org"] and answer["refused"] == {}
    received = box.sink.wait_for_subject("over http")[0]
    assert received.mail_from.endswith("@bounces.relay.test")  # the milter's VERP return-path
    assert verify(box, dns, received)[-1] == "RESULT pass"
    assert box.accepted_record(answer["queue_id"]).tenant.name == TENANT


def test_twenty_concurrent_requests_with_one_key_send_one_message(box: Box, key: str) -> None:
    body = raw("twenty at once")
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: post(box, key, body, {"Idempotency-Key": "order-1"}), range(20)))
    assert {status for status, _, _ in results} == {200}
    assert len({answer["queue_id"] for _, answer, _ in results}) == 1
    box.sink.wait_for_subject("twenty at once")
    status, answer, _ = post(box, key, raw("twenty at once, changed"), {"Idempotency-Key": "order-1"})
    assert status == 422 and "different request" in answer["error"]
    assert len(box.sink.wait_for_subject("twenty at once")) == 1
    assert not box.sink.with_subject("twenty at once, changed")


def test_one_key_across_a_restart_of_the_service_sends_once(service: Service, box: Box, key: str) -> None:
    body = raw("across a restart")
    first = post(box, key, body, {"Idempotency-Key": "restart-1"})
    assert first[0] == 200
    service.stop()
    service.start()
    again = post(box, key, body, {"Idempotency-Key": "restart-1"})
    assert again[:2] == first[:2]
    assert len(box.sink.wait_for_subject("across a restart")) == 1


@pytest.mark.parametrize("case", ["json", "type", "big", "crlf", "many", "base64", "unowned", "header",
                                  "key", "revoked", "panel", "idempotency"])
def test_bad_input_gets_a_4xx_saying_why_and_nothing_is_sent(box: Box, key: str, case: str) -> None:
    subject = f"bad {case}"
    body: bytes | dict[str, Any] = raw(subject)
    headers: dict[str, str] = {}
    use_key = key
    if case == "json":
        body = b'{"from": "app@' + DOMAIN.encode() + b'", "to": ['
    elif case == "type":
        headers["Content-Type"] = "text/plain"
    elif case == "big":
        body = raw(subject) | {"message": "A" * (box.settings.smtp.max_message_size * 2)}
    elif case == "crlf":
        body = raw(subject, to="reader@example.org\r\nRCPT TO:<victim@example.org>")
    elif case == "many":
        body = raw(subject) | {"to": [f"r{n}@example.org" for n in range(10_000)]}
    elif case == "base64":
        body = raw(subject) | {"message": "not base64!"}
    elif case == "unowned":
        body = raw(subject) | {"from": "ceo@bank.example"}
    elif case == "header":
        body = raw(subject, sender="ceo@bank.example")
    elif case == "key":
        use_key = "rsk_" + "x" * 43
    elif case == "revoked":
        with box.db_session() as session:
            made, use_key = send_keys.new_send_key(session, TENANT, "revoked")
            send_keys.revoke_send_key(session, TENANT, made.id)
    elif case == "panel":
        with box.db_session() as session:
            admin = panel_users.add_user(session, f"ops-{free_port()}", "correct horse battery", "admin")
            use_key = panel_users.new_api_token(session, session.get(PanelUser, admin.id), "t")[1]
    elif case == "idempotency":
        headers["Idempotency-Key"] = "k" * 256
    status, answer, _ = post(box, use_key, body, headers)
    expected = {"json": 400, "type": 415, "big": 413, "crlf": 400, "many": 400, "base64": 400, "unowned": 403,
                "header": 403, "key": 401, "revoked": 401, "panel": 401, "idempotency": 400}[case]
    assert status == expected and answer.get("error"), (status, answer)
    assert not box.sink.with_subject(subject)
