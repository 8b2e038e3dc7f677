"""A served city folder: Berlin-Adlershof (the real extract) in six sub-districts.

Built once per test session (:func:`built_city`) and copied for each module that
serves it, so that the plans one server stores never reach another.  The
sub-districts are a 3 × 2 block of rectangles coded 001…006; the plan holds two
districts per sub-district (``gridplan districts DIR --k 2 --per subdistrict``).
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from api.cli import main
from gis.city import build_city

ROOT = Path(__file__).resolve().parents[1]


#: The real extract, as users download it (gzip-compressed OSM XML; bundled, ODbL, see
#: tests/data/SOURCE.txt).
ADLERSHOF = ROOT / "tests" / "data" / "berlin_adlershof.osm.xml.gz"
#: Its bounds (lon/lat), cut into the six sub-districts.
ADLERSHOF_BOUNDS = (13.5114, 52.4223, 13.5588, 52.4379)


def box_subdistricts(
    bounds: tuple[float, float, float, float], nx: int, ny: int
) -> gpd.GeoDataFrame:
    """``nx`` × ``ny`` rectangles over ``bounds``, coded 001… west → east, north → south."""
    w, s, e, n = bounds
    xs, ys = np.linspace(w, e, nx + 1), np.linspace(n, s, ny + 1)
    rows = [
        {
            "code": f"{j * nx + i + 1:03d}",
            "name": f"Teil {j * nx + i + 1}",
            "geometry": shapely.box(xs[i], ys[j + 1], xs[i + 1], ys[j]),
        }
        for j in range(ny)
        for i in range(nx)
    ]
    return gpd.GeoDataFrame(rows, crs="EPSG:4326")


@functools.cache
def built_city(base: Path) -> Path:
    """Adlershof in six sub-districts with two districts each, built under ``base`` once."""
    folder = base / "adlershof-city"
    subs = base / "adlershof-subdistricts.geojson"
    box_subdistricts(ADLERSHOF_BOUNDS, 3, 2).to_file(subs, driver="GeoJSON")
    build_city(ADLERSHOF, folder, subdistricts=subs)
    args = ["districts", str(folder), "--k", "2", "--per", "subdistrict", "--tolerance", "0.3"]
    assert main([*args, "--time-limit", "5"]) == 0
    return folder


def city_copy(base: Path, into: Path) -> Path:
    """A fresh copy of the city folder built under ``base``, at ``into`` (for one server)."""
    shutil.copytree(built_city(base), into)
    return into
