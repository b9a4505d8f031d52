"""The relay's throughput with open and click tracking on against off, in the same run.

The same HTML messages (about 20 links, 30 KiB: a newsletter in quoted-printable with a text
part) go through the front-end, Postfix and the milter to the local sink, from two sending
domains of one tenant: one with tracking off, one with opens and clicks tracked (the milter
rewrites every link and adds the pixel before it signs). The two paths take turns, R rounds,
each over C client processes with a connection each. Prints each turn, then each path's
messages per second, p50/p99 and CPU per message, the per-round ratios' spread, and last
`ratio_tracking_vs_plain=<x>` (target 0.85 or more).

Run as root (Postfix): python benchmarks/tracking_throughput.py [--messages N] [--connections C]
    [--rounds R]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import functools
import statistics
import sys
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.relay_throughput import Run, check_signed, front_end, measure
from core import tenants
from core.secretbox import SecretBox
from tests.support.box import DOMAIN, Box, running_box
from tests.support.html_mail import newsletter
from tests.support.sink import Sink

TRACKED_DOMAIN = "tracked.test"


@functools.cache
def template(domain: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = f"news@{domain}", "sink@example.org", "SUBJECT"
    message.set_content("Our winter offers: https://shop.example.com/winter\n")
    message.add_alternative(newsletter(20, 30 * 1024), subtype="html", cte="quoted-printable")
    return message.as_bytes()


def newsletter_message(n: int, tag: str, domain: str, size: int) -> bytes:
    """The n-th newsletter of a path (size: about 30 KiB whatever is asked)."""
    return template(domain).replace(b"Subject: SUBJECT", f"Subject: {tag} {n}".encode(), 1)


def is_tracked(content: bytes) -> bool:
    html = email.message_from_bytes(content, policy=email.policy.default).get_body(("html",))
    return html is not None and "/c/" in html.get_content()


def tracked_domain(box: Box) -> None:
    with box.db_session() as session:
        secret_box = SecretBox.from_file(box.settings.effective_encryption_key_file)
        domain = tenants.add_domain(session, secret_box, "acme", TRACKED_DOMAIN)
        tenants.mark_verified_by_operator(session, domain)
        tenants.set_tracking(session, TRACKED_DOMAIN, opens=True, clicks=True)
    box.directory_loaded()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000, help="per path and round")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    messages = args.messages - args.messages % args.connections
    runs = {"plain": Run("tracking off"), "tracking": Run("tracking on")}
    ratios = []
    sink = Sink()
    sink.start()
    try:
        with running_box(sink) as box:
            tracked_domain(box)
            targets = {"plain": front_end(box, box.username, box.password, DOMAIN),
                       "tracking": front_end(box, box.username, box.password, TRACKED_DOMAIN)}
            for name, target in targets.items():
                measure(Run("warmup"), target, sink, args.connections * 5, args.connections, 0,
                        newsletter_message)
                check_signed(sink, name)
                tracked = sum(is_tracked(m.content) for m in sink.messages)
                if tracked != (len(sink.messages) if name == "tracking" else 0):
                    raise RuntimeError(f"{name}: {tracked} of {len(sink.messages)} messages tracked")
            for round_number in range(args.rounds):
                order = list(targets) if round_number % 2 == 0 else list(reversed(targets))
                rates = {}
                for name in order:
                    turn = measure(runs[name], targets[name], sink, messages, args.connections, 0,
                                   newsletter_message)
                    rates[name] = turn.rate
                    print(f"round {round_number + 1} {runs[name].name}: {turn.rate:.1f} msg/s", flush=True)
                ratios.append(rates["tracking"] / rates["plain"])
    finally:
        sink.stop()
    print(f"{messages} HTML messages of about 30 KiB with 20 links per path and round over "
          f"{args.connections} connections, {args.rounds} rounds")
    for run in runs.values():
        print(run.describe())
    print(f"per-round ratios: median {statistics.median(ratios):.3f}, "
          f"spread {min(ratios):.3f}-{max(ratios):.3f}")
    print(f"ratio_tracking_vs_plain={runs['tracking'].rate / runs['plain'].rate:.3f}")


if __name__ == "__main__":
    main()
