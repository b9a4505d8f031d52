"""The relay's throughput with the archive on against off, in the same run.

Two tenants send the same messages (4 KiB, then 100 KiB) through the front-end, Postfix and
the milter to the local sink: one keeps no archive, the other keeps every message (the milter
compresses, seals and writes each with its record). The paths take turns, R rounds, each over
C client processes with a connection each. Prints each turn, each path's messages per second,
p50/p99 and CPU per message, the per-round ratios' spread, and last
`ratio_archive_vs_plain=<x>` (over both sizes; target 0.9 or more).

Run as root (Postfix): python benchmarks/archive_throughput.py [--messages N]
    [--large-messages M] [--connections C] [--rounds R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from benchmarks.relay_throughput import LARGE, SIZE_NAMES, SMALL, Run, ctl, front_end, measure
from core import tenants
from core.models import ArchivedMessage
from core.secretbox import SecretBox
from tests.support.box import Box, running_box
from tests.support.sink import Sink

KEEPER, KEPT_DOMAIN = "keeper", "keeper.test"


def archiving_tenant(box: Box) -> tuple[str, str]:
    """A second tenant with its own verified domain and the archive on; its credential."""
    with box.db_session() as session:
        tenants.add_tenant(session, KEEPER)
        secret_box = SecretBox.from_file(box.settings.effective_encryption_key_file)
        domain = tenants.add_domain(session, secret_box, KEEPER, KEPT_DOMAIN)
        tenants.mark_verified_by_operator(session, domain)
        credential = tenants.add_credential(session, KEEPER)
    ctl(box, "tenant", "archive", KEEPER, "--days", "30")
    box.directory_loaded()
    return credential.username, credential.secret


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000, help="of 4 KiB, per path and round")
    parser.add_argument("--large-messages", type=int, default=200, help="of 100 KiB, per path and round")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    counts = {size: wanted - wanted % args.connections
              for size, wanted in ((SMALL, args.messages), (LARGE, args.large_messages))}
    runs: dict[tuple[str, int], Run] = {}
    ratios: dict[int, list[float]] = {SMALL: [], LARGE: []}
    sink = Sink()
    sink.start()
    try:
        with running_box(sink, smtp={"max_message_size": 1024 * 1024}) as box:
            username, secret = archiving_tenant(box)
            targets = {"plain": front_end(box, box.username, box.password),
                       "archive": front_end(box, username, secret, KEPT_DOMAIN)}
            for target in targets.values():
                measure(Run("warmup"), target, sink, args.connections * 5, args.connections, SMALL)
            for round_number in range(args.rounds):
                for size in (SMALL, LARGE):
                    order = list(targets) if round_number % 2 == 0 else list(reversed(targets))
                    rates = {}
                    for name in order:
                        label = f"archive {'on' if name == 'archive' else 'off'} {SIZE_NAMES[size]}"
                        run = runs.setdefault((name, size), Run(label))
                        rates[name] = measure(run, targets[name], sink, counts[size], args.connections,
                                              size).rate
                        print(f"round {round_number + 1} {run.name}: {rates[name]:.1f} msg/s", flush=True)
                    ratios[size].append(rates["archive"] / rates["plain"])
            with box.db_session() as session:
                kept = session.scalar(select(func.count()).select_from(ArchivedMessage)) or 0
                stored = session.scalar(select(func.sum(ArchivedMessage.stored_size))) or 0
                sent = session.scalar(select(func.sum(ArchivedMessage.size))) or 1
    finally:
        sink.stop()
    print(f"{counts[SMALL]} messages of 4 KiB and {counts[LARGE]} of 100 KiB per path and round over "
          f"{args.connections} connections, {args.rounds} rounds; {kept} archived, stored at "
          f"{stored / sent:.2f} of their size")
    for run in runs.values():
        print(run.describe())
    for size, found in ratios.items():
        ratio = runs["archive", size].rate / runs["plain", size].rate
        print(f"{SIZE_NAMES[size]}: ratio {ratio:.3f}, rounds {min(found):.3f}-{max(found):.3f} "
              f"(median {statistics.median(found):.3f})")
    overall = statistics.mean(runs["archive", s].rate / runs["plain", s].rate for s in (SMALL, LARGE))
    print(f"ratio_archive_vs_plain={overall:.3f}")


if __name__ == "__main__":
    main()
