"""the box's own DNS records as its last check found them

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "box_record_checks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("box", sa.String(253), nullable=False),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("expected", sa.Text(), nullable=False),
        sa.Column("found", sa.Text(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_box_record_checks_box", "box_record_checks", ["box"])


def downgrade() -> None:
    op.drop_index("ix_box_record_checks_box", "box_record_checks")
    op.drop_table("box_record_checks")
