"""The panel's archive search with a million archived messages in the database.

Fills a fresh database (SQLite by default, or --database-url) with N archived messages over
30 days and 50 tenants (small sealed bodies: search reads only the readable columns), then
times GET /archive/ through the real Flask app: as an admin (every tenant) by a common subject
word, by a rare one within a week, by recipient, by tag; and as a tenant's user by a rare
subject. The baseline, measured in the same run, is the same pages on an empty database.
Prints each figure and last `archive_search_ms=<x>` (the slowest median; target under 200).

python benchmarks/archive_search.py [--messages 1000000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask.testing import FlaskClient
from sqlalchemy import insert

from benchmarks.admin_queries import BATCH, PASSWORD, TENANTS, client_for, median_ms
from core import panel_users
from core.db import make_engine, migrate, session_scope
from core.models import ArchivedMessage, ArchivedRecipient, Tenant
from core.secretbox import create_key_file

WORDS = ("invoice", "receipt", "welcome", "password reset", "shipping update", "newsletter", "reminder",
         "order confirmation", "account notice", "weekly digest")


def fill(url: str, messages: int) -> None:
    engine = make_engine(url)
    rng = random.Random(11)
    now = datetime.utcnow().replace(microsecond=0)
    with session_scope(engine) as session:
        session.execute(insert(Tenant), [{"name": f"tenant{n}", "status": "active", "created_at": now,
                                          "archive_days": 30} for n in range(1, TENANTS + 1)])
        panel_users.add_user(session, "alice", PASSWORD, "tenant", tenant_name="tenant7")
    for start in range(0, messages, BATCH):
        rows = [{"message_ref": f"{n:013d}", "tenant_id": rng.randrange(1, TENANTS + 1),
                 "at": now - timedelta(seconds=rng.randrange(30 * 86400)), "sender": "app@shop.example",
                 "recipients": f"user{n % 300_000}@example.org", "subject": f"Your {rng.choice(WORDS)} #{n}",
                 "tags": rng.choice(("", "transactional", "marketing,eu")), "size": 30_000, "stored_size": 60,
                 "sealed": b"\0" * 60} for n in range(start, min(start + BATCH, messages))]
        with session_scope(engine) as session:
            session.execute(insert(ArchivedMessage), rows)
            session.execute(insert(ArchivedRecipient), [
                {"message_ref": r["message_ref"], "address": r["recipients"], "at": r["at"]} for r in rows])
    engine.dispose()


def measure(admin: FlaskClient, tenant_user: FlaskClient, messages: int) -> dict[str, float]:
    week = (datetime.utcnow() - timedelta(days=7)).strftime("%Y-%m-%d")
    probe = messages // 2
    return {"admin, common word": median_ms(admin, "/archive/?subject=invoice"),
            "admin, rare subject in a week": median_ms(admin, f"/archive/?subject=%23{probe}&since={week}"),
            "admin, recipient": median_ms(admin, f"/archive/?recipient=user{probe % 300_000}@example.org"),
            "admin, tag": median_ms(admin, "/archive/?tag=eu"),
            "tenant, rare subject": median_ms(tenant_user, f"/archive/?subject=%23{probe}")}


def tenant_client(admin: FlaskClient) -> FlaskClient:
    client = admin.application.test_client()
    client.post("/login", data={"username": "alice", "password": PASSWORD})
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="", help="default: an SQLite file in a temporary folder")
    args = parser.parse_args()
    folders = [Path(tempfile.mkdtemp(prefix="relay-bench-")) for _ in range(2)]
    try:
        figures = {}
        for label, folder, count in (("empty", folders[0], 0), ("full", folders[1], args.messages)):
            url = args.database_url if (args.database_url and label == "full") else f"sqlite:///{folder}/relay.db"
            create_key_file(folder / "secret.key")
            migrate(url)
            started = time.perf_counter()
            fill(url, count)
            if count:
                print(f"filled {count:,} archived messages in {time.perf_counter() - started:.0f}s")
            admin = client_for(folder, url)
            figures[label] = measure(admin, tenant_client(admin), max(count, 2))
            for name, ms in figures[label].items():
                print(f"{label:>5} database, {name}: {ms:.1f} ms")
        slowest = max(figures["full"].values())
        print(f"ratio_vs_empty_database: {slowest / max(figures['empty'].values()):.2f}")
        print(f"archive_search_ms={slowest:.1f}")
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
