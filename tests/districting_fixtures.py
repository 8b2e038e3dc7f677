"""Synthetic grid sets for the districting tests and benchmarks.

Lattices of square grids with uneven population, and an irregular Voronoi
grid set standing in for "grids made elsewhere".  Everything is seeded.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.outputs import write_geojson

#: A metric CRS for synthetic data (UTM 50N, which covers Nanjing).
METRIC = "EPSG:32650"
_ORIGIN = (668_000.0, 3_548_000.0)  # near Xinjiekou, in UTM 50N metres


def _codes(n: int, communities: np.ndarray | None = None) -> list[str]:
    if communities is None:
        return [f"320106{i + 1:09d}" for i in range(n)]
    out = []
    counters: dict[int, int] = {}
    for c in communities:
        counters[c] = counters.get(c, 0) + 1
        out.append(f"320106001{c + 1:03d}{counters[c]:03d}")
    return out


def lattice(
    rows: int,
    cols: int,
    *,
    seed: int = 0,
    cell: float = 100.0,
    uneven: float = 1.0,
    communities: tuple[int, int] | None = None,
    crs: str = METRIC,
) -> gpd.GeoDataFrame:
    """A ``rows`` × ``cols`` lattice of square grids with uneven population.

    Parameters
    ----------
    rows, cols
        Lattice size.
    seed
        Seed of the population draw.
    cell
        Side of a grid in metres.
    uneven
        Spread of the log-normal population (0 gives equal populations).
    communities
        ``(rows, cols)`` blocks of grids forming communities, or ``None``.
    crs
        CRS of the result (metric by default; ``"EPSG:4326"`` for files).
    """
    rng = np.random.default_rng(seed)
    r, c = np.divmod(np.arange(rows * cols), cols)
    x0, y0 = _ORIGIN
    geoms = shapely.box(x0 + c * cell, y0 - (r + 1) * cell, x0 + (c + 1) * cell, y0 - r * cell)
    # smooth density gradient plus noise: uneven like a real town
    gradient = 1.0 + 2.0 * np.exp(-(((r / rows - 0.4) ** 2 + (c / cols - 0.6) ** 2) / 0.08))
    pop = np.round(500.0 * gradient * rng.lognormal(0.0, 0.5 * uneven, rows * cols))
    data = {"population": pop.astype(float), "households": np.round(pop / 2.6)}
    comm = None
    if communities is not None:
        br, bc = communities
        comm = (r * br // rows) * bc + (c * bc // cols)
        data["community"] = [f"320106001{x + 1:03d}" for x in comm]
    gdf = gpd.GeoDataFrame({"code": _codes(rows * cols, comm), **data}, geometry=geoms, crs=METRIC)
    return gdf.to_crs(crs) if crs != METRIC else gdf


def voronoi_grids(n: int, *, seed: int = 0, size: float = 3000.0) -> gpd.GeoDataFrame:
    """An irregular grid set: Voronoi cells of ``n`` random points, clipped to a square.

    Includes one detached island grid so that bridging is exercised.
    """
    rng = np.random.default_rng(seed)
    x0, y0 = _ORIGIN
    pts = rng.uniform(0, size, (n - 1, 2)) + np.array([x0, y0])
    frame = shapely.box(x0, y0, x0 + size, y0 + size)
    cells = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame)
    geoms = [g.intersection(frame) for g in shapely.get_parts(cells)]
    geoms = [g for g in geoms if not g.is_empty and g.area > 1.0]
    island = shapely.box(x0 + size + 200, y0 + 100, x0 + size + 400, y0 + 300)
    geoms.append(island)
    pop = np.round(rng.gamma(2.0, 400.0, len(geoms)))
    return gpd.GeoDataFrame(
        {"code": _codes(len(geoms)), "population": pop.astype(float)},
        geometry=geoms,
        crs=METRIC,
    )


def write_grids(gdf: gpd.GeoDataFrame, folder: Path) -> Path:
    """Write ``gdf`` as ``folder/grids.geojson`` (WGS 84) and return ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    write_geojson(gdf, folder / "grids.geojson")
    return folder


def recount_moved(old: pd.Series, new: pd.Series, population: pd.Series) -> tuple[int, float]:
    """Grids and people that moved, recounted from the definition, for a redraw old → new.

    A grid moved when its new district draws most of its people from another
    old district than the grid's own (``gis.districting.moved_grids``).
    All three are indexed by grid code.
    """
    frame = pd.DataFrame({"new": new, "old": old.reindex(new.index)}).join(population)
    by_pair = frame.groupby(["new", "old"])["population"].sum().reset_index()
    by_pair = by_pair.sort_values(["new", "population", "old"], ascending=[True, False, True])
    major = by_pair.drop_duplicates("new").set_index("new")["old"]
    moved = (frame["new"].map(major) != frame["old"]).to_numpy()
    return int(moved.sum()), float((frame["population"].to_numpy() * moved).sum())
