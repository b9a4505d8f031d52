"""Migration 0012 moves each tenant's own limits from five columns into one JSON column, and back."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from core.db import alembic_config, make_engine
from core.limits import LIMITS
from tests.support.box import reset_postgres
from tests.unit.conftest import BACKENDS


@pytest.mark.parametrize("backend", BACKENDS)
def test_own_limits_survive_the_move_to_one_column_and_back(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'relay.db'}"
    else:
        url = os.environ["RELAY_TEST_DATABASE_URL"]
        reset_postgres(url)
    config = alembic_config(url)
    command.upgrade(config, "0011")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("insert into tenants (name, status, created_at, max_per_hour, "
                                    "max_per_day) values ('acme', 'active', CURRENT_TIMESTAMP, 500, 0)"))
            connection.execute(text("insert into tenants (name, status, created_at) "
                                    "values ('plain', 'active', CURRENT_TIMESTAMP)"))
        command.upgrade(config, "head")
        with engine.connect() as connection:
            rows = dict(connection.execute(text("select name, limits from tenants")).all())
        decoded = {name: value if isinstance(value, dict) else json.loads(value)
                   for name, value in rows.items()}
        assert decoded == {"acme": {"per_hour": 500, "per_day": 0}, "plain": {}}
        assert set(decoded["acme"]) <= {limit.name for limit in LIMITS}
        command.downgrade(config, "0011")
        with engine.connect() as connection:
            back = connection.execute(text("select max_per_second, max_per_hour, max_per_day from tenants "
                                           "where name = 'acme'")).one()
        assert tuple(back) == (None, 500, 0)
    finally:
        engine.dispose()
