"""Synthetic towns: streets, a river, a railway and buildings, for tests and benchmarks.

A town is a jittered street grid (a primary, secondary or tertiary road every
third line, residential streets between), a straight diagonal avenue, a bent
street, footways through some blocks, a winding river and a railway line, with
rectangular buildings on lots inside the blocks.  No building crosses or
touches a street, the river or the railway.  Everything is in a projected
metric CRS and deterministic for a seed; 100,000 buildings take about a second
(vectorised numpy and shapely), their OSM XML about three.

:func:`to_osm_xml` writes a town as OpenStreetMap XML (WGS 84 nodes, ways with
tags, streets sharing nodes where they cross) and :func:`write_area` writes a
whole area folder (OSM file, study area, manifest) that ``gridplan build``
reads like a bundled area.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.affinity
from numpy.typing import NDArray
from shapely.geometry import Polygon

from gis._errors import InputError

#: Building types of a synthetic town and their shares.
BUILDING_MIX: tuple[tuple[str, float], ...] = (
    ("apartments", 0.55),
    ("residential", 0.10),
    ("yes", 0.15),
    ("house", 0.07),
    ("commercial", 0.06),
    ("office", 0.04),
    ("school", 0.03),
)
#: Share of buildings that carry a ``building:levels`` tag.
LEVELS_SHARE = 0.3
_LOT_M = 26.0  # lot pitch inside a block
_SETBACK_M = 8.0  # distance from a street centre line to the first lot
_BUILDING_WAY_BASE = 10_000_000  # way ids of buildings start here


@dataclass(frozen=True)
class SyntheticTown:
    """A generated town, all layers in the metric CRS ``crs``.

    Attributes
    ----------
    boundary
        The town's outline (a rectangle; the streets run slightly past it).
    streets
        LineStrings with ``id`` (``"w1"`` …), ``highway`` (``primary``,
        ``secondary``, ``tertiary``, ``residential``, ``footway`` or ``None``),
        ``waterway`` (``river`` or ``None``), ``railway`` (``rail`` or
        ``None``) and ``name``.
    buildings
        Rectangles with ``id`` (``"w10000001"`` …), ``building`` and
        ``levels`` (the raw ``building:levels`` tag or ``None``).
    crs
        The metric CRS.
    seed
        The seed the town was made from.
    """

    boundary: Polygon
    streets: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    crs: str
    seed: int


def synthetic_town(
    n_buildings: int,
    *,
    seed: int,
    block_size_m: float = 120.0,
    crs: str = "EPSG:32650",
    origin: tuple[float, float] = (118.78, 32.04),
    dense: bool = False,
) -> SyntheticTown:
    """Generate a town with exactly ``n_buildings`` buildings.

    Parameters
    ----------
    n_buildings
        Number of buildings (≥ 1).
    seed
        Seed of the random generator; the same seed gives the same town.
    block_size_m
        Mean distance between parallel streets (m), ≥ 60.
    crs
        Projected metric CRS of the layers.
    origin
        Longitude and latitude of the town's south-west corner.
    dense
        Irregular, dense blocks like an old town (see :func:`dense_footprints`):
        rotated buildings, L-shapes, courtyards and rows of houses sharing
        walls, some towers; the streets are the same.

    Returns
    -------
    SyntheticTown
    """
    if not isinstance(n_buildings, int | np.integer) or n_buildings < 1:
        raise InputError(f"n_buildings must be a whole number ≥ 1, got {n_buildings!r}")
    if not block_size_m >= 60:
        raise InputError(f"block_size_m must be at least 60 m, got {block_size_m!r}")
    from pyproj import CRS, Transformer

    metric = CRS.from_user_input(crs)
    if not metric.is_projected:
        raise InputError(f"{crs} is not a projected CRS: give a metric one such as a UTM zone")
    x0, y0 = Transformer.from_crs(4326, metric, always_xy=True).transform(*origin)

    lots_per_block = max(1, int((block_size_m - 2 * _SETBACK_M) // _LOT_M)) ** 2
    side = max(3, int(np.ceil(np.sqrt(n_buildings / (0.7 * lots_per_block)))))
    while True:  # grow the grid until enough lots survive the cuts
        streets, lots, bounds = _layout(
            side, seed=seed, block=block_size_m, x0=x0, y0=y0, dense=dense
        )
        if len(lots) >= n_buildings:
            break
        side += 1
    rng = np.random.default_rng([seed, 1])
    keep = np.sort(rng.choice(len(lots), size=n_buildings, replace=False))
    buildings = _tag_buildings(lots[keep], rng)
    if dense:
        buildings = dense_footprints(buildings, np.random.default_rng([seed, 2]))
    boundary = shapely.box(*bounds)
    return SyntheticTown(
        boundary=boundary,
        streets=gpd.GeoDataFrame(streets, geometry="geometry", crs=metric),
        buildings=gpd.GeoDataFrame(buildings, geometry="geometry", crs=metric),
        crs=metric.to_string(),
        seed=seed,
    )


def _layout(
    side: int, *, seed: int, block: float, x0: float, y0: float, dense: bool = False
) -> tuple[pd.DataFrame, NDArray[np.object_], tuple[float, float, float, float]]:
    """Streets and building rectangles of a ``side`` × ``side`` block town.

    ``dense`` fills each lot almost whole (gaps of 0–2 m, a third of the
    rectangles touching their neighbours), as in an old town.
    """
    rng = np.random.default_rng([seed, 0, side])
    xs = x0 + np.concatenate([[0.0], np.cumsum(block * rng.uniform(0.75, 1.25, side))])
    ys = y0 + np.concatenate([[0.0], np.cumsum(block * rng.uniform(0.75, 1.25, side))])
    margin = 40.0
    bounds = (xs[0] - margin, ys[0] - margin, xs[-1] + margin, ys[-1] + margin)
    width, height = xs[-1] - xs[0], ys[-1] - ys[0]
    reach = margin + 20.0  # streets run a little past the boundary

    # 1. the street grid: every 3rd line a major road (primary, secondary, tertiary)
    line = np.arange(side + 1)
    rank = np.full(side + 1, "residential", dtype=object)
    rank[line % 6 == 3] = "tertiary"
    rank[line % 6 == 0] = "secondary"
    rank[line % 12 == 0] = "primary"
    vertical = shapely.linestrings(
        np.stack(
            [np.column_stack([xs, np.full(side + 1, ys[0] - reach)]),
             np.column_stack([xs, np.full(side + 1, ys[-1] + reach)])],
            axis=1,
        )
    )  # fmt: skip
    horizontal = shapely.linestrings(
        np.stack(
            [np.column_stack([np.full(side + 1, xs[0] - reach), ys]),
             np.column_stack([np.full(side + 1, xs[-1] + reach), ys])],
            axis=1,
        )
    )  # fmt: skip
    rows = [
        _rows(vertical, highway=rank, name=[f"{i + 1} Avenue" for i in range(side + 1)]),
        _rows(horizontal, highway=rank, name=[f"{i + 1} Street" for i in range(side + 1)]),
    ]

    # 2. a diagonal avenue, a bent street, a river and a railway
    cuts: list[tuple[shapely.LineString, float, str | None, str | None, str | None]] = [
        (shapely.LineString([(xs[0], ys[0]), (xs[-1], ys[-1])]), 10.0, "secondary", None, None),
        (
            shapely.LineString(
                [
                    (xs[0], y0 + 0.7 * height),
                    (x0 + 0.35 * width, y0 + 0.62 * height),
                    (x0 + 0.6 * width, y0 + 0.85 * height),
                    (xs[-1], y0 + 0.8 * height),
                ]
            ),
            8.0,
            "tertiary",
            None,
            None,
        ),
    ]
    t = np.linspace(0.0, 1.0, 12 * side + 2)
    river = shapely.LineString(
        np.column_stack(
            [
                xs[0] - reach + t * (width + 2 * reach),
                y0 + 0.3 * height + 0.08 * height * np.sin(t * 2 * np.pi * max(2, side / 10)),
            ]
        )
    )
    rail = shapely.LineString(
        [(x0 + 0.72 * width, ys[0] - reach), (x0 + 0.62 * width, ys[-1] + reach)]
    )
    cuts.append((river, 25.0, None, "river", None))
    cuts.append((rail, 12.0, None, None, "rail"))
    for geom, _, highway, waterway, railway in cuts:
        name = "River" if waterway else "Railway" if railway else f"Diagonal {highway}"
        rows.append(
            _rows(np.array([geom]), highway=[highway], waterway=[waterway], railway=[railway],
                  name=[name])
        )  # fmt: skip

    # 3. lots inside the blocks, a rectangle on each
    boxes, (bi, bj, bx0, bx1, kx) = _lot_boxes(xs, ys, side, rng, dense=dense, seed=seed)

    # 4. footways through every 6th block, between lot columns
    foot_blocks = np.flatnonzero((np.arange(len(bi)) % 6 == 0) & (kx >= 2))
    fx = bx0[foot_blocks] + (kx[foot_blocks] // 2) * (bx1 - bx0)[foot_blocks] / kx[foot_blocks]
    footways = shapely.linestrings(
        np.stack(
            [np.column_stack([fx, ys[bj[foot_blocks]]]),
             np.column_stack([fx, ys[bj[foot_blocks] + 1]])],
            axis=1,
        )
    )  # fmt: skip
    rows.append(_rows(footways, highway=["footway"] * len(footways), name=[None] * len(footways)))

    # 5. drop the lots that the cuts and footways cross
    clear = [shapely.buffer(g, half) for g, half, *_ in cuts]
    clear.extend(shapely.buffer(footways, 2.0))
    streets = pd.concat(rows, ignore_index=True)
    streets.insert(0, "id", [f"w{i + 1}" for i in range(len(streets))])
    return streets, _clear_of(boxes, clear), bounds


def _lot_boxes(
    xs: np.ndarray, ys: np.ndarray, side: int, rng: np.random.Generator, *, dense: bool, seed: int
) -> tuple[NDArray[np.object_], tuple[np.ndarray, ...]]:
    """One rectangle per lot of every block, and the blocks' indices, left/right, lot columns."""
    mi, mj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    bi, bj = mi.ravel(), mj.ravel()
    bx0, bx1 = xs[bi] + _SETBACK_M, xs[bi + 1] - _SETBACK_M
    by0, by1 = ys[bj] + _SETBACK_M, ys[bj + 1] - _SETBACK_M
    kx = np.maximum(1, ((bx1 - bx0) // _LOT_M).astype(int))
    ky = np.maximum(1, ((by1 - by0) // _LOT_M).astype(int))
    counts = kx * ky
    block_of = np.repeat(np.arange(len(bi)), counts)
    local = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    lx, ly = local % kx[block_of], local // kx[block_of]
    lot_w = (bx1 - bx0)[block_of] / kx[block_of]
    lot_h = (by1 - by0)[block_of] / ky[block_of]
    lot_x, lot_y = bx0[block_of] + lx * lot_w, by0[block_of] + ly * lot_h
    w = lot_w * rng.uniform(0.5, 0.85, len(block_of))
    h = lot_h * rng.uniform(0.45, 0.85, len(block_of))
    left = lot_x + rng.uniform(0, 1, len(block_of)) * (lot_w - w)
    bottom = lot_y + rng.uniform(0, 1, len(block_of)) * (lot_h - h)
    if dense:
        left, bottom, w, h = _fill_lots(lot_x, lot_y, lot_w, lot_h, [seed, 3, side])
    boxes = shapely.box(left, bottom, left + w, bottom + h)

    return boxes, (bi, bj, bx0, bx1, kx)


def _fill_lots(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray, seed: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rectangles filling their lots almost whole: 0.3–2 m short, a third exactly (touching)."""
    rng = np.random.default_rng(seed)
    touch = rng.random(len(x)) < 0.35
    width = np.where(touch, w, w - rng.uniform(0.3, 2.0, len(x)))
    height = np.where(touch, h, h - rng.uniform(0.3, 2.0, len(x)))
    return x, y, width, height


def _clear_of(boxes: NDArray[np.object_], clear: list[shapely.Geometry]) -> NDArray[np.object_]:
    """The ``boxes`` that none of the ``clear`` areas touches."""
    hit = shapely.STRtree(boxes).query(np.asarray(clear, dtype=object), predicate="intersects")[1]
    keep = np.ones(len(boxes), bool)
    keep[hit] = False
    return boxes[keep]


def _rows(geoms: NDArray[np.object_], **columns: object) -> pd.DataFrame:
    n = len(geoms)
    data = {"highway": [None] * n, "waterway": [None] * n, "railway": [None] * n}
    data.update({k: list(v) for k, v in columns.items()})  # type: ignore[call-overload]
    return pd.DataFrame({**data, "geometry": list(geoms)})


def _tag_buildings(boxes: NDArray[np.object_], rng: np.random.Generator) -> pd.DataFrame:
    n = len(boxes)
    kinds, shares = zip(*BUILDING_MIX, strict=True)
    kind = np.asarray(kinds, dtype=object)[
        rng.choice(len(kinds), size=n, p=np.asarray(shares) / sum(shares))
    ]
    floors = np.where(
        np.isin(kind, ["apartments", "residential", "office"]),
        rng.integers(4, 25, n),
        np.where(kind == "house", rng.integers(1, 4, n), rng.integers(1, 7, n)),
    )
    tagged = rng.random(n) < LEVELS_SHARE
    levels = floors.astype(str).astype(object)
    levels[~tagged] = None
    ids = [f"w{_BUILDING_WAY_BASE + i + 1}" for i in range(n)]
    return pd.DataFrame(
        {
            "id": ids,
            "building": kind,
            "levels": pd.Series(levels, dtype=object),
            "geometry": boxes,
        }
    )


def dense_footprints(buildings: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Make rectangular footprints irregular and dense, each within its own rectangle.

    A quarter of the buildings are turned by up to 35° (scaled to stay inside
    their rectangle), a sixth become L-shapes, a tenth courtyard blocks (a
    ring with a hole), a fifth a row of 2–4 houses sharing walls (new ids
    after the town's), and one in twenty a 30-storey tower.  Footprints never
    overlap, so no two buildings compete for the same ground.
    """
    rows: list[dict[str, object]] = []
    extra = _BUILDING_WAY_BASE + 5_000_000
    records: list[dict[str, Any]] = buildings.to_dict("records")
    for row in records:
        box = row["geometry"]
        x0, y0, x1, y1 = box.bounds
        w, h = x1 - x0, y1 - y0
        draw = rng.random()
        if draw < 0.25:
            angle = rng.uniform(-35.0, 35.0)
            c, s_ = abs(np.cos(np.radians(angle))), abs(np.sin(np.radians(angle)))
            scale = 0.98 * min(w / (w * c + h * s_), h / (w * s_ + h * c))
            turned = shapely.affinity.rotate(
                shapely.affinity.scale(box, scale, scale), angle, origin="centroid"
            )
            rows.append({**row, "geometry": turned})
        elif draw < 0.42:
            corner = rng.integers(4)
            cx, cy = (x0, x1)[corner % 2], (y0, y1)[corner // 2]
            notch = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            rows.append({**row, "geometry": box.difference(notch)})
        elif draw < 0.52 and min(w, h) > 12.0:
            court = shapely.affinity.scale(box, 0.45, 0.45)
            rows.append({**row, "geometry": shapely.Polygon(box.exterior, [court.exterior])})
        elif draw < 0.72:
            k = int(rng.integers(2, 5))
            cuts = np.linspace(x0, x1, k + 1) if w >= h else np.linspace(y0, y1, k + 1)
            for part in range(k):
                piece = (
                    shapely.box(cuts[part], y0, cuts[part + 1], y1)
                    if w >= h
                    else shapely.box(x0, cuts[part], x1, cuts[part + 1])
                )
                ident = row["id"] if part == 0 else f"w{extra}"
                extra += part > 0
                rows.append({**row, "id": ident, "building": "terrace", "geometry": piece})
        else:
            rows.append(dict(row))
        if rng.random() < 0.05:
            rows[-1] = {**rows[-1], "building": "apartments", "levels": "30"}
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- OSM XML


def to_osm_xml(town: SyntheticTown, path: str | os.PathLike[str]) -> Path:
    """Write ``town`` as an OpenStreetMap XML file.

    Nodes carry WGS 84 coordinates (7 decimals).  Streets are cut into nodes
    at every crossing with another street so that they share a node there;
    the river and the railway share no node with streets (bridges).  Way ids
    are those of the layers' ``id`` columns.

    Parameters
    ----------
    town
        The town to write.
    path
        Target ``.osm`` file; its folder must exist.

    Returns
    -------
    Path
        ``path``.
    """
    from pyproj import Transformer

    path = Path(path)
    to_wgs84 = Transformer.from_crs(town.crs, 4326, always_xy=True)
    street_coords = _noded_street_coords(town.streets)

    # node ids: street vertices (shared where equal), then the ring vertices of buildings
    flat = np.concatenate(street_coords) if street_coords else np.empty((0, 2))
    keys = np.round(flat, 3)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    buildings = town.buildings.iloc[  # OSM files list ways by id
        np.argsort(town.buildings["id"].str.lstrip("w").astype(np.int64).to_numpy(), kind="stable")
    ]
    rings, ring_owner = shapely.get_rings(buildings.geometry.values, return_index=True)
    b_coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    closing = np.r_[ring_of[1:] != ring_of[:-1], True]  # each ring's repeated first vertex
    b_coords, ring_of = b_coords[~closing], ring_of[~closing]
    ring_start = len(uniq) + 1 + np.searchsorted(ring_of, np.arange(len(rings)))
    ring_size = np.bincount(ring_of, minlength=len(rings))
    all_xy = np.concatenate([uniq, b_coords])
    lon, lat = to_wgs84.transform(all_xy[:, 0], all_xy[:, 1])

    with path.open("w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        fh.write('<osm version="0.6" generator="gridplan.synthetic">\n')
        w, s, e, n = to_wgs84.transform_bounds(*town.boundary.bounds)
        fh.write(
            f'  <bounds minlat="{s:.7f}" minlon="{w:.7f}" maxlat="{n:.7f}" maxlon="{e:.7f}"/>\n'
        )
        for chunk in _chunks(
            f'  <node id="{i + 1}" version="1" lat="{la:.7f}" lon="{lo:.7f}"/>\n'
            for i, (la, lo) in enumerate(zip(lat.tolist(), lon.tolist(), strict=True))
        ):
            fh.write(chunk)
        offset = 0
        for row, coords in zip(town.streets.itertuples(index=False), street_coords, strict=True):
            refs = inverse[offset : offset + len(coords)] + 1
            offset += len(coords)
            refs = refs[np.r_[True, refs[1:] != refs[:-1]]]  # no repeated node
            tags = {
                k: getattr(row, k)
                for k in ("highway", "waterway", "railway", "name")
                if isinstance(getattr(row, k, None), str)
            }
            fh.write(_way(row.id, refs.tolist(), tags))
        ring_ways: list[str] = []
        relations: list[str] = []
        for chunk in _chunks(
            _building_xml(row, rings, ring_start, ring_size, ring_ways, relations)
            for row, rings in zip(
                buildings.itertuples(index=False), _rings_by_building(ring_owner, len(buildings)),
                strict=True,
            )
        ):  # fmt: skip
            fh.write(chunk)
        fh.write("".join(ring_ways))  # ids above every building's
        fh.write("".join(relations))
        fh.write("</osm>\n")
    return path


def _rings_by_building(ring_owner: np.ndarray, n: int) -> list[np.ndarray]:
    """Ring indices of each building (exterior first), from ``get_rings``' owners."""
    bounds = np.searchsorted(ring_owner, np.arange(n + 1))
    return [np.arange(bounds[i], bounds[i + 1]) for i in range(n)]


def _building_xml(
    row: object,
    rings: np.ndarray,
    start: np.ndarray,
    size: np.ndarray,
    ring_ways: list[str],
    relations: list[str],
) -> str:
    """A building's way; a building with courtyards adds its ring ways and its relation."""
    tags = _tags(row.building, row.levels)  # type: ignore[attr-defined]
    bid = str(row.id)  # type: ignore[attr-defined]
    if len(rings) == 1:
        return _way(bid, _ring_refs(int(rings[0]), start, size), tags)
    ways, relation = _building(bid, rings, start, size, tags)
    ring_ways.append(ways)
    relations.append(relation)
    return ""


def _ring_refs(ring: int, start: np.ndarray, size: np.ndarray) -> list[int]:
    """Node ids of a closed ring (its first node repeated at the end)."""
    refs = list(range(int(start[ring]), int(start[ring] + size[ring])))
    return [*refs, refs[0]]


def _building(
    bid: str, rings: np.ndarray, start: np.ndarray, size: np.ndarray, tags: dict[str, str]
) -> tuple[str, str]:
    """A building with courtyards: its untagged ring ways, and its multipolygon relation."""
    number = int(bid.lstrip("w"))
    ways = [
        _way(f"w{number * 10 + k}", _ring_refs(int(r), start, size), {})
        for k, r in enumerate(rings.tolist())
    ]
    roles = ["outer"] + ["inner"] * (len(rings) - 1)
    members = "".join(
        f'    <member type="way" ref="{number * 10 + k}" role="{role}"/>\n'
        for k, role in enumerate(roles)
    )
    tag = "".join(
        f"    <tag k={quoteattr(k)} v={quoteattr(str(v))}/>\n"
        for k, v in {"type": "multipolygon", **tags}.items()
    )
    relation = f'  <relation id="{number}" version="1">\n{members}{tag}  </relation>\n'
    return "".join(ways), relation


def _tags(kind: str, levels: object) -> dict[str, str]:
    return {"building": kind, **({"building:levels": levels} if isinstance(levels, str) else {})}


def _way(way_id: str, refs: list[int], tags: dict[str, str]) -> str:
    nds = "".join(f'    <nd ref="{r}"/>\n' for r in refs)
    tag = "".join(f"    <tag k={quoteattr(k)} v={quoteattr(str(v))}/>\n" for k, v in tags.items())
    return f'  <way id="{str(way_id).lstrip("w")}" version="1">\n{nds}{tag}  </way>\n'


def _chunks(lines: Iterator[str], size: int = 20_000) -> Iterator[str]:
    buf: list[str] = []
    for line in lines:
        buf.append(line)
        if len(buf) >= size:
            yield "".join(buf)
            buf = []
    if buf:
        yield "".join(buf)


def _noded_street_coords(streets: gpd.GeoDataFrame) -> list[NDArray[np.float64]]:
    """Vertex arrays of every street line with the crossings of other streets inserted."""
    geoms = streets.geometry.to_numpy()
    is_street = streets["highway"].notna().to_numpy()
    idx = np.flatnonzero(is_street)
    extra: list[list[NDArray[np.float64]]] = [[] for _ in range(len(geoms))]
    if idx.size:
        tree = shapely.STRtree(geoms[idx])
        left, right = tree.query(geoms[idx], predicate="intersects")
        pairs = left < right
        a, b = idx[left[pairs]], idx[right[pairs]]
        points = shapely.intersection(geoms[a], geoms[b])
        coords, which = shapely.get_coordinates(points, return_index=True)
        for k in np.unique(which):
            pts = coords[which == k]
            extra[a[k]].append(pts)
            extra[b[k]].append(pts)
    out = []
    for i, geom in enumerate(geoms):
        own = shapely.get_coordinates(geom)
        if not extra[i]:
            out.append(own)
            continue
        pts = np.concatenate([own, *extra[i]])
        along = shapely.line_locate_point(geom, shapely.points(pts))
        out.append(pts[np.argsort(along, kind="stable")])
    return out


def write_area(
    town: SyntheticTown, folder: str | os.PathLike[str], *, name: str = "Synthetic town"
) -> Path:
    """Write ``town`` as an area folder: ``town.osm``, ``study_area.geojson``, ``area.toml``.

    Parameters
    ----------
    town
        The town to write.
    folder
        Folder to create or fill.
    name
        The area's name in the manifest.

    Returns
    -------
    Path
        The folder, ready for ``gridplan build FOLDER --out DIR``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    to_osm_xml(town, folder / "town.osm")
    study = gpd.GeoDataFrame({"name": [name]}, geometry=[town.boundary], crs=town.crs)
    study.to_crs(4326).to_file(folder / "study_area.geojson", driver="GeoJSON", engine="pyogrio")
    manifest = (
        f"# Synthetic town (seed {town.seed}, {len(town.buildings)} buildings): gis.synthetic\n"
        f"name = {json.dumps(name, ensure_ascii=False)}\n"
        'language = "en"\n'
        'osm = "town.osm"\n'
        'study_area = "study_area.geojson"\n'
        'admin_code = "000000"\n'
        'subdistrict_code = "000"\n'
        f'crs = "{town.crs}"\n'
        "\n[defaults]\n"
        "households_min = 300\n"
        "households_max = 500\n"
        "residents_max = 2500\n"
        "persons_per_household = 2.6\n"
        "floor_area_per_person_m2 = 35.0\n"
    )
    (folder / "area.toml").write_text(manifest, encoding="utf-8")
    return folder
