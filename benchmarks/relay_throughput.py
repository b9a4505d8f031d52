"""Throughput of the front-end against bare Postfix, measured in the same run.

Sends N messages of 4 KiB over C reused connections through the front-end
(STARTTLS + AUTH on the submission port) and, in the same run, the same N over
C reused connections straight into the same Postfix (its internal socket,
smtp-source style), both delivered to the same local sink. Prints messages per
second and p50/p99 submission latency of each, and last
`ratio_vs_bare_postfix=<front-end msg/s ÷ bare msg/s>`.

Run as root (Postfix): python benchmarks/relay_throughput.py [--messages N] [--connections C]
"""

from __future__ import annotations

import argparse
import smtplib
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.box import DOMAIN, Box, running_box
from tests.support.sink import Sink

MESSAGE_SIZE = 4096


@dataclass
class Run:
    name: str
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def describe(self) -> str:
        ordered = sorted(self.latencies)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (f"{self.name}: {len(ordered)} messages in {self.seconds:.2f}s = {self.rate:.1f} msg/s, "
                f"p50 {statistics.median(ordered) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms")


def make_message(n: int, tag: str) -> bytes:
    head = (f"From: bench@{DOMAIN}\r\nTo: sink@example.org\r\nSubject: {tag} {n}\r\n"
            f"Message-ID: <{tag}-{n}@{DOMAIN}>\r\n\r\n").encode()
    line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n"
    body = (line * (MESSAGE_SIZE // len(line) + 1))[: MESSAGE_SIZE - len(head) - 2] + b"\r\n"
    return head + body


def send_batch(client: smtplib.SMTP, count: int, tag: str, offset: int, latencies: list[float]) -> None:
    for n in range(offset, offset + count):
        data = make_message(n, tag)
        started = time.perf_counter()
        client.mail(f"bench@{DOMAIN}")
        client.rcpt("sink@example.org")
        code, reply = client.data(data)
        latencies.append(time.perf_counter() - started)
        if code != 250:
            raise RuntimeError(f"{tag}: message {n} refused: {code} {reply!r}")


def run_clients(name: str, connect: Callable[[], smtplib.SMTP], messages: int, connections: int) -> Run:
    clients = [connect() for _ in range(connections)]
    latencies: list[list[float]] = [[] for _ in clients]
    share = messages // connections
    threads = [threading.Thread(target=send_batch, args=(c, share, name, i * share, latencies[i]))
               for i, c in enumerate(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    for client in clients:
        client.quit()
    return Run(name, seconds, [x for batch in latencies for x in batch])


class UnixSMTP(smtplib.SMTP):
    """smtplib over a Unix socket, for Postfix's internal listener."""

    def __init__(self, path: Path) -> None:
        self._path = path
        super().__init__()
        self.connect()

    def _get_socket(self, host: object, port: object, timeout: object) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(self._path))
        return sock

    def connect(self, host: str = "localhost", port: int = 0, source_address: object = None
                ) -> tuple[int, bytes]:
        self.sock = self._get_socket(host, port, None)
        self.file = None
        return self.getreply()


def front_end_client(box: Box) -> Callable[[], smtplib.SMTP]:
    def connect() -> smtplib.SMTP:
        client = smtplib.SMTP("127.0.0.1", box.submission_port, timeout=60)
        client.starttls(context=box.tls_context())
        client.login(box.username, box.password)
        return client
    return connect


def bare_postfix_client(box: Box) -> Callable[[], smtplib.SMTP]:
    def connect() -> smtplib.SMTP:
        client = UnixSMTP(box.instance.submit_socket)
        client.ehlo("bench.test")
        code, reply = client.docmd("XCLIENT", "LOGIN=acme")
        if code != 220:
            raise RuntimeError(f"XCLIENT refused: {code} {reply!r}")
        client.ehlo("bench.test")
        return client
    return connect


def wait_delivered(sink: Sink, count: int, timeout: float) -> float:
    started = time.perf_counter()
    sink.wait_for(count, timeout)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    messages = args.messages - args.messages % args.connections
    sink = Sink()
    sink.start()
    try:
        with running_box(sink) as box:
            # A short warm-up of both paths: processes started, argon2 checked once.
            run_clients("warmup-relay", front_end_client(box), args.connections * 5, args.connections)
            run_clients("warmup-bare", bare_postfix_client(box), args.connections * 5, args.connections)
            wait_delivered(sink, args.connections * 10, 120)
            sink.clear()
            bare = run_clients("bare-postfix", bare_postfix_client(box), messages, args.connections)
            wait_delivered(sink, messages, 300)
            sink.clear()
            relay = run_clients("front-end", front_end_client(box), messages, args.connections)
            wait_delivered(sink, messages, 300)
    finally:
        sink.stop()
    print(f"{messages} messages of {MESSAGE_SIZE} bytes over {args.connections} connections each")
    print(bare.describe())
    print(relay.describe())
    print(f"ratio_vs_bare_postfix={relay.rate / bare.rate:.3f}")


if __name__ == "__main__":
    main()
