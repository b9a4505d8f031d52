"""the box's own DNS records as its last check found them; a domain's DMARC rua

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
    with op.batch_alter_table("sending_domains") as batch:
        batch.add_column(sa.Column("dmarc_rua", sa.String(500), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("sending_domains") as batch:
        batch.drop_column("dmarc_rua")
    op.drop_index("ix_box_record_checks_box", "box_record_checks")
    op.drop_table("box_record_checks")
