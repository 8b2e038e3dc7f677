"""The build folder ``DIR``: its file names, reading its files, writing them atomically.

:class:`BuildFolder` is the one home of a build folder: the name of every
file in it (:data:`FILES`), reading a layer, the metadata or the plan, and
writing the build, the plan and the coverage.  Every other module asks it
rather than spelling a file name.

Every write is atomic: the data goes to a temporary file in the same folder,
is flushed to disk, and is then renamed over the target (and the folder
flushed), so a crash never leaves a half-written file.  Files written together
(a plan and its districts) are all written to temporaries first and renamed
only when every one is complete.  GeoJSON is written per RFC 7946 (WGS 84
longitude/latitude, polygons wound counter-clockwise outside and clockwise
inside, 7 decimals).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gis._errors import CRSError, EmptyLayerError, InputError, OutputError, UnreadableFileError
from gis._types import PathLike
from gis.crs import WGS84
from gis.geojson_text import properties_text
from gis.gpkg_write import writable, write_gpkg_rows
from gis.precision import snap_polygons

#: GeoJSON layers a build writes, by name; each is also a layer of area.gpkg.
LAYER_FILES = {
    "grids": "grids.geojson",
    "buildings": "buildings.geojson",
    "communities": "communities.geojson",
    "streets": "streets.geojson",
    "pois": "pois.geojson",
    "boundary": "boundary.geojson",
    "subdistricts": "subdistricts.geojson",  # city folders only (gis.city)
    "barriers": "barriers.geojson",
    "entrances": "entrances.geojson",
}
#: GeoJSON layers later steps add: the plan's districts, the coverage's layers,
#: the office's own service points (uploaded).
ADDED_LAYER_FILES = {
    "districts": "districts.geojson",
    "services": "services.geojson",
    "isochrones": "isochrones.geojson",
    "gaps": "gaps.geojson",
    "sites": "sites.geojson",
}
#: Every file of a build folder, by name.
FILES = {
    **LAYER_FILES,
    **ADDED_LAYER_FILES,
    "gpkg": "area.gpkg",
    "meta": "build.json",
    "adjacency": "adjacency.csv",
    "plan": "plan.csv",
    "coverage": "coverage.json",
    "report": "report.html",
}
#: Columns of buildings.geojson, in this order, where the build has them.
BUILDING_COLUMNS = (
    "id",
    "grid",
    "community",
    "households",
    "population",
    "floors",
    "floors_source",
    "landuse",
    "residential_share",
    "demand",
    "area_m2",
    "building",
    "name",
    "levels",
    "height",
    "addr_street",
    "addr_housenumber",
    "population_source",
)
#: Layers written with the coverage, into GeoJSON files and area.gpkg.
COVERAGE_LAYERS = ("buildings", "isochrones", "gaps", "sites")
#: GeoJSON coordinates are written to 7 decimals (about 1 cm), as GDAL does for RFC 7946.
GEOJSON_GRID_DEG = 1e-7
GEOJSON_DECIMALS = 7
#: Estimated counts, written to :data:`QUANTITY_DECIMALS` decimals in every layer and table
#: (``334.3`` households, not ``334.26982605892255``); the engine computes with them unrounded.
QUANTITIES = ("households", "population")
QUANTITY_DECIMALS = 1


class BuildFolder:
    """A build folder ``DIR``: where its files are, reading them and writing them.

    A folder that :meth:`write_build` wrote keeps the layers and metadata it
    wrote in memory, and answers :meth:`read` and :meth:`meta` from them until
    a later write replaces the file; any other folder reads its files.

    Parameters
    ----------
    path
        The folder (written by :func:`gis.pipeline.build`, or any folder
        holding a ``grids.geojson``).
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        self._held: dict[str, gpd.GeoDataFrame] = {}
        self._held_meta: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"BuildFolder({str(self.path)!r})"

    def file(self, name: str) -> Path:
        """The path of the file ``name`` (a key of :data:`FILES`)."""
        return self.path / FILES[name]

    def has(self, name: str) -> bool:
        """Whether the file ``name`` exists."""
        return name in self._held or self.file(name).is_file()

    def require(self, *names: str, what: str) -> None:
        """Raise unless this is a folder holding the files ``names`` that ``what`` needs.

        Raises
        ------
        InputError
            Not a folder, not a build folder (the first file is missing), or
            another file is missing; the message says how to rebuild it.
        """
        hint = "give the folder written by `gridplan build SOURCE --out DIR`"
        if not self.path.is_dir():
            raise InputError(f"{self.path} is not a folder: {hint}")
        for i, name in enumerate(names):
            if self.has(name):
                continue
            if i == 0:
                raise InputError(f"{self.path} is not a build folder (no {FILES[name]}): {hint}")
            raise InputError(
                f"{self.path} has no {FILES[name]}, which {what} needs: "
                f"rebuild it with `gridplan build SOURCE --out {self.path}`"
            )

    # ------------------------------------------------------------------ reading

    def read(self, name: str, *, required: bool = True) -> gpd.GeoDataFrame | None:
        """Read the layer ``name`` (WGS 84).

        Parameters
        ----------
        name
            A key of :data:`LAYER_FILES` or :data:`ADDED_LAYER_FILES`.
        required
            Raise when the file is missing or empty (else return ``None`` for a
            missing file).

        Raises
        ------
        UnreadableFileError
            The file is missing (when required) or cannot be parsed.
        EmptyLayerError
            The file holds no features (when required).
        """
        if name in self._held:
            return self._held[name].copy()
        path = self.file(name)
        if not path.exists():
            if required:
                raise UnreadableFileError(
                    f"{path} does not exist: run `gridplan build SOURCE --out {self.path}` first"
                )
            return None
        try:
            gdf = gpd.read_file(path, engine="pyogrio")
        except Exception as exc:  # pyogrio raises several unrelated types
            raise UnreadableFileError(f"cannot read {path}: {exc}") from exc
        if gdf.crs is None:
            gdf = gdf.set_crs(WGS84)
        elif not gdf.crs.equals(WGS84):
            gdf = gdf.to_crs(WGS84)
        if required and gdf.empty:
            raise EmptyLayerError(f"{path} holds no features")
        return gdf

    def layer(self, name: str) -> gpd.GeoDataFrame:
        """Read the layer ``name``, which must exist and hold features."""
        gdf = self.read(name)
        assert gdf is not None  # required=True raises instead
        return gdf

    def meta(self) -> dict[str, Any]:
        """The build metadata (``build.json``), or ``{}`` for grids made elsewhere."""
        if self._held_meta is not None:
            return dict(self._held_meta)
        path = self.file("meta")
        if not path.exists():
            return {}
        return dict(json.loads(path.read_text(encoding="utf-8")))

    @property
    def crs(self) -> str | None:
        """The metric CRS the build computed in (``None`` for grids made elsewhere)."""
        crs = self.meta().get("crs")
        return None if crs is None else str(crs)

    def plan_table(self) -> pd.DataFrame | None:
        """``plan.csv`` as it is (``grid``, ``district`` as strings), or ``None``."""
        path = self.file("plan")
        return pd.read_csv(path, dtype=str) if path.exists() else None

    def coverage(self) -> dict[str, Any]:
        """The coverage figures (``coverage.json``), or ``{}`` before coverage ran."""
        path = self.file("coverage")
        if not path.exists():
            return {}
        return dict(json.loads(path.read_text(encoding="utf-8")))

    # ------------------------------------------------------------------ writing

    def write_build(
        self,
        layers: Mapping[str, gpd.GeoDataFrame],
        meta: Mapping[str, Any],
        tables: Mapping[str, pd.DataFrame] | None = None,
    ) -> None:
        """Write a whole build (its layers, area.gpkg, tables and build.json), replacing the folder.

        ``tables`` are CSV files by name (a key of :data:`FILES`: the grid adjacency).

        The files go to a temporary sibling folder; only when all are written is
        it renamed to this folder (an older one is replaced).

        The folder then holds the layers as written (WGS 84, oriented, at the
        written precision) and the metadata in memory for later steps.
        """
        with staged_folder(self.path) as staging:
            staged = BuildFolder(staging)
            wgs84 = {name: gdf.to_crs(WGS84) for name, gdf in layers.items()}  # projected once
            written = write_layer_files(wgs84, staging)
            write_gpkg_layers(wgs84, staged.file("gpkg"))
            for name, table in (tables or {}).items():
                frame_to_csv(table, staged.file(name))
            write_json(staged.file("meta"), meta)
        self._held = written
        self._held_meta = json.loads(dump_json(meta))

    def write_plan(self, plan: pd.DataFrame, districts: gpd.GeoDataFrame) -> None:
        """Write ``plan.csv`` and ``districts.geojson`` together: both new, or both old.

        Raises
        ------
        OutputError
            Either file cannot be written; both are then left as they were.
        """
        targets = self.file("plan"), self.file("districts")
        try:
            with atomic_paths(*targets) as (plan_tmp, districts_tmp):
                plan.to_csv(plan_tmp, index=False)
                to_geojson_file(districts, districts_tmp, layer="districts")
        except (OSError, RuntimeError) as exc:  # the file system's, or GDAL's (pyogrio)
            raise OutputError(
                f"cannot write {targets[0]} and {targets[1].name}: {exc} "
                "(both are as they were: free space or fix permissions, then run again)"
            ) from exc
        self._held.pop("districts", None)

    def write_coverage(self, layers: Mapping[str, gpd.GeoDataFrame], figures: Any) -> None:
        """Write the coverage: its layers (GeoJSON, and area.gpkg when it exists) and figures.

        Each file is written atomically; coverage.json goes last, so figures
        never describe layers that were not written.
        """
        for name, gdf in layers.items():
            write_geojson(gdf, self.file(name))
            self._held.pop(name, None)
        if self.file("gpkg").is_file():
            write_gpkg_layers(layers, self.file("gpkg"))
        write_json(self.file("coverage"), figures)


def read_layer(folder: PathLike, name: str, *, required: bool = True) -> gpd.GeoDataFrame | None:
    """The layer ``name`` of the build folder ``folder`` (see :meth:`BuildFolder.read`)."""
    return BuildFolder(folder).read(name, required=required)


def read_meta(folder: PathLike) -> dict[str, Any]:
    """The build metadata of ``folder`` (see :meth:`BuildFolder.meta`)."""
    return BuildFolder(folder).meta()


def _as_written(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``gdf`` (RFC 7946 already) with the coordinates and counts the GeoJSON file holds."""
    out = round_quantities(gdf).copy()
    geoms = np.asarray(out.geometry.values)
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    moved = (_decimals_as_written(coords) != coords).any(axis=1)  # snapped polygons: none
    changed = (np.bincount(owner, weights=moved, minlength=len(geoms)) > 0) | shapely.has_z(geoms)
    if changed.any():
        geoms = geoms.copy()
        geoms[changed] = shapely.transform(geoms[changed], _decimals_as_written)
        out[out.geometry.name] = geoms
    return out


def _decimals_as_written(xy: np.ndarray) -> np.ndarray:
    """``xy`` rounded to 7 decimals as GDAL prints them (``%.7f``: the exact value rounded)."""
    out = np.round(xy, GEOJSON_DECIMALS)
    scaled = xy * 10.0**GEOJSON_DECIMALS
    near_half = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-3  # where np.round may differ
    out[near_half] = [float(f"{v:.{GEOJSON_DECIMALS}f}") for v in xy[near_half]]
    return out


@contextlib.contextmanager
def staged_folder(out_dir: PathLike) -> Iterator[Path]:
    """A temporary sibling folder that replaces ``out_dir`` as a whole when the block succeeds.

    Write every file of a folder into the path this yields: when the block
    ends, the folder is renamed into place (an older one is replaced); when it
    raises, the folder is removed and ``out_dir`` is as it was.

    Raises
    ------
    OutputError
        When ``out_dir`` exists and is not a folder.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} exists and is not a folder: choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(out)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-{os.getpid()}-", dir=out.parent))
    try:
        yield staging
        _replace_folder(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _remove_stale_staging(out: Path) -> None:
    """Remove hidden staging and old folders of ``out`` left by builds that were killed.

    Their names carry the building process's id; a folder whose process is
    gone is removed, one of a build still running is left alone.
    """
    for path in out.parent.glob(f".{out.name}.*"):
        kind, _, rest = path.name[len(out.name) + 2 :].partition("-")
        pid = rest.split("-")[0]
        if kind in ("build", "old") and pid.isdigit() and not _alive(int(pid)) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _replace_folder(staging: Path, out: Path) -> None:
    _fsync_folder(staging)
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out)
    _fsync_folder(out.parent)


# ---------------------------------------------------------------------- atomic files


@contextlib.contextmanager
def atomic_path(target: PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it over ``target`` on success.

    The file is flushed to disk before the rename and the folder after it, so
    that after a crash ``target`` is either the old file or the whole new one.

    Parameters
    ----------
    target
        Final file path.  Its folder must exist.

    Yields
    ------
    Path
        Where to write.  Removed if the block raises.
    """
    with atomic_paths(target) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_paths(*targets: PathLike) -> Iterator[tuple[Path, ...]]:
    """Yield temporary paths next to ``targets``; rename them all once the block succeeds.

    Nothing is renamed unless every file was written: a failure leaves all the
    targets as they were.  (The renames themselves are one after the other,
    in the order given: the last target is the one that says "done".)

    Yields
    ------
    tuple of Path
        Where to write each target.  Removed if the block raises.
    """
    paths = [Path(t) for t in targets]
    temps = [_free_temp(p) for p in paths]
    try:
        yield tuple(temps)
        for tmp in temps:
            _fsync_file(tmp)
        for tmp, target in zip(temps, paths, strict=True):
            os.replace(tmp, target)
        for folder in {p.parent for p in paths}:
            _fsync_folder(folder)
    finally:
        for tmp in temps:
            if tmp.exists():
                tmp.unlink()


def _free_temp(target: Path) -> Path:
    """A free temporary name next to ``target`` (no file: GDAL refuses to overwrite)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    path = Path(tmp)
    path.unlink()
    return path


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot sync a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_text(target: PathLike, text: str) -> None:
    """Write ``text`` to ``target`` atomically (UTF-8)."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(target: PathLike, payload: Any) -> None:
    """Write ``payload`` as JSON to ``target`` atomically (see :func:`dump_json`)."""
    write_text(target, dump_json(payload))


def dump_json(payload: Any) -> str:
    """``payload`` as indented UTF-8 JSON text, made JSON-safe by :func:`json_safe`."""
    return json.dumps(json_safe(payload), ensure_ascii=False, indent=2)


def json_safe(value: Any) -> Any:
    """Plain JSON values from engine results: numpy, pandas, paths, dates, dataclasses.

    Mappings become dicts with string keys; sequences, sets and arrays lists;
    numpy scalars Python numbers; non-finite floats and missing values
    ``None``; dates ISO 8601 text; anything else its string.
    """
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, Mapping | pd.Series):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, pd.DataFrame):
        return [json_safe(r) for r in value.to_dict(orient="records")]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, datetime.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_safe(vars(value))
    return str(value)


def round_quantities(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its estimated counts (:data:`QUANTITIES`) to :data:`QUANTITY_DECIMALS`.

    Returns a copy when a column was rounded, ``frame`` itself otherwise.
    """
    columns = [
        c for c in QUANTITIES if c in frame.columns and pd.api.types.is_float_dtype(frame[c])
    ]
    if not columns:
        return frame
    out = frame.copy()
    out[columns] = out[columns].round(QUANTITY_DECIMALS)
    return out


def frame_to_csv(df: pd.DataFrame, target: PathLike) -> None:
    """Write ``df`` to CSV atomically, without the index."""
    with atomic_path(target) as tmp:
        df.to_csv(tmp, index=False)


# ---------------------------------------------------------------------- GeoJSON, GeoPackage


def orient_rfc7946(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return ``gdf`` in WGS 84 with polygons oriented by the right-hand rule."""
    if gdf.crs is None:
        raise CRSError("layer has no CRS: set one (e.g. gdf.set_crs('EPSG:4326')) before writing")
    out = gdf.to_crs(WGS84) if not gdf.crs.equals(WGS84) else gdf.copy()
    geoms = out.geometry.values
    is_poly = shapely.get_type_id(geoms) >= 3  # Polygon, MultiPolygon and collections
    if is_poly.any():  # snap to the written precision first, so rings stay valid when read
        valid = _valid(np.asarray(geoms[is_poly]))
        snapped, simple = snap_polygons(valid, GEOJSON_GRID_DEG)  # set_precision, fast
        rest = ~simple  # the simple ones come valid and oriented
        snapped[rest] = _valid(snapped[rest])
        collapsed = shapely.is_empty(snapped) & ~shapely.is_empty(valid)
        snapped[collapsed] = valid[collapsed]  # slivers thinner than 1 cm keep their shape
        snapped[rest] = shapely.orient_polygons(snapped[rest], exterior_cw=False)
        out.loc[is_poly, out.geometry.name] = snapped
    return out


def _valid(geoms: np.ndarray) -> np.ndarray:
    """Repair rings that reprojection or rounding made touch or cross (polygons only)."""
    bad = ~shapely.is_valid(geoms)
    if not bad.any():
        return geoms
    out = geoms.copy()
    repaired = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
    out[bad] = [_polygonal(g) for g in repaired]
    return out


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    return shapely.union_all(parts) if len(parts) != 1 else parts[0]


def write_layer_files(
    layers: Mapping[str, gpd.GeoDataFrame], folder: Path
) -> dict[str, gpd.GeoDataFrame]:
    """Write each layer (WGS 84 already) to its GeoJSON file in a staging ``folder``.

    For a folder that is renamed into place as a whole (:func:`staged_folder`):
    each file is written and flushed, not renamed.

    Parameters
    ----------
    layers
        Layers by name (a key of :data:`LAYER_FILES`), in WGS 84.
    folder
        The staging folder.

    Returns
    -------
    dict
        The layers as written (oriented, at the written precision), by name.
    """
    written = {name: _as_written(orient_rfc7946(gdf)) for name, gdf in layers.items()}
    for name, gdf in written.items():
        path = folder / FILES[name]
        _write_features(gdf, path, layer=name)
        _fsync_file(path)
    return written


def write_geojson(gdf: gpd.GeoDataFrame, target: PathLike) -> None:
    """Write ``gdf`` to ``target`` as RFC 7946 GeoJSON, atomically.

    Coordinates are kept to 7 decimals (about 1 cm), as GDAL does for RFC 7946.
    """
    with atomic_path(target) as tmp:
        to_geojson_file(gdf, tmp, layer=Path(target).stem)


def to_geojson_file(gdf: gpd.GeoDataFrame, path: PathLike, *, layer: str) -> None:
    """Write ``gdf`` to ``path`` as RFC 7946 GeoJSON named ``layer`` (not atomic by itself).

    For files staged by :func:`atomic_paths`; elsewhere use :func:`write_geojson`.
    """
    _write_features(_as_written(orient_rfc7946(gdf)), path, layer=layer)


def _write_features(gdf: gpd.GeoDataFrame, path: PathLike, *, layer: str) -> None:
    """Write a FeatureCollection named ``layer`` of a frame already in WGS 84, oriented and
    rounded as written (:func:`orient_rfc7946`, :func:`_as_written`).

    The text is what GDAL's GeoJSON driver writes with ``RFC7946=YES`` (no ``crs``
    member, 7 decimals), except that a missing or non-finite number is written as
    null where GDAL leaves the property out; several times faster: GEOS
    writes the geometries, :func:`gis.geojson_text.properties_text` the
    properties (as :mod:`json` does), numbers in their shortest form that reads
    back exactly.
    """
    geometry = gdf.geometry.name
    props = pd.DataFrame(gdf.drop(columns=geometry))
    if props.index.name is not None or not pd.api.types.is_integer_dtype(props.index):
        props = props.reset_index()  # geopandas writes such an index as columns, too
    properties = properties_text(props)
    geoms = shapely.to_geojson(gdf.geometry.values)
    with open(path, "w", encoding="utf-8") as f:
        f.write(f'{{"type":"FeatureCollection","name":{json.dumps(layer)},"features":[\n')
        f.write(
            ",\n".join(
                '{"type":"Feature","properties":'
                + text
                + ',"geometry":'
                + (geom if geom is not None else "null")
                + "}"
                for text, geom in zip(properties, geoms, strict=True)
            )
        )
        f.write("\n]}\n")


def _for_gpkg(gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, bool]:
    """A polygon layer with invalid rings repaired (and True: write it as MultiPolygons)."""
    geoms = gdf.geometry.values
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
    if not polygonal.any():
        return gdf, False
    rings = geoms[polygonal]
    fixed = _valid(rings)
    if fixed is rings:  # all valid already
        return gdf, True
    out = gdf.copy()
    out.loc[polygonal, out.geometry.name] = fixed
    return out, True


def write_gpkg_layers(layers: Mapping[str, gpd.GeoDataFrame], target: PathLike) -> None:
    """Write or replace ``layers`` in the GeoPackage ``target``, atomically.

    Layers already in the file and not named in ``layers`` are kept.  Polygon
    layers are written as valid MultiPolygons (one geometry type per layer;
    rings that reprojection made touch or cross are repaired, as for GeoJSON);
    new ones by :mod:`gis.gpkg_write` (GDAL's tables, the rows filled in
    SQLite), the others by GDAL.
    """
    target = Path(target)
    with atomic_path(target) as tmp:
        if target.exists():
            shutil.copyfile(target, tmp)
        existing = set(pyogrio.list_layers(tmp)[:, 0]) if tmp.exists() else set()
        for name, gdf in layers.items():
            ready, polygonal = _for_gpkg(round_quantities(gdf))
            if name not in existing and writable(ready):  # GDAL's table, filled in SQLite
                write_gpkg_rows(ready, tmp, name)
                continue
            ready.to_file(
                tmp, layer=name, driver="GPKG", engine="pyogrio", promote_to_multi=polygonal
            )
