"""The clients people already use, against a live server on loopback: GDAL's OAPIF and OWSLib.

Every layer is paged in small pages and compared with its file in the build
folder (same ids, none twice), bbox answers are compared with the features
whose geometry meets the box, and GDAL must see one geometry type per layer.
Twice: on a synthetic town with diagonal streets and mixed isochrones, and on
the bundled Nanjing area (built once a session, its plan and coverage too).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import httpx
import pytest
import shapely
from owslib.ogcapi.features import Features

from api.area import Area
from gis.outputs import write_geojson
from tests.api_fixtures import ORIGIN, make_build_dir, server

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOWN_BOXES = [  # (w, s, e, n) offsets from the town's corner, in degrees
    (0.0075, 0.0001, 0.0079, 0.0004),  # inside the streets' bounding boxes, beside the streets
    (0.001, 0.001, 0.005, 0.003),
    (0.0021, 0.0005, 0.0022, 0.0006),
]
#: Boxes over Nanjing as fractions of its grids' extent: a block, a quarter, a corner strip.
NANJING_BOXES = [(0.41, 0.47, 0.44, 0.51), (0.5, 0.1, 0.75, 0.45), (0.0, 0.85, 0.3, 1.0)]


@dataclass(frozen=True)
class Live:
    """A live server over a build folder, the page size clients ask for and boxes to ask."""

    base: str
    folder: Path
    page: int
    boxes: list[tuple[float, float, float, float]]


def _town(folder: Path) -> Path:
    """The synthetic town with diagonal streets and isochrones of mixed polygon types."""
    make_build_dir(folder)
    x0, y0 = ORIGIN
    streets = [
        shapely.LineString([(x0 + 0.001 * i, y0), (x0 + 0.001 * i + 0.008, y0 + 0.008)])
        for i in range(6)
    ]
    write_geojson(
        gpd.GeoDataFrame({"id": [f"s{i}" for i in range(6)]}, geometry=streets, crs=4326),
        folder / "streets.geojson",
    )
    iso = [
        shapely.box(x0, y0, x0 + 0.004, y0 + 0.004),
        shapely.MultiPolygon(
            [
                shapely.box(x0, y0, x0 + 0.001, y0 + 0.001),
                shapely.box(x0 + 0.002, y0, x0 + 0.003, y0 + 0.001),
            ]
        ),
    ]
    write_geojson(
        gpd.GeoDataFrame({"minutes": [5, 10]}, geometry=iso, crs=4326),
        folder / "isochrones.geojson",
    )
    return folder


def _boxes_over(folder: Path, fractions: list[tuple[float, ...]]) -> list[tuple[float, ...]]:
    w, s, e, n = Area(folder).index("grids").bbox or [0.0, 0.0, 0.0, 0.0]
    return [
        (w + a * (e - w), s + b * (n - s), w + c * (e - w), s + d * (n - s))
        for a, b, c, d in fractions
    ]


@pytest.fixture(scope="module", params=["town", "nanjing"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """A uvicorn server (SQLite state) on loopback over the town, or over Nanjing."""
    if request.param == "town":
        folder = _town(tmp_path_factory.mktemp("ogc") / "build")
        page, boxes = 7, [_box(offsets) for offsets in TOWN_BOXES]  # small pages: several a layer
    else:
        built = request.getfixturevalue("nanjing_build")
        folder = Path(shutil.copytree(built, tmp_path_factory.mktemp("ogc") / "nanjing"))
        page, boxes = 200, _boxes_over(folder, NANJING_BOXES)  # 1,274 buildings: 7 pages
    with server(folder, None) as (base, _proc):
        yield Live(base, folder, page, boxes)


def _expected(folder: Path, name: str, box: tuple[float, ...] | None = None) -> list[str]:
    """Ids of a layer's features (those meeting ``box``) as the folder holds them."""
    index = Area(folder).index(name)
    if name == "districts":  # districts come from plan.csv: count grids' districts
        plan = {line.split(",")[1] for line in (folder / "plan.csv").read_text().splitlines()[1:]}
        assert box is None
        return sorted(plan)
    frame = index.frame
    keep = frame.intersects(shapely.box(*box)) if box else [True] * len(frame)
    return sorted(str(i) for i, k in zip(index.ids, keep, strict=True) if k)


def _meeting_bounds(folder: Path, name: str, box: tuple[float, ...]) -> int:
    """How many features of a layer have a bounding box meeting ``box``."""
    w, s, e, n = box
    b = Area(folder).index(name).bounds
    return int(((b[:, 0] <= e) & (b[:, 2] >= w) & (b[:, 1] <= n) & (b[:, 3] >= s)).sum())


def _box(offsets: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    w, s, e, n = offsets
    return (ORIGIN[0] + w, ORIGIN[1] + s, ORIGIN[0] + e, ORIGIN[1] + n)


def _layers(base: str) -> list[str]:
    return [c["id"] for c in httpx.get(f"{base}/collections").json()["collections"]]


def test_owslib_pages_every_layer_and_filters_by_geometry(live: Live) -> None:
    folder = live.folder
    api = Features(live.base)
    names = [c["id"] for c in api.collections()["collections"]]
    assert {"grids", "buildings", "districts", "streets", "isochrones"} <= set(names)
    tighter = 0  # boxes where matching by geometry differs from matching by bounds
    for name in names:
        boxes: list[tuple[float, ...] | None] = [None]
        if name != "districts":
            boxes += live.boxes
        for box in boxes:
            seen: list[str] = []
            offset = 0
            while True:
                kwargs = {"limit": live.page, "offset": offset}
                page = api.collection_items(name, **kwargs, **({"bbox": list(box)} if box else {}))
                seen += [str(f["id"]) for f in page["features"]]
                assert page["numberReturned"] == len(page["features"]) <= live.page
                if not any(link["rel"] == "next" for link in page["links"]):
                    break
                offset += live.page
            assert len(seen) == len(set(seen)), (name, box)  # no feature twice across pages
            assert sorted(seen) == _expected(folder, name, box), (name, box)
            assert page["numberMatched"] == len(seen)
            tighter += box is not None and len(seen) < _meeting_bounds(folder, name, box)
    assert tighter  # the boxes tell geometry from bounding boxes


def _ogr(page: int, *args: str) -> str:
    ogrinfo = shutil.which("ogrinfo")
    assert ogrinfo, "GDAL's ogrinfo is missing: bash scripts/setup.sh --system installs gdal-bin"
    env = {"GDAL_HTTP_TIMEOUT": "30", "CPL_DEBUG": "OFF", "GDAL_DISABLE_READDIR_ON_OPEN": "YES"}
    done = subprocess.run(
        [ogrinfo, "-ro", "-oo", f"PAGE_SIZE={page}", *args],
        capture_output=True, text=True, timeout=120, env={**env, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_gdal_lists_every_layer_with_one_geometry_type(live: Live) -> None:
    listing = _ogr(live.page, f"OAPIF:{live.base}")
    types = dict(re.findall(r"^\d+: (\w+) \(title: [^\n]*\) \(([^()]+)\)$", listing, re.M))
    assert set(types) == set(_layers(live.base)), listing
    assert "Unknown (any)" not in types.values(), types
    assert types["districts"] == types["isochrones"] == "Multi Polygon", types
    assert types["grids"] == "Polygon" and types["streets"] == "Line String", types


def _gdal_ids(live: Live, name: str, box: tuple[float, ...] | None) -> list[str]:
    spat = ["-spat", *map(repr, box)] if box else []
    out = _ogr(live.page, "-al", "-q", "-geom=NO", *spat, f"OAPIF:{live.base}", name)
    ids = re.findall(r"^\s+id \(String\) = (\S+)$", out, re.M)
    if not ids:  # layers with number ids
        ids = re.findall(r"^\s+id \(Integer(?:64)?\) = (\S+)$", out, re.M)
    return sorted(ids)


@pytest.mark.parametrize("name", ["grids", "buildings", "streets", "communities"])
def test_gdal_pages_layers_and_filters_by_bbox(live: Live, name: str) -> None:
    assert _gdal_ids(live, name, None) == _expected(live.folder, name)
    for box in live.boxes:
        assert _gdal_ids(live, name, box) == _expected(live.folder, name, box), box


def test_head_on_the_live_server_has_headers_and_no_body(live: Live) -> None:
    url = f"{live.base}/collections/grids/items?limit=3"
    get, head = httpx.get(url), httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["etag"] == get.headers["etag"]
    assert json.loads(get.content)["numberReturned"] == 3
