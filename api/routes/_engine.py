"""The engine calls the API makes, one function each, in one place.

Routes never reach into ``gis`` themselves: they call these adapters, which
turn API values (``{grid: district}`` dicts) into the engine's and back into
plain JSON.  Engine modules are imported inside the functions, so importing
the API stays light.  The grid graph and the walking state are built once
per served area and kept in its cache.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import geopandas as gpd
import pandas as pd

from gis.outputs import json_safe

Assignment = dict[str, int]
Progress = Callable[[float, str], None]


def normalise(assignment: Mapping[Any, Any] | pd.Series) -> Assignment:
    """``{grid code (str): district (int)}`` from a Series or mapping.

    District labels that are not numbers are numbered 1.. in sorted order.
    """
    try:
        return {str(g): int(d) for g, d in assignment.items()}
    except (TypeError, ValueError):
        labels = sorted({str(d) for _, d in assignment.items()})
        number = {label: i + 1 for i, label in enumerate(labels)}
        return {str(g): number[str(d)] for g, d in assignment.items()}


def _progress_adapter(progress: Progress) -> Callable[[str], None]:
    """The engine reports step names; move the fraction towards 0.9 at each step."""
    done = [0.0]

    def call(step: str = "", *_args: Any) -> None:
        done[0] = min(0.9, done[0] + (0.9 - done[0]) * 0.25)
        progress(done[0], str(step))

    return call


def check_k(grids: gpd.GeoDataFrame, k: int, *, nest: bool) -> None:
    """Refuse at once a ``k`` the districting cannot meet (422), before a job is queued.

    Any ``k`` from 1 to the number of grids can be drawn; with ``nest`` every
    community needs at least one district of its own.
    """
    from gis._errors import InfeasibleError

    if k > len(grids):
        raise InfeasibleError(f"k={k} is more than the {len(grids)} grids: choose a smaller k")
    if nest and "community" in grids.columns:
        communities = int(grids["community"].nunique())
        if k < communities:
            raise InfeasibleError(
                f"k={k} with nesting is fewer than the {communities} communities: each "
                f"community needs a district of its own; choose k >= {communities} or nest=false"
            )


def draw(
    grids: gpd.GeoDataFrame,
    k: int,
    *,
    tolerance: float,
    nest: bool = False,
    from_plan: Assignment | None = None,
    keep: str = "most",
    progress: Progress | None = None,
    adjacency: Any = None,
) -> tuple[Assignment, list[str], list[dict[str, Any]] | None]:
    """Draw ``k`` districts (from scratch or from ``from_plan``).

    Returns the assignment, the warnings and, for a redraw, the trade-off
    between people moved and compactness at each keep level.

    A ``from_plan`` drawn on other grids (a rebuild since) keeps its districts
    on the grids that still exist; new grids join their neighbours' districts,
    and the warnings say how many.
    """
    from gis.districting import draw_districts
    from gis.plan import read_plan

    notes: list[str] = []
    old = None
    if from_plan is not None:
        series = pd.Series(from_plan, name="district").rename_axis("grid")
        old, notes = read_plan(series, grids, drop_unknown=True)
    result = draw_districts(
        grids,
        k,
        tolerance=tolerance,
        nest="communities" if nest else None,
        from_plan=old,
        keep=keep,
        seed=0,
        progress=None if progress is None else _progress_adapter(progress),
        adjacency=adjacency,  # on land, or over a bridge (the build's adjacency.csv)
    )
    tradeoff = result.summary.get("tradeoff")
    warnings = [*notes, *(str(w) for w in result.warnings or [])]
    return normalise(result.assignment), warnings, None if tradeoff is None else json_safe(tradeoff)


def adjacency(area: Any) -> Any:
    """The build's grid adjacency (``adjacency.csv``: on land, or over a bridge), None if absent."""
    from gis.adjacency import read_adjacency
    from gis.outputs import BuildFolder

    path = BuildFolder(area.data_dir).file("adjacency")
    if not path.is_file():
        return None
    codes = area.grids["code"].astype(str).to_numpy()
    return area.derived.get_or_make(("adjacency",), lambda: read_adjacency(path, codes))


def _plan_state(
    grids: gpd.GeoDataFrame, assignment: Assignment, cache: Any, adjacency: Any = None
) -> Any:
    """The engine's ``PlanState`` over the area's grid graph (built once, cached)."""
    from gis.plan import PlanState, grid_graph

    def make_graph() -> Any:
        return grid_graph(grids, adjacency=adjacency, tallied=("population", "households"))

    graph = cache.get_or_make("grid_graph", make_graph) if cache is not None else make_graph()
    series = pd.Series({g: str(d) for g, d in assignment.items()}, name="district")
    return PlanState.from_assignment(graph, series)


def evaluate(
    grids: gpd.GeoDataFrame,
    assignment: Assignment,
    *,
    tolerance: float,
    cache: Any = None,
    adjacency: Any = None,
) -> dict[str, Any]:
    """Metrics of a plan: ``max_deviation``, contiguity, compactness, per district."""
    from gis.cityplan import subdistrict_metrics

    state = _plan_state(grids, assignment, cache, adjacency)
    # a city plan whose districts nest in sub-districts is balanced within each
    return json_safe(subdistrict_metrics(state, state.evaluate(tolerance=tolerance)))


def suggest(
    grids: gpd.GeoDataFrame,
    assignment: Assignment,
    *,
    tolerance: float,
    limit: int,
    cache: Any = None,
    adjacency: Any = None,
) -> list[dict[str, Any]]:
    """Ranked rebalancing moves, each ``{rank, grids, from, to, before, after, reason}``."""
    from gis.rebalance import suggest_moves

    state = _plan_state(grids, assignment, cache, adjacency)
    moves = suggest_moves(None, None, tolerance=tolerance, limit=limit, state=state)
    return [_normalise_move(i, m) for i, m in enumerate(moves)]


def _normalise_move(i: int, move: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(json_safe(move))
    out.setdefault("rank", i + 1)
    grid_list = out.get("grids", out.get("grid", []))
    out["grids"] = [str(g) for g in (grid_list if isinstance(grid_list, list) else [grid_list])]
    out["from"] = int(out["from"])
    out["to"] = int(out["to"])
    return out


def warm(area: Any) -> None:
    """Build the cached grid graph and walking state of ``area`` ahead of requests."""
    grids = area.grids
    if len(grids):
        _plan_state(grids, {str(c): 1 for c in grids["code"]}, area.derived, adjacency(area))
    _site_state(area)


def what_if(area: Any, lon: float, lat: float) -> dict[str, Any] | None:
    """What adding a service site at ``lon, lat`` changes, or None without streets.

    The walking state (network, snapped buildings, current distances) is made
    once per area from its buildings, streets and services (or POIs).
    """
    from gis.siting import what_if as engine_what_if

    state = _site_state(area)
    if state is None:
        return None
    return json_safe(engine_what_if(state, lon, lat))


def _site_state(area: Any) -> Any:
    """The walking state for what-if (cached per area), or None without streets."""
    if "streets" not in area.available():
        return None

    def make_state() -> Any:
        from gis.coverage import compute_coverage

        pois = area.index("pois").frame if "pois" in area.available() else None
        result = compute_coverage(
            area.index("buildings").frame,
            area.index("streets").frame,
            _services(area),
            crs=area.meta.get("crs"),
            pois=pois,
            n_sites=1,
            barriers=_layer(area, "barriers"),
            entrances=_layer(area, "entrances"),
        )
        return result.state

    return area.derived.get_or_make("site_state", make_state)


def check_1310(area: Any, *, mode: str = "walk") -> dict[str, Any] | None:
    """The "1310" response check from the service points as worker bases (cached).

    None without streets.  The per-building ``response_s`` table is left out
    of the answer (the buildings layer carries the walking times).
    """
    if "streets" not in area.available():
        return None

    def make() -> dict[str, Any]:
        from gis.outputs import BuildFolder
        from gis.response import check_1310 as engine_check

        result = engine_check(
            area.index("buildings").frame,
            area.index("streets").frame,
            _services(area),
            mode=mode,
            crs=area.meta.get("crs"),
            plan=BuildFolder(area.data_dir).plan_table(),  # the folder's plan, as `respond`
            barriers=_layer(area, "barriers"),
            entrances=_layer(area, "entrances"),
        )
        result = {k: v for k, v in result.items() if k != "response_s"}
        return {"mode": mode, "bases_from": "service points", **json_safe(result)}

    return area.derived.get_or_make(("1310", mode), make)


def _layer(area: Any, name: str) -> gpd.GeoDataFrame | None:
    """A layer of the build that access legs follow (barriers, entrances), None if absent."""
    from gis.outputs import BuildFolder

    return BuildFolder(area.data_dir).read(name, required=False)


def _services(area: Any) -> gpd.GeoDataFrame:
    """The service points: the ``services`` layer, else those chosen from the POIs."""
    from gis.coverage import default_services

    if "services" in area.available():
        return area.index("services").frame
    pois = area.index("pois").frame if "pois" in area.available() else None
    return default_services(pois)[0]
