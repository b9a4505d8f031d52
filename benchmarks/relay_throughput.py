"""Throughput of the relay (front-end, Postfix, milter) against bare Postfix, in the same run.

Sends N messages of 4 KiB over C reused connections through the front-end
(STARTTLS + AUTH on the submission port; the milter signs, throttles, routes
each one) and, in the same run, the same N over C reused connections straight
into the same Postfix through a listener of its own without the milter
(smtp-source style), both delivered to the same local sink; the two paths take
turns for R rounds. With --pool-ips P the relay sends from a pool of P
addresses, and a second tenant from a pool of one takes its turn too. Prints
messages per second and p50/p99 submission latency of each path, and last
`ratio_vs_bare_postfix=<relay msg/s ÷ bare msg/s>`.

Run as root (Postfix):
python benchmarks/relay_throughput.py [--messages N] [--connections C] [--rounds R] [--pool-ips P]
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import smtplib
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import tenants
from core.postfix.instance import SUBMIT_SERVICE
from relayctl.cli import main as relayctl
from tests.support.box import DOMAIN, Box, running_box
from tests.support.sink import Sink

MESSAGE_SIZE = 4096
BARE_SERVICE = "bench-bare"


@dataclass
class Run:
    name: str
    seconds: float
    latencies: list[float]

    def add(self, other: Run) -> None:
        self.seconds += other.seconds
        self.latencies.extend(other.latencies)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def describe(self) -> str:
        ordered = sorted(self.latencies)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (f"{self.name}: {len(ordered)} messages in {self.seconds:.2f}s = {self.rate:.1f} msg/s, "
                f"p50 {statistics.median(ordered) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms")


def make_message(n: int, tag: str, domain: str) -> bytes:
    head = (f"From: bench@{domain}\r\nTo: sink@example.org\r\nSubject: {tag} {n}\r\n"
            f"Message-ID: <{tag}-{n}@{domain}>\r\n\r\n").encode()
    line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n"
    body = (line * (MESSAGE_SIZE // len(line) + 1))[: MESSAGE_SIZE - len(head) - 2] + b"\r\n"
    return head + body


def send_batch(client: smtplib.SMTP, count: int, tag: str, offset: int, latencies: list[float],
               domain: str) -> None:
    for n in range(offset, offset + count):
        data = make_message(n, tag, domain)
        started = time.perf_counter()
        client.mail(f"bench@{domain}")
        client.rcpt("sink@example.org")
        code, reply = client.data(data)
        latencies.append(time.perf_counter() - started)
        if code != 250:
            raise RuntimeError(f"{tag}: message {n} refused: {code} {reply!r}")


@dataclass(frozen=True)
class Target:
    """A way into the relay (or into bare Postfix), and the sender domain it may use."""

    connect: Callable[[], smtplib.SMTP]
    domain: str = DOMAIN


def client_process(target: Target, count: int, tag: str, offset: int,
                   start: Barrier, results: Queue[list[float] | str]) -> None:
    try:
        client = target.connect()
        start.wait()
        latencies: list[float] = []
        send_batch(client, count, tag, offset, latencies, target.domain)
        results.put(latencies)
        client.quit()
    except Exception as exc:  # reported to the parent, which fails the run
        start.abort()
        results.put(f"{tag}: {exc!r}")


Work = Callable[[int, Barrier, "Queue[list[float] | str]"], None]


def run_clients(name: str, target: Target, messages: int, connections: int) -> Run:
    share = messages // connections
    return run_processes(name, connections, lambda i, start, results: client_process(
        target, share, name, i * share, start, results))


def run_processes(name: str, connections: int, work: Work) -> Run:
    """work(i, start, results) for each connection i in a process of its own, like separate apps (no
    GIL shared between them), all let go at once; each puts its latencies, or what went wrong."""
    context = multiprocessing.get_context("fork")
    start = context.Barrier(connections + 1)
    results: Queue[list[float] | str] = context.Queue()
    processes = [context.Process(target=work, args=(i, start, results)) for i in range(connections)]
    for process in processes:
        process.start()
    try:
        start.wait(timeout=60)
    except threading.BrokenBarrierError as exc:
        raise RuntimeError(f"{name}: a client could not start: {results.get(timeout=5)}") from exc
    started = time.perf_counter()
    outcomes = [results.get(timeout=600) for _ in processes]
    seconds = time.perf_counter() - started
    for process in processes:
        process.join(30)
    errors = [o for o in outcomes if isinstance(o, str)]
    if errors:
        raise RuntimeError("; ".join(errors))
    return Run(name, seconds, [x for batch in outcomes if not isinstance(batch, str) for x in batch])


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


def front_end(box: Box, username: str, password: str, domain: str = DOMAIN) -> Target:
    def connect() -> smtplib.SMTP:
        client = smtplib.SMTP("127.0.0.1", box.submission_port, timeout=60)
        client.starttls(context=box.tls_context())
        client.login(username, password)
        return client
    return Target(connect, domain)


def add_bare_listener(box: Box) -> Path:
    """A copy of the internal listener without the milter: Postfix alone."""
    config = str(box.instance.config_dir)
    entry = subprocess.run(["postconf", "-c", config, "-M", f"{SUBMIT_SERVICE}/unix"], capture_output=True,
                           text=True, check=True).stdout.strip()
    entry = entry.replace(SUBMIT_SERVICE, BARE_SERVICE, 1)
    entry = re.sub(r"-o smtpd_milters=\S*", "-o smtpd_milters=", entry)
    subprocess.run(["postconf", "-c", config, "-M", "-e", f"{BARE_SERVICE}/unix = {entry}"], check=True)
    subprocess.run(["postfix", "-c", config, "reload"], check=True, capture_output=True)
    socket_path = box.instance.queue_dir / "public" / BARE_SERVICE
    deadline = time.monotonic() + 30
    while not socket_path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"Postfix did not open {socket_path}")
        time.sleep(0.1)
    return socket_path


def ctl(box: Box, *args: str) -> None:
    if relayctl(["--config", str(box.config_path), *args]) != 0:
        raise RuntimeError(f"relayctl {' '.join(args)} failed")


def pools_of_one_and_many(box: Box, count: int) -> Target:
    """acme sends from a pool of `count` addresses; the returned way in, from a pool of one."""
    ctl(box, "pool", "add", "many")
    for n in range(count):
        ctl(box, "pool", "add-ip", "many", f"127.0.0.{20 + n}", "--helo", f"out{20 + n}.relay.test")
    ctl(box, "pool", "assign", "acme", "many")
    ctl(box, "pool", "add", "one")
    ctl(box, "pool", "add-ip", "one", "127.0.0.40", "--helo", "out40.relay.test")
    ctl(box, "pool", "assign", "other", "one")
    with box.db_session() as session:
        credential = tenants.add_credential(session, "other")
    box.directory_loaded()
    return front_end(box, credential.username, credential.secret, "other.test")


def bare_postfix(socket_path: Path) -> Target:
    def connect() -> smtplib.SMTP:
        client = UnixSMTP(socket_path)
        client.ehlo("bench.test")
        code, reply = client.docmd("XCLIENT", "LOGIN=acme")
        if code != 220:
            raise RuntimeError(f"XCLIENT refused: {code} {reply!r}")
        client.ehlo("bench.test")
        return client
    return Target(connect)


def wait_delivered(sink: Sink, count: int, timeout: float) -> float:
    started = time.perf_counter()
    sink.wait_for(count, timeout)
    return time.perf_counter() - started


def measure(name: str, target: Target, sink: Sink, messages: int, connections: int) -> Run:
    sink.clear()
    run = run_clients(name, target, messages, connections)
    wait_delivered(sink, messages, 300)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="per path and round")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--pool-ips", type=int, default=0,
                        help="send from a pool of this many loopback addresses, and compare with a pool "
                             "of one in the same run (0: from the box's own address)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of bare Postfix then the relay, so drift in the machine's load "
                             "falls on every path alike")
    args = parser.parse_args()
    messages = args.messages - args.messages % args.connections
    runs = {"bare": Run("bare-postfix", 0.0, []), "relay": Run("relay", 0.0, []),
            "one": Run("relay, pool of one", 0.0, [])}
    sink = Sink()
    sink.start()
    try:
        with running_box(sink) as box:
            # Pools first: changing them renders master.cf again, without the bare listener.
            one_ip = pools_of_one_and_many(box, args.pool_ips) if args.pool_ips else None
            targets = {"bare": bare_postfix(add_bare_listener(box)),
                       "relay": front_end(box, box.username, box.password)}
            if one_ip is not None:
                targets["one"] = one_ip
            # A short warm-up of every path: processes started, argon2 checked once.
            for name, target in targets.items():
                measure(f"warmup-{name}", target, sink, args.connections * 5, args.connections)
            for _ in range(args.rounds):
                for name, target in targets.items():
                    runs[name].add(measure(runs[name].name, target, sink, messages, args.connections))
    finally:
        sink.stop()
    source = f"a pool of {args.pool_ips} addresses" if args.pool_ips else "the box's own address"
    print(f"{messages} messages of {MESSAGE_SIZE} bytes over {args.connections} connections each, "
          f"{args.rounds} rounds per path, the relay sending from {source}")
    for name in targets:
        print(runs[name].describe())
    if args.pool_ips:
        print(f"pool of one: ratio_vs_bare_postfix={runs['one'].rate / runs['bare'].rate:.3f}")
        print(f"pool_of_{args.pool_ips}_vs_pool_of_one={runs['relay'].rate / runs['one'].rate:.3f}")
    print(f"ratio_vs_bare_postfix={runs['relay'].rate / runs['bare'].rate:.3f}")


if __name__ == "__main__":
    main()
