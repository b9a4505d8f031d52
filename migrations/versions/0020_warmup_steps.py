"""warm-up that advances on the address's feedback, not on the date alone

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pool_ips") as batch:
        batch.add_column(sa.Column("warmup_step", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("warmup_step_since", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("warmup_note", sa.String(255), nullable=False, server_default=""))
    # An address warming up keeps the step its days had reached.
    now = datetime.now(UTC).replace(tzinfo=None)
    pool_ips = sa.table("pool_ips", sa.column("id", sa.Integer()), sa.column("warmup_started", sa.DateTime()),
                        sa.column("warmup_step", sa.Integer()), sa.column("warmup_step_since", sa.DateTime()))
    connection = op.get_bind()
    rows = connection.execute(sa.select(pool_ips.c.id, pool_ips.c.warmup_started)
                              .where(pool_ips.c.warmup_started.is_not(None))).all()
    for row_id, started in rows:
        connection.execute(pool_ips.update().where(pool_ips.c.id == row_id).values(
            warmup_step=max(0, (now - started).days), warmup_step_since=now))


def downgrade() -> None:
    with op.batch_alter_table("pool_ips") as batch:
        batch.drop_column("warmup_note")
        batch.drop_column("warmup_step_since")
        batch.drop_column("warmup_step")
