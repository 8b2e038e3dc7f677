"""Plans, versions, jobs and uploads in one database: the API's data-access layer.

SQLite (a file in the build folder, WAL journal, ``synchronous=FULL``) by
default; PostgreSQL with PostGIS when a URL is given.  Both go through the
same SQLAlchemy Core statements.

The schema is migrated with Alembic when a store opens the database
(:func:`migrate`, scripts in ``api/migrations``): a newer gridplan opens an
older database, also one made before migrations existed.

Optimistic concurrency: a plan row carries its current ``version``; a change
is one transaction that runs ``UPDATE plans SET version = n + 1 ... WHERE
id = :id AND version = :n`` and inserts version ``n + 1``.  Only one writer
can move a plan from ``n``; the other gets :class:`gis._errors.ConflictError`
with the current version, even across processes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gis._errors import ConflictError, UnknownIdError

metadata = sa.MetaData()

plans = sa.Table(
    "gp_plans",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("k", sa.Integer, nullable=False),
    sa.Column("tolerance", sa.Float, nullable=False),
    sa.Column("nest", sa.Boolean, nullable=False, default=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("redo", sa.Text, nullable=False, default="[]"),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

versions = sa.Table(
    "gp_plan_versions",
    metadata,
    sa.Column("plan_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("content_of", sa.Integer, nullable=False),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("moved", sa.Integer, nullable=False, default=0),
    sa.Column("assignment", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)

jobs = sa.Table(
    "gp_jobs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("progress", sa.Float, nullable=False, default=0.0),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
    sa.Index("gp_jobs_status", "status"),
)

uploads = sa.Table(
    "gp_uploads",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("stored", sa.String(200), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)


builds = sa.Table(
    "gp_builds",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("job_id", sa.String(64), nullable=True),
    sa.Column("report", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)


#: District polygons of each plan version: a PostGIS ``geometry(Geometry, 4326)``
#: column on PostgreSQL (created by the first migration), GeoJSON text on SQLite.
district_shapes = sa.Table(
    "gp_district_shapes",
    metadata,
    sa.Column("plan_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("district", sa.Integer, primary_key=True),
    sa.Column("properties", sa.Text, nullable=False),
    sa.Column("geom", sa.Text, nullable=False),
)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: The newest revision in :data:`MIGRATIONS` (a test keeps the two in step).
HEAD_REVISION = "0002"
#: The tables of the schema gridplan created before migrations (revision 0001).
LEGACY_TABLES = {"gp_plans", "gp_plan_versions", "gp_jobs", "gp_uploads", "gp_district_shapes"}


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema (Alembic), in one transaction.

    An empty database gets every table; one made before migrations existed
    (the tables of revision 0001, no ``alembic_version``) is stamped 0001
    first, then upgraded, so a newer gridplan opens an older database.
    A database already at :data:`HEAD_REVISION` is left as it is, and a new
    SQLite database is made from :data:`metadata`, both without loading
    Alembic (about a second of start-up).
    """
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        if "alembic_version" in tables:
            current = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            if current == HEAD_REVISION:
                return
    if not tables and engine.dialect.name == "sqlite":
        _create_newest(engine)
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # one process migrates at a time
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7310)")
        config.attributes["connection"] = conn
        tables = set(sa.inspect(conn).get_table_names())
        if "alembic_version" not in tables and tables >= LEGACY_TABLES:
            command.stamp(config, "0001")
        command.upgrade(config, "head")


def _create_newest(engine: Engine) -> None:
    """A new SQLite database: the newest schema from :data:`metadata`, stamped at the head.

    Same tables as the migrations make (a test compares them), without
    loading Alembic, so that a first start is quick.
    """
    with engine.begin() as conn:
        if sa.inspect(conn).get_table_names():  # another process made it meanwhile
            return
        metadata.create_all(conn)
        conn.exec_driver_sql(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
            "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
        )
        conn.exec_driver_sql(f"INSERT INTO alembic_version VALUES ('{HEAD_REVISION}')")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class PlanRow:
    """A plan's head: its current ``version`` is its ETag."""

    id: str
    name: str
    k: int
    tolerance: float
    nest: bool
    version: int
    redo: list[int]
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class VersionRow:
    """One immutable version of a plan."""

    plan_id: str
    version: int
    kind: str
    content_of: int
    message: str
    moved: int
    created_at: str
    assignment: dict[str, int] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class JobRow:
    """A long computation and how far it got."""

    id: str
    kind: str
    status: str
    progress: float
    message: str
    result: dict[str, Any] | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Change:
    """A new version of a plan, as a plan change (edit, undo, redo, suggestion) makes it.

    ``redo`` is the plan's redo stack after the change (None: cleared, as any
    new edit does); ``content_of`` the version whose content this one repeats
    (None: this version itself); ``name`` renames the plan when given.
    """

    kind: str
    assignment: Mapping[str, int]
    message: str = ""
    moved: int = 0
    content_of: int | None = None
    redo: list[int] | None = None
    name: str | None = None


#: A version of the plan being changed, read in the change's own transaction.
VersionLookup = Callable[[int], "VersionRow"]
#: Makes the change from the plan's head row and head version (and a lookup of older versions).
MakeChange = Callable[[PlanRow, "VersionRow", VersionLookup], Change]


def stale_error(plan_id: str, current: int, expected: int) -> ConflictError:
    """The one error of a write based on a version that is no longer the head (HTTP 412)."""
    return ConflictError(
        f"plan {plan_id!r} is at version {current}, not {expected}: reload it, "
        f'apply your change again and send it with If-Match: "{current}"',
        current=current,
    )


def _no_plan(plan_id: str) -> UnknownIdError:
    return UnknownIdError(f"no plan {plan_id!r}: GET /plans lists the plans")


def _plan(row: Any) -> PlanRow:
    m = row._mapping
    return PlanRow(
        id=m["id"],
        name=m["name"],
        k=m["k"],
        tolerance=m["tolerance"],
        nest=bool(m["nest"]),
        version=m["version"],
        redo=orjson.loads(m["redo"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _version(row: Any, *, with_assignment: bool) -> VersionRow:
    return _version_from(row._mapping, with_assignment=with_assignment)


def _version_from(m: Mapping[str, Any], *, with_assignment: bool) -> VersionRow:
    return VersionRow(
        plan_id=m["plan_id"],
        version=m["version"],
        kind=m["kind"],
        content_of=m["content_of"],
        message=m["message"],
        moved=m["moved"],
        created_at=m["created_at"],
        assignment=orjson.loads(m["assignment"]) if with_assignment else None,
    )


def _job(row: Any) -> JobRow:
    m = row._mapping
    return JobRow(
        id=m["id"],
        kind=m["kind"],
        status=m["status"],
        progress=m["progress"],
        message=m["message"],
        result=orjson.loads(m["result"]) if m["result"] else None,
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _plan_in(conn: Connection, plan_id: str, *, for_update: bool = False) -> PlanRow:
    query = sa.select(plans).where(plans.c.id == plan_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise _no_plan(plan_id)
    return _plan(row)


def _version_in(conn: Connection, plan_id: str, version: int) -> VersionRow:
    row = conn.execute(
        sa.select(versions).where(versions.c.plan_id == plan_id, versions.c.version == version)
    ).first()
    if row is None:
        _plan_in(conn, plan_id)  # unknown plan → its own message
        raise UnknownIdError(f"plan {plan_id!r} has no version {version}")
    return _version(row, with_assignment=True)


def _insert_version(conn: Connection, plan_id: str, version: int, change: Change, now: str) -> None:
    conn.execute(
        versions.insert().values(
            plan_id=plan_id,
            version=version,
            kind=change.kind,
            content_of=version if change.content_of is None else change.content_of,
            message=change.message,
            moved=change.moved,
            assignment=orjson.dumps(dict(change.assignment)).decode(),
            created_at=now,
        )
    )


def _make_engines(url: str) -> tuple[Engine, Engine]:
    """A reading and a writing engine; for SQLite the writer begins IMMEDIATE."""
    if not url.startswith("sqlite"):
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        return engine, engine

    def sqlite_engine(*, immediate: bool) -> Engine:
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=8
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    return sqlite_engine(immediate=False), sqlite_engine(immediate=True)


class Store:
    """The API's database: plans with versions, jobs and uploads.

    Parameters
    ----------
    url
        SQLAlchemy URL: ``sqlite:///path.db`` or ``postgresql+psycopg://...``.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.backend = "sqlite" if url.startswith("sqlite") else "postgresql"
        self._read, self._write = _make_engines(url)
        self.postgis_version = self._postgis_version()
        migrate(self._write)

    def _postgis_version(self) -> str | None:
        if self.backend != "postgresql":
            return None
        with self._write.begin() as conn:
            try:
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
            except sa.exc.DBAPIError:  # no privilege: use it if already there
                conn.rollback()
            row = conn.exec_driver_sql(
                "SELECT extversion FROM pg_extension WHERE extname = 'postgis'"
            ).first()
        return row[0] if row else None

    def close(self) -> None:
        """Release every connection."""
        self._read.dispose()
        if self._write is not self._read:
            self._write.dispose()

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._read.connect() as conn:
            yield conn

    # -- plans ---------------------------------------------------------------

    def create_plan(
        self,
        *,
        plan_id: str,
        name: str,
        k: int,
        tolerance: float,
        nest: bool,
        assignment: Mapping[str, int],
        message: str = "created",
    ) -> PlanRow:
        """Store a new plan at version 1; an existing id is a conflict."""
        now = _now()
        try:
            with self._write.begin() as conn:
                conn.execute(
                    plans.insert().values(
                        id=plan_id,
                        name=name,
                        k=k,
                        tolerance=tolerance,
                        nest=nest,
                        version=1,
                        redo="[]",
                        created_at=now,
                        updated_at=now,
                    )
                )
                _insert_version(conn, plan_id, 1, Change("create", assignment, message), now)
                return _plan_in(conn, plan_id)
        except sa.exc.IntegrityError as exc:
            raise ConflictError(f"plan {plan_id!r} already exists", current=None) from exc

    def get_plan(self, plan_id: str) -> PlanRow:
        """The plan's head row."""
        with self._reading() as conn:
            return _plan_in(conn, plan_id)

    def list_plans(self) -> list[PlanRow]:
        """Every plan, oldest first."""
        with self._reading() as conn:
            rows = conn.execute(sa.select(plans).order_by(plans.c.created_at, plans.c.id)).all()
        return [_plan(r) for r in rows]

    def list_heads(self) -> list[tuple[PlanRow, VersionRow]]:
        """Every plan with its head version (and assignment), oldest first, in one read."""
        query = (
            sa.select(plans, *[c.label(f"v_{c.name}") for c in versions.c])
            .join(
                versions,
                sa.and_(versions.c.plan_id == plans.c.id, versions.c.version == plans.c.version),
            )
            .order_by(plans.c.created_at, plans.c.id)
        )
        with self._reading() as conn:
            rows = conn.execute(query).all()
        out = []
        for row in rows:
            m = row._mapping
            head = {c.name: m[f"v_{c.name}"] for c in versions.c}
            out.append((_plan(row), _version_from(head, with_assignment=True)))
        return out

    def get_version(self, plan_id: str, version: int | None = None) -> VersionRow:
        """One version with its assignment (the head when ``version`` is None)."""
        with self._reading() as conn:
            if version is None:
                version = _plan_in(conn, plan_id).version
            return _version_in(conn, plan_id, version)

    def get_head(self, plan_id: str) -> tuple[PlanRow, VersionRow]:
        """The plan and its head version, read together."""
        with self._reading() as conn:
            plan = _plan_in(conn, plan_id)
            return plan, _version_in(conn, plan_id, plan.version)

    def list_versions(self, plan_id: str) -> list[VersionRow]:
        """The history of a plan, oldest first, without assignments."""
        cols = [c for c in versions.c if c.name != "assignment"]
        with self._reading() as conn:
            _plan_in(conn, plan_id)
            rows = conn.execute(
                sa.select(*cols).where(versions.c.plan_id == plan_id).order_by(versions.c.version)
            ).all()
        return [_version(r, with_assignment=False) for r in rows]

    def change_plan(
        self, plan_id: str, *, expected: int | None, make: MakeChange
    ) -> tuple[PlanRow, VersionRow]:
        """Make and store version ``expected + 1`` in one write transaction.

        The transaction reads the plan's head (refusing a stale ``expected``;
        None accepts any head, as ``If-Match: *`` does), calls ``make`` with it,
        stores the change and reads the new head back.

        Raises
        ------
        ConflictError
            The plan moved on; ``.current`` holds its version.
        UnknownIdError
            No such plan (or version, from the lookup).
        """
        now = _now()
        with self._write.begin() as conn:
            plan = _plan_in(conn, plan_id, for_update=self.backend == "postgresql")
            if expected is None:
                expected = plan.version
            if plan.version != expected:
                raise stale_error(plan_id, plan.version, expected)
            head = _version_in(conn, plan_id, plan.version)
            change = make(plan, head, lambda v: _version_in(conn, plan_id, v))
            new = expected + 1
            values: dict[str, Any] = {
                "version": new,
                "redo": orjson.dumps(change.redo or []).decode(),
                "updated_at": now,
            }
            if change.name is not None:
                values["name"] = change.name
            result = conn.execute(
                plans.update()
                .where(plans.c.id == plan_id, plans.c.version == expected)
                .values(**values)
            )
            if result.rowcount != 1:  # pragma: no cover - the head was read in this transaction
                raise stale_error(plan_id, _plan_in(conn, plan_id).version, expected)
            _insert_version(conn, plan_id, new, change, now)
            return _plan_in(conn, plan_id), _version_in(conn, plan_id, new)

    def commit_version(
        self,
        plan_id: str,
        *,
        expected: int,
        kind: str,
        assignment: Mapping[str, int],
        content_of: int | None = None,
        redo: list[int] | None = None,
        message: str = "",
        moved: int = 0,
        name: str | None = None,
    ) -> PlanRow:
        """Add version ``expected + 1`` holding ``assignment`` if the plan is still at ``expected``.

        Raises
        ------
        ConflictError
            The plan moved on; ``.current`` holds its version.
        UnknownIdError
            No such plan.
        """
        change = Change(kind, assignment, message, moved, content_of, redo, name)
        return self.change_plan(plan_id, expected=expected, make=lambda *_: change)[0]

    def delete_plan(self, plan_id: str, *, expected: int | None) -> None:
        """Delete a plan and its history if it is still at ``expected`` (None: any version)."""
        with self._write.begin() as conn:
            plan = _plan_in(conn, plan_id, for_update=self.backend == "postgresql")
            if expected is not None and plan.version != expected:
                raise stale_error(plan_id, plan.version, expected)
            conn.execute(plans.delete().where(plans.c.id == plan_id))
            conn.execute(versions.delete().where(versions.c.plan_id == plan_id))
            conn.execute(district_shapes.delete().where(district_shapes.c.plan_id == plan_id))

    # -- district shapes ------------------------------------------------------

    def put_district_shapes(
        self, plan_id: str, version: int, rows: list[tuple[int, dict[str, Any], str]]
    ) -> None:
        """Keep the district polygons of a version: ``(district, properties, GeoJSON geometry)``.

        On PostGIS the geometry goes into a ``geometry(Geometry, 4326)`` column
        (so GIS clients can read plans from the database); another process
        storing the same version first is not an error.
        """
        geom = (
            (lambda text: sa.func.ST_SetSRID(sa.func.ST_GeomFromGeoJSON(text), 4326))
            if self.postgis_version
            else (lambda text: text)
        )
        try:
            with self._write.begin() as conn:
                for district, props, geojson in rows:
                    conn.execute(
                        district_shapes.insert().values(
                            plan_id=plan_id,
                            version=version,
                            district=district,
                            properties=orjson.dumps(
                                props, option=orjson.OPT_SERIALIZE_NUMPY
                            ).decode(),
                            geom=geom(geojson),
                        )
                    )
        except sa.exc.IntegrityError:
            pass

    def get_district_shapes(
        self, plan_id: str, version: int
    ) -> list[tuple[int, dict[str, Any], str]] | None:
        """The stored district polygons of a version, or None when not stored yet."""
        geom = (
            sa.func.ST_AsGeoJSON(district_shapes.c.geom, 7)
            if self.postgis_version
            else district_shapes.c.geom
        )
        query = (
            sa.select(district_shapes.c.district, district_shapes.c.properties, geom)
            .where(district_shapes.c.plan_id == plan_id, district_shapes.c.version == version)
            .order_by(district_shapes.c.district)
        )
        with self._reading() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return None
        return [(int(d), orjson.loads(p), str(g)) for d, p, g in rows]

    # -- jobs ----------------------------------------------------------------

    def create_job(self, job_id: str, kind: str) -> JobRow:
        """Record a queued job."""
        now = _now()
        with self._write.begin() as conn:
            conn.execute(
                jobs.insert().values(
                    id=job_id,
                    kind=kind,
                    status="queued",
                    progress=0.0,
                    message="",
                    result=None,
                    created_at=now,
                    updated_at=now,
                )
            )
        return self.get_job(job_id)

    def update_job(
        self,
        job_id: str,
        *,
        status: str | None = None,
        progress: float | None = None,
        message: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        """Change what is known about a job."""
        values: dict[str, Any] = {"updated_at": _now()}
        if status is not None:
            values["status"] = status
        if progress is not None:
            values["progress"] = max(0.0, min(1.0, float(progress)))
        if message is not None:
            values["message"] = message
        if result is not None:
            values["result"] = orjson.dumps(result).decode()
        with self._write.begin() as conn:
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(**values))

    def get_job(self, job_id: str) -> JobRow:
        """One job."""
        with self._reading() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()
        if row is None:
            raise UnknownIdError(f"no job {job_id!r}")
        return _job(row)

    def fail_unfinished_jobs(self) -> int:
        """Mark jobs left queued or running by a previous process as failed."""
        with self._write.begin() as conn:
            result = conn.execute(
                jobs.update()
                .where(jobs.c.status.in_(["queued", "running"]))
                .values(
                    status="failed",
                    message="the server stopped before this job finished: submit it again",
                    updated_at=_now(),
                )
            )
        return result.rowcount

    # -- uploads -------------------------------------------------------------

    def add_upload(self, upload_id: str, kind: str, stored: str, summary: dict[str, Any]) -> None:
        """Record a validated upload stored under a generated name."""
        with self._write.begin() as conn:
            conn.execute(
                uploads.insert().values(
                    id=upload_id,
                    kind=kind,
                    stored=stored,
                    summary=orjson.dumps(summary).decode(),
                    created_at=_now(),
                )
            )

    def list_uploads(self) -> list[dict[str, Any]]:
        """Every upload's summary, oldest first."""
        with self._reading() as conn:
            rows = conn.execute(sa.select(uploads).order_by(uploads.c.created_at)).all()
        return [
            {"id": r.id, "kind": r.kind, "created_at": r.created_at, **orjson.loads(r.summary)}
            for r in rows
        ]

    def get_upload(self, upload_id: str) -> dict[str, Any]:
        """One upload: its ``kind``, the ``stored`` file name and its summary."""
        with self._reading() as conn:
            row = conn.execute(sa.select(uploads).where(uploads.c.id == upload_id)).first()
        if row is None:
            raise UnknownIdError(f"no upload {upload_id!r}: GET /uploads lists them")
        return {"id": row.id, "kind": row.kind, "stored": row.stored, **orjson.loads(row.summary)}

    # -- builds ----------------------------------------------------------------

    def add_build(self, build_id: str, job_id: str | None, report: dict[str, Any]) -> None:
        """Record what a rebuild of the served folder changed."""
        with self._write.begin() as conn:
            conn.execute(
                builds.insert().values(
                    id=build_id,
                    job_id=job_id,
                    report=orjson.dumps(report).decode(),
                    created_at=_now(),
                )
            )

    def list_builds(self) -> list[dict[str, Any]]:
        """Every recorded rebuild, oldest first: ``id``, ``job``, ``created_at``, ``report``."""
        with self._reading() as conn:
            rows = conn.execute(sa.select(builds).order_by(builds.c.created_at)).all()
        return [
            {
                "id": r.id,
                "job": r.job_id,
                "created_at": r.created_at,
                "report": orjson.loads(r.report),
            }
            for r in rows
        ]
