from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.db import make_engine, migrate
from tests.support.box import reset_postgres

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("RELAY_TEST_DATABASE_URL") else [])


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A freshly migrated database: SQLite, and PostgreSQL when RELAY_TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'relay.db'}"
    else:
        url = os.environ["RELAY_TEST_DATABASE_URL"]
        reset_postgres(url)
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()
