"""the panel: accounts, API tokens, kept reports, hourly event counts, message keys on events

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("received_at", sa.DateTime(), nullable=False, index=True),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=True,
                  index=True),
        sa.Column("envelope_recipient", sa.String(320), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
    )
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("message_ref", sa.String(16), nullable=False, server_default=""))
        batch.add_column(sa.Column("queue_id", sa.String(32), nullable=False, server_default=""))
        batch.add_column(sa.Column("message_id", sa.String(255), nullable=False, server_default=""))
        batch.add_column(sa.Column("report_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_events_report_id", "reports", ["report_id"], ["id"], ondelete="SET NULL")
        batch.create_index("ix_events_message_ref", ["message_ref"])
        batch.create_index("ix_events_queue_id", ["queue_id"])
        batch.create_index("ix_events_message_id", ["message_id"])
        batch.create_index("ix_events_subject", ["subject"])
    op.create_table(
        "event_counts",
        sa.Column("hour", sa.DateTime(), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_table(
        "panel_users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(128), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("panel_users.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
    op.drop_table("panel_users")
    op.drop_table("event_counts")
    with op.batch_alter_table("events") as batch:
        for name in ("ix_events_subject", "ix_events_message_id", "ix_events_queue_id", "ix_events_message_ref"):
            batch.drop_index(name)
        batch.drop_constraint("fk_events_report_id", type_="foreignkey")
        for column in ("report_id", "message_id", "queue_id", "message_ref"):
            batch.drop_column(column)
    op.drop_table("reports")
