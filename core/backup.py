"""relayctl backup and restore: a box's database, keys and settings in one file.

The file is a gzipped tar, written with mode 0600: it holds the encryption key, which
opens every DKIM key and archived message in the database.
- manifest.json: the format, the schema revision, when and where it was taken, rows per table;
- database/<table>.jsonl: every row, read in one snapshot (SQLite: a copy made with its backup
  API; PostgreSQL: one read-only REPEATABLE READ transaction), so rows that refer to each other
  agree however busy the box is;
- keys/encryption.key, keys/tls.crt, keys/tls.key: the files the settings name;
- settings/relay.yaml: the configuration file, when the box has one.

Rows are written as JSON lines by each column's type (times in ISO 8601, bytes in base64)
rather than with pg_dump or sqlite3's .dump: those are bound to one database and its version,
where these load into either, so a box moves from SQLite to PostgreSQL by a restore.

Restore loads into a database that has no tenants (a fresh box, after `relayctl init` or not;
--force replaces whatever is there): the database is brought to the backup's schema revision,
emptied, loaded in one transaction, its id sequences set past the rows, and then migrated to
this version's newest schema, so a backup taken before an upgrade restores after it. The keys
are written where this box's settings say. The settings are written beside this box's own as
<config>.restored, for the operator to compare: the new box's addresses and name may differ.
"""

from __future__ import annotations

import base64
import io
import json
import os
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from alembic import command
from sqlalchemy import Connection, Engine, MetaData, Table, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.types import Boolean, Date, DateTime, LargeBinary

from core.config import Settings
from core.db import (
    alembic_config,
    bump_directory_version,
    make_engine,
    migrate,
    schema_revision,
    session_scope,
)
from core.errors import InvalidInputError
from core.fsutil import write_atomically

FORMAT = "mailrelay-backup-1"
VERSION_TABLE = "alembic_version"
CHUNK_ROWS = 1000


@dataclass(frozen=True)
class Manifest:
    format: str
    revision: str
    taken_at: str
    hostname: str
    dialect: str
    rows: dict[str, int]


def _encoded(column_type: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column_type, LargeBinary):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _decoded(column_type: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column_type, LargeBinary):
        return base64.b64decode(value)
    if isinstance(column_type, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(column_type, Date):
        return date.fromisoformat(value)
    if isinstance(column_type, Boolean):
        return bool(value)
    return value


def _tables(connection: Connection) -> list[Table]:
    metadata = MetaData()
    metadata.reflect(bind=connection)
    return [table for table in metadata.sorted_tables if table.name != VERSION_TABLE]


@contextmanager
def _snapshot(settings: Settings) -> Iterator[Connection]:
    """A connection that reads the database as it was at one moment."""
    url = settings.effective_database_url
    if make_url(url).get_backend_name() == "sqlite":
        with tempfile.TemporaryDirectory(dir=settings.state_dir) as folder:
            copy = Path(folder) / "snapshot.db"
            source = sqlite3.connect(make_url(url).database or "")
            target = sqlite3.connect(copy)
            try:
                source.backup(target)
            finally:
                source.close()
                target.close()
            engine = make_engine(f"sqlite:///{copy}")
            try:
                with engine.connect() as connection:
                    yield connection
            finally:
                engine.dispose()
        return
    engine = make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection, \
                connection.begin():
            connection.execute(text("SET TRANSACTION READ ONLY"))
            yield connection
    finally:
        engine.dispose()


def _add(archive: tarfile.TarFile, name: str, data: IO[bytes], size: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o600, int(datetime.now(UTC).timestamp())
    archive.addfile(info, data)


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    _add(archive, name, io.BytesIO(data), len(data))


def _key_files(settings: Settings) -> dict[str, Path]:
    return {"keys/encryption.key": settings.effective_encryption_key_file,
            "keys/tls.crt": settings.tls_cert_file, "keys/tls.key": settings.tls_key_file}


def backup(settings: Settings, config_file: Path | None, output: Path) -> Manifest:
    """Write the backup of this box to output (mode 0600); its manifest."""
    revision = schema_revision(settings.effective_database_url)
    if revision is None:
        raise InvalidInputError("the database has no schema yet: relayctl init makes it")
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    rows: dict[str, int] = {}
    with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
        with _snapshot(settings) as connection:
            for table in _tables(connection):
                with tempfile.TemporaryFile(dir=settings.state_dir) as lines:
                    count = 0
                    result = connection.execution_options(yield_per=CHUNK_ROWS).execute(select(table))
                    for row in result.mappings():
                        record = {name: _encoded(table.c[name].type, value) for name, value in row.items()}
                        lines.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
                        count += 1
                    rows[table.name] = count
                    size = lines.tell()
                    lines.seek(0)
                    _add(archive, f"database/{table.name}.jsonl", lines, size)
        for name, path in _key_files(settings).items():
            if path.exists():
                _add_bytes(archive, name, path.read_bytes())
        if config_file is not None and config_file.exists():
            _add_bytes(archive, "settings/relay.yaml", config_file.read_bytes())
        manifest = Manifest(FORMAT, revision, datetime.now(UTC).isoformat(timespec="seconds"),
                            settings.hostname, make_url(settings.effective_database_url).get_backend_name(),
                            rows)
        _add_bytes(archive, "manifest.json", json.dumps(manifest.__dict__, indent=1).encode())
        raw.flush()
        os.fsync(raw.fileno())
    return manifest


def _read_manifest(archive: tarfile.TarFile) -> Manifest:
    try:
        member = archive.extractfile("manifest.json")
        assert member is not None
        manifest = Manifest(**json.loads(member.read()))
    except (KeyError, AssertionError, ValueError, TypeError) as exc:
        raise InvalidInputError(f"not a relay backup: {exc}") from exc
    if manifest.format != FORMAT:
        raise InvalidInputError(f"a backup in format {manifest.format!r}; this version reads {FORMAT}")
    return manifest


def _to_revision(url: str, revision: str) -> None:
    current = schema_revision(url)
    config = alembic_config(url)
    if current is None:
        command.upgrade(config, revision)
    elif current != revision:
        command.downgrade(config, revision)


def _load(engine: Engine, archive: tarfile.TarFile, force: bool) -> None:
    with engine.begin() as connection:
        tables = _tables(connection)
        by_name = {table.name: table for table in tables}
        if not force and "tenants" in by_name and connection.scalar(
                select(func.count()).select_from(by_name["tenants"])):
            raise InvalidInputError("this box's database has tenants: a restore would replace them "
                                    "(--force does)")
        for table in reversed(tables):
            connection.execute(table.delete())
        for table in tables:
            member = archive.extractfile(f"database/{table.name}.jsonl")
            if member is None:
                continue
            chunk: list[dict[str, Any]] = []
            for line in member:
                record = json.loads(line)
                chunk.append({name: _decoded(table.c[name].type, value) for name, value in record.items()
                              if name in table.c})
                if len(chunk) >= CHUNK_ROWS:
                    connection.execute(table.insert(), chunk)
                    chunk = []
            if chunk:
                connection.execute(table.insert(), chunk)
        if connection.dialect.name == "postgresql":
            _move_sequences(connection, tables)


def _move_sequences(connection: Connection, tables: list[Table]) -> None:
    """PostgreSQL's id sequences past the loaded ids, as inserts without ids would have moved them."""
    inspector = inspect(connection)
    for table in tables:
        for column in inspector.get_columns(table.name):
            default = str(column.get("default") or "")
            if default.startswith("nextval("):
                connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                    f"COALESCE((SELECT MAX({column['name']}) FROM {table.name}), 0) + 1, false)"),
                    {"table": table.name, "column": column["name"]})


def restore(settings: Settings, config_file: Path | None, source: Path, force: bool = False) -> Manifest:
    """Load the backup at source into this box (see the module's docstring); its manifest."""
    try:
        with tarfile.open(source, mode="r:gz") as archive:
            return _restore(settings, config_file, archive, force)
    except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
        raise InvalidInputError(f"cannot read the backup {source}: {exc}") from exc


def _restore(settings: Settings, config_file: Path | None, archive: tarfile.TarFile, force: bool) -> Manifest:
    url = settings.effective_database_url
    manifest = _read_manifest(archive)
    _to_revision(url, manifest.revision)
    engine = make_engine(url)
    try:
        _load(engine, archive, force)
    finally:
        engine.dispose()
    migrate(url)
    _tell_services(url)
    names = archive.getnames()
    for name, path in _key_files(settings).items():
        if name in names:
            _write_as_before(path, _member(archive, name))
    if "settings/relay.yaml" in names and config_file is not None:
        _write_as_before(config_file.with_name(config_file.name + ".restored"),
                         _member(archive, "settings/relay.yaml"))
    return manifest


def _member(archive: tarfile.TarFile, name: str) -> bytes:
    member = archive.extractfile(name)
    if member is None:
        raise InvalidInputError(f"{name} in the backup is not a file")
    return member.read()


def _write_as_before(path: Path, data: bytes) -> None:
    """data at path, mode 0600, owned as the file there was (the services' user reads the keys),
    or as its folder."""
    owner = path.stat() if path.exists() else path.parent.stat()
    write_atomically(path, data, mode=0o600)
    os.chown(path, owner.st_uid, owner.st_gid)


def _tell_services(url: str) -> None:
    """Services still running read the directory again (a restore is meant for stopped ones)."""
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            bump_directory_version(session)
    finally:
        engine.dispose()
