"""Mapbox vector tiles of a layer at every zoom, from one street to a whole city.

:func:`encode_tile` is the flow: the features meeting the tile, those a map
could show at its zoom (:func:`visible`: none smaller than a screen pixel,
at most :data:`MAX_FEATURES`, the largest first), clipped and simplified to
the tile's pixel, snapped to the tile's integer grid with their rings
oriented as the MVT specification wants (in arrays, for every feature at
once), then encoded.  A city of a hundred thousand buildings at zoom 10 is
one tile holding every grid but only the buildings large enough to see;
without the rules it would be tens of megabytes of invisible specks.

The tile matrix is morecantile's ``WebMercatorQuad`` (the XYZ scheme MapLibre,
Leaflet and OpenLayers ask for); :func:`tilejson` says where a client finds a
layer's tiles, at which zooms, over which bounds and with which fields
(TileJSON 3.0).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import morecantile
import numpy as np
import pandas as pd
import shapely

if TYPE_CHECKING:
    from api.area import FeatureIndex

#: Layers served as vector tiles (``districts``: of a plan version).
TILE_LAYERS = ("grids", "buildings", "subdistricts", "districts")
#: The zooms a TileJSON advertises, per layer (clients overzoom past the most).
ZOOMS = {"grids": (10, 18), "buildings": (10, 18), "subdistricts": (8, 18), "districts": (8, 18)}
TILEJSON = "3.0.0"
ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"
#: Screen pixels across a tile (the size maps draw it at).
SCREEN_PIXELS = 256
#: Most features in one tile (about 500 KB of grids or buildings); past it the largest stay.
MAX_FEATURES = 5_000
#: Tile coordinates across a tile.
EXTENT = 4096


@functools.cache
def tile_matrix() -> morecantile.TileMatrixSet:
    """The tile matrix set of every tile: ``WebMercatorQuad`` (XYZ scheme)."""
    return morecantile.tms.get("WebMercatorQuad")


def is_tile(z: int, x: int, y: int) -> bool:
    """Whether ``z/x/y`` is a tile of the matrix (x and y below 2^z)."""
    return bool(tile_matrix().is_valid(morecantile.Tile(x, y, z)))


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Web-Mercator bounds ``(minx, miny, maxx, maxy)`` of tile ``z/x/y`` (XYZ scheme)."""
    b = tile_matrix().xy_bounds(morecantile.Tile(x, y, z))
    return (b.left, b.bottom, b.right, b.top)


def encode_tile(index: FeatureIndex, z: int, x: int, y: int, *, extent: int = EXTENT) -> bytes:
    """The Mapbox vector tile of one layer (empty bytes when nothing in it can be seen).

    Parameters
    ----------
    index
        The layer.
    z, x, y
        The tile (XYZ scheme).
    extent
        Tile coordinates across the tile.
    """
    import mapbox_vector_tile

    geoms, tree = index.tiles()
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    # features meeting the tile and a margin of 16 tile units (no seams at tile edges)
    pad = (maxx - minx) * 16 / extent
    box = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
    hits = visible(geoms, tree.query(box, predicate="intersects"), (maxx - minx) / SCREEN_PIXELS)
    # clipped, simplified to half a tile unit, on the tile's integer grid, rings oriented
    shapes = shapely.simplify(shapely.intersection(geoms[hits], box), (maxx - minx) / extent / 2)
    shapes = to_tile_grid(shapes, (minx, miny, maxx, maxy), extent)
    features = [
        {"geometry": geom, "properties": {k: v for k, v in props.items() if _tile_value(v)}}
        for geom, props in zip(shapes, index.properties_at(hits), strict=True)
        if geom is not None and not geom.is_empty
    ]
    if not features:
        return b""
    return mapbox_vector_tile.encode(
        [{"name": index.name, "features": features}],
        default_options={"extents": extent, "check_winding_order": False},
    )


def visible(geoms: np.ndarray, hits: np.ndarray, pixel: float) -> np.ndarray:
    """The rows of ``hits`` worth drawing in a tile whose screen pixel is ``pixel`` metres.

    Lines and polygons smaller than a pixel both ways are left out (points
    stay); of more than :data:`MAX_FEATURES`, the largest (by bounding box)
    stay.  Returned in row order.

    Parameters
    ----------
    geoms
        The layer's Web-Mercator geometries.
    hits
        Rows meeting the tile.
    pixel
        Metres (Web Mercator) per screen pixel at the tile's zoom.
    """
    hits = np.sort(np.asarray(hits, dtype=np.int64))
    if not len(hits):
        return hits
    b = shapely.bounds(geoms[hits])
    size = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
    point = shapely.get_dimensions(geoms[hits]) == 0
    keep = point | (size >= pixel)
    hits, b, point = hits[keep], b[keep], point[keep]
    if len(hits) > MAX_FEATURES:
        area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        area[point] = np.inf  # points are few and small: keep them first
        largest = np.argsort(-area, kind="stable")[:MAX_FEATURES]
        hits = np.sort(hits[largest])
    return hits


def to_tile_grid(
    geoms: np.ndarray, bounds: tuple[float, float, float, float], extent: int
) -> np.ndarray:
    """Geometries in tile units (y up, as the encoder flips it), snapped to integers, valid.

    Exterior rings come out clockwise and holes anticlockwise (clockwise on the
    screen, y down, as the MVT specification asks); a part that collapses on
    the integer grid is dropped.
    """
    minx, miny, maxx, maxy = bounds
    scale = np.array([extent / (maxx - minx), extent / (maxy - miny)])
    origin = np.array([minx, miny])
    tiled = shapely.transform(geoms, lambda xy: (xy - origin) * scale)
    snapped = shapely.set_precision(tiled, 1.0)
    return np.asarray(shapely.orient_polygons(snapped, exterior_cw=True))


def tilejson(index: FeatureIndex, template: str, *, bbox: list[float] | None) -> dict[str, Any]:
    """The TileJSON 3.0 document of a tiled layer.

    Parameters
    ----------
    index
        The layer (its name is the tiles' layer name; its columns their fields).
    template
        The tiles' URL with ``{z}``, ``{x}`` and ``{y}``.
    bbox
        ``[w, s, e, n]`` of the layer in degrees (the whole matrix when None).
    """
    minzoom, maxzoom = ZOOMS[index.name]
    tms = tile_matrix()
    bounds = [round(v, 7) for v in (bbox or list(tms.bbox))]
    zoom = min(max(_fitting_zoom(bounds), minzoom), maxzoom)
    return {
        "tilejson": TILEJSON,
        "name": index.name,
        "tiles": [template],
        "scheme": "xyz",
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": bounds,
        "center": [
            round((bounds[0] + bounds[2]) / 2, 7),
            round((bounds[1] + bounds[3]) / 2, 7),
            zoom,
        ],
        "attribution": ATTRIBUTION,
        "vector_layers": [
            {"id": index.name, "fields": fields(index), "minzoom": minzoom, "maxzoom": maxzoom}
        ],
    }


def fields(index: FeatureIndex) -> dict[str, str]:
    """The layer's properties, typed as TileJSON types them (Number, String, Boolean)."""
    out = {}
    for column, dtype in index.frame.drop(columns=index.frame.geometry.name).dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            out[str(column)] = "Boolean"
        elif pd.api.types.is_numeric_dtype(dtype):
            out[str(column)] = "Number"
        else:
            out[str(column)] = "String"
    return out


def _fitting_zoom(bounds: list[float], pixels: int = 512) -> int:
    """The zoom at which ``bounds`` (degrees) fit in a view of ``pixels`` screen pixels."""
    tms = tile_matrix()
    west, south = tms.xy(bounds[0], bounds[1])
    east, north = tms.xy(bounds[2], bounds[3])
    return int(tms.zoom_for_res(max(east - west, north - south, 1.0) / pixels))


def _tile_value(value: Any) -> bool:
    if isinstance(value, float):
        return bool(np.isfinite(value))
    return isinstance(value, str | int | bool)


__all__ = [
    "MAX_FEATURES",
    "TILE_LAYERS",
    "encode_tile",
    "is_tile",
    "tile_bounds",
    "tile_matrix",
    "tilejson",
    "to_tile_grid",
    "visible",
]
