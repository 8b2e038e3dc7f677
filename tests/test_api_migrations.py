"""Migrations: a newer gridplan opens a database made by an older one (SQLite and PostGIS).

The older schema is the one gridplan created before migrations existed
(``metadata.create_all`` of the five tables below, frozen here as it was);
the store opened over it stamps it, upgrades it and keeps every row.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from api.store import Store
from tests.api_fixtures import reset_postgres

OLD = sa.MetaData()
sa.Table(
    "gp_plans", OLD,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("k", sa.Integer, nullable=False),
    sa.Column("tolerance", sa.Float, nullable=False),
    sa.Column("nest", sa.Boolean, nullable=False, default=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("redo", sa.Text, nullable=False, default="[]"),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)  # fmt: skip
sa.Table(
    "gp_plan_versions", OLD,
    sa.Column("plan_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("content_of", sa.Integer, nullable=False),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("moved", sa.Integer, nullable=False, default=0),
    sa.Column("assignment", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)  # fmt: skip
sa.Table(
    "gp_jobs", OLD,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("progress", sa.Float, nullable=False, default=0.0),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)  # fmt: skip
sa.Table(
    "gp_uploads", OLD,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("stored", sa.String(200), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)  # fmt: skip
OLD_SHAPES_TEXT = sa.Table(
    "gp_district_shapes", OLD,
    sa.Column("plan_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("district", sa.Integer, primary_key=True),
    sa.Column("properties", sa.Text, nullable=False),
    sa.Column("geom", sa.Text, nullable=False),
)  # fmt: skip
OLD_POSTGIS_SHAPES = """
CREATE TABLE IF NOT EXISTS gp_district_shapes (
    plan_id varchar(64) NOT NULL, version integer NOT NULL, district integer NOT NULL,
    properties text NOT NULL, geom geometry(Geometry, 4326) NOT NULL,
    PRIMARY KEY (plan_id, version, district));
CREATE INDEX IF NOT EXISTS gp_district_shapes_geom ON gp_district_shapes USING gist (geom);
"""
SQUARE = (
    '{"type":"Polygon","coordinates":'
    "[[[118.77,32.03],[118.78,32.03],[118.78,32.04],[118.77,32.03]]]}"
)
NOW = "2026-11-01T00:00:00.000+00:00"


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    pg = request.getfixturevalue("postgis_url")
    reset_postgres(pg)
    return pg


def _old_database(url: str) -> None:
    """The schema and rows an older gridplan left: a plan at v2, a job, an upload, a shape."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        postgis = conn.dialect.name == "postgresql"
        if postgis:
            conn.exec_driver_sql(OLD_POSTGIS_SHAPES)
        OLD.create_all(conn, tables=[t for t in OLD.sorted_tables if t is not OLD_SHAPES_TEXT]
                       if postgis else None)  # fmt: skip
        t = OLD.tables
        conn.execute(t["gp_plans"].insert().values(
            id="old", name="old plan", k=2, tolerance=0.02, nest=False, version=2,
            redo="[]", created_at=NOW, updated_at=NOW))  # fmt: skip
        for v, district in ((1, 1), (2, 2)):
            assignment = orjson.dumps({"g1": district, "g2": 1}).decode()
            conn.execute(t["gp_plan_versions"].insert().values(
                plan_id="old", version=v, kind="create" if v == 1 else "edit", content_of=v,
                message="", moved=v - 1, assignment=assignment, created_at=NOW))  # fmt: skip
        conn.execute(t["gp_jobs"].insert().values(
            id="j-old", kind="districts", status="done", progress=1.0, message="done",
            result='{"plan": "old"}', created_at=NOW, updated_at=NOW))  # fmt: skip
        conn.execute(t["gp_uploads"].insert().values(
            id="u-old", kind="boundary", stored="u-old.geojson", summary='{"features": 1}',
            created_at=NOW))  # fmt: skip
        geom = sa.func.ST_GeomFromGeoJSON(SQUARE) if postgis else SQUARE
        conn.execute(t["gp_district_shapes"].insert().values(
            plan_id="old", version=2, district=1, properties="{}", geom=geom))  # fmt: skip
    engine.dispose()


def test_a_newer_gridplan_opens_an_older_database(url: str) -> None:
    _old_database(url)
    store = Store(url)  # migrates: stamps the old schema 0001, upgrades to the newest
    try:
        with store._read.connect() as conn:
            revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            tables = set(sa.inspect(conn).get_table_names())
        assert revision == "0002" and "gp_builds" in tables
        plan, head = store.get_head("old")
        assert (plan.version, head.assignment) == (2, {"g1": 2, "g2": 1})
        assert [v.version for v in store.list_versions("old")] == [1, 2]
        assert store.get_job("j-old").result == {"plan": "old"}
        assert store.get_upload("u-old")["stored"] == "u-old.geojson"
        [(district, _props, geom)] = store.get_district_shapes("old", 2) or []
        assert district == 1 and "Polygon" in geom
        store.commit_version("old", expected=2, kind="edit", assignment={"g1": 1, "g2": 1})
        store.add_build("b-1", None, {"grids_after": 2})
        assert store.list_builds()[0]["report"] == {"grids_after": 2}
    finally:
        store.close()
    again = Store(url)  # opening at the newest revision changes nothing
    assert again.get_plan("old").version == 3
    again.close()


def test_an_empty_database_gets_the_newest_schema(url: str) -> None:
    store = Store(url)
    with store._read.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0002"
    store.create_plan(plan_id="p", name="p", k=1, tolerance=0.02, nest=False, assignment={"g": 1})
    store.close()


def test_the_store_knows_the_newest_revision() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from api.store import HEAD_REVISION, MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD_REVISION]


def test_a_new_sqlite_database_has_the_schema_the_migrations_make(tmp_path: Path) -> None:
    """The quick path for a new SQLite database (no Alembic) gives the migrated schema."""
    from alembic import command
    from alembic.config import Config

    from api.store import MIGRATIONS

    quick = Store(f"sqlite:///{tmp_path / 'quick.db'}")
    quick.close()
    migrated = sa.create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with migrated.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")

    def schema(url: str) -> dict:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            out = {}
            for table in sorted(inspector.get_table_names()):
                columns = inspector.get_columns(table)
                indexes = inspector.get_indexes(table)
                out[table] = (
                    [(c["name"], str(c["type"]), c["nullable"]) for c in columns],
                    inspector.get_pk_constraint(table)["constrained_columns"],
                    sorted((i["name"], tuple(i["column_names"])) for i in indexes),
                )
            version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        engine.dispose()
        return {"tables": out, "version": version}

    assert schema(f"sqlite:///{tmp_path / 'quick.db'}") == schema(
        f"sqlite:///{tmp_path / 'migrated.db'}"
    )
