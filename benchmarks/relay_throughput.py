"""Throughput of the relay against bare Postfix and against the DIY peer, in the same run.

Three paths, at 4 KiB and at 100 KiB, each over C reused connections from C client
processes, all delivered to the same local sink, taking turns for R rounds:
- bare Postfix: the relay's own Postfix through a listener of its own without the milter
  (no TLS, no AUTH, no signing), a floor for what a message costs;
- the relay: the front-end (STARTTLS + AUTH on the submission port), its Postfix and the
  milter (signs, throttles, routes), the intake reading the log;
- the DIY peer (benchmarks/diy_peer.py): Debian's Postfix with submission
  (smtpd_tls_security_level = encrypt, Cyrus SASL over sasldb) and OpenDKIM
  (relaxed/relaxed, RSA-2048) over a Unix socket.
Prints each path's messages per second, p50/p99 submission latency and CPU ms per
message per process group (and the whole box's), then `ratio_vs_bare_postfix_<size>`
and last `ratio_vs_postfix_opendkim_4k=<x> ratio_vs_postfix_opendkim_100k=<y>` (relay
msg/s ÷ peer msg/s). With --pool-ips P the relay sends from a pool of P addresses, and
a second tenant from a pool of one takes its turn too (4 KiB only).

Run as root (Postfix):
python benchmarks/relay_throughput.py [--messages N] [--large-messages M] [--connections C]
    [--rounds R] [--pool-ips P] [--processes K --redis-url URL]
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import resource
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.diy_peer import Peer, running_peer
from core import tenants
from core.postfix.instance import SUBMIT_SERVICE
from relayctl.cli import main as relayctl
from tests.support.box import DOMAIN, Box, running_box
from tests.support.sink import Sink, free_port

SMALL = 4096
LARGE = 100 * 1024
SIZE_NAMES = {SMALL: "4k", LARGE: "100k"}
BARE_SERVICE = "bench-bare"


def process_tree_cpu(pid: int) -> float:
    """CPU seconds of a process and all its descendants, the exited ones included (their time
    is added to their parent's children times once reaped)."""
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            times = process.cpu_times()
            children = process.children()
        own = times.user + times.system + times.children_user + times.children_system
    except psutil.NoSuchProcess:
        return 0.0
    return own + sum(process_tree_cpu(child.pid) for child in children)


def clients_and_sink_cpu() -> float:
    """This process (the sink's threads) and the client processes it has reaped."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime


def box_cpu() -> float:
    """The whole machine's busy CPU seconds."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


CpuProbe = Callable[[], float]


@dataclass
class Run:
    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)

    def add(self, seconds: float, latencies: list[float], cpu: dict[str, float]) -> None:
        self.seconds += seconds
        self.latencies.extend(latencies)
        for group, used in cpu.items():
            self.cpu[group] = self.cpu.get(group, 0.0) + used

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def describe(self) -> str:
        ordered = sorted(self.latencies)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        cpu = ", ".join(f"{group} {used * 1000 / len(ordered):.2f}" for group, used in self.cpu.items())
        return (f"{self.name}: {len(ordered)} messages in {self.seconds:.2f}s = {self.rate:.1f} msg/s, "
                f"p50 {statistics.median(ordered) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms"
                + (f"; CPU ms per message: {cpu}" if cpu else ""))


def make_message(n: int, tag: str, domain: str, size: int = SMALL) -> bytes:
    head = (f"From: bench@{domain}\r\nTo: sink@example.org\r\nSubject: {tag} {n}\r\n"
            f"Message-ID: <{tag.replace(' ', '-')}-{n}@{domain}>\r\n\r\n").encode()
    line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n"
    # Cut where a line break would be split, the CR alone would end the body: a bare CR.
    body = (line * (size // len(line) + 1))[: size - len(head) - 2].removesuffix(b"\r") + b"\r\n"
    return head + body


@dataclass(frozen=True)
class Target:
    """A way in (the relay, bare Postfix or the peer), the sender domain it may use and the
    process groups whose CPU it spends."""

    connect: Callable[[], smtplib.SMTP]
    groups: dict[str, CpuProbe]
    domain: str = DOMAIN


# The n-th message of a path (its tag), from a domain, of about a size.
MessageMaker = Callable[[int, str, str, int], bytes]


def send_batch(client: smtplib.SMTP, count: int, tag: str, offset: int, latencies: list[float],
               domain: str, size: int, make: MessageMaker = make_message) -> None:
    for n in range(offset, offset + count):
        data = make(n, tag, domain, size)
        started = time.perf_counter()
        client.mail(f"bench@{domain}")
        client.rcpt("sink@example.org")
        code, reply = client.data(data)
        latencies.append(time.perf_counter() - started)
        if code != 250:
            raise RuntimeError(f"{tag}: message {n} refused: {code} {reply!r}")


def client_process(target: Target, count: int, tag: str, offset: int, size: int, start: Barrier,
                   results: Queue[list[float] | str], make: MessageMaker = make_message) -> None:
    try:
        client = target.connect()
        start.wait()
        latencies: list[float] = []
        send_batch(client, count, tag, offset, latencies, target.domain, size, make)
        results.put(latencies)
        client.quit()
    except Exception as exc:  # reported to the parent, which fails the run
        start.abort()
        results.put(f"{tag}: {exc!r}")


Work = Callable[[int, Barrier, "Queue[list[float] | str]"], None]


def run_clients(name: str, target: Target, messages: int, connections: int, size: int = SMALL,
                make: MessageMaker = make_message) -> Run:
    share = messages // connections
    return run_processes(name, connections, lambda i, start, results: client_process(
        target, share, name, i * share, size, start, results, make))


def run_processes(name: str, connections: int, work: Work) -> Run:
    """work(i, start, results) for each connection i in a process of its own, like separate apps
    (no GIL shared between them), all let go at once; each puts its latencies, or what went wrong."""
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


def postfix_group(box: Box) -> CpuProbe:
    pid_file = box.instance.queue_dir / "pid" / "master.pid"
    return lambda: process_tree_cpu(int(pid_file.read_text().split()[0]))


def relay_groups(box: Box) -> dict[str, CpuProbe]:
    processes = {"front-end": box.front_end, "milter": box.milter, "intake": box.intake}
    groups: dict[str, CpuProbe] = {name: (lambda pid=p.pid: process_tree_cpu(pid))  # type: ignore[misc]
                                   for name, p in processes.items() if p is not None}
    groups["postfix"] = postfix_group(box)
    return groups


def front_end(box: Box, username: str, password: str, domain: str = DOMAIN) -> Target:
    def connect() -> smtplib.SMTP:
        client = smtplib.SMTP("127.0.0.1", box.submission_port, timeout=60)
        client.starttls(context=box.tls_context())
        client.login(username, password)
        return client
    return Target(connect, relay_groups(box), domain)


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


def bare_postfix(box: Box, socket_path: Path) -> Target:
    def connect() -> smtplib.SMTP:
        client = UnixSMTP(socket_path)
        client.ehlo("bench.test")
        code, reply = client.docmd("XCLIENT", "LOGIN=acme")
        if code != 220:
            raise RuntimeError(f"XCLIENT refused: {code} {reply!r}")
        client.ehlo("bench.test")
        return client
    return Target(connect, {"postfix": postfix_group(box)})


def diy_peer(peer: Peer) -> Target:
    return Target(peer.connect, {"postfix": lambda: process_tree_cpu(peer.master_pid),
                                 "opendkim": lambda: process_tree_cpu(peer.opendkim.pid)})


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


def measure(run: Run, target: Target, sink: Sink, messages: int, connections: int, size: int,
            make: MessageMaker = make_message) -> Run:
    """One turn of a path, added to run: its clients' submissions, and CPU until the sink has every
    message; the turn alone."""
    sink.clear()
    probes = {**target.groups, "clients+sink": clients_and_sink_cpu, "box": box_cpu}
    before = {group: probe() for group, probe in probes.items()}
    turn = run_clients(run.name, target, messages, connections, size, make)
    sink.wait_for(messages, 300)
    run.add(turn.seconds, turn.latencies, {group: probe() - before[group] for group, probe in probes.items()})
    return turn


def check_signed(sink: Sink, path: str) -> None:
    """Every path but bare Postfix signs: the comparison is fair only if each message is."""
    unsigned = [m for m in sink.messages if b"\nDKIM-Signature:" not in b"\n" + m.content]
    if unsigned:
        raise RuntimeError(f"{path}: {len(unsigned)} messages arrived unsigned")


@contextmanager
def peer_beside(sink: Sink) -> Iterator[Peer]:
    with tempfile.TemporaryDirectory(prefix="mailrelay-peer-", dir="/var/tmp") as root:
        Path(root).chmod(0o755)
        with running_peer(Path(root) / "peer", free_port(), f"[127.0.0.1]:{sink.port}", DOMAIN) as peer:
            yield peer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="of 4 KiB, per path and round")
    parser.add_argument("--large-messages", type=int, default=400, help="of 100 KiB, per path and round")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--pool-ips", type=int, default=0,
                        help="send from a pool of this many loopback addresses, and compare with a pool "
                             "of one in the same run (0: from the box's own address)")
    parser.add_argument("--processes", type=int, default=1,
                        help="front-end and milter processes (smtp.processes, milter.processes); more "
                             "than one needs --redis-url")
    parser.add_argument("--redis-url", default="", help="milter.redis_url for the relay's throttle counters")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of every path in turn, so drift in the machine's load falls on "
                             "every path alike")
    args = parser.parse_args()
    counts = {size: wanted - wanted % args.connections
              for size, wanted in ((SMALL, args.messages), (LARGE, args.large_messages))}
    names = {"bare": "bare-postfix", "relay": "relay", "peer": "postfix+opendkim",
             "one": "relay, pool of one"}
    runs: dict[tuple[str, int], Run] = {}
    sink = Sink()
    sink.start()
    try:
        settings = {"smtp": {"processes": args.processes},
                    "milter": {"processes": args.processes, "redis_url": args.redis_url}}
        with running_box(sink, **settings) as box, peer_beside(sink) as peer:
            # Pools first: changing them renders master.cf again, without the bare listener.
            one_ip = pools_of_one_and_many(box, args.pool_ips) if args.pool_ips else None
            targets = {"bare": bare_postfix(box, add_bare_listener(box)),
                       "relay": front_end(box, box.username, box.password), "peer": diy_peer(peer)}
            if one_ip is not None:
                targets["one"] = one_ip
            plan = [(name, size) for size in (SMALL, LARGE) for name in targets
                    if size == SMALL or name != "one"]
            # A short warm-up of every path: processes started, argon2 checked once.
            for name, size in plan:
                measure(Run("warmup"), targets[name], sink, args.connections * 5, args.connections, size)
                if name != "bare":
                    check_signed(sink, names[name])
            for _ in range(args.rounds):
                for name, size in plan:
                    run = runs.setdefault((name, size), Run(f"{names[name]} {SIZE_NAMES[size]}"))
                    measure(run, targets[name], sink, counts[size], args.connections, size)
    finally:
        sink.stop()
    source = f"a pool of {args.pool_ips} addresses" if args.pool_ips else "the box's own address"
    print(f"{counts[SMALL]} messages of 4 KiB and {counts[LARGE]} of 100 KiB per path and round over "
          f"{args.connections} connections, {args.rounds} rounds, the relay sending from {source} with "
          f"{args.processes} front-end and milter process(es)"
          f"{', throttle counters in Redis' if args.redis_url else ''}")
    for key in runs:
        print(runs[key].describe())
    if args.pool_ips:
        one, relay, bare = (runs[name, SMALL].rate for name in ("one", "relay", "bare"))
        print(f"pool of one: ratio_vs_bare_postfix={one / bare:.3f}")
        print(f"pool_of_{args.pool_ips}_vs_pool_of_one={relay / one:.3f}")
    print(" ".join(f"ratio_vs_bare_postfix_{SIZE_NAMES[size]}="
                   f"{runs['relay', size].rate / runs['bare', size].rate:.3f}" for size in (SMALL, LARGE)))
    print(" ".join(f"ratio_vs_postfix_opendkim_{SIZE_NAMES[size]}="
                   f"{runs['relay', size].rate / runs['peer', size].rate:.3f}" for size in (SMALL, LARGE)))


if __name__ == "__main__":
    main()
