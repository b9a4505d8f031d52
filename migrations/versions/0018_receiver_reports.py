"""DMARC aggregate and SMTP TLS reports that receivers send

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dmarc_reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("domain_id", sa.Integer(), sa.ForeignKey("sending_domains.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("org_name", sa.String(255), nullable=False),
        sa.Column("reporter_email", sa.String(255), nullable=False),
        sa.Column("report_id", sa.String(255), nullable=False),
        sa.Column("begin_at", sa.DateTime(), nullable=True),
        sa.Column("end_at", sa.DateTime(), nullable=True),
        sa.Column("policy", sa.String(255), nullable=False),
        sa.Column("signed", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("domain_id", "org_name", "report_id"),
    )
    op.create_index("ix_dmarc_reports_received_at", "dmarc_reports", ["received_at"])
    op.create_index("ix_dmarc_reports_domain_id", "dmarc_reports", ["domain_id"])
    op.create_table(
        "dmarc_report_rows",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dmarc_report_id", sa.Integer(), sa.ForeignKey("dmarc_reports.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("source_ip", sa.String(45), nullable=False),
        sa.Column("ptr", sa.String(253), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("disposition", sa.String(16), nullable=False),
        sa.Column("dkim", sa.String(16), nullable=False),
        sa.Column("spf", sa.String(16), nullable=False),
        sa.Column("header_from", sa.String(253), nullable=False),
        sa.Column("auth_results", sa.Text(), nullable=False),
    )
    op.create_index("ix_dmarc_report_rows_dmarc_report_id", "dmarc_report_rows", ["dmarc_report_id"])
    op.create_table(
        "tls_report_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=True),
        sa.Column("org_name", sa.String(255), nullable=False),
        sa.Column("report_id", sa.String(255), nullable=False),
        sa.Column("begin_at", sa.DateTime(), nullable=True),
        sa.Column("end_at", sa.DateTime(), nullable=True),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("policy_type", sa.String(32), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("failure_details", sa.JSON(), nullable=False),
        sa.Column("signed", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("org_name", "report_id", "domain", "policy_type"),
    )
    op.create_index("ix_tls_report_entries_received_at", "tls_report_entries", ["received_at"])
    op.create_index("ix_tls_report_entries_tenant_id", "tls_report_entries", ["tenant_id"])
    op.create_index("ix_tls_report_entries_domain", "tls_report_entries", ["domain"])


def downgrade() -> None:
    op.drop_table("tls_report_entries")
    op.drop_table("dmarc_report_rows")
    op.drop_table("dmarc_reports")
