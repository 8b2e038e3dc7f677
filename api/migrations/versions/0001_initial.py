"""The schema gridplan created before migrations: plans, versions, jobs, uploads, shapes.

Revision ID: 0001
Revises:
Create Date: 2026-12-01

A database made by that code (``metadata.create_all``) is stamped with this
revision when first opened, then upgraded.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

POSTGIS_SHAPES = """
CREATE TABLE gp_district_shapes (
    plan_id varchar(64) NOT NULL,
    version integer NOT NULL,
    district integer NOT NULL,
    properties text NOT NULL,
    geom geometry(Geometry, 4326) NOT NULL,
    PRIMARY KEY (plan_id, version, district)
);
CREATE INDEX gp_district_shapes_geom ON gp_district_shapes USING gist (geom);
"""


def _has_postgis() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    found = bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").first()
    return found is not None


def upgrade() -> None:
    op.create_table(
        "gp_plans",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("k", sa.Integer, nullable=False),
        sa.Column("tolerance", sa.Float, nullable=False),
        sa.Column("nest", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("redo", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "gp_plan_versions",
        sa.Column("plan_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("content_of", sa.Integer, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("moved", sa.Integer, nullable=False),
        sa.Column("assignment", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "gp_jobs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "gp_uploads",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("stored", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    if _has_postgis():
        op.execute(POSTGIS_SHAPES)
    else:
        op.create_table(
            "gp_district_shapes",
            sa.Column("plan_id", sa.String(64), primary_key=True),
            sa.Column("version", sa.Integer, primary_key=True),
            sa.Column("district", sa.Integer, primary_key=True),
            sa.Column("properties", sa.Text, nullable=False),
            sa.Column("geom", sa.Text, nullable=False),
        )


def downgrade() -> None:
    for table in ("gp_district_shapes", "gp_uploads", "gp_jobs", "gp_plan_versions", "gp_plans"):
        op.drop_table(table)
