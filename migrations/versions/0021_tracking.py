"""open and click tracking per sending domain

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sending_domains") as batch:
        batch.add_column(sa.Column("track_opens", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("track_clicks", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("tracking_host_ok", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table("accepted_messages") as batch:
        batch.add_column(sa.Column("tracked_domain", sa.String(253), nullable=False, server_default=""))
        batch.add_column(sa.Column("opened_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("clicked_at", sa.DateTime(), nullable=True))
    op.create_index("ix_accepted_messages_tracked", "accepted_messages", ["tenant_id", "tracked_domain", "at"])


def downgrade() -> None:
    op.drop_index("ix_accepted_messages_tracked", "accepted_messages")
    with op.batch_alter_table("accepted_messages") as batch:
        batch.drop_column("clicked_at")
        batch.drop_column("opened_at")
        batch.drop_column("tracked_domain")
    with op.batch_alter_table("sending_domains") as batch:
        batch.drop_column("tracking_host_ok")
        batch.drop_column("track_clicks")
        batch.drop_column("track_opens")
