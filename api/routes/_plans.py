"""Plan logic shared by the routers: versions as ETags, metrics, district layers."""

from __future__ import annotations

import re
from typing import Any

import geopandas as gpd
import shapely
from fastapi import HTTPException, Request

from api.routes import _engine
from api.routes._area import Area, FeatureIndex
from api.schemas import Link, PlanPublic, VersionPublic
from api.store import PlanRow, Store, VersionRow
from gis.crs import WGS84
from gis.exports import district_layer
from gis.outputs import json_safe

DEFAULT_PLAN = "current"
_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


def etag(version: int) -> str:
    """The ETag header value of a plan version."""
    return f'"{version}"'


def if_match(header: str | None) -> int:
    """The version an ``If-Match`` header names (428 when missing, 400 when malformed)."""
    if header is None:
        raise HTTPException(
            428,
            'this write needs If-Match: "<version>" with the plan version it is based on '
            "(the ETag of GET /plans/{id})",
        )
    match = _ETAG.match(header)
    if not match:
        raise HTTPException(400, f'If-Match must be a plan version like "7", not {header!r}')
    return int(match.group(1))


def metrics(area: Area, plan: PlanRow, version: VersionRow) -> dict[str, Any]:
    """The metrics of one plan version (cached per version)."""
    assignment = version.assignment
    assert assignment is not None
    key = ("metrics", plan.id, version.version, version.created_at, plan.tolerance)
    return area.derived.get_or_make(
        key,
        lambda: _engine.evaluate(
            area.grids, assignment, tolerance=plan.tolerance, cache=area.derived
        ),
    )


def plan_public(
    request: Request, area: Area, plan: PlanRow, version: VersionRow | None = None
) -> PlanPublic:
    """A plan's public form, with the metrics of its head version when given."""
    base = str(request.base_url).rstrip("/")
    href = f"{base}/plans/{plan.id}"
    return PlanPublic(
        id=plan.id,
        name=plan.name,
        k=plan.k,
        tolerance=plan.tolerance,
        nest=plan.nest,
        version=plan.version,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
        can_undo=version is not None and version.content_of > 1,
        can_redo=bool(plan.redo),
        grids=len(version.assignment) if version and version.assignment else 0,
        metrics=metrics(area, plan, version) if version is not None else None,
        links=[
            Link(rel="self", href=href, type="application/json"),
            Link(rel="versions", href=f"{href}/versions", type="application/json"),
            Link(rel="districts", href=f"{href}/districts", type="application/geo+json"),
            Link(rel="suggestions", href=f"{href}/suggestions", type="application/json"),
        ],
    )


def version_public(row: VersionRow, *, with_assignment: bool = False) -> VersionPublic:
    """A version's public form."""
    return VersionPublic(
        version=row.version,
        kind=row.kind,  # type: ignore[arg-type]
        content_of=row.content_of,
        message=row.message,
        moved=row.moved,
        created_at=row.created_at,
        assignment=row.assignment if with_assignment else None,
    )


def district_index(area: Area, store: Store, plan_id: str, version: int | None) -> FeatureIndex:
    """The districts of a plan version as an indexed layer (cached per version)."""
    plan = store.get_plan(plan_id)
    row = store.get_version(plan_id, version)
    key = ("districts", plan_id, row.version, row.created_at)

    def make() -> FeatureIndex:
        stored = store.get_district_shapes(plan_id, row.version)
        if stored is None:
            layer = _district_layer(area, plan, row)
            store.put_district_shapes(plan_id, row.version, _shape_rows(layer))
        else:
            layer = gpd.GeoDataFrame(
                [props for _d, props, _g in stored],
                geometry=shapely.from_geojson([g for _d, _p, g in stored]),
                crs=WGS84,
            )
        return FeatureIndex.from_frame("districts", layer, "district")

    return area.derived.get_or_make(key, make)


def _district_layer(area: Area, plan: PlanRow, row: VersionRow) -> gpd.GeoDataFrame:
    """Dissolved districts of a version with their deviation."""
    layer = district_layer(area.grids, row.assignment or {})
    facts = metrics(area, plan, row)
    deviation = {
        int(d["district"]): d.get("deviation")
        for d in facts.get("districts", [])
        if isinstance(d, dict) and "district" in d
    }
    layer["deviation"] = layer["district"].map(deviation)
    layer["plan"] = plan.id
    layer["version"] = row.version
    return layer


def _shape_rows(layer: gpd.GeoDataFrame) -> list[tuple[int, dict[str, Any], str]]:
    attrs = layer.drop(columns=layer.geometry.name).to_dict(orient="records")
    geoms = shapely.to_geojson(layer.geometry.values)
    return [
        (int(a["district"]), {k: json_safe(v) for k, v in a.items()}, str(g))
        for a, g in zip(attrs, geoms, strict=True)
    ]


def apply_moves(
    area: Area, plan: PlanRow, assignment: dict[str, int], moves: list[tuple[str, int]]
) -> tuple[dict[str, int], int]:
    """A copy of ``assignment`` with ``moves`` applied, and how many grids changed.

    Unknown grids and districts outside the plan are refused (422).
    """
    districts = set(assignment.values()) | set(range(1, plan.k + 1))
    new = dict(assignment)
    for grid, district in moves:
        if grid not in new:
            raise HTTPException(
                422, f"grid {grid!r} is not in this plan: use a code from /collections/grids"
            )
        if district not in districts:
            raise HTTPException(
                422,
                f"district {district} does not exist in this plan "
                f"(districts are {min(districts)}..{max(districts)})",
            )
        new[grid] = district
    moved = sum(1 for g, d in new.items() if assignment.get(g) != d)
    return new, moved
