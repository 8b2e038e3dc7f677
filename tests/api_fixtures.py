"""Small synthetic build folders for the API tests (no dependence on the real build)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from gis.outputs import write_geojson

ORIGIN = (118.770, 32.030)  # central Nanjing
STEP = 0.002  # degrees, about 190 × 220 m grids
PLANNER = "planner-token-0123456789"
VIEWER = "viewer-token-0123456789"


def grid_code(i: int) -> str:
    """A 15-digit grid code: admin 320102, sub-district 001, community 001/002, sequence."""
    community = 1 + (i % 2)
    return f"320102001{community:03d}{i + 1:03d}"


def make_build_dir(folder: Path, *, nx: int = 6, ny: int = 4, k: int = 4, seed: int = 0) -> Path:
    """Write grids, buildings, communities, plan.csv, coverage.json and build.json.

    Grids are ``nx × ny`` squares; the plan puts columns of grids into ``k``
    districts.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows, geoms = [], []
    for j in range(ny):
        for i in range(nx):
            n = j * nx + i
            x0, y0 = ORIGIN[0] + i * STEP, ORIGIN[1] + j * STEP
            households = int(rng.integers(200, 500))
            rows.append(
                {
                    "code": grid_code(n),
                    "community": grid_code(n)[:12],
                    "households": households,
                    "population": round(households * 2.6, 1),
                    "area_m2": 40000.0,
                }
            )
            geoms.append(shapely.box(x0, y0, x0 + STEP, y0 + STEP))
    grids = gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")
    write_geojson(grids, folder / "grids.geojson")

    b_rows, b_geoms = [], []
    for n, (row, geom) in enumerate(zip(rows, geoms, strict=True)):
        for b in range(3):
            cx = geom.bounds[0] + STEP * (0.2 + 0.3 * b)
            cy = geom.bounds[1] + STEP * 0.5
            b_rows.append(
                {
                    "id": f"w{n * 10 + b}",
                    "grid": row["code"],
                    "community": row["community"],
                    "households": row["households"] // 3,
                    "population": row["population"] / 3,
                    "walk_s": float(60 * (b + 1)),
                }
            )
            b_geoms.append(shapely.box(cx, cy, cx + STEP * 0.1, cy + STEP * 0.1))
    write_geojson(
        gpd.GeoDataFrame(b_rows, geometry=b_geoms, crs="EPSG:4326"), folder / "buildings.geojson"
    )

    communities = grids.dissolve(by="community").reset_index()[["community", "geometry"]]
    communities = communities.rename(columns={"community": "code"})
    communities["name"] = ["社区一", "社区二"][: len(communities)]
    write_geojson(communities, folder / "communities.geojson")

    with (folder / "plan.csv").open("w") as fh:
        fh.write("grid,district\n")
        for n, row in enumerate(rows):
            fh.write(f"{row['code']},{1 + (n % nx) * k // nx}\n")
    (folder / "coverage.json").write_text(json.dumps({"households": 1000, "covered_share": 0.9}))
    bbox = [ORIGIN[0], ORIGIN[1], ORIGIN[0] + nx * STEP, ORIGIN[1] + ny * STEP]
    (folder / "build.json").write_text(
        json.dumps(
            {
                "name": "Synthetic town",
                "language": "zh",
                "crs": "EPSG:32650",
                "admin_code": "320102",
                "bbox": bbox,
            }
        )
    )
    return folder


# -- pytest fixtures (import them into a test module) --------------------------

import os  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402

PLANNER_HEADERS = {"Authorization": f"Bearer {PLANNER}"}
VIEWER_HEADERS = {"Authorization": f"Bearer {VIEWER}"}


def reset_postgres(url: str) -> None:
    """Drop the API's tables so that each test starts from an empty database."""
    import sqlalchemy as sa

    from api.store import metadata

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        metadata.drop_all(conn)
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None (SQLite in the build folder) or the local PostGIS, emptied."""
    if request.param == "sqlite":
        yield None
        return
    url = request.getfixturevalue("postgis_url")
    reset_postgres(url)
    yield url


@pytest.fixture
def build_dir(tmp_path: Path) -> Path:
    """A synthetic 6 × 4 grid build folder with a 4-district plan."""
    return make_build_dir(tmp_path / "build")


@pytest.fixture
def settings(build_dir: Path, database_url: str | None):
    """Settings with one planner and one viewer token."""
    from api.settings import Settings

    return Settings(
        data_dir=build_dir,
        database_url=database_url,
        planner_tokens=PLANNER,
        viewer_tokens=VIEWER,
        max_upload_bytes=200_000,
        max_body_bytes=300_000,
    )


@pytest.fixture
def client(settings):
    """A TestClient over a fresh app."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    with TestClient(create_app(settings)) as c:
        yield c


def env_for(build_dir: Path, database_url: str | None) -> dict[str, str]:
    """Environment for a subprocess server over ``build_dir``."""
    env = {
        **os.environ,
        "GRIDPLAN_DATA_DIR": str(build_dir),
        "GRIDPLAN_PLANNER_TOKENS": PLANNER,
        "GRIDPLAN_VIEWER_TOKENS": VIEWER,
    }
    if database_url:
        env["GRIDPLAN_DATABASE_URL"] = database_url
    else:
        env.pop("GRIDPLAN_DATABASE_URL", None)
    return env


# -- a real server on loopback ------------------------------------------------

import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from contextlib import contextmanager  # noqa: E402

import httpx  # noqa: E402

from tests.waiting import wait_until  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(build: Path, url: str | None) -> Iterator[tuple[str, subprocess.Popen]]:
    """uvicorn with the app factory on a random loopback port."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "api.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env_for(build, url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "server exited")
        return httpx.get(f"{base}/conformance", timeout=1).status_code == 200

    try:
        wait_until(up, what="the server to answer", ignoring=(httpx.TransportError,))
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)
