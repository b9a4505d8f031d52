"""HAProxy in front of the front-end with the PROXY protocol (v2): the client's own address, not
the balancer's, is what Postfix logs and the per-client cap counts, on the STARTTLS port and the
TLS port; nobody but the balancer may send a PROXY header."""

from __future__ import annotations

import smtplib
import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from tests.support.box import DOMAIN, Box, message, running_box, wait_for_port
from tests.support.sink import Sink, free_port
from tests.support.waiting import eventually

PER_CLIENT = 2


@pytest.fixture(scope="module")
def box(sink: Sink) -> Iterator[Box]:
    with running_box(sink, smtp={"proxy_protocol_from": ["127.0.0.1/32"],
                                 "max_connections_per_client": PER_CLIENT}) as box:
        yield box


@pytest.fixture(scope="module")
def haproxy(box: Box, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """HAProxy on two loopback ports (submission, smtps) in TCP mode, sending PROXY v2 headers; its
    health checks send a LOCAL header, which the front-end closes at once."""
    ports = free_port(), free_port()
    config = tmp_path_factory.mktemp("haproxy") / "haproxy.cfg"
    sections = ["defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n"]
    for name, listen, target in (("submission", ports[0], box.submission_port),
                                 ("smtps", ports[1], box.smtps_port)):
        sections.append(f"listen {name}\n  bind 127.0.0.1:{listen}\n"
                        f"  server relay1 127.0.0.1:{target} send-proxy-v2 check check-send-proxy inter 1s\n")
    config.write_text("\n".join(sections))
    process = subprocess.Popen(["haproxy", "-db", "-f", str(config)], stdout=subprocess.DEVNULL)
    try:
        for port in ports:
            wait_for_port("127.0.0.1", port)
        yield ports
    finally:
        process.terminate()
        process.wait(10)


def _client_context(box: Box) -> ssl.SSLContext:
    return box.tls_context()


def test_a_message_through_haproxy_on_the_starttls_port_carries_the_clients_address(
        box: Box, haproxy: tuple[int, int]) -> None:
    with smtplib.SMTP("127.0.0.1", haproxy[0], source_address=("127.0.0.2", 0), timeout=30) as client:
        client.starttls(context=_client_context(box))
        client.login(box.username, box.password)
        client.sendmail(f"app@{DOMAIN}", ["reader@example.org"], message("through haproxy"))
    received = box.sink.wait_for_subject("through haproxy")[0]
    assert b"[127.0.0.2]" in received.content  # Postfix's Received line, from XCLIENT
    eventually(lambda: "client=unknown[127.0.0.2]" in box.postfix_log(), "Postfix's log of the client")


def test_the_tls_port_begins_tls_after_the_header(box: Box, haproxy: tuple[int, int]) -> None:
    with smtplib.SMTP_SSL("127.0.0.1", haproxy[1], source_address=("127.0.0.3", 0), timeout=30,
                          context=_client_context(box)) as client:
        client.login(box.username, box.password)
        client.sendmail(f"app@{DOMAIN}", ["reader@example.org"], message("through haproxy with tls"))
    received = box.sink.wait_for_subject("through haproxy with tls")[0]
    assert b"[127.0.0.3]" in received.content


def test_the_per_client_cap_counts_the_clients_address_not_the_balancers(
        box: Box, haproxy: tuple[int, int]) -> None:
    with ExitStack() as held:
        for _ in range(PER_CLIENT):
            held.enter_context(smtplib.SMTP("127.0.0.1", haproxy[0], source_address=("127.0.0.4", 0),
                                            timeout=30))
        with socket.create_connection(("127.0.0.1", haproxy[0]), source_address=("127.0.0.4", 0),
                                      timeout=30) as third:
            assert third.recv(200).startswith(b"421 4.7.0")
        # Another client behind the same balancer still gets in.
        with smtplib.SMTP("127.0.0.1", haproxy[0], source_address=("127.0.0.5", 0), timeout=30) as other:
            assert other.noop()[0] == 250


@pytest.mark.parametrize("source", ["127.0.0.9", "127.0.0.1"])
def test_a_proxy_header_from_anyone_but_the_balancer_is_not_believed(box: Box, source: str) -> None:
    """127.0.0.9 is no balancer: closed before any greeting. 127.0.0.1 is, but a header that does
    not parse (here a client's EHLO) closes the connection too."""
    with socket.create_connection(("127.0.0.1", box.submission_port), source_address=(source, 0),
                                  timeout=30) as connection:
        if source == "127.0.0.1":
            connection.sendall(b"EHLO attacker.example\r\n")
        else:
            connection.sendall(b"PROXY TCP4 198.51.100.7 127.0.0.1 40000 587\r\n")
        try:
            answer = connection.recv(200)
        except ConnectionResetError:  # closed with the client's bytes unread
            answer = b""
        assert answer == b""
