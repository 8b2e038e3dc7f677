"""Plans over HTTP: the edit flow, versions as ETags, metrics, marks and district layers.

A plan edit (``PATCH /plans/{id}``, see :func:`api.routes.plans.update_plan`)
reads as three steps: the ``If-Match`` version (:func:`if_match`), one store
transaction that checks the head, applies the change and stores the next
version (:meth:`api.store.Store.change_plan` with :func:`edit`, :func:`undo`,
:func:`redo` or :func:`apply_suggestion`), and the answer with the new head's
metrics (:func:`answer`).  A plan whose grids vanished or appeared in a
rebuild is kept and marked (:func:`grid_changes`); it can be renamed, read,
exported or redrawn, not edited.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import shapely
from fastapi import HTTPException
from fastapi.responses import JSONResponse

from api.area import Area, FeatureIndex
from api.routes import _engine
from api.schemas import GridChangesPublic, Link, PlanPublic, VersionPublic
from api.store import Change, MakeChange, PlanRow, Store, VersionLookup, VersionRow
from gis._errors import ConflictError, UnknownIdError
from gis.crs import WGS84
from gis.exports import district_layer
from gis.outputs import BuildFolder, json_safe

#: The plan loaded from ``DIR/plan.csv`` at start.
DEFAULT_PLAN = "current"
_ETAG = re.compile(r'^\s*(W/)?"?(\d{1,9})"?\s*$')


def etag(version: int) -> str:
    """The ETag header value of a plan version (a strong validator)."""
    return f'"{version}"'


def if_match(header: str | None) -> int | None:
    """The version an ``If-Match`` header names; None for ``*`` (any current version).

    Missing → 428, malformed → 400; a weak validator (``W/"7"``) never matches,
    as If-Match compares strongly → 412.
    """
    if header is None:
        raise HTTPException(
            428,
            'this write needs If-Match: "<version>" with the plan version it is based on '
            "(the ETag of GET /plans/{id})",
        )
    if header.strip() == "*":
        return None
    match = _ETAG.match(header)
    if not match:
        raise HTTPException(400, f'If-Match must be a plan version like "7", not {header!r}')
    if match.group(1):
        raise ConflictError(
            f"If-Match {header.strip()} is a weak validator and never matches (If-Match "
            f'compares strongly): send the ETag as it came, e.g. If-Match: "{match.group(2)}"'
        )
    return int(match.group(2))


# -- the changes a write makes (each runs inside the store's transaction) ------


@dataclass(frozen=True)
class GridChanges:
    """Grids of the served folder that a plan does not name, and grids it names that are gone."""

    added: list[str]
    removed: list[str]

    def describe(self) -> str:
        """A planner's sentence."""
        return (
            f"the grids were rebuilt since this plan was drawn: {len(self.removed)} of its "
            f"grids no longer exist (e.g. {', '.join(self.removed[:3]) or '-'}) and "
            f"{len(self.added)} new grids are in no district (e.g. "
            f"{', '.join(self.added[:3]) or '-'}); redraw it from this plan "
            "(POST /plans with from_plan) to use it on the new grids"
        )


def grid_changes(area: Area, assignment: dict[str, int] | None) -> GridChanges | None:
    """How a plan's grids differ from the served ones (None when they are the same)."""
    named = set(assignment or {})
    codes = area.grid_codes
    if named == codes:
        return None
    return GridChanges(added=sorted(codes - named), removed=sorted(named - codes))


def _editable(area: Area, head: VersionRow) -> None:
    changes = grid_changes(area, head.assignment)
    if changes is not None:
        raise HTTPException(409, changes.describe())


def edit(
    area: Area, moves: Sequence[tuple[str, int]], *, name: str | None, message: str | None
) -> MakeChange:
    """Move grids between districts and/or rename."""

    def make(plan: PlanRow, head: VersionRow, _versions: VersionLookup) -> Change:
        if moves:
            _editable(area, head)
        assignment, moved = apply_moves(plan, head.assignment or {}, moves)
        text = message or (f"moved {moved} grid(s)" if moves else "renamed")
        return Change("edit", assignment, text, moved, name=name)

    return make


def undo(area: Area) -> MakeChange:
    """Go back to the state before the last edit (redo can restore it)."""

    def make(plan: PlanRow, head: VersionRow, versions: VersionLookup) -> Change:
        _editable(area, head)
        if head.content_of <= 1:
            raise HTTPException(409, "nothing to undo: this plan is at its first state")
        target = versions(versions(head.content_of - 1).content_of)
        return Change(
            "undo",
            target.assignment or {},
            f"undo: back to the state of version {target.content_of}",
            count_moves(head.assignment, target.assignment),
            content_of=target.content_of,
            redo=[*plan.redo, head.content_of],
        )

    return make


def redo(area: Area) -> MakeChange:
    """Restore the edit the last undo took back."""

    def make(plan: PlanRow, head: VersionRow, versions: VersionLookup) -> Change:
        _editable(area, head)
        if not plan.redo:
            raise HTTPException(409, "nothing to redo: no undo since the last edit")
        target = versions(plan.redo[-1])
        return Change(
            "redo",
            target.assignment or {},
            f"redo: the state of version {target.content_of}",
            count_moves(head.assignment, target.assignment),
            content_of=target.content_of,
            redo=plan.redo[:-1],
        )

    return make


def apply_suggestion(area: Area, rank: int, chosen: dict[str, Any]) -> MakeChange:
    """Apply one ranked suggestion (computed on the ``If-Match`` version)."""
    moves = [(str(g), int(chosen["to"])) for g in chosen["grids"]]

    def make(plan: PlanRow, head: VersionRow, _versions: VersionLookup) -> Change:
        _editable(area, head)
        assignment, moved = apply_moves(plan, head.assignment or {}, moves)
        reason = f"suggestion {rank}: {chosen.get('reason', '')}".strip()
        return Change("suggestion", assignment, reason, moved)

    return make


def apply_moves(
    plan: PlanRow, assignment: dict[str, int], moves: Sequence[tuple[str, int]]
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
    return new, count_moves(assignment, new)


def count_moves(a: dict[str, int] | None, b: dict[str, int] | None) -> int:
    """Grids whose district differs between two assignments."""
    a, b = a or {}, b or {}
    return sum(1 for g in set(a) | set(b) if a.get(g) != b.get(g))


# -- answers ------------------------------------------------------------------


def answer(base: str, area: Area, plan: PlanRow, head: VersionRow, code: int = 200) -> JSONResponse:
    """A plan's head as the answer of a read or a write: PlanPublic with metrics and ETag."""
    public = plan_public(base, area, plan, head)
    return JSONResponse(
        public.model_dump(mode="json"), status_code=code, headers={"ETag": etag(plan.version)}
    )


def metrics(area: Area, plan: PlanRow, version: VersionRow) -> dict[str, Any]:
    """The metrics of one plan version (cached per version); 409 when its grids are gone."""
    assert version.assignment is not None
    _editable(area, version)
    key = ("metrics", plan.id, version.version, version.created_at, plan.tolerance)
    assignment = version.assignment
    return area.derived.get_or_make(
        key,
        lambda: _engine.evaluate(
            area.grids,
            assignment,
            tolerance=plan.tolerance,
            cache=area.derived,
            adjacency=_engine.adjacency(area),
        ),
    )


def plan_public(
    base: str,
    area: Area,
    plan: PlanRow,
    head: VersionRow | None = None,
    *,
    with_metrics: bool = True,
) -> PlanPublic:
    """A plan's public form; with its head: grid count, marks and (unless told) metrics."""
    href = f"{base}/plans/{plan.id}"
    changes = grid_changes(area, head.assignment) if head is not None else None
    return PlanPublic(
        id=plan.id,
        name=plan.name,
        k=plan.k,
        tolerance=plan.tolerance,
        nest=plan.nest,
        version=plan.version,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
        can_undo=head is not None and head.content_of > 1 and changes is None,
        can_redo=bool(plan.redo) and changes is None,
        grids=len(head.assignment) if head and head.assignment else 0,
        valid=changes is None,
        grids_changed=None
        if changes is None
        else GridChangesPublic(
            added=len(changes.added),
            removed=len(changes.removed),
            added_examples=changes.added[:10],
            removed_examples=changes.removed[:10],
            message=changes.describe(),
        ),
        metrics=metrics(area, plan, head)
        if head is not None and with_metrics and changes is None
        else None,
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


# -- the default plan and district layers ---------------------------------------


def load_default_plan(store: Store, area: Area, *, tolerance: float) -> None:
    """Store ``DIR/plan.csv`` as plan ``current`` (version 1) unless it exists."""
    import pandas as pd

    path = BuildFolder(area.data_dir).file("plan")
    if not path.exists():
        return
    try:
        store.get_plan(DEFAULT_PLAN)
        return
    except UnknownIdError:
        pass
    table = pd.read_csv(path, dtype={"grid": str})
    assignment = _engine.normalise(dict(zip(table["grid"], table["district"], strict=True)))
    with contextlib.suppress(ConflictError):  # another process loaded it at the same time
        store.create_plan(
            plan_id=DEFAULT_PLAN,
            name=f"{area.meta.get('name', 'area')} (plan.csv)",
            k=len(set(assignment.values())),
            tolerance=tolerance,
            nest=False,
            assignment=assignment,
            message="loaded from plan.csv",
        )


def district_index(area: Area, store: Store, plan_id: str, version: int | None) -> FeatureIndex:
    """The districts of a plan version as an indexed layer (cached per version)."""
    if version is None:
        plan, row = store.get_head(plan_id)
    else:
        plan, row = store.get_plan(plan_id), store.get_version(plan_id, version)
    _editable(area, row)
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
        # the version names the plan version: ETags of its pages and tiles change with edits
        tag = hashlib.blake2b(repr(key).encode(), digest_size=6).hexdigest()
        return FeatureIndex.from_frame(
            "districts", layer, "district", version=f"{area.version}.{tag}"
        )

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
        (int(a["district"]), {str(k): json_safe(v) for k, v in a.items()}, str(g))
        for a, g in zip(attrs, geoms, strict=True)
    ]
