"""a tenant's own sending limits in one JSON column, keyed by the names in core/limits.py

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = {"max_per_second": "per_second", "max_per_minute": "per_minute", "max_per_hour": "per_hour",
           "max_per_day": "per_day", "max_connections": "concurrent_connections"}


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("limits", sa.JSON(), nullable=False, server_default="{}"))
    connection = op.get_bind()
    tenants = sa.table("tenants", sa.column("id", sa.Integer), sa.column("limits", sa.JSON),
                       *(sa.column(c, sa.Integer) for c in COLUMNS))
    for row in connection.execute(sa.select(tenants)).mappings().all():
        own = {name: row[column] for column, name in COLUMNS.items() if row[column] is not None}
        connection.execute(tenants.update().where(tenants.c.id == row["id"]).values(limits=own))
    with op.batch_alter_table("tenants") as batch:
        for column in COLUMNS:
            batch.drop_column(column)


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        for column in COLUMNS:
            batch.add_column(sa.Column(column, sa.Integer(), nullable=True))
    connection = op.get_bind()
    tenants = sa.table("tenants", sa.column("id", sa.Integer), sa.column("limits", sa.JSON),
                       *(sa.column(c, sa.Integer) for c in COLUMNS))
    for row in connection.execute(sa.select(tenants.c.id, tenants.c.limits)).mappings().all():
        own = row["limits"] if isinstance(row["limits"], dict) else json.loads(row["limits"] or "{}")
        connection.execute(tenants.update().where(tenants.c.id == row["id"])
                           .values({column: own.get(name) for column, name in COLUMNS.items()}))
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("limits")
