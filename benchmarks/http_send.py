"""The HTTP send API against SMTP through the front-end, in the same run, to the same sink.

The same 4 KiB messages go in through the front-end (STARTTLS + AUTH on reused
connections), through POST /api/v1/send/raw one per request, in batches of 50 ready
messages to /api/v1/send/batch, and one per request with an Idempotency-Key on each, over
persistent HTTP connections; C client processes a path, the paths taking turns for
R rounds. Prints each path's messages per second per round and its spread (and per
round the whole box's CPU ms per message, delivery to the sink included), and last
`ratio_http_vs_smtp=`, `ratio_batch_vs_smtp=` and `ratio_idempotent_vs_plain=` (medians
of the rounds' ratios).

Run as root (Postfix):
python benchmarks/http_send.py [--messages N] [--connections C] [--rounds R]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import statistics
import sys
import time
from collections.abc import Callable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.relay_throughput import Run, box_cpu, front_end, make_message, run_clients, run_processes
from core import send_keys
from tests.support.box import DOMAIN, TENANT, Box, running_box, send_api_service
from tests.support.sink import Sink

BATCH = 50

Send = Callable[[http.client.HTTPConnection, int, str], int]


def _post(connection: http.client.HTTPConnection, path: str, body: dict[str, object],
          headers: dict[str, str]) -> dict[str, object]:
    connection.request("POST", path, json.dumps(body), headers)
    reply = connection.getresponse()
    answer = json.loads(reply.read())
    if reply.status != 200:
        raise RuntimeError(f"{path}: {reply.status} {answer}")
    return dict(answer)


def _raw(n: int, tag: str) -> dict[str, object]:
    content = make_message(n, tag, DOMAIN)
    return {"from": f"bench@{DOMAIN}", "to": ["sink@example.org"],
            "message": base64.b64encode(content).decode()}


def http_process(port: int, key: str, count: int, tag: str, offset: int, per_request: int, idempotent: bool,
                 start: Barrier, results: Queue[list[float] | str]) -> None:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        start.wait()
        latencies: list[float] = []
        for first in range(offset, offset + count, per_request):
            numbers = range(first, min(first + per_request, offset + count))
            extra = {"Idempotency-Key": f"{tag}-{first}"} if idempotent else {}
            started = time.perf_counter()
            if per_request == 1:
                _post(connection, "/api/v1/send/raw", _raw(first, tag), headers | extra)
            else:
                messages = [_raw(n, tag) for n in numbers]
                answer = _post(connection, "/api/v1/send/batch", {"messages": messages}, headers | extra)
                failed = [r for r in answer["results"] if r["status"] != 200]  # type: ignore[attr-defined]
                if failed:
                    raise RuntimeError(f"{tag}: {failed[0]}")
            elapsed = time.perf_counter() - started
            latencies.extend([elapsed / len(numbers)] * len(numbers))
        results.put(latencies)
    except Exception as exc:  # reported to the parent, which fails the run
        start.abort()
        results.put(f"{tag}: {exc!r}")


def run_http(name: str, box: Box, key: str, messages: int, connections: int, per_request: int,
             idempotent: bool = False) -> Run:
    share = messages // connections
    return run_processes(name, connections, lambda i, start, results: http_process(
        box.settings.send_api.port, key, share, name, i * share, per_request, idempotent, start, results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sink = Sink()
    sink.start()
    try:
        with running_box(sink, smtp={"max_recipients": 100}) as box, send_api_service(box):
            with box.db_session() as session:
                key = send_keys.new_send_key(session, TENANT, "bench")[1]
            smtp = front_end(box, box.username, box.password)
            paths: dict[str, Callable[[str], Run]] = {
                "smtp": lambda tag: run_clients(tag, smtp, args.messages, args.connections),
                "http": lambda tag: run_http(tag, box, key, args.messages, args.connections, 1),
                "batch": lambda tag: run_http(tag, box, key, args.messages, args.connections, BATCH),
                "idempotent": lambda tag: run_http(tag, box, key, args.messages, args.connections, 1, True),
            }
            rates: dict[str, list[float]] = {name: [] for name in paths}
            for round_number in range(args.rounds):
                for name, path in paths.items():
                    sink.clear()
                    busy = box_cpu()
                    run = path(f"{name}-r{round_number}")
                    sink.wait_for(args.messages, 300)
                    run.cpu["box"] = box_cpu() - busy
                    rates[name].append(run.rate)
                    print(f"round {round_number + 1}: {run.describe()}", flush=True)
    finally:
        sink.stop()
    for name, found in rates.items():
        print(f"{name}: median {statistics.median(found):.1f} msg/s, rounds "
              + ", ".join(f"{rate:.1f}" for rate in found))

    def ratio(over: str, under: str) -> str:
        each = [a / b for a, b in zip(rates[over], rates[under], strict=True)]
        return f"{statistics.median(each):.2f} (rounds {min(each):.2f}-{max(each):.2f})"
    print(f"ratio_http_vs_smtp={ratio('http', 'smtp')}")
    print(f"ratio_batch_vs_smtp={ratio('batch', 'smtp')}")
    print(f"ratio_idempotent_vs_plain={ratio('idempotent', 'http')}")


if __name__ == "__main__":
    main()
