"""Alembic environment: the URL comes from the caller (core.db.migrate) or alembic.ini."""

from __future__ import annotations

from alembic import context

from core.db import make_engine
from core.models import Base

url = context.config.get_main_option("sqlalchemy.url")
if not url:
    raise SystemExit("set sqlalchemy.url (core.db.migrate does)")

engine = make_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
