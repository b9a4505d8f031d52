"""Bounce parsing: speed and accuracy on a corpus laid out as ../shared/corpora/bounces.

Prints messages parsed per second, the same as a ratio to a baseline measured in the same
run (the standard library's email parser reading the same messages, which parse_report
does first: the ratio is the share of time spent on MIME parsing alone), and last
`kind_accuracy=<x> recipient_accuracy=<y>`: of all expected results, the share whose
recipient the parser names with the expected kind, and the share whose recipient it
names at all; a sample with no expected results counts as one result, right when the
parser reports no hard bounce for it.

python benchmarks/bounce_parse.py [corpus folder] [--misses]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.bounces import verdicts
from core.bounces.model import ReportResult
from core.bounces.parser import parse_report

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "bounces"
ROUNDS = 3


def _best_rate(work: Callable[[bytes], object], samples: list[bytes]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for raw in samples:
            work(raw)
        best = min(best, time.perf_counter() - started)
    return len(samples) / best


def score(cases: list[dict[str, object]], parsed: dict[str, list[ReportResult]],
           misses: str | None) -> tuple[float, float]:
    """Kind and recipient accuracy; each miss printed after `misses` when that is given."""
    total = named = kind_right = 0
    for case in cases:
        results = parsed[str(case["file"])]
        wanted = case["results"]
        assert isinstance(wanted, list)
        if not wanted:
            total += 1
            right = not any(r.kind == "hard" for r in results)
            named += right
            kind_right += right
            if misses and not right:
                print(f"{misses} {case['file']}: want no hard bounce; got {results}")
            continue
        found = {r.recipient.lower(): r for r in results}
        for want in wanted:
            total += 1
            got = found.get(want["recipient"].lower())
            named += got is not None
            kind_right += got is not None and got.kind == want["kind"]
            if misses and (got is None or got.kind != want["kind"]):
                print(f"{misses} {case['file']}: want {want['recipient']} {want['kind']}/{want['reason']} "
                      f"{want['status']}; got {got}")
    return kind_right / total, named / total


def family(sample: str) -> str:
    """The server family a corpus sample comes from: samples/lhost-postfix-07.eml -> postfix."""
    return re.sub(r"^(lhost|rhost)-|-\d+\.eml$", "", Path(sample).name)


def parsed_unseen(samples: dict[str, bytes]) -> dict[str, list[ReportResult]]:
    parsed: dict[str, list[ReportResult]] = {}
    for name, message in samples.items():
        unseen = tuple(v for v in verdicts.VERDICTS if family(name) not in v.servers)
        with mock.patch.object(verdicts, "VERDICTS", unseen):
            parsed[name] = parse_report(message)
    return parsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--misses", action="store_true", help="list each expected result not matched")
    args = parser.parse_args()
    cases = [json.loads(line) for line in (args.corpus / "expected.jsonl").read_text().splitlines() if line]
    samples = {case["file"]: (args.corpus / case["file"]).read_bytes() for case in cases}
    raw = list(samples.values())
    baseline = _best_rate(lambda m: email.message_from_bytes(m, policy=email.policy.compat32), raw)
    rate = _best_rate(parse_report, raw)
    parsed = {name: parse_report(message) for name, message in samples.items()}
    kind_accuracy, recipient_accuracy = score(cases, parsed, "MISS" if args.misses else None)
    unseen_accuracy, _ = score(cases, parsed_unseen(samples), "UNSEEN MISS" if args.misses else None)
    print(f"baseline (email.message_from_bytes only): {baseline:.0f} messages/s")
    print(f"parse_report: {rate:.0f} messages/s = {rate / baseline:.2f} x baseline "
          f"({len(raw)} messages, best of {ROUNDS})")
    print(f"kind_accuracy={kind_accuracy:.3f} recipient_accuracy={recipient_accuracy:.3f} "
          f"unseen_kind_accuracy={unseen_accuracy:.3f}")


if __name__ == "__main__":
    main()
