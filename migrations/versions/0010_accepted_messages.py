"""the milter's record of each message it let through

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accepted_messages",
        sa.Column("message_ref", sa.String(16), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("queue_id", sa.String(32), nullable=False),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("transport", sa.String(64), nullable=False),
    )
    op.create_index("ix_accepted_messages_tenant_id", "accepted_messages", ["tenant_id"])
    op.create_index("ix_accepted_messages_at", "accepted_messages", ["at"])


def downgrade() -> None:
    op.drop_table("accepted_messages")
