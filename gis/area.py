"""An area to plan: its manifest, study polygon and input layers.

``gridplan build SOURCE`` accepts three kinds of SOURCE, all read by
:func:`load_area`:

- an area folder with an ``area.toml`` manifest (see ``data/boundaries/``);
- a bare OSM file (``.osm``, ``.osm.xml``, ``.osm.pbf``, and compressed XML:
  ``.osm.gz``, ``.osm.bz2``, ``.osm.xml.gz``, ``.osm.xml.bz2``), alone or as
  the only OSM file of a folder, with zero configuration: the study area is
  the extract's built-up extent;
- a GeoPackage with layers ``buildings`` and ``streets`` (and optionally
  ``boundary``, ``communities``, ``pois``, ``barriers``).

Whatever the source, the study area is land: open water (rivers, lakes, the
sea beside a coastline; see :mod:`gis.water`) is taken out of it, so grids and
their neighbours never reach across a river.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gis._errors import EmptyLayerError, ManifestError, UnreadableFileError
from gis.crs import WGS84, utm_crs
from gis.sources import OsmLayers, is_osm_file, list_layers, read_osm, read_vector
from gis.tables import read_table
from gis.water import MIN_LAND_M2, dry, land_only, open_water

MANIFEST = "area.toml"

#: How far past the study area streets are kept, so walks may leave it (m).
STREET_MARGIN_M = 500.0


@dataclass(frozen=True)
class AreaInput:
    """Everything a build needs, read from SOURCE (WGS 84 frames).

    Attributes
    ----------
    name
        Display name.
    boundary
        The study area on land (WGS 84): the given or built-up area without
        its open water; a MultiPolygon when water splits it.
    study_area_source
        How the boundary was found: "manifest", "boundary layer" or "built-up extent".
    layers
        Buildings, streets, barriers and POIs of the extract.
    admin_code, subdistrict_code
        6- and 3-digit code parts ("000000" / "000" when unknown).
    crs
        Metric CRS to compute in (None: the UTM zone of the data).
    language
        "zh" or "en": the web map's default language.
    communities
        The user's community boundaries, or None to derive them from major roads.
    households
        The office's household table, or None to estimate.
    households_city_wide
        True when ``households`` is a whole city's table and this area one of
        its sub-districts: a sub-district may then match none of its rows.
    population_total
        A known total population to calibrate the estimate to, or None.
    defaults
        The manifest's ``[defaults]`` table (household targets, population parameters).
    source
        What SOURCE was, for the record.
    water
        The open water taken out of the study area (WGS 84; empty when none).
    water_m2
        Its area in square metres.
    notes
        What reading the area changed, in words (buildings left in the water).
    """

    name: str
    boundary: BaseGeometry
    study_area_source: str
    layers: OsmLayers
    admin_code: str = "000000"
    subdistrict_code: str = "000"
    crs: str | None = None
    language: str = "en"
    communities: gpd.GeoDataFrame | None = None
    households: pd.DataFrame | None = None
    households_city_wide: bool = False
    population_total: float | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    water: BaseGeometry = field(default_factory=shapely.Polygon)
    water_m2: float = 0.0
    notes: tuple[str, ...] = ()


def load_area(source: str | os.PathLike[str]) -> AreaInput:
    """Read an area folder, a bare OSM file or a GeoPackage.

    Parameters
    ----------
    source
        See the module docstring.

    Returns
    -------
    AreaInput
    """
    path = Path(source)
    if not path.exists():
        raise UnreadableFileError(
            f"{path} does not exist: give an area folder (with area.toml), "
            "an .osm/.osm.pbf file or a GeoPackage"
        )
    if path.is_dir():
        if (path / MANIFEST).is_file():
            return _from_manifest(path)
        osm_files = sorted(p for p in path.iterdir() if is_osm_file(p))
        if len(osm_files) == 1:
            return _from_osm_file(osm_files[0])
        raise ManifestError(
            f"{path} has no {MANIFEST} and {len(osm_files)} OSM files: add an {MANIFEST} "
            "(see data/boundaries/nanjing_xinjiekou/area.toml) or pass one OSM file"
        )
    if is_osm_file(path):
        return _from_osm_file(path)
    if path.suffix.lower() == ".gpkg":
        return _from_geopackage(path)
    raise UnreadableFileError(
        f"{path.name} is not an area folder, an OSM file (.osm, .osm.pbf) or a GeoPackage"
    )


def _from_manifest(folder: Path) -> AreaInput:
    try:
        manifest = tomllib.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{folder / MANIFEST} is not valid TOML: {exc}") from exc
    if "osm" not in manifest:
        raise ManifestError(f'{folder / MANIFEST} needs an `osm = "file.osm"` entry')
    layers = read_osm(folder / manifest["osm"])
    if "study_area" in manifest:
        boundary = _union_polygon(
            read_vector(folder / manifest["study_area"], what="study area"), "study area"
        )
        how = "manifest"
    else:
        boundary, how = built_up_extent(layers.buildings), "built-up extent"
    land = on_land(boundary, layers, built_up=how == "built-up extent")
    communities = None
    if "communities" in manifest:
        communities = read_vector(folder / manifest["communities"], what="community boundaries")
    households = None
    if "households" in manifest:
        households = _read_table(folder / manifest["households"])
    return AreaInput(
        name=str(manifest.get("name", folder.name)),
        boundary=land.boundary,
        study_area_source=how,
        layers=_clip_layers(layers, land.boundary),
        admin_code=_code(manifest.get("admin_code", "000000"), 6, "admin_code"),
        subdistrict_code=_code(manifest.get("subdistrict_code", "000"), 3, "subdistrict_code"),
        crs=manifest.get("crs"),
        language=str(manifest.get("language", "en")),
        communities=communities,
        households=households,
        population_total=manifest.get("population_total"),
        defaults=dict(manifest.get("defaults", {})),
        source=str(folder),
        water=land.water,
        water_m2=land.water_m2,
        notes=(*_incomplete_note(layers), *land.notes),
    )


def _incomplete_note(layers: OsmLayers) -> tuple[str, ...]:
    """A warning naming the building ways that gave no footprint (none: no warning)."""
    ids = layers.incomplete_buildings
    if not ids:
        return ()
    return (
        f"{len(ids)} building outline(s) are not closed or miss nodes that the extract cut "
        "off, and are left out (download the extract with complete ways to keep them): "
        + ", ".join(ids[:10])
        + (" …" if len(ids) > 10 else ""),
    )


def _from_osm_file(path: Path) -> AreaInput:
    layers = read_osm(path)
    land = on_land(built_up_extent(layers.buildings), layers, built_up=True)
    return AreaInput(
        name=path.name.split(".")[0],
        boundary=land.boundary,
        study_area_source="built-up extent",
        layers=_clip_layers(layers, land.boundary),
        language=guess_language(layers),
        source=str(path),
        water=land.water,
        water_m2=land.water_m2,
        notes=(*_incomplete_note(layers), *land.notes),
    )


def _from_geopackage(path: Path) -> AreaInput:
    names = set(list_layers(path))
    missing = {"buildings", "streets"} - names
    if missing:
        raise UnreadableFileError(
            f"{path.name} lacks the layer(s) {sorted(missing)}; it has {sorted(names)}. "
            "A GeoPackage source needs 'buildings' and 'streets' layers"
        )

    def layer(name: str) -> gpd.GeoDataFrame:
        empty = gpd.GeoDataFrame({"id": [], "kind": []}, geometry=[], crs=WGS84)
        if name not in names:
            return empty
        try:
            return read_vector(path, layer=name, what=f"'{name}' layer of")
        except EmptyLayerError:
            if name == "buildings":
                raise
            return empty  # an area without streets (or barriers) builds as an OSM one does

    buildings = _with_columns(_footprints(layer("buildings"), path), "b")
    streets = _with_columns(layer("streets"), "s")
    layers = OsmLayers(
        buildings, streets, layer("barriers"), layer("pois"), entrances=layer("entrances")
    )
    if "boundary" in names:
        boundary, how = _union_polygon(layer("boundary"), "boundary layer"), "boundary layer"
    else:
        boundary, how = built_up_extent(buildings), "built-up extent"
    land = on_land(boundary, layers, built_up=how == "built-up extent")
    communities = layer("communities") if "communities" in names else None
    return AreaInput(
        name=path.stem,
        boundary=land.boundary,
        study_area_source=how,
        layers=_clip_layers(layers, land.boundary),
        language=guess_language(layers),
        communities=communities,
        source=str(path),
        water=land.water,
        water_m2=land.water_m2,
        notes=land.notes,
    )


def _footprints(buildings: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """The buildings layer's polygons; a layer of points or lines is refused, naming them."""
    kinds = buildings.geom_type
    polygonal = kinds.isin(["Polygon", "MultiPolygon"]).to_numpy()
    if not polygonal.any():
        found = ", ".join(sorted(set(kinds.dropna()))) or "none"
        raise EmptyLayerError(
            f"the 'buildings' layer of {path.name} holds no footprints (geometries: {found}): "
            "grids need building outlines (polygons); export the buildings as polygons"
        )
    return buildings[polygonal]


def _with_columns(gdf: gpd.GeoDataFrame, prefix: str) -> gpd.GeoDataFrame:
    """Give a foreign layer the columns the OSM reader would have produced."""
    out = gdf.copy()
    if "id" not in out.columns:
        out["id"] = [f"{prefix}{i}" for i in range(len(out))]
    out["id"] = out["id"].astype(str)
    wanted = ("building", "levels", "height", "amenity", "shop", "office", "name", "highway")
    for column in wanted:
        if column not in out.columns:
            out[column] = None
    if prefix == "b":
        out["building"] = out["building"].fillna("yes")
    else:
        out["highway"] = out["highway"].fillna("residential")
    return out


def built_up_extent(buildings: gpd.GeoDataFrame, *, margin_m: float = 60.0) -> BaseGeometry:
    """The extract's built-up area: a concave hull of its buildings, widened by ``margin_m``.

    Parameters
    ----------
    buildings
        Building polygons (WGS 84).
    margin_m
        Buffer around the hull, in metres.

    Returns
    -------
    Polygon
        In WGS 84.
    """
    if buildings.empty:
        raise EmptyLayerError(
            "the extract holds no buildings, so it has no built-up extent: "
            "give a study area polygon (study_area in area.toml)"
        )
    metric = buildings.to_crs(utm_crs(buildings))
    points = shapely.MultiPoint(shapely.get_coordinates(metric.geometry.values))
    hull = shapely.concave_hull(points, ratio=0.2)
    area = hull.buffer(margin_m).buffer(-margin_m / 2)
    if area.geom_type != "Polygon":  # keep the largest part: one study area
        area = max(getattr(area, "geoms", [area]), key=lambda g: g.area)
    area = shapely.Polygon(area.exterior)
    return gpd.GeoSeries([area], crs=metric.crs).to_crs(WGS84).iloc[0]


@dataclass(frozen=True)
class Land:
    """A study area on land, and the water taken out of it (WGS 84)."""

    boundary: BaseGeometry
    water: BaseGeometry
    water_m2: float
    notes: tuple[str, ...] = ()


def on_land(boundary: BaseGeometry, layers: OsmLayers, *, built_up: bool) -> Land:
    """Take the open water of ``layers`` out of the study area ``boundary`` (WGS 84).

    Parameters
    ----------
    boundary
        The study area as given (or the built-up extent).
    layers
        The extract, for its water and buildings.
    built_up
        The boundary is the built-up extent: parts of land that water cuts
        off and that hold no building are dropped.

    Returns
    -------
    Land
    """
    wgs = gpd.GeoSeries([boundary], crs=WGS84)
    crs = utm_crs(wgs)
    area = wgs.to_crs(crs).iloc[0]
    water = open_water(area, layers.barriers.to_crs(crs))
    notes: list[str] = []
    if water.is_empty or layers.buildings.empty:
        return Land(boundary=boundary, water=shapely.Polygon(), water_m2=0.0)
    # footprints standing in the water stay land; only those near it are reprojected
    envelope = gpd.GeoSeries([water.envelope], crs=crs).to_crs(WGS84).iloc[0]
    shapely.prepare(envelope)
    near = shapely.intersects(envelope, layers.buildings.geometry.values)
    water = dry(water, layers.buildings[near].to_crs(crs).geometry.to_numpy())
    land = land_only(area, water)
    # only a building near the water can stand in it; the built-up extent looks at all
    looked = np.ones(len(near), dtype=bool) if built_up else near
    points = gpd.GeoSeries(layers.buildings.geometry[looked].representative_point(), crs=WGS84)
    points_m = points.to_crs(crs).to_numpy()
    if built_up:
        parts = [p for p in shapely.get_parts(land) if shapely.intersects(p, points_m).any()]
        if parts:
            land = parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
    shapely.prepare(land)
    shapely.prepare(area)
    wet = np.zeros(len(near), dtype=bool)
    wet[looked] = shapely.intersects(area, points_m) & ~shapely.intersects(land, points_m)
    wet &= near
    if wet.any():
        ids = layers.buildings["id"].astype(str).to_numpy()[wet]
        notes.append(
            f"{int(wet.sum())} building(s) stand in open water or on land of less than "
            f"{MIN_LAND_M2:,.0f} m² that water cuts off, and are left out of the study area: "
            + ", ".join(ids[:10])
            + (" …" if wet.sum() > 10 else "")
        )
    back = gpd.GeoSeries([land, water], crs=crs).to_crs(WGS84).make_valid()
    return Land(
        boundary=back.iloc[0],
        water=back.iloc[1],
        water_m2=round(float(water.area), 1),
        notes=tuple(notes),
    )


def _union_polygon(gdf: gpd.GeoDataFrame, what: str) -> BaseGeometry:
    geoms = shapely.make_valid(gdf.geometry.values)
    polys = [g for g in geoms if g is not None and g.geom_type in ("Polygon", "MultiPolygon")]
    if not polys:
        raise EmptyLayerError(f"the {what} holds no polygon")
    return shapely.union_all(polys)


def _clip_layers(layers: OsmLayers, boundary: BaseGeometry) -> OsmLayers:
    """Keep features of the study area; streets a margin beyond it (for walking)."""
    center = boundary.centroid
    metric_crs = utm_crs(gpd.GeoSeries([center], crs=WGS84))
    wide = (
        gpd.GeoSeries([boundary], crs=WGS84)
        .to_crs(metric_crs)
        .buffer(STREET_MARGIN_M)
        .to_crs(WGS84)
        .iloc[0]
    )
    shapely.prepare(boundary)
    shapely.prepare(wide)

    def within(gdf: gpd.GeoDataFrame, area: BaseGeometry) -> gpd.GeoDataFrame:
        if gdf.empty:
            return gdf
        keep = shapely.intersects(area, gdf.geometry.values)
        return gdf[keep].reset_index(drop=True)

    buildings = layers.buildings
    if not buildings.empty:  # a building is in the area when its inside point is
        inside = shapely.contains(boundary, buildings.geometry.representative_point().values)
        buildings = buildings[inside].reset_index(drop=True)
    return OsmLayers(
        buildings=buildings,
        streets=within(layers.streets, wide),
        barriers=within(layers.barriers, wide),
        pois=within(layers.pois, boundary),
        landuse=within(layers.landuse, boundary),
        entrances=within(layers.entrances, wide),
        fences=within(layers.fences, wide),
    )


def _code(value: Any, digits: int, name: str) -> str:
    text = str(value)
    if not (text.isdigit() and len(text) == digits):
        raise ManifestError(f"{name} must be {digits} digits, got {value!r}")
    return text


def _read_table(path: Path) -> pd.DataFrame:
    return read_table(path, what="household table")


def guess_language(layers: OsmLayers) -> str:
    """The area's language, from the script of its names (buildings, streets, POIs).

    A script counts when at least 5% of the names use it.  Kana (hiragana,
    katakana) give ``"ja"`` (Japanese names mix kana with Chinese characters),
    hangul ``"ko"``; Chinese characters without either give ``"zh"``; any
    other script ``"en"``.
    """
    names: list[str] = []
    for layer in (layers.streets, layers.pois, layers.buildings):
        if "name" in layer.columns:
            names.extend(str(n) for n in layer["name"].dropna().head(500))
    if not names:
        return "en"
    share = {
        script: sum(_uses(name, ranges) for name in names) / len(names)
        for script, ranges in _SCRIPTS.items()
    }
    if share["kana"] >= 0.05:
        return "ja"
    if share["hangul"] >= 0.05:
        return "ko"
    return "zh" if share["han"] >= 0.05 else "en"


def _uses(name: str, ranges: tuple[tuple[str, str], ...]) -> bool:
    return any(lo <= ch <= hi for ch in name for lo, hi in ranges)


#: Unicode ranges of the scripts :func:`guess_language` tells apart.
_SCRIPTS = {
    "kana": (("\u3040", "\u30ff"), ("\u31f0", "\u31ff"), ("\uff66", "\uff9f")),
    "hangul": (("\uac00", "\ud7af"), ("\u1100", "\u11ff"), ("\u3130", "\u318f")),
    "han": (("\u4e00", "\u9fff"), ("\u3400", "\u4dbf")),
}
