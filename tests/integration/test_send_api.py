"""The HTTP send API against real Postfix and the milter: raw sends, Idempotency-Key, bad input."""

from __future__ import annotations

import base64
import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core import message_tags, panel_users, reputation, send_keys, suppressions, tenants
from core.db import directory_version
from core.message_tags import MessageTags
from core.models import PanelUser
from core.snapshot_cache import served_version
from tests.integration.test_milter import publish_keys, verify
from tests.support.box import DOMAIN, TENANT, Box, message, running_box, send_api_service
from tests.support.dns_server import LoopbackDns
from tests.support.sink import Sink, free_port
from tests.support.waiting import eventually


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
    # The answer's ref is the milter's: in its record and the VERP return-path; the header that
    # carried it to the milter is gone.
    assert received.mail_from.startswith(f"b.{answer['message_ref']}.")
    assert received.mail_from.endswith("@bounces.relay.test")
    assert b"X-Mailrelay-Ref" not in received.content
    assert verify(box, dns, received)[-1] == "RESULT pass"
    record = box.accepted_record(answer["queue_id"])
    assert (record.tenant.name, record.message_ref) == (TENANT, answer["message_ref"])


def test_a_ref_header_written_by_an_smtp_client_is_removed_and_not_taken(box: Box) -> None:
    forged = f"X-Mailrelay-Ref: {'a' * 13}.{'b' * 16}\r\n".encode()
    with box.client() as client:
        assert client.sendmail(f"app@{DOMAIN}", ["reader@example.org"], forged + message("forged ref")) == {}
    received = box.sink.wait_for_subject("forged ref")[0]
    assert b"X-Mailrelay-Ref" not in received.content
    assert not received.mail_from.startswith("b." + "a" * 13)


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
                                  "key", "rival", "revoked", "expired", "panel", "idempotency", "nul",
                                  "bare-cr", "long-line"])
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
    elif case == "rival":  # another tenant's valid key: acme's domain is not its own
        with box.db_session() as session:
            tenants.add_tenant(session, "rival")
            use_key = send_keys.new_send_key(session, "rival", "theirs")[1]
        send_api_loaded(box)
    elif case == "expired":
        use_key = key_expiring(box, timedelta(seconds=-1))
    elif case == "revoked":
        with box.db_session() as session:
            made, use_key = send_keys.new_send_key(session, TENANT, "revoked")
        assert post(box, use_key, raw("before the revoke"))[0] == 200
        with box.db_session() as session:
            send_keys.revoke_send_key(session, TENANT, made.id)
        send_api_loaded(box)
    elif case == "panel":
        with box.db_session() as session:
            admin = panel_users.add_user(session, f"ops-{free_port()}", "correct horse battery", "admin")
            use_key = panel_users.new_api_token(session, session.get(PanelUser, admin.id), "t")[1]
    elif case == "idempotency":
        headers["Idempotency-Key"] = "k" * 256
    elif case in ("nul", "bare-cr", "long-line"):
        bad = {"nul": "a\0b", "bare-cr": "a\rb", "long-line": "x" * 999}[case]
        content = message(subject, body=f"{bad}\r\n")
        body = raw(subject) | {"message": base64.b64encode(content).decode()}
    status, answer, _ = post(box, use_key, body, headers)
    expected = {"json": 400, "type": 415, "big": 413, "crlf": 400, "many": 400, "base64": 400, "unowned": 403,
                "header": 403, "key": 401, "rival": 403, "revoked": 401, "expired": 401, "panel": 401,
                "idempotency": 400, "nul": 400, "bare-cr": 400, "long-line": 400}[case]
    assert status == expected and answer.get("error"), (status, answer)
    assert not box.sink.with_subject(subject)


PDF = base64.b64encode(b"%PDF-1.4\n%fake but well begun\n").decode()


def composed(subject: str, **fields: Any) -> dict[str, Any]:
    return {"from": f"Shop <app@{DOMAIN}>", "to": ["Reader <reader@example.org>"], "subject": subject,
            "text": "Hello,\nyour order.", **fields}


def test_a_json_send_is_made_into_a_signed_message_with_parts_and_a_hidden_bcc(
        box: Box, dns: LoopbackDns, key: str) -> None:
    body = composed("composed", html="<p>Hello, <b>your order</b>.</p>", cc=["copy@example.org"],
                    bcc=["hidden@example.org"], reply_to="help@" + DOMAIN, headers={"X-Order": "1234"},
                    attachments=[{"filename": "invoice.pdf", "content_type": "application/pdf",
                                  "content": PDF}])
    status, answer, _ = post(box, key, body, path="/api/v1/send")
    assert status == 200, answer
    assert answer["accepted"] == ["reader@example.org", "copy@example.org", "hidden@example.org"]
    received = box.sink.wait_for_subject("composed")[0]
    assert sorted(received.rcpt_tos) == ["copy@example.org", "hidden@example.org", "reader@example.org"]
    assert b"hidden@example.org" not in received.content and b"X-Order: 1234" in received.content
    assert b"multipart/alternative" in received.content and b'filename="invoice.pdf"' in received.content
    assert verify(box, dns, received)[-1] == "RESULT pass"


def test_a_batch_answers_each_message_and_lists_suppressed_recipients(box: Box, key: str) -> None:
    with box.db_session() as session:
        suppressions.suppress(session, TENANT, "gone@example.org", "hard_bounce")
    box.directory_loaded()
    send_api_loaded(box)
    messages = [composed("batch one", to=["reader@example.org", "gone@example.org"]),
                composed("batch two", to=["gone@example.org"]),
                composed("batch three") | {"from": "ceo@bank.example"}, raw("batch ready", tags=["ready"])]
    status, answer, _ = post(box, key, {"messages": messages}, path="/api/v1/send/batch")
    assert status == 200, answer
    first, second, third, ready = answer["results"]
    assert ready["status"] == 200 and box.sink.wait_for_subject("batch ready")
    assert first["status"] == 200
    assert first["refused"] == {"gone@example.org": "on the suppression list (hard bounce)"}
    assert second["status"] == 422 and "suppression list" in second["error"]
    assert third["status"] == 403 and "not a verified domain" in third["error"]
    assert box.sink.wait_for_subject("batch one")[0].rcpt_tos == ["reader@example.org"]
    broken = [composed("batch four"), composed("batch five") | {"subject": "bad\r\nBcc: victim@example.org"}]
    status, answer, _ = post(box, key, {"messages": broken}, path="/api/v1/send/batch")
    assert status == 400 and answer["error"].startswith("messages/1/subject:") and "CR, LF" in answer["error"]
    assert not box.sink.with_subject("batch four")
    status, answer, _ = post(box, key, {"messages": [composed("x")] * 501}, path="/api/v1/send/batch")
    assert status == 400 and "1 to 500" in answer["error"]


def test_tags_and_metadata_come_back_with_the_message_and_never_leave_the_box(box: Box, key: str) -> None:
    body = composed("tagged", tags=["welcome", "spring"], metadata={"order": "1234", "user": "Zoë"})
    status, answer, _ = post(box, key, body, path="/api/v1/send")
    assert status == 200, answer
    received = box.sink.wait_for_subject("tagged")[0]
    assert b"X-Mailrelay-Tags" not in received.content and b"X-Mailrelay-Metadata" not in received.content

    def recorded() -> MessageTags | None:
        with box.db_session() as session:
            return message_tags.of_messages(session, [answer["message_ref"]]).get(answer["message_ref"])
    found = eventually(recorded, "the accepted record with its tags")
    assert found == MessageTags(("welcome", "spring"), {"order": "1234", "user": "Zoë"})


def test_postfix_or_the_milter_away_is_a_503_with_retry_after_and_a_retry_sends_once(
        box: Box, key: str) -> None:
    assert post(box, key, raw("before the outage"))[0] == 200  # a pooled session to break
    box.instance.stop()
    try:
        status, answer, headers = post(box, key, raw("postfix away"), {"Idempotency-Key": "outage-1"})
        assert status == 503 and int(headers["Retry-After"]) > 0, answer
    finally:
        box.instance.start_or_reload()
    box.stop_milter()
    try:
        status, answer, headers = post(box, key, raw("milter away"), {"Idempotency-Key": "outage-2"})
        assert status == 503 and int(headers["Retry-After"]) > 0, answer
    finally:
        box.start_milter()
    for n in (1, 2):  # the refused sends gave their keys up: the retry sends, a second retry does not
        body = raw("postfix away" if n == 1 else "milter away")
        first = post(box, key, body, {"Idempotency-Key": f"outage-{n}"})
        assert first[0] == 200, first
        assert post(box, key, body, {"Idempotency-Key": f"outage-{n}"})[:2] == first[:2]
    assert len(box.sink.wait_for_subject("postfix away")) == 1
    assert len(box.sink.wait_for_subject("milter away")) == 1


def send_api_loaded(box: Box) -> None:
    """Wait until the send API serves the directory as it is now."""
    with box.db_session() as session:
        version = directory_version(session.get_bind())
    eventually(lambda: (served_version(box.settings.directory_loaded_file("send-api")) or 0) >= version,
               "the send API at the current directory")


@pytest.mark.parametrize("fields, error", [
    ({"subject": "a\nb"}, "CR, LF"),
    ({"from": f"Shop\r\nBcc: x@example.org <app@{DOMAIN}>"}, "CR, LF"),
    ({"to": ["reader@example.org\nBcc: victim@example.org"]}, "CR, LF"),
    ({"attachments": [{"filename": "cat.png", "content_type": "image/png", "content": PDF}]},
     "is not image/png"),
    ({"attachments": [{"filename": "run.pdf", "content_type": "application/pdf",
                       "content": base64.b64encode(b"MZ\x90\x00").decode()}]}, "is not application/pdf"),
    ({"attachments": [{"filename": "a.txt", "content_type": "text/plain", "content": "@@"}]},
     "not valid base64"),
    ({"headers": {"From": "ceo@bank.example"}}, "cannot be given"),
    ({"headers": {"Bad Name": "x"}}, "cannot be given"),
    ({"text": "", "html": ""}, "text, html or both"),
    ({"tags": "welcome"}, "list of strings"),
    ({"tags": ["a\r\nBcc: victim@example.org"]}, "each 1-64"),
    ({"metadata": {"order": 1234}}, "values are strings"),
])
def test_a_json_send_with_bad_fields_is_refused_and_nothing_is_sent(
        box: Box, key: str, fields: dict[str, Any], error: str) -> None:
    subject = f"refused {error}"
    status, answer, _ = post(box, key, composed(subject) | fields, path="/api/v1/send")
    assert status == 400 and error in answer["error"], answer
    assert not box.sink.with_subject(subject)


def test_a_paused_tenant_gets_403_and_a_sending_limit_429_with_retry_after(box: Box, key: str) -> None:
    with box.db_session() as session:
        reputation.pause(session, tenants.get_tenant(session, TENANT), "by the test")
    send_api_loaded(box)
    try:
        status, answer, _ = post(box, key, raw("while paused"))
        assert status == 403 and "paused" in answer["error"]
    finally:
        with box.db_session() as session:
            reputation.resume(session, tenants.get_tenant(session, TENANT))
    with box.db_session() as session:
        tenants.set_limits(session, TENANT, {"per_minute": 1})
    box.directory_loaded()
    send_api_loaded(box)
    try:
        results = [post(box, key, raw(f"limited {n}")) for n in range(2)]
        assert results[0][0] == 200
        status, answer, headers = results[1]
        assert status == 429 and "per minute" in answer["error"] and 1 <= int(headers["Retry-After"]) <= 60
    finally:
        with box.db_session() as session:
            tenants.set_limits(session, TENANT, {"per_minute": None})
        box.directory_loaded()
    assert not box.sink.with_subject("while paused") and not box.sink.with_subject("limited 1")


def test_a_list_message_skips_those_unsubscribed_from_the_list(box: Box, key: str) -> None:
    with box.db_session() as session:
        suppressions.suppress(session, TENANT, "left@example.org", "unsubscribe", list_name="news")
    send_api_loaded(box)
    content = b"X-Mailrelay-List: news\r\n" + message("list over http", to="left@example.org")
    body = {"from": f"app@{DOMAIN}", "to": ["left@example.org", "stays@example.org"],
            "message": base64.b64encode(content).decode()}
    status, answer, _ = post(box, key, body)
    assert status == 200, answer
    assert answer["refused"] == {"left@example.org": "unsubscribed from list news"}
    assert box.sink.wait_for_subject("list over http")[0].rcpt_tos == ["stays@example.org"]
    bad = base64.b64encode(b"X-Mailrelay-List: no spaces\r\n" + message("bad list over http")).decode()
    status, answer, _ = post(box, key, body | {"message": bad})
    assert status == 400 and "list" in answer["error"]
    assert not box.sink.with_subject("bad list over http")


def key_expiring(box: Box, after: timedelta) -> str:
    """A new send key of acme's that expires `after` from now."""
    with box.db_session() as session:
        made, secret = send_keys.new_send_key(session, TENANT, "short-lived", expires_in_days=1)
        made.expires_at = datetime.now(UTC).replace(tzinfo=None) + after
    return secret


def test_a_key_that_expires_while_in_use_stops_sending(box: Box) -> None:
    secret = key_expiring(box, timedelta(seconds=2))
    assert post(box, secret, raw("before the key expires"))[0] == 200
    time.sleep(2.5)
    status, answer, _ = post(box, secret, raw("after the key expired"))
    assert status == 401 and "expired" in answer["error"], answer
    box.assert_never_delivered("after the key expired")
