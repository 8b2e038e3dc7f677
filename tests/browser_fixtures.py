"""A small synthetic build folder, shaped like ``gridplan build`` + districts + coverage output.

Used by the report tests, the browser tests and ``benchmarks/bench_map.py``
(which asks for thousands of grids).  The town is a lattice of square grids
in central Nanjing; every grid holds one building, streets run along the grid
edges, and districts are vertical stripes of columns.  Everything is seeded,
so two calls with the same arguments write the same files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from tests.waiting import wait_until

#: South-west corner of the synthetic town (Xinjiekou, Nanjing), degrees.
ORIGIN = (118.770, 32.030)
ADMIN = "320102"  # Xuanwu district, Nanjing
SUB_DISTRICT = "003"


def _deg(cell_m: float) -> tuple[float, float]:
    """Degrees of longitude and latitude for ``cell_m`` metres at the origin."""
    dlat = cell_m / 111_320.0
    dlon = cell_m / (111_320.0 * math.cos(math.radians(ORIGIN[1])))
    return dlon, dlat


def _square(x0: float, y0: float, dx: float, dy: float) -> list[list[list[float]]]:
    """A counter-clockwise square ring (RFC 7946 exterior)."""
    ring = [[x0, y0], [x0 + dx, y0], [x0 + dx, y0 + dy], [x0, y0 + dy], [x0, y0]]
    return [[[round(x, 7), round(y, 7)] for x, y in ring]]


def _fc(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def _write(folder: Path, name: str, payload: object) -> None:
    (folder / name).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")


def make_build_dir(
    folder: str | Path,
    *,
    nx: int = 8,
    ny: int = 6,
    k: int = 4,
    cell_m: float = 150.0,
    seed: int = 6,
    language: str = "zh",
) -> Path:
    """Write a synthetic build folder with ``nx * ny`` grids in ``k`` districts.

    Parameters
    ----------
    folder
        Where to write; created if missing.
    nx, ny
        Grid columns (west to east) and rows (south to north).
    k
        Number of districts (vertical stripes of columns).
    cell_m
        Grid side in metres.
    seed
        Seed of the population draw.
    language
        ``build.json`` language, ``"zh"`` or ``"en"``.

    Returns
    -------
    Path
        ``folder``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    dlon, dlat = _deg(cell_m)
    n_comm_cols = max(1, nx // 4)
    grids, buildings, plan_rows, streets = [], [], [], []
    district_of: dict[str, int] = {}
    seq: dict[str, int] = {}
    cells: dict[tuple[int, int], str] = {}
    # Codes: numbered west -> east, north -> south inside each community.
    for row in range(ny - 1, -1, -1):
        for col in range(nx):
            community = f"{ADMIN}{SUB_DISTRICT}{1 + col // 4 + (row // 4) * n_comm_cols:03d}"
            seq[community] = seq.get(community, 0) + 1
            code = f"{community}{seq[community]:03d}"
            cells[(col, row)] = code
    for (col, row), code in sorted(cells.items(), key=lambda kv: kv[1]):
        x0, y0 = ORIGIN[0] + col * dlon, ORIGIN[1] + row * dlat
        households = int(rng.integers(250, 450))
        population = round(households * 2.6)
        grids.append(
            {
                "type": "Feature",
                "properties": {
                    "code": code,
                    "community": code[:12],
                    "households": households,
                    "population": population,
                    "area_m2": round(cell_m * cell_m, 1),
                },
                "geometry": {"type": "Polygon", "coordinates": _square(x0, y0, dlon, dlat)},
            }
        )
        district = 1 + col * k // nx
        district_of[code] = district
        plan_rows.append(f"{code},{district}")
        walk = float(rng.uniform(60, 1200)) if (col + row) % 7 else None
        buildings.append(
            {
                "type": "Feature",
                "properties": {
                    "id": f"b{code[-6:]}",
                    "grid": code,
                    "households": households,
                    "population": population,
                    "walk_s": None if walk is None else round(walk, 1),
                    "walk2_s": None if walk is None else round(walk * 1.4, 1),
                    "service": None if walk is None else ("p0" if col < nx / 2 else "p1"),
                },
                "geometry": {
                    "type": "Polygon",
                    "coordinates": _square(
                        x0 + 0.3 * dlon, y0 + 0.3 * dlat, 0.4 * dlon, 0.4 * dlat
                    ),
                },
            }
        )
    for col in range(nx + 1):
        x = ORIGIN[0] + col * dlon
        streets.append(_line([[x, ORIGIN[1]], [x, ORIGIN[1] + ny * dlat]], col))
    for row in range(ny + 1):
        y = ORIGIN[1] + row * dlat
        streets.append(_line([[ORIGIN[0], y], [ORIGIN[0] + nx * dlon, y]], row))
    communities = []
    for code in sorted({g["properties"]["community"] for g in grids}):
        members = [(c, r) for (c, r), g in cells.items() if g[:12] == code]
        cmin, cmax = min(c for c, _ in members), max(c for c, _ in members)
        rmin, rmax = min(r for _, r in members), max(r for _, r in members)
        communities.append(
            {
                "type": "Feature",
                "properties": {"code": code, "name": f"社区{code[-3:]}"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": _square(
                        ORIGIN[0] + cmin * dlon,
                        ORIGIN[1] + rmin * dlat,
                        (cmax - cmin + 1) * dlon,
                        (rmax - rmin + 1) * dlat,
                    ),
                },
            }
        )
    sites_xy = [(0.25, 0.5), (0.75, 0.5)]
    pois = [
        {
            "type": "Feature",
            "properties": {"id": f"p{i}", "kind": "community_centre", "name": f"服务站{i + 1}"},
            "geometry": {
                "type": "Point",
                "coordinates": [
                    round(ORIGIN[0] + fx * nx * dlon, 7),
                    round(ORIGIN[1] + fy * ny * dlat, 7),
                ],
            },
        }
        for i, (fx, fy) in enumerate(sites_xy)
    ]
    _write(folder, "grids.geojson", _fc(grids))
    _write(folder, "buildings.geojson", _fc(buildings))
    _write(folder, "communities.geojson", _fc(communities))
    _write(folder, "streets.geojson", _fc(streets))
    _write(folder, "pois.geojson", _fc(pois))
    (folder / "plan.csv").write_text(
        "grid,district\n" + "\n".join(plan_rows) + "\n", encoding="utf-8"
    )
    _write(folder, "districts.geojson", _districts(grids, district_of, k, dlon, dlat, nx, ny))
    _write_coverage(folder, buildings, pois, district_of, dlon, dlat, nx, ny)
    _write(
        folder,
        "build.json",
        {
            "name": "合成小镇" if language == "zh" else "Synthetic town",
            "language": language,
            "crs": "EPSG:32650",
            "grids": len(grids),
            "buildings": len(buildings),
        },
    )
    return folder


def _line(coords: list[list[float]], i: int) -> dict:
    return {
        "type": "Feature",
        "properties": {"highway": "primary" if i % 4 == 0 else "residential"},
        "geometry": {
            "type": "LineString",
            "coordinates": [[round(x, 7), round(y, 7)] for x, y in coords],
        },
    }


def _districts(
    grids: list[dict],
    district_of: dict[str, int],
    k: int,
    dlon: float,
    dlat: float,
    nx: int,
    ny: int,
) -> dict:
    pop = {d: 0 for d in range(1, k + 1)}
    hh = dict(pop)
    for g in grids:
        d = district_of[g["properties"]["code"]]
        pop[d] += g["properties"]["population"]
        hh[d] += g["properties"]["households"]
    ideal = sum(pop.values()) / k
    features = []
    for d in range(1, k + 1):
        cols = [c for c in range(nx) if 1 + c * k // nx == d]
        x0 = ORIGIN[0] + cols[0] * dlon
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "district": d,
                    "population": pop[d],
                    "households": hh[d],
                    "area_m2": 0.0,
                    "deviation": round(pop[d] / ideal - 1, 4),
                    "polsby_popper": 0.7,
                    "contiguous": True,
                },
                "geometry": {
                    "type": "Polygon",
                    "coordinates": _square(x0, ORIGIN[1], len(cols) * dlon, ny * dlat),
                },
            }
        )
    return _fc(features)


def _write_coverage(
    folder: Path,
    buildings: list[dict],
    pois: list[dict],
    district_of: dict[str, int],
    dlon: float,
    dlat: float,
    nx: int,
    ny: int,
) -> None:
    """Write isochrones, gaps, sites and coverage.json for the synthetic town."""
    isochrones = []
    for minutes, radius_m in ((15, 1000.0), (10, 500.0), (5, 300.0)):
        for p in pois:
            cx, cy = p["geometry"]["coordinates"]
            rx, ry = radius_m / 150.0 * dlon, radius_m / 150.0 * dlat
            ring = [
                [
                    round(cx + rx * math.cos(t * math.pi / 12), 7),
                    round(cy + ry * math.sin(t * math.pi / 12), 7),
                ]
                for t in range(24)
            ]
            ring.append(ring[0])
            isochrones.append(
                {
                    "type": "Feature",
                    "properties": {"minutes": minutes, "site": p["properties"]["id"]},
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            )
    gaps = [b for b in buildings if b["properties"]["walk_s"] is None]
    gap_features = [
        {
            "type": "Feature",
            "properties": {"grid": b["properties"]["grid"]},
            "geometry": b["geometry"],
        }
        for b in gaps
    ]
    sites = [
        {
            "type": "Feature",
            "properties": {"rank": 1, "covered_households": 900},
            "geometry": {
                "type": "Point",
                "coordinates": [
                    round(ORIGIN[0] + 0.5 * nx * dlon, 7),
                    round(ORIGIN[1] + 0.9 * ny * dlat, 7),
                ],
            },
        }
    ]
    _write(folder, "isochrones.geojson", _fc(isochrones))
    _write(folder, "gaps.geojson", _fc(gap_features))
    _write(folder, "sites.geojson", _fc(sites))
    # coverage.json in the shape gis.coverage writes: profiles -> area / district tallies
    radii = {5: 300.0, 10: 600.0, 15: 900.0}

    def tally(rows: list[dict]) -> dict:
        out: dict = {
            q: float(sum(b["properties"][q] for b in rows)) for q in ("population", "households")
        }
        out["buildings"] = float(len(rows))
        out["within"] = {}
        for m, limit in radii.items():
            near = [
                b
                for b in rows
                if b["properties"]["walk_s"] is not None and b["properties"]["walk_s"] <= limit
            ]
            w: dict = {}
            for q in ("population", "households", "buildings"):
                part = (
                    float(len(near))
                    if q == "buildings"
                    else float(sum(b["properties"][q] for b in near))
                )
                w[q] = part
                w[f"{q}_share"] = round(part / out[q], 4) if out[q] else None
            out["within"][str(m)] = w
        return out

    by_district: dict[str, list[dict]] = {}
    for b in buildings:
        by_district.setdefault(str(district_of[b["properties"]["grid"]]), []).append(b)
    _write(
        folder,
        "coverage.json",
        {
            "mode": "network",
            "minutes": [5, 10, 15],
            "profiles": {
                "adult": {
                    "speed_m_s": 1.25,
                    "distance_m": {str(m): r * 1.25 for m, r in radii.items()},
                    "area": tally(buildings),
                    "district": {d: tally(rows) for d, rows in sorted(by_district.items())},
                }
            },
            "services": {"count": len(pois), "ids": [p["properties"]["id"] for p in pois]},
            "warnings": [],
        },
    )


# --------------------------------------------------------------------------- server and browser
#: Chromium flags: no sandbox (containers), and nothing that phones home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHROMIUM = "/usr/bin/chromium"


class LiveServer:
    """The real gridplan app under uvicorn on 127.0.0.1, in a background thread.

    Parameters
    ----------
    folder
        Build folder to serve.
    token
        Planner token; the page URL carries it.
    settings
        More :class:`api.settings.Settings` fields; ``{base}`` in a string
        value becomes the server's address (e.g. a loopback tile URL).
    """

    def __init__(
        self,
        folder: Path,
        *,
        token: str = "planner-token-for-tests",
        settings: dict[str, Any] | None = None,
    ) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.folder = Path(folder)
        self.token = token
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/?token={token}"
        self.settings = {
            k: v.replace("{base}", self.base) if isinstance(v, str) else v
            for k, v in (settings or {}).items()
        }
        self._server = None
        self._thread = None

    def __enter__(self) -> LiveServer:
        import threading

        import uvicorn

        from api.main import create_app
        from api.settings import Settings

        app = create_app(Settings(data_dir=self.folder, planner_tokens=self.token, **self.settings))
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        server, thread = self._server, self._thread
        wait_until(lambda: server.started or not thread.is_alive(), what="the gridplan server")
        if not server.started:
            raise RuntimeError("the gridplan server did not start")
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def open_page(
    browser: Any,
    url: str,
    requests: list[str],
    *,
    width: int = 1280,
    height: int = 800,
    timeout: int = 60_000,
) -> tuple[Any, Any]:
    """A new browser context and page on ``url``, ready; every request URL goes to ``requests``.

    The page's script errors are kept in ``page.errors`` (callers assert it stays empty).
    """
    context = browser.new_context(viewport={"width": width, "height": height})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(url)
    pg.wait_for_function("document.body.dataset.ready", timeout=timeout)
    assert pg.evaluate("document.body.dataset.ready") == "1", errors
    pg.errors = errors
    return context, pg
