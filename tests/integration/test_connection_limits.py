"""Idle connections cannot starve the front-end: caps per client and in all, timeouts, and a
descriptor limit that is never reached (3,000 idle connections from one address were all
accepted; at the limit the accept loop logged 520 MB in five minutes and real clients waited)."""

from __future__ import annotations

import smtplib
import socket
import time
from collections.abc import Iterator

import pytest

from tests.support.box import Box, box_root, destroy_box, make_box
from tests.support.sink import Sink
from tests.support.waiting import eventually

PER_CLIENT = 10
TOTAL = 30
OPEN_FILES = 128


@pytest.fixture(scope="module")
def box(sink: Sink) -> Iterator[Box]:
    with box_root() as root:
        box = make_box(root, sink, smtp={"max_connections_per_client": PER_CLIENT, "max_connections": 1000,
                                         "greeting_timeout_seconds": 2})
        try:
            box.start_milter()
            box.start_front_end(open_files=OPEN_FILES, log=root / "front-end.log")
            yield box
        finally:
            destroy_box(box)


REFUSED = b"421 4.7.0 Too many connections; try again later\r\n"


def connect(box: Box, source: str) -> socket.socket:
    return socket.create_connection(("127.0.0.1", box.submission_port), timeout=5, source_address=(source, 0))


def greeting(client: socket.socket) -> bytes:
    return client.recv(512)


def test_past_its_cap_a_client_gets_421_and_others_are_served(box: Box) -> None:
    idle = [connect(box, "127.0.0.2") for _ in range(PER_CLIENT)]
    try:
        assert all(greeting(c).startswith(b"220 ") for c in idle)
        for _ in range(200):
            with connect(box, "127.0.0.2") as refused:
                assert greeting(refused) == REFUSED
        started = time.monotonic()
        with smtplib.SMTP("127.0.0.1", box.submission_port, timeout=5, source_address=("127.0.0.3", 0)) as c:
            assert c.ehlo()[0] == 250
        assert time.monotonic() - started < 2
    finally:
        for client in idle:
            client.close()


def test_the_total_stays_under_the_descriptor_limit_and_errors_are_not_logged_in_a_loop(box: Box) -> None:
    """With 128 open files the front-end takes (128 - 64) / 2 = 32 connections, whatever the setting."""
    held = []
    try:
        for n in range(60):
            client = connect(box, f"127.0.1.{n + 1}")
            held.append(client)
        greetings = [greeting(c) for c in held]
        served = [g for g in greetings if g.startswith(b"220 ")]
        assert len(served) == 32 and greetings[32:] == [REFUSED] * 28
    finally:
        for client in held:
            client.close()
    def served() -> bool:  # once the front-end has seen the held connections close
        with smtplib.SMTP("127.0.0.1", box.submission_port, timeout=5) as client:
            return client.ehlo()[0] == 250
    eventually(served, "a new client served")
    log = (box.root / "front-end.log").read_bytes()
    assert len(log) < 100_000 and b"Too many open files" not in log


def test_a_connection_that_says_nothing_is_closed_after_the_greeting_timeout(box: Box) -> None:
    with connect(box, "127.0.0.4") as silent:
        assert greeting(silent).startswith(b"220 ")
        silent.settimeout(10)
        started = time.monotonic()
        assert silent.recv(512) in (b"", b"421 4.4.2 relay.test Error: timeout exceeded\r\n")
        assert 1.5 < time.monotonic() - started < 6
