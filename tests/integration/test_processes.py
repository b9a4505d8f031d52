"""Several front-end and milter processes serving one box (smtp.processes, milter.processes):
each front-end process listens on the ports itself (SO_REUSEPORT), the milter processes share
one Unix socket; a worker that dies is replaced; SIGTERM stops them all."""

from __future__ import annotations

import os
import smtplib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.box import DOMAIN, Box, message, running_box
from tests.support.sink import Sink
from tests.support.waiting import eventually

REDIS = os.environ.get("RELAY_TEST_REDIS_URL", "")
CONNECTIONS = 16


@pytest.fixture(scope="module")
def box(sink: Sink) -> Iterator[Box]:
    if not REDIS:
        pytest.skip("RELAY_TEST_REDIS_URL is not set (.ci/run sets it where Redis runs)")
    with running_box(sink, smtp={"processes": 2}, milter={"processes": 2, "redis_url": REDIS}) as box:
        yield box


def workers(process: subprocess.Popen[bytes] | None) -> list[psutil.Process]:
    assert process is not None
    return psutil.Process(process.pid).children()


def tcp_ports(worker: psutil.Process, status: str) -> list[int]:
    return [c.laddr.port for c in worker.net_connections("tcp") if c.status == status]


def front_end_ready(box: Box, count: int = 2) -> list[psutil.Process]:
    def ready() -> list[psutil.Process]:
        found = workers(box.front_end)
        listening = [w for w in found
                     if {box.submission_port, box.smtps_port} <= set(tcp_ports(w, psutil.CONN_LISTEN))]
        return found if len(found) == count == len(listening) else []
    return eventually(ready, f"{count} front-end processes listening", timeout=30)


def send(box: Box, subject: str) -> None:
    with box.client() as client:
        client.sendmail(f"app@{DOMAIN}", ["someone@example.org"], message(subject))


def test_connections_spread_over_the_front_end_processes(box: Box, sink: Sink) -> None:
    front = front_end_ready(box)
    assert len(workers(box.milter)) == 2
    clients = [smtplib.SMTP("127.0.0.1", box.submission_port, timeout=30) for _ in range(CONNECTIONS)]
    try:
        served = [len([p for p in tcp_ports(w, psutil.CONN_ESTABLISHED) if p == box.submission_port])
                  for w in front]
        assert sum(served) == CONNECTIONS
        assert all(served), f"the kernel gave every connection to one process: {served}"
    finally:
        for client in clients:
            client.quit()
    for n in range(6):
        send(box, f"processes {n}")
    for n in range(6):
        [received] = sink.wait_for_subject(f"processes {n}")
        assert b"DKIM-Signature:" in received.content


def test_a_killed_worker_is_replaced(box: Box, sink: Sink) -> None:
    for process in (box.front_end, box.milter):
        victim = workers(process)[0]
        victim.kill()
        eventually(lambda: len(workers(process)) == 2 and victim.pid not in {w.pid for w in workers(process)},  # noqa: B023
                   "a new worker in place of the killed one", timeout=30)
    front_end_ready(box)
    send(box, "after a worker was killed")
    [received] = sink.wait_for_subject("after a worker was killed")
    assert b"DKIM-Signature:" in received.content


def test_sigterm_stops_every_worker(box: Box) -> None:
    front, milter = workers(box.front_end), workers(box.milter)
    box.stop_front_end()
    box.stop_milter()
    _, alive = psutil.wait_procs([*front, *milter], timeout=30)
    assert not alive
    assert not Path(box.settings.milter_socket.removeprefix("unix:")).exists()


def test_workers_stop_when_their_parent_is_killed_outright(sink: Sink) -> None:
    with running_box(sink, smtp={"processes": 2}) as box:
        front = front_end_ready(box)
        assert box.front_end is not None
        box.front_end.kill()
        box.front_end.wait(10)
        _, alive = psutil.wait_procs(front, timeout=30)
        assert not alive
