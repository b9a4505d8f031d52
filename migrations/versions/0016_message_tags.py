"""tags and metadata an app attaches to a message, kept with the milter's record of it

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accepted_messages") as batch:
        batch.add_column(sa.Column("tags", sa.String(700), nullable=False, server_default=""))
        batch.add_column(sa.Column("metadata_json", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("accepted_messages") as batch:
        batch.drop_column("metadata_json")
        batch.drop_column("tags")
