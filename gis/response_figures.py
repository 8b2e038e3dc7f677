"""What a 1310 check tells a planner: the summary, and the full result as files.

:func:`response_summary` keeps the figures of :func:`gis.response.check_1310`
a planner reads (no per-building lists); :func:`write_response` writes the
full result as JSON and the buildings outside the largest threshold as points
beside it, both new or both old.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis._errors import GridplanError, OutputError
from gis._types import PathLike
from gis.outputs import atomic_paths, dump_json, to_geojson_file

#: Columns of the outside buildings layer.
OUTSIDE_COLUMNS = ["id", "grid", "community", "district", "households", "response_s", "reachable"]


def outside_path(out: PathLike) -> Path:
    """Where the buildings outside go for ``out``: ``NAME_outside.geojson`` beside it."""
    out = Path(out)
    return out.with_name(f"{out.stem}_outside.geojson")


def check_json_target(out: PathLike) -> None:
    """Raise unless ``out`` is a .json file in an existing folder (before any work)."""
    out = Path(out)
    if out.suffix.lower() != ".json":
        raise OutputError(
            f"--out {out} must name a .json file (the buildings outside go beside it "
            "as NAME_outside.geojson), e.g. --out response.json"
        )
    if out.is_dir():
        raise OutputError(f"--out {out} is a folder: name a file in it, e.g. {out}/response.json")
    if not out.parent.is_dir():
        raise OutputError(f"the folder of --out {out} does not exist: create it first")


def response_summary(
    result: dict[str, Any],
    *,
    folder: Path,
    minutes: Sequence[float],
    bases_from: str,
    plan_file: str | None,
) -> dict[str, Any]:
    """The figures a planner reads (no per-building lists)."""
    summary: dict[str, Any] = {
        "folder": str(folder),
        "mode": result["mode"],
        "speed_m_s": result["speed_m_s"],
        "minutes": [int(m) if float(m).is_integer() else m for m in minutes],
        "bases": result["bases"],
        "bases_off_network": result["bases_off_network"],
        "bases_from": bases_from,
        "households": result["households"],
        "share_households": result["share_households"],
        "worst_case_s": result["worst_case_s"],
        "outside_buildings": result["outside_count"],
        "outside_households": round(sum(o["households"] for o in result["outside"]), 1),
        "unreachable_buildings": result["unreachable_buildings"],
        "buildings_without_grid": len(result["without_grid"]),
        "plan": plan_file,
    }
    if "per_district" in result:
        summary["per_district"] = result["per_district"]
    return summary


def households_outside_plan(buildings: gpd.GeoDataFrame, plan: pd.DataFrame) -> float:
    """Households in buildings whose grid the plan does not name (or without a grid).

    Counted as :func:`gis.response.check_1310` counts them (every building
    one household when the layer has none), so that they and the districts'
    households add up to the total.
    """
    n = len(buildings)
    hh = np.ones(n)
    if "households" in buildings.columns:
        hh = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy(float)
        if hh.sum() <= 0:
            hh = np.ones(n)
    grids = buildings["grid"].astype("string").fillna("") if "grid" in buildings else None
    named = np.zeros(n, bool) if grids is None else grids.isin(set(plan["grid"])).to_numpy(bool)
    return round(float(hh[~named & (hh > 0)].sum()), 1)


def write_response(
    out: PathLike,
    summary: dict[str, Any],
    result: dict[str, Any],
    buildings: gpd.GeoDataFrame,
    plan: pd.DataFrame | None,
) -> None:
    """Write the full result (JSON) and the outside buildings (GeoJSON points), together.

    Raises
    ------
    OutputError
        Either file cannot be written; both are then left as they were.
    """
    rows = _outside_rows(result, buildings, plan)
    outside = gpd.GeoDataFrame(
        pd.DataFrame(
            [{c: row[c] for c in OUTSIDE_COLUMNS} for row in rows], columns=OUTSIDE_COLUMNS
        ),
        geometry=gpd.GeoSeries([row["geometry"] for row in rows], crs=buildings.crs),
    )
    full = {
        **summary,
        "outside_file": outside_path(out).name,
        "worst_case_s_per_grid": result["worst_case_s_per_grid"],
        "outside": [{k: v for k, v in row.items() if k != "geometry"} for row in rows],
        "without_grid": result["without_grid"],
        "response_s": result["response_s"],
    }
    try:
        with atomic_paths(out, outside_path(out)) as (json_tmp, outside_tmp):
            json_tmp.write_text(dump_json(full), encoding="utf-8")
            to_geojson_file(outside, outside_tmp, layer=outside_path(out).stem)
    except GridplanError:
        raise
    except (OSError, RuntimeError) as exc:  # the file system's, or GDAL's (pyogrio)
        raise OutputError(f"cannot write {out}: {exc}") from exc


def _outside_rows(
    result: dict[str, Any], buildings: gpd.GeoDataFrame, plan: pd.DataFrame | None
) -> list[dict[str, Any]]:
    district = {} if plan is None else dict(zip(plan["grid"], plan["district"], strict=True))
    ids = buildings["id"].astype(str) if "id" in buildings.columns else buildings.index.astype(str)
    where = dict(zip(ids, buildings.geometry, strict=True))
    rows = []
    for item in result["outside"]:
        geom = where.get(item["id"])
        rows.append(
            {
                **item,
                "district": district.get(item["grid"]) if item["grid"] else None,
                "reachable": item["response_s"] is not None,
                "geometry": None if geom is None or geom.is_empty else geom.representative_point(),
            }
        )
    return rows
