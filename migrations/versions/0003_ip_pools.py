"""IP pools and their addresses; tenants assigned to a pool

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ip_pools",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "pool_ips",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("pool_id", sa.Integer(), sa.ForeignKey("ip_pools.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("address", sa.String(45), nullable=False, unique=True),
        sa.Column("helo_name", sa.String(253), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("warmup_caps", sa.String(1000), nullable=False),
        sa.Column("warmup_started", sa.DateTime(), nullable=True),
        sa.Column("paused_reason", sa.String(255), nullable=False),
        sa.Column("last_checked_at", sa.DateTime(), nullable=True),
        sa.Column("fcrdns_ok", sa.Boolean(), nullable=False),
        sa.Column("listed_on", sa.String(1000), nullable=False),
    )
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("pool_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_tenants_pool_id", "ip_pools", ["pool_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_constraint("fk_tenants_pool_id", type_="foreignkey")
        batch.drop_column("pool_id")
    op.drop_table("pool_ips")
    op.drop_table("ip_pools")
