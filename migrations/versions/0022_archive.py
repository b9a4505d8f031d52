"""an archive of sent messages, per tenant

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("archive_days", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("archive_max_mib", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "archived_messages",
        sa.Column("message_ref", sa.String(16), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("tags", sa.String(700), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("stored_size", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_archived_messages_tenant_at", "archived_messages", ["tenant_id", "at", "subject"])
    op.create_index("ix_archived_messages_at", "archived_messages", ["at", "subject"])
    op.create_table(
        "archived_recipients",
        sa.Column("message_ref", sa.String(16),
                  sa.ForeignKey("archived_messages.message_ref", ondelete="CASCADE"), primary_key=True),
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_archived_recipients_address_at", "archived_recipients", ["address", "at"])


def downgrade() -> None:
    op.drop_index("ix_archived_recipients_address_at", "archived_recipients")
    op.drop_table("archived_recipients")
    op.drop_index("ix_archived_messages_at", "archived_messages")
    op.drop_index("ix_archived_messages_tenant_at", "archived_messages")
    op.drop_table("archived_messages")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("archive_max_mib")
        batch.drop_column("archive_days")
