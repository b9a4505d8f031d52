"""one-click unsubscribe: a suppression's list, a domain's setting, and whether a message carried it

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_COPIED = "id, tenant_id, address, reason, detail, created_at"


def _suppressions(name: str, scoped: bool) -> None:
    """The table under another name; a unique (tenant, address) pair, or with the list one more."""
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=True),
        sa.Column("address", sa.String(320), nullable=False),
        *([sa.Column("list_name", sa.String(64), nullable=False, server_default="")] if scoped else []),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "address", *(["list_name"] if scoped else [])),
    )


def _replace_suppressions(scoped: bool, rows: str) -> None:
    """The unique constraint has no name to drop it by on every database: the table is made anew."""
    _suppressions("suppressions_new", scoped)
    op.execute(f"INSERT INTO suppressions_new ({_COPIED}) SELECT {_COPIED} FROM suppressions {rows}")
    op.drop_index("ix_suppressions_tenant_id", "suppressions")
    op.drop_index("ix_suppressions_address", "suppressions")
    op.drop_table("suppressions")
    op.rename_table("suppressions_new", "suppressions")
    op.create_index("ix_suppressions_tenant_id", "suppressions", ["tenant_id"])
    op.create_index("ix_suppressions_address", "suppressions", ["address"])


def upgrade() -> None:
    _replace_suppressions(True, "")
    with op.batch_alter_table("sending_domains") as batch:
        batch.add_column(sa.Column("one_click_unsubscribe", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table("accepted_messages") as batch:
        batch.add_column(sa.Column("one_click_unsubscribe", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("accepted_messages") as batch:
        batch.drop_column("one_click_unsubscribe")
    with op.batch_alter_table("sending_domains") as batch:
        batch.drop_column("one_click_unsubscribe")
    # A list's suppressions have no place without lists.
    _replace_suppressions(False, "WHERE list_name = ''")
