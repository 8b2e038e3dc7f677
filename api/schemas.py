"""Request and response models, named by role (``PlanCreate``, ``PlanPublic``...).

Request models refuse NaN and infinities, and every integer is bounded
(versions fit the database's 32-bit column), so no value reaches the engine
or the database unchecked.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: Largest plan version (the databases' integer column).
VERSION_MAX = 2**31 - 1
#: Largest district number and number of districts.
DISTRICT_MAX = 100_000
GridCode = Annotated[str, Field(min_length=1, max_length=32)]
District = Annotated[int, Field(ge=0, le=DISTRICT_MAX)]
Version = Annotated[int, Field(ge=1, le=VERSION_MAX)]
_REQUEST = ConfigDict(extra="forbid", allow_inf_nan=False)


class Link(BaseModel):
    """A web link (OGC style)."""

    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class Move(BaseModel):
    """Put one grid in a district."""

    model_config = _REQUEST

    grid: str = Field(min_length=1, max_length=32, examples=["320102001001001"])
    district: int = Field(ge=0, le=DISTRICT_MAX, examples=[3])


class PlanCreate(BaseModel):
    """A new plan: drawn from scratch with ``k``, redrawn from another plan, or given."""

    model_config = _REQUEST

    name: str = Field(default="plan", min_length=1, max_length=200)
    k: int = Field(ge=1, le=10_000, description="number of districts")
    tolerance: float | None = Field(
        default=None, gt=0, lt=1, description="population deviation allowed (0.02 = ±2%)"
    )
    nest: bool = Field(default=False, description="keep districts inside communities")
    from_plan: str | None = Field(default=None, max_length=64)
    from_version: int | None = Field(default=None, ge=1, le=VERSION_MAX)
    keep: Literal["most", "some", "compact"] = Field(
        default="most",
        description="redrawing from_plan: keep the old districts most, some, or most compact",
    )
    assignment: dict[GridCode, District] | None = Field(
        default=None, description="grid → district; the plan is stored as given (201)"
    )


class PlanUpdate(BaseModel):
    """Edits to a plan: grid moves and/or a new name."""

    model_config = _REQUEST

    moves: list[Move] = Field(default_factory=list, max_length=10_000)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    message: str | None = Field(default=None, max_length=500)


class PlanPublic(BaseModel):
    """A plan as clients see it; ``version`` is its ETag."""

    id: str
    name: str
    k: int
    tolerance: float
    nest: bool
    version: int
    created_at: str
    updated_at: str
    can_undo: bool
    can_redo: bool
    grids: int
    valid: bool = Field(
        default=True, description="false when the grids were rebuilt since the plan was drawn"
    )
    grids_changed: GridChangesPublic | None = None
    metrics: dict[str, Any] | None = None
    links: list[Link] = []


class GridChangesPublic(BaseModel):
    """How a plan's grids differ from the served grids after a rebuild."""

    added: int = Field(description="served grids the plan puts in no district")
    removed: int = Field(description="grids of the plan that no longer exist")
    added_examples: list[str]
    removed_examples: list[str]
    message: str


class VersionPublic(BaseModel):
    """One version of a plan."""

    version: int
    kind: Literal["create", "edit", "suggestion", "undo", "redo"]
    content_of: int
    message: str
    moved: int
    created_at: str
    assignment: dict[str, int] | None = None


class AssignmentPublic(BaseModel):
    """A plan version's grid → district map."""

    plan: str
    version: int
    assignment: dict[str, int]


class MovePublic(BaseModel):
    """A grid that changed district between two versions."""

    grid: str
    from_: int | None = Field(alias="from")
    to: int | None

    model_config = ConfigDict(populate_by_name=True)


class ComparePublic(BaseModel):
    """What changed between versions ``a`` and ``b``."""

    a: int
    b: int
    grids_moved: int
    people_moved: float
    households_moved: float
    moves: list[MovePublic]
    metrics_a: dict[str, Any]
    metrics_b: dict[str, Any]
    delta: dict[str, float]


class SuggestionsPublic(BaseModel):
    """Ranked rebalancing moves for one version."""

    plan: str
    version: int
    suggestions: list[dict[str, Any]]


class JobPublic(BaseModel):
    """A long computation."""

    id: str
    kind: str
    status: Literal["queued", "running", "done", "failed"]
    progress: float
    message: str
    result: dict[str, Any] | None = None
    links: list[Link] = []


class WhatIf(BaseModel):
    """A candidate service site."""

    model_config = _REQUEST

    lon: float = Field(ge=-180, le=180, examples=[118.784])
    lat: float = Field(ge=-90, le=90, examples=[32.041])


class UploadPublic(BaseModel):
    """A validated upload."""

    id: str
    kind: str
    format: str
    features: int
    bbox: list[float] | None = None
    columns: list[str] = []
    warnings: list[str] = []


class InfoPublic(BaseModel):
    """What the page needs to start: area, language, rights, defaults."""

    name: str
    language: str
    bbox: list[float] | None
    crs: str | None
    role: Literal["planner", "viewer"] | None
    can_edit: bool
    tolerance: dict[str, Any]
    default_plan: str | None
    layers: list[str]
    storage: str
    tile_url: str | None = None
    tile_crs: Literal["wgs84", "gcj02"] = "wgs84"
    tile_attribution: str = ""
    tile_subdomains: str = "abc"


class Problem(BaseModel):
    """An error: what is wrong and what to do."""

    detail: str
    current_version: int | None = None


class GridTargets(BaseModel):
    """Grid size targets of a rebuild (None: the area's manifest, else the default)."""

    model_config = _REQUEST

    households_min: float | None = Field(default=None, ge=1, le=1_000_000)
    households_max: float | None = Field(default=None, ge=1, le=1_000_000)
    residents_max: float | None = Field(default=None, ge=1, le=10_000_000)


class BuildCreate(BaseModel):
    """A rebuild of the served folder from its source, with uploads and grid targets."""

    model_config = _REQUEST

    households: str | None = Field(
        default=None, max_length=64, description="id of a households upload (CSV)"
    )
    communities: str | None = Field(
        default=None, max_length=64, description="id of a communities upload"
    )
    targets: GridTargets = Field(default_factory=GridTargets)


class BuildPublic(BaseModel):
    """What a rebuild changed (the result of a build job)."""

    id: str
    grids_before: int
    grids_after: int
    grids_added: list[str]
    grids_removed: list[str]
    households_changed: dict[str, float] = Field(
        description="grid → change in households, for grids kept whose households changed"
    )
    plans_marked: list[str] = Field(description="plans whose grids are no longer the served ones")
    summary: dict[str, Any]
