"""Postfix log tailer position

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_positions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("path", sa.String(1000), nullable=False, unique=True),
        sa.Column("inode", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("pending", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("log_positions")
