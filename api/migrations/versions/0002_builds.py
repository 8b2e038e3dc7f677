"""Rebuilds of the served folder (``POST /builds``) and a job-status index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gp_builds",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("job_id", sa.String(64), nullable=True),
        sa.Column("report", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_index("gp_jobs_status", "gp_jobs", ["status"])


def downgrade() -> None:
    op.drop_index("gp_jobs_status", table_name="gp_jobs")
    op.drop_table("gp_builds")
