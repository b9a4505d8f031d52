"""core.backup: a backup taken while the box writes is one moment's database (each event counted
once in the hourly counts written with it), on SQLite and on PostgreSQL; and a SQLite backup loads
into PostgreSQL with every row and value."""

from __future__ import annotations

import json
import os
import tarfile
import threading
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, select, text

from core import tenants
from core.backup import backup, restore
from core.config import Settings, settings_from_mapping
from core.db import alembic_config, make_engine, session_scope
from core.events import NewEvent, record_events
from core.models import Event, Tenant
from core.secretbox import SecretBox, create_key_file
from tests.support.box import reset_postgres

DATABASES = ["sqlite", "postgresql"]


def settings_for(kind: str, state: Path, revision: str = "head") -> Settings:
    url = ""
    if kind == "postgresql":
        url = os.environ.get("RELAY_TEST_DATABASE_URL", "")
        if not url:
            pytest.skip("RELAY_TEST_DATABASE_URL is not set (.ci/run sets it where PostgreSQL runs)")
        reset_postgres(url)
    state.mkdir(parents=True)
    settings = settings_from_mapping({"hostname": "relay.test", "state_dir": str(state), "database_url": url})
    create_key_file(settings.effective_encryption_key_file)
    command.upgrade(alembic_config(settings.effective_database_url), revision)
    return settings


def rows(archive: tarfile.TarFile, table: str) -> list[dict[str, object]]:
    member = archive.extractfile(f"database/{table}.jsonl")
    assert member is not None
    return [json.loads(line) for line in member]


@pytest.mark.parametrize("kind", DATABASES)
def test_a_backup_under_writes_is_one_moment(kind: str, tmp_path: Path) -> None:
    settings = settings_for(kind, tmp_path / "state")
    engine = make_engine(settings.effective_database_url)
    with session_scope(engine) as session:
        tenant_id = tenants.add_tenant(session, "acme").id
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            with session_scope(engine) as session:
                record_events(session, [NewEvent("delivered", "a@example.org", tenant_id=tenant_id)] * 3)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for n in range(3):
            backup(settings, None, tmp_path / f"{n}.backup")
    finally:
        stop.set()
        writer.join()
        engine.dispose()
    for n in range(3):
        with tarfile.open(tmp_path / f"{n}.backup") as archive:
            events = rows(archive, "events")
            counted = sum(int(row["count"]) for row in rows(archive, "event_counts"))  # type: ignore[call-overload]
            assert len(events) == counted and len(events) % 3 == 0


def test_a_sqlite_backup_loads_into_postgresql_whole(tmp_path: Path) -> None:
    source = settings_for("sqlite", tmp_path / "sqlite")
    engine = make_engine(source.effective_database_url)
    secrets = SecretBox.from_file(source.effective_encryption_key_file)
    with session_scope(engine) as session:
        tenants.add_tenant(session, "acme")
        tenants.add_domain(session, secrets, "acme", "acme.test")
        record_events(session, [NewEvent("delivered", "a@example.org")])
    with session_scope(engine) as session:
        before = (session.scalar(select(func.count()).select_from(Event)),
                  [(d.name, [k.private_key_encrypted for k in d.dkim_keys], d.created_at)
                   for t in session.scalars(select(Tenant)) for d in t.domains])
    engine.dispose()
    backup(source, None, tmp_path / "sqlite.backup")

    target = settings_for("postgresql", tmp_path / "postgresql")
    restore(target, None, tmp_path / "sqlite.backup")
    engine = make_engine(target.effective_database_url)
    try:
        with session_scope(engine) as session:
            after = (session.scalar(select(func.count()).select_from(Event)),
                     [(d.name, [k.private_key_encrypted for k in d.dkim_keys], d.created_at)
                      for t in session.scalars(select(Tenant)) for d in t.domains])
            assert after == before
            # Ids go on past the loaded rows.
            assert tenants.add_tenant(session, "next").id > 1
    finally:
        engine.dispose()


def test_a_backup_from_an_older_release_restores_on_a_newer_box(tmp_path: Path) -> None:
    """Taken at migration 0011 (limits in columns), restored on a box made at the newest schema: the
    database goes back to 0011, takes the rows, and every migration since runs on them."""
    source = settings_for("sqlite", tmp_path / "old", revision="0011")
    engine = make_engine(source.effective_database_url)
    with engine.begin() as connection:
        connection.execute(text("insert into tenants (name, status, created_at, max_per_hour, max_per_day) "
                                "values ('acme', 'active', CURRENT_TIMESTAMP, 500, 0)"))
    engine.dispose()
    assert backup(source, None, tmp_path / "old.backup").revision == "0011"
    target = settings_for("sqlite", tmp_path / "new")
    restore(target, None, tmp_path / "old.backup")
    engine = make_engine(target.effective_database_url)
    try:
        with session_scope(engine) as session:
            tenant = session.scalar(select(Tenant).where(Tenant.name == "acme"))
            assert tenant is not None and tenant.limits == {"per_hour": 500, "per_day": 0}
    finally:
        engine.dispose()
