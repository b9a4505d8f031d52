"""Bounce parsing: speed and accuracy on a corpus laid out as ../shared/corpora/bounces.

Prints messages parsed per second and last `kind_accuracy=<x> recipient_accuracy=<y>`:
of all expected results, the share whose recipient the parser names with the
expected kind, and the share whose recipient it names at all.

python benchmarks/bounce_parse.py [corpus folder] [--misses]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.bounces.parser import parse_report

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "bounces"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--misses", action="store_true", help="list each expected result not matched")
    args = parser.parse_args()
    cases = [json.loads(line) for line in (args.corpus / "expected.jsonl").read_text().splitlines() if line]
    samples = {case["file"]: (args.corpus / case["file"]).read_bytes() for case in cases}
    started = time.perf_counter()
    parsed = {name: parse_report(raw) for name, raw in samples.items()}
    seconds = time.perf_counter() - started
    expected_total = named = kind_right = 0
    for case in cases:
        found = {r.recipient.lower(): r for r in parsed[case["file"]]}
        for want in case["results"]:
            expected_total += 1
            got = found.get(want["recipient"].lower())
            named += got is not None
            kind_right += got is not None and got.kind == want["kind"]
            if args.misses and (got is None or got.kind != want["kind"]):
                print(f"MISS {case['file']}: want {want['recipient']} {want['kind']}/{want['reason']} "
                      f"{want['status']}; got {got}")
    print(f"{len(samples)} messages in {seconds:.3f}s = {len(samples) / seconds:.0f} messages/s")
    print(f"kind_accuracy={kind_right / expected_total:.3f} recipient_accuracy={named / expected_total:.3f}")


if __name__ == "__main__":
    main()
