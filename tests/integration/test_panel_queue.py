"""The panel's queue page against a running Postfix: mail that cannot leave waits in the deferred
queue, and an admin holds, releases and deletes it there (through the root queue helper when the
panel is not root); a flush asks Postfix to retry."""

from __future__ import annotations

import json
import os
import re
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from admin import create_app
from core import panel_users
from core.errors import InvalidInputError
from core.postfix.queue import PostfixQueue, QueuedMessage
from core.postfix.queue_helper import ask_queue_helper, serve_queue_request
from relayctl import cli as relayctl
from tests.admin.conftest import PASSWORD, csrf_token, login
from tests.support.box import DOMAIN, Box, message, running_box
from tests.support.sink import Sink
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def box() -> Iterator[Box]:
    unreachable = Sink()  # never started: nothing listens where Postfix relays, so mail is deferred
    with running_box(unreachable) as box:
        with box.db_session() as session:
            panel_users.add_user(session, "root", PASSWORD, "admin")
        yield box


@pytest.fixture
def admin(box: Box) -> Iterator[FlaskClient]:
    app = create_app({"RELAY_SETTINGS": box.settings, "TESTING": True})
    client = app.test_client()
    login(client, "root")
    yield client
    app.extensions["relay"].engine.dispose()


def queued(box: Box) -> list[QueuedMessage]:
    return PostfixQueue(box.instance.config_dir, box.instance.queue_dir).messages()


def queue_row(client: FlaskClient, queue_id: str) -> str:
    """The queue page's row of a message ('' when it is not listed)."""
    page = client.get("/queue/").get_data(as_text=True)
    row = rf'<tr><td><input type="checkbox" name="queue_id" value="{queue_id}".*?</tr>'
    found = re.search(row, page, re.S)
    return found.group(0) if found else ""



def deferred_message(box: Box, client: FlaskClient, subject: str) -> str:
    with box.client() as smtp:
        smtp.sendmail(f"app@{DOMAIN}", ["someone@example.org"], message(subject))
    found: list[str] = []

    def listed() -> bool:
        for item in queued(box):
            if item.queue != "deferred":
                continue
            row = queue_row(client, item.queue_id)
            if "someone@example.org" in row:
                found.append(item.queue_id)
                return True
        return False
    eventually(listed, f"{subject} in the deferred queue", timeout=60)
    return found[0]


def act(client: FlaskClient, action: str, queue_id: str) -> str:
    reply = client.post("/queue/", data={"csrf_token": csrf_token(client, "/queue/"), "action": action,
                                         "queue_id": queue_id}, follow_redirects=True)
    assert reply.status_code == 200
    return reply.get_data(as_text=True)


def test_an_admin_holds_releases_and_deletes_a_deferred_message(box: Box, admin: FlaskClient) -> None:
    queue_id = deferred_message(box, admin, "stuck")
    row = queue_row(admin, queue_id)
    assert "deferred" in row and "Connection refused" in row  # why it waits, as Postfix says

    assert "hold: 1 message(s)." in act(admin, "hold", queue_id)
    assert "hold" in queue_row(admin, queue_id) and "deferred" not in queue_row(admin, queue_id)
    assert any(m.queue_id == queue_id and m.queue == "hold" for m in queued(box))

    act(admin, "release", queue_id)
    eventually(lambda: "hold" not in queue_row(admin, queue_id) and queue_row(admin, queue_id),
               "the released message out of the hold queue", timeout=60)

    assert "delete: 1 message(s)." in act(admin, "delete", queue_id)
    eventually(lambda: not queue_row(admin, queue_id), "the deleted message gone from the list", timeout=60)
    assert all(m.queue_id != queue_id for m in queued(box))


def test_flush_asks_postfix_to_retry_now(box: Box, admin: FlaskClient) -> None:
    queue_id = deferred_message(box, admin, "retry me")
    reply = admin.post("/queue/flush", data={"csrf_token": csrf_token(admin, "/queue/")},
                       follow_redirects=True)
    assert "Postfix is retrying the deferred mail now." in reply.get_data(as_text=True)
    # The relay host still refuses: the message goes back to the deferred queue, not lost.
    eventually(lambda: "deferred" in queue_row(admin, queue_id), "the flushed message listed as deferred",
               timeout=60)


def test_hostile_queue_ids_never_reach_postsuper(box: Box, admin: FlaskClient) -> None:
    queue_id = deferred_message(box, admin, "keep me")
    for hostile in ("ALL", "-d ALL", "../../etc", f"{queue_id}\nALL"):
        page = act(admin, "delete", hostile)
        assert "give one or more queue ids" in page
    assert queue_row(admin, queue_id)


@pytest.fixture
def queue_helper(box: Box) -> Iterator[Path]:
    """The root queue helper's protocol served on a Unix socket, as its socket unit does."""
    path = box.settings.postfix_queue_helper_socket
    direct = PostfixQueue(box.instance.config_dir, box.instance.queue_dir)

    class Connection(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            serve_queue_request(self.rfile, self.wfile, direct.act)
    server = socketserver.ThreadingUnixStreamServer(str(path), Connection)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield path
    server.shutdown()
    server.server_close()
    path.unlink()


def test_a_panel_not_running_as_root_acts_through_the_queue_helper(
        box: Box, admin: FlaskClient, queue_helper: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    queue_id = deferred_message(box, admin, "not root")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # postsuper would refuse this process
    assert "hold: 1 message(s)." in act(admin, "hold", queue_id)
    assert any(m.queue_id == queue_id and m.queue == "hold" for m in queued(box))
    # The helper checks what it is asked as postsuper's callers here do.
    with pytest.raises(InvalidInputError, match="give one or more queue ids"):
        ask_queue_helper(queue_helper, "delete", ["ALL"])
    with pytest.raises(InvalidInputError, match="unknown queue action"):
        ask_queue_helper(queue_helper, "purge", [queue_id])
    for garbage in (b"hold ALL\n", b'["hold", "ALL"]\n', b'{"action": "hold", "queue_ids": [1]}\n',
                    b"{" * 100_000):
        with socket.socket(socket.AF_UNIX) as raw:
            raw.connect(str(queue_helper))
            raw.sendall(garbage)
            raw.shutdown(socket.SHUT_WR)
            assert json.loads(raw.makefile("rb").readline())["invalid"] is True
    assert "delete: 1 message(s)." in act(admin, "delete", queue_id)
    assert all(m.queue_id != queue_id for m in queued(box))


def test_relayctl_lists_and_requeues_the_queue(box: Box, admin: FlaskClient,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    queue_id = deferred_message(box, admin, "by hand")
    config = ["--config", str(box.config_path), "queue"]
    assert relayctl.main([*config, "list"]) == 0
    listing = capsys.readouterr().out
    assert re.search(rf"^{queue_id}\s+deferred .*\n\s+someone@example.org  \(.*Connection refused",
                     listing, re.M), listing
    assert relayctl.main([*config, "requeue", queue_id]) == 0
    assert relayctl.main([*config, "delete", "ALL"]) == 2
    assert "give one or more queue ids" in capsys.readouterr().err
    assert relayctl.main([*config, "delete", queue_id]) == 0
    assert all(m.queue_id != queue_id for m in queued(box))
