"""per-tenant sending limits

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = ("max_per_second", "max_per_hour", "max_per_day", "max_connections")


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
