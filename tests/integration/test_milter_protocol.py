"""The milter protocol as Postfix drives it, from an independent client: miltertest (OpenDKIM)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.box import DOMAIN, TENANT, Box, message, running_box
from tests.support.sink import Sink, free_port

SCRIPT = Path(__file__).resolve().parents[1] / "support" / "miltertest" / "messages.lua"


def sendmail_notation(postfix_socket: str) -> str:
    """miltertest (libmilter) writes inet:port@host where Postfix writes inet:host:port."""
    kind, _, where = postfix_socket.partition(":")
    if kind != "inet":
        return postfix_socket
    host, _, port = where.rpartition(":")
    return f"inet:{port}@{host}"


def run_script(box: Box) -> None:
    result = subprocess.run(
        ["miltertest", "-D", f"socket={sendmail_notation(box.settings.milter_socket)}",
         "-D", f"tenant={TENANT}", "-D", f"domain={DOMAIN}", "-s", str(SCRIPT)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("ok")


def test_abort_mid_message_then_two_messages_on_one_connection(box: Box) -> None:
    run_script(box)


def test_the_milter_on_a_tcp_socket_serves_postfix_and_miltertest(sink: Sink) -> None:
    with running_box(sink, milter={"socket": f"inet:127.0.0.1:{free_port()}"}) as box:
        run_script(box)
        with box.client() as client:
            client.mail(f"app@{DOMAIN}")
            client.rcpt("someone@example.org")
            assert client.data(message("over tcp"))[0] == 250
        assert b"DKIM-Signature:" in box.sink.wait_for_subject("over tcp")[0].content
