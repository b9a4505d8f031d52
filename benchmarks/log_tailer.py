"""The log tailer's CPU per delivery: a Postfix log of N deliveries (each message's smtpd,
cleanup, delivery and removal lines) read into events by LogTailer.poll, against a baseline
measured in the same run, the same lines only parsed (core.postfix.log.read_line), which
the tailer does first: the ratio is what writing the events costs over reading the log.
Rounds take turns; prints each round and last `tailer_cpu_ms_per_delivery=<x>
ratio_tailer_vs_parse=<y>` (medians), on SQLite unless --database-url names another.

python benchmarks/log_tailer.py [--deliveries N] [--rounds R] [--database-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.db import make_engine, migrate
from core.postfix.log import read_line
from intake.log_tailer import LogTailer
from tests.support.box import reset_postgres
from tests.support.postfix_log import add_hooked_tenant, delivered_lines


def tailer_ms(lines: list[str], deliveries: int, database_url: str | None) -> float:
    """CPU milliseconds per delivery for the tailer to read the log into events, a fresh database."""
    work = Path(tempfile.mkdtemp())
    url = database_url or f"sqlite:///{work / 'relay.db'}"
    if url.startswith("postgresql"):
        reset_postgres(url)
    migrate(url)
    engine = make_engine(url)
    add_hooked_tenant(engine)
    log = work / "postfix.log"
    log.write_text("\n".join(lines) + "\n")
    tailer = LogTailer(engine, log, "bench", set)
    started = time.process_time()
    written = 0
    while found := tailer.poll():
        written += found
    spent = time.process_time() - started
    engine.dispose()
    if written != deliveries:
        raise SystemExit(f"the tailer wrote {written} events for {deliveries} deliveries")
    return spent * 1000 / deliveries


def parse_ms(lines: list[str], deliveries: int) -> float:
    started = time.process_time()
    for line in lines:
        read_line(line)
    return (time.process_time() - started) * 1000 / deliveries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    lines = delivered_lines(0, args.deliveries)
    tailer, parse = [], []
    for number in range(args.rounds):
        parse.append(parse_ms(lines, args.deliveries))
        tailer.append(tailer_ms(lines, args.deliveries, args.database_url))
        print(f"round {number + 1}: tailer {tailer[-1]:.3f} ms, parse only {parse[-1]:.3f} ms "
              "CPU per delivery")
    ratios = [t / p for t, p in zip(tailer, parse, strict=True)]
    print(f"tailer: rounds {', '.join(f'{t:.3f}' for t in tailer)} ms; ratio rounds "
          f"{min(ratios):.1f}-{max(ratios):.1f}")
    print(f"tailer_cpu_ms_per_delivery={statistics.median(tailer):.3f} "
          f"ratio_tailer_vs_parse={statistics.median(ratios):.1f}")


if __name__ == "__main__":
    main()
