"""The database behind a few functions: an engine per URL, sessions, and migrations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.models import DirectoryVersion
from core.shared_files import shared_dir

MIGRATIONS_DIR = shared_dir("migrations")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error. A Session, not a
    sessionmaker: each sessionmaker makes a Session class and sets up its events anew, which
    cost a millisecond, more than a small transaction."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def upsert_insert(bind: Session | Connection) -> Any:
    """The dialect's insert(), whose INSERT ... ON CONFLICT DO UPDATE / DO NOTHING both dialects
    write with the same arguments."""
    dialect = bind.dialect if isinstance(bind, Connection) else bind.get_bind().dialect
    return postgresql.insert if dialect.name == "postgresql" else sqlite.insert


T = TypeVar("T")


def retry_once_on_conflict(engine: Engine, work: Callable[[Session], T]) -> T:
    """work() in a transaction of its own. When a concurrent transaction inserted the same unique
    row first, work() runs once more: it then finds that row."""
    try:
        with session_scope(engine) as session:
            return work(session)
    except IntegrityError:
        with session_scope(engine) as session:
            return work(session)


def alembic_config(url: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the database at url to the newest schema."""
    command.upgrade(alembic_config(url), "head")


def schema_revision(url: str) -> str | None:
    """The migration the database at url is at (None: an empty database)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            revision: str | None = MigrationContext.configure(connection).get_current_revision()
            return revision
    finally:
        engine.dispose()


def bump_directory_version(session: Session) -> None:
    session.execute(update(DirectoryVersion).values(version=DirectoryVersion.version + 1))


def directory_version(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(DirectoryVersion.version)).scalar_one()
