"""Polygons snapped to the written coordinate grid, as ``shapely.set_precision`` snaps them, fast.

GeoJSON is written to 7 decimals, so every polygon is first snapped to the
1e-7° grid with ``shapely.set_precision`` (GEOS snap-rounds it through an
overlay, which keeps the rings valid on the grid).  That overlay costs about
25 µs a building, most of a part's writing time, and for the common polygon —
one shell, no holes, no vertex near another edge — its result is predictable:
the same ring with each coordinate rounded to the grid, the shell clockwise
and starting at what was its second vertex clockwise.  :func:`snap_polygons`
computes that result directly with numpy for such polygons (*simple* here:
valid, one part, no holes, every vertex at least :data:`CLEARANCE_CELLS` grid
cells from every edge it is not on, so snap rounding nodes nothing) and hands
every other polygon to ``set_precision``.  The result is the same geometry,
coordinate for coordinate (tests/test_precision.py compares both on generated
polygons, and ``scripts/compare_builds.py`` the written files of every real
area).
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely import GeometryType

#: Polygons whose vertices are nearer than this many grid cells to an edge they are
#: not on go through GEOS's snap rounding (it may node them there).
CLEARANCE_CELLS = 10.0
#: GEOS versions whose snap rounding :func:`snap_polygons` was checked against
#: (tests/test_precision.py); under any other, every polygon goes to GEOS.
CHECKED_GEOS = ((3, 14),)


def snap_polygons(geoms: np.ndarray, grid: float) -> tuple[np.ndarray, np.ndarray]:
    """``shapely.set_precision(geoms, grid)``, computed directly for simple polygons.

    Parameters
    ----------
    geoms
        Polygons and MultiPolygons, valid (see :func:`gis.outputs.orient_rfc7946`).
    grid
        The grid size, in the geometries' units.

    Returns
    -------
    snapped : numpy.ndarray
        The snapped geometries, in the input's order and types: the simple
        ones valid and already oriented by the right-hand rule (as
        ``shapely.orient_polygons`` with ``exterior_cw=False`` would orient
        them: rounding moves no vertex near an edge), the others as
        ``set_precision`` leaves them.
    simple : numpy.ndarray
        Which were simple (boolean).
    """
    geoms = np.asarray(geoms, dtype=object)
    if shapely.geos_version[:2] not in CHECKED_GEOS:  # its rounding may differ: let GEOS snap
        return shapely.set_precision(geoms, grid), np.zeros(len(geoms), dtype=bool)
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    simple = _one_ring(geoms, coords, owner)
    simple[simple] = shapely.minimum_clearance(geoms[simple]) >= CLEARANCE_CELLS * grid
    out = np.empty(len(geoms), dtype=object)
    out[~simple] = shapely.set_precision(geoms[~simple], grid)
    mine = simple[owner]
    sizes = np.bincount(owner[mine], minlength=len(geoms))[simple]
    rings = _snapped_rings(coords[mine], sizes, grid)
    multi = shapely.get_type_id(geoms[simple]) == GeometryType.MULTIPOLYGON
    out[simple] = _polygons(*rings, multi)
    return out, simple


def _one_ring(geoms: np.ndarray, coords: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Which (valid) ``geoms`` are one polygon of one ring.

    A valid polygon's shell passes its first vertex only where it closes: a
    polygon of one ring holds its first coordinate twice, the second time
    last.  With holes the last is a hole's closing vertex, which is the first
    only if the hole passes through it (and then the first is there four times).
    """
    types = shapely.get_type_id(geoms)
    one = (types == GeometryType.POLYGON) | (
        (types == GeometryType.MULTIPOLYGON) & (shapely.get_num_geometries(geoms) == 1)
    )
    sizes = np.bincount(owner, minlength=len(geoms))
    starts = np.cumsum(sizes) - sizes
    at_first = (coords == coords[starts[owner]]).all(axis=1)
    twice = np.bincount(owner, weights=at_first, minlength=len(geoms)) == 2
    closes = np.zeros(len(geoms), dtype=bool)
    closes[sizes > 0] = at_first[(starts + sizes - 1)[sizes > 0]]
    return one & twice & closes


def _snapped_rings(
    coords: np.ndarray, sizes: np.ndarray, grid: float
) -> tuple[np.ndarray, np.ndarray]:
    """Closed rings (``sizes`` points each) as GEOS's overlay snaps them, counter-clockwise.

    GEOS writes the shell clockwise from its second vertex (clockwise);
    ``orient_polygons`` then reverses it, keeping its first point.  Returns the
    coordinates and the rings' offsets.
    """
    starts = np.cumsum(sizes) - sizes
    first = np.repeat(starts, sizes)
    m = np.repeat(sizes, sizes)
    t = np.arange(len(coords)) - first  # position in the output ring
    cw = np.where(t == 0, 1, m - t)  # ...holds the clockwise ring's vertex cw
    ccw = np.repeat(_is_ccw(coords, starts, sizes), sizes)
    source = first + np.where(ccw, m - 1 - cw, cw)  # the input's clockwise vertex cw
    return _round_to_grid(coords[source], grid), np.append(starts, len(coords))


def _is_ccw(coords: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Whether each closed ring turns counter-clockwise (its signed area, shoelace)."""
    if not len(starts):
        return np.zeros(0, dtype=bool)
    xy = coords - np.repeat(coords[starts], sizes, axis=0)  # from the ring's first point
    cross = xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1]  # (last, next first): 0 × 0
    return np.add.reduceat(np.append(cross, 0.0), starts) > 0


def _polygons(coords: np.ndarray, offsets: np.ndarray, multi: np.ndarray) -> np.ndarray:
    """Polygons of one ring each (MultiPolygons of one where ``multi``)."""
    n = len(offsets) - 1
    out = np.empty(n, dtype=object)
    for want, kind in ((~multi, GeometryType.POLYGON), (multi, GeometryType.MULTIPOLYGON)):
        if not want.any():
            continue
        rings = np.flatnonzero(want)
        sizes = offsets[rings + 1] - offsets[rings]
        take = (
            np.repeat(offsets[rings], sizes)
            + np.arange(sizes.sum())
            - np.repeat(np.cumsum(sizes) - sizes, sizes)
        )
        ring_offsets = np.append(0, np.cumsum(sizes))
        count = np.arange(len(rings) + 1)
        levels = (
            (ring_offsets, count) if kind == GeometryType.POLYGON else (ring_offsets, count, count)
        )
        out[want] = shapely.from_ragged_array(kind, coords[take], levels)
    return out


def _round_to_grid(xy: np.ndarray, grid: float) -> np.ndarray:
    """Coordinates rounded to the grid as GEOS's fixed precision model rounds them.

    GEOS scales by the inverse grid size (an integer when it is one, to
    rounding) and rounds half up (Java's ``Math.round``).
    """
    scale = 1.0 / grid
    if abs(scale - round(scale)) < 1e-6:
        scale = float(round(scale))
    return np.floor(xy * scale + 0.5) / scale
