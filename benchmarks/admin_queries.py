"""The panel's dashboard and message search with a million events in the database.

Fills a fresh database (SQLite by default, or --database-url) with N events
spread over 30 days, 50 tenants and the usual kinds (and their hourly counts, as
record_event keeps them), then times GET / (the dashboard, for all tenants and
for one) and GET /messages/?q=... (by recipient, Message-ID and queue id) through
the real Flask app, logged in as an admin. The baseline, measured in the same
run, is the same pages on an empty database. Prints each figure, and last:
`dashboard_ms=<x> search_ms=<y>` (medians; the target is under 200 each).

python benchmarks/admin_queries.py [--events 1000000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask.testing import FlaskClient
from sqlalchemy import insert

from admin import create_app
from core import panel_users
from core.config import Settings
from core.db import make_engine, migrate, session_scope
from core.models import Event, EventCount, Tenant
from core.secretbox import create_key_file

KINDS = ("delivered",) * 85 + ("deferred",) * 8 + ("bounced",) * 5 + ("complained", "suppressed")
PASSWORD = "benchmark password"
TENANTS = 50
BATCH = 20_000


def fill(url: str, events: int) -> tuple[str, str, str]:
    """N events; returns a recipient, a Message-ID and a queue id that exist."""
    engine = make_engine(url)
    rng = random.Random(7)
    now = datetime.utcnow().replace(microsecond=0)
    counts: Counter[tuple[datetime, int, str]] = Counter()
    with session_scope(engine) as session:
        session.execute(insert(Tenant), [{"name": f"tenant{n}", "status": "active", "created_at": now}
                                         for n in range(1, TENANTS + 1)])
    for start in range(0, events, BATCH):
        rows = []
        for n in range(start, min(start + BATCH, events)):
            at = now - timedelta(seconds=rng.randrange(30 * 86400))
            tenant_id, kind = rng.randrange(1, TENANTS + 1), rng.choice(KINDS)
            rows.append({"at": at, "kind": kind, "tenant_id": tenant_id,
                         "subject": f"user{n % 200_000}@example.org",
                         "detail": "dsn=2.0.0 relay=mx.example.org[192.0.2.1]:25 (250 2.0.0 Ok)",
                         "message_ref": f"{n:013d}", "queue_id": f"4B{n:010X}",
                         "message_id": f"<{n}.{tenant_id}@app.example.com>", "report_id": None})
            counts[(at.replace(minute=0, second=0), tenant_id, kind)] += 1
        with session_scope(engine) as session:
            session.execute(insert(Event), rows)
    if counts:
        with session_scope(engine) as session:
            session.execute(insert(EventCount), [{"hour": h, "tenant_id": t, "kind": k, "count": c}
                                                 for (h, t, k), c in counts.items()])
    engine.dispose()
    probe = max(0, events // 2)
    return f"user{probe % 200_000}@example.org", f"<{probe}.", f"4B{probe:010X}"


def client_for(state_dir: Path, url: str) -> FlaskClient:
    settings = Settings(hostname="bench.test", state_dir=state_dir, database_url=url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        panel_users.add_user(session, "root", PASSWORD, "admin")
    engine.dispose()
    app = create_app({"RELAY_SETTINGS": settings, "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    client.post("/login", data={"username": "root", "password": PASSWORD})
    return client


def median_ms(client: FlaskClient, path: str, rounds: int = 15) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        reply = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        assert reply.status_code == 200, (path, reply.status_code)
    return statistics.median(timings)


def measure(client: FlaskClient, recipient: str, message_id: str, queue_id: str) -> tuple[float, float]:
    dashboard = max(median_ms(client, "/"), median_ms(client, "/?tenant=7"))
    search = max(median_ms(client, f"/messages/?q={recipient}"),
                 median_ms(client, f"/messages/?q={queue_id}"),
                 median_ms(client, f"/messages/?q={message_id}"))
    return dashboard, search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="", help="default: an SQLite file in a temporary folder")
    args = parser.parse_args()
    folders = [Path(tempfile.mkdtemp(prefix="relay-bench-")) for _ in range(2)]
    try:
        figures = {}
        for label, folder, events in (("empty", folders[0], 0), ("full", folders[1], args.events)):
            url = args.database_url if (args.database_url and label == "full") else f"sqlite:///{folder}/relay.db"
            create_key_file(folder / "secret.key")
            migrate(url)
            started = time.perf_counter()
            probes = fill(url, events)
            if events:
                seconds = time.perf_counter() - started
                print(f"filled {events:,} events in {seconds:.0f}s ({url.split(':')[0]})")
            dashboard, search = figures[label] = measure(client_for(folder, url), *probes)
            print(f"{label:>5} database: dashboard {dashboard:.1f} ms, search {search:.1f} ms")
        (dash, found), (dash0, found0) = figures["full"], figures["empty"]
        print(f"ratio_vs_empty_database: dashboard {dash / dash0:.2f}, search {found / found0:.2f}")
        print(f"dashboard_ms={dash:.1f} search_ms={found:.1f}")
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
