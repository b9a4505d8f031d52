"""Tracked-link redirects per second and their p99 latency: the link service against a static
nginx redirect, taking turns in one run.

The link service (python -m links, one process) answers GET /c/TOKEN for a few thousand
different tokens, each a different message and recipient, and writes every click as an
event (tracking.repeat_seconds 0: no repeat is folded, the most writing it can meet).
The baseline is nginx (one worker) answering `return 302` for the same paths. wrk
(Debian's) drives both, R rounds, each path in turn: paced at about 2,000 a second (20
connections, each waiting 10 ms between requests) for the p99 latency at the target
rate, then flat out over C keep-alive connections for D seconds (redirects per second).
Prints each turn, the medians and spread, and last `redirects_per_second=<x>
p99_ms_at_2000=<y> ratio_vs_nginx=<z>` (targets: 2,000/s; p99 under 20 ms).

Run as root (Postfix): python benchmarks/link_redirects.py [--rounds R] [--seconds D]
    [--connections C] [--tokens N]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.secretbox import SecretBox
from core.tracking import CLICK, Tracked, make_token, token_key
from tests.support.box import Box, links_service, running_box, wait_for_port
from tests.support.sink import Sink, free_port

NGINX_CONF = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    server {{
        listen 127.0.0.1:{port};
        location /c/ {{ return 302 https://example.com/landing; }}
    }}
}}
"""
WRK_SCRIPT = """
local paths = {{{paths}}}
local n = 0
request = function()
    n = n + 1
    return wrk.format("GET", paths[(n % #paths) + 1])
end
{delay}
"""
PACED_CONNECTIONS = 20
PACED_DELAY = "delay = function() return 10 end"


@contextmanager
def nginx_beside() -> Iterator[int]:
    with tempfile.TemporaryDirectory(prefix="mailrelay-nginx-") as root:
        port = free_port()
        conf = Path(root) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(root=root, port=port))
        process = subprocess.Popen(["nginx", "-c", str(conf), "-p", root, "-g", "daemon off;"])
        try:
            wait_for_port("127.0.0.1", port)
            yield port
        finally:
            process.terminate()
            process.wait(20)


def click_paths(box: Box, count: int) -> list[str]:
    key = token_key(SecretBox.from_file(box.settings.effective_encryption_key_file))
    return [f"/c/{make_token(key, CLICK, '127.0.0.1', clicked)}" for clicked in (
        Tracked(1, f"bench{n:08d}", f"reader{n}@example.org", f"https://shop.example.com/p/{n}?utm_source=mail")
        for n in range(count))]


def wrk(port: int, script: Path, connections: int, seconds: int) -> tuple[float, float]:
    """Requests per second and p99 latency in ms."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
               f"http://127.0.0.1:{port}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", output)
    if rate is None or p99 is None or "Non-2xx or 3xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk: {output}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return float(rate.group(1)), float(p99.group(1)) * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=5000)
    args = parser.parse_args()
    sink = Sink()
    sink.start()
    results: dict[str, list[tuple[float, float]]] = {"links": [], "nginx": []}
    try:
        port = free_port()
        with running_box(sink, links={"port": port, "public_url": f"http://127.0.0.1:{port}"},
                         tracking={"repeat_seconds": 0}) as box, links_service(box), \
                nginx_beside() as nginx, tempfile.TemporaryDirectory() as scratch:
            paths = ",".join(f'"{p}"' for p in click_paths(box, args.tokens))
            script, paced = Path(scratch) / "flat.lua", Path(scratch) / "paced.lua"
            script.write_text(WRK_SCRIPT.format(paths=paths, delay=""))
            paced.write_text(WRK_SCRIPT.format(paths=paths, delay=PACED_DELAY))
            ports = {"links": port, "nginx": nginx}
            for name in ports:  # warm-up
                wrk(ports[name], script, args.connections, 2)
            for round_number in range(args.rounds):
                order = list(ports) if round_number % 2 == 0 else list(reversed(ports))
                for name in order:
                    # Paced first: the writing left over from a flat-out run would weigh on it.
                    paced_rate, p99 = wrk(ports[name], paced, PACED_CONNECTIONS, args.seconds)
                    rate, flat_p99 = wrk(ports[name], script, args.connections, args.seconds)
                    results[name].append((rate, p99))
                    print(f"round {round_number + 1} {name}: flat out {rate:.0f} redirects/s (p99 "
                          f"{flat_p99:.2f} ms); at {paced_rate:.0f}/s p99 {p99:.2f} ms", flush=True)
    finally:
        sink.stop()
    for name, turns in results.items():
        rates = [r for r, _ in turns]
        p99s = [p for _, p in turns]
        print(f"{name}: median {statistics.median(rates):.0f}/s (spread {min(rates):.0f}-{max(rates):.0f}), "
              f"paced p99 median {statistics.median(p99s):.2f} ms (spread {min(p99s):.2f}-{max(p99s):.2f})")
    links_rate = statistics.median(r for r, _ in results["links"])
    pairs = zip(results["links"], results["nginx"], strict=True)
    ratio = statistics.median(links / nginx for (links, _), (nginx, _) in pairs)
    p99 = statistics.median(p for _, p in results["links"])
    print(f"redirects_per_second={links_rate:.0f} p99_ms_at_2000={p99:.2f} ratio_vs_nginx={ratio:.3f}")


if __name__ == "__main__":
    main()
