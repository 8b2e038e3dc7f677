"""An area to plan: its manifest, study polygon and input layers.

``gridplan build SOURCE`` accepts three kinds of SOURCE, all read by
:func:`load_area`:

- an area folder with an ``area.toml`` manifest (see ``data/boundaries/``);
- a bare OSM file (``.osm``, ``.osm.xml``, ``.osm.pbf``) with zero
  configuration: the study area is the extract's built-up extent;
- a GeoPackage with layers ``buildings`` and ``streets`` (and optionally
  ``boundary``, ``communities``, ``pois``, ``barriers``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gis._errors import EmptyLayerError, ManifestError, UnreadableFileError
from gis.crs import WGS84
from gis.sources import OsmLayers, is_osm_file, list_layers, read_osm, read_vector

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
        The study area polygon (WGS 84).
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
    population_total
        A known total population to calibrate the estimate to, or None.
    defaults
        The manifest's ``[defaults]`` table (household targets, population parameters).
    source
        What SOURCE was, for the record.
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
    population_total: float | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    source: str = ""


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
    communities = None
    if "communities" in manifest:
        communities = read_vector(folder / manifest["communities"], what="community boundaries")
    households = None
    if "households" in manifest:
        households = _read_table(folder / manifest["households"])
    return AreaInput(
        name=str(manifest.get("name", folder.name)),
        boundary=boundary,
        study_area_source=how,
        layers=_clip_layers(layers, boundary),
        admin_code=_code(manifest.get("admin_code", "000000"), 6, "admin_code"),
        subdistrict_code=_code(manifest.get("subdistrict_code", "000"), 3, "subdistrict_code"),
        crs=manifest.get("crs"),
        language=str(manifest.get("language", "en")),
        communities=communities,
        households=households,
        population_total=manifest.get("population_total"),
        defaults=dict(manifest.get("defaults", {})),
        source=str(folder),
    )


def _from_osm_file(path: Path) -> AreaInput:
    layers = read_osm(path)
    boundary = built_up_extent(layers.buildings)
    return AreaInput(
        name=path.name.split(".")[0],
        boundary=boundary,
        study_area_source="built-up extent",
        layers=_clip_layers(layers, boundary),
        language=_guess_language(layers),
        source=str(path),
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
        if name not in names:
            return gpd.GeoDataFrame({"id": [], "kind": []}, geometry=[], crs=WGS84)
        return read_vector(path, layer=name, what=f"'{name}' layer")

    buildings = _with_columns(layer("buildings"), "b")
    streets = _with_columns(layer("streets"), "s")
    layers = OsmLayers(
        buildings, streets, layer("barriers"), layer("pois"), entrances=layer("entrances")
    )
    if "boundary" in names:
        boundary, how = _union_polygon(layer("boundary"), "boundary layer"), "boundary layer"
    else:
        boundary, how = built_up_extent(buildings), "built-up extent"
    communities = layer("communities") if "communities" in names else None
    return AreaInput(
        name=path.stem,
        boundary=boundary,
        study_area_source=how,
        layers=_clip_layers(layers, boundary),
        communities=communities,
        source=str(path),
    )


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
    metric = buildings.to_crs(buildings.estimate_utm_crs())
    points = shapely.MultiPoint(shapely.get_coordinates(metric.geometry.values))
    hull = shapely.concave_hull(points, ratio=0.2)
    area = hull.buffer(margin_m).buffer(-margin_m / 2)
    if area.geom_type != "Polygon":  # keep the largest part: one study area
        area = max(getattr(area, "geoms", [area]), key=lambda g: g.area)
    area = shapely.Polygon(area.exterior)
    return gpd.GeoSeries([area], crs=metric.crs).to_crs(WGS84).iloc[0]


def _union_polygon(gdf: gpd.GeoDataFrame, what: str) -> BaseGeometry:
    geoms = shapely.make_valid(gdf.geometry.values)
    polys = [g for g in geoms if g is not None and g.geom_type in ("Polygon", "MultiPolygon")]
    if not polys:
        raise EmptyLayerError(f"the {what} holds no polygon")
    return shapely.union_all(polys)


def _clip_layers(layers: OsmLayers, boundary: BaseGeometry) -> OsmLayers:
    """Keep features of the study area; streets a margin beyond it (for walking)."""
    center = boundary.centroid
    metric_crs = gpd.GeoSeries([center], crs=WGS84).estimate_utm_crs()
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
        entrances=within(layers.entrances, wide),
        fences=within(layers.fences, wide),
    )


def _code(value: Any, digits: int, name: str) -> str:
    text = str(value)
    if not (text.isdigit() and len(text) == digits):
        raise ManifestError(f"{name} must be {digits} digits, got {value!r}")
    return text


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise UnreadableFileError(f"the household table {path} does not exist")
    return pd.read_csv(path, dtype=str)


def _guess_language(layers: OsmLayers) -> str:
    names = layers.buildings.get("name")
    if names is None:
        return "en"
    text = "".join(str(n) for n in names.dropna().head(200))
    return "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"
