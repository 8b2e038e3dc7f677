"""The engine calls the API makes, one function each, in one place.

The engine modules (``gis.districting``, ``gis.plan``, ``gis.rebalance``,
``gis.siting``, ``gis.response``) are used when present.  While one of them is
not written yet, a small stand-in keeps the API usable; each stand-in is
marked ``stand-in`` and says so in what it returns (``"engine": "stand-in"``).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

Assignment = dict[str, int]
Progress = Callable[[float, str], None]


def _engine(module: str, name: str) -> Callable[..., Any] | None:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def _as_int(value: Any) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return int(value)


def normalise(assignment: Mapping[Any, Any] | pd.Series) -> Assignment:
    """``{grid code (str): district (int)}`` from a Series or mapping."""
    items = assignment.items()
    try:
        return {str(g): _as_int(d) for g, d in items}
    except (TypeError, ValueError):  # labels that are not numbers: number them
        labels = sorted({str(d) for _, d in assignment.items()})
        number = {label: i + 1 for i, label in enumerate(labels)}
        return {str(g): number[str(d)] for g, d in assignment.items()}


def _progress_adapter(progress: Progress | None) -> Callable[..., None] | None:
    if progress is None:
        return None

    done = [0.0]

    def call(*args: Any, **_kwargs: Any) -> None:
        nums = [a for a in args if isinstance(a, int | float)]
        text = next((a for a in args if isinstance(a, str)), "")
        if len(nums) >= 2 and nums[1]:
            done[0] = float(nums[0]) / float(nums[1])
        elif nums:
            done[0] = float(nums[0])
        else:  # a step name only: creep towards 0.9
            done[0] = min(0.9, done[0] + (0.9 - done[0]) * 0.25)
        progress(done[0], text)

    return call


def _accepts(func: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def draw(
    grids: gpd.GeoDataFrame,
    k: int,
    *,
    tolerance: float,
    nest: bool = False,
    from_plan: Assignment | None = None,
    progress: Progress | None = None,
) -> tuple[Assignment, list[str]]:
    """Draw ``k`` districts; returns the assignment and warnings."""
    draw_districts = _engine("gis.districting", "draw_districts")
    if draw_districts is None:
        return _stand_in_draw(grids, k, progress), ["stand-in districting: gis.districting missing"]
    kwargs: dict[str, Any] = {"tolerance": tolerance, "seed": 0}
    if nest and _accepts(draw_districts, "nest"):
        kwargs["nest"] = "communities"
    if from_plan is not None:
        kwargs["from_plan"] = pd.Series(from_plan, name="district")
    if progress is not None and _accepts(draw_districts, "progress"):
        kwargs["progress"] = _progress_adapter(progress)
    result = draw_districts(grids, k, **kwargs)
    assignment = getattr(result, "assignment", result)
    warnings = [str(w) for w in getattr(result, "warnings", []) or []]
    return normalise(assignment), warnings


def _stand_in_draw(grids: gpd.GeoDataFrame, k: int, progress: Progress | None) -> Assignment:
    """stand-in: cut a west→east sweep of grids into ``k`` runs of equal population."""
    from gis._errors import InfeasibleError

    if k > len(grids):
        raise InfeasibleError(f"k={k} is more than the {len(grids)} grids: choose a smaller k")
    pts = shapely.centroid(grids.geometry.values)
    order = np.lexsort((shapely.get_y(pts), shapely.get_x(pts)))
    pop = _population(grids).to_numpy()[order]
    cum = np.cumsum(pop) / max(pop.sum(), 1)
    district = np.minimum((cum * k - 1e-9).astype(int), k - 1) + 1
    # keep every district non-empty
    district = np.maximum(district, np.minimum(np.arange(len(order)) + 1, k))
    district = np.maximum.accumulate(district)
    codes = grids["code"].astype(str).to_numpy()[order]
    if progress:
        progress(1.0, "done")
    return {str(c): int(d) for c, d in zip(codes, district, strict=True)}


def _population(grids: pd.DataFrame) -> pd.Series:
    if "population" in grids.columns:
        return pd.to_numeric(grids["population"], errors="coerce").fillna(0)
    return pd.Series(1.0, index=grids.index)


def evaluate(
    grids: gpd.GeoDataFrame,
    assignment: Assignment,
    *,
    tolerance: float,
    cache: Any = None,
) -> dict[str, Any]:
    """Metrics of a plan (``max_deviation``, per-district figures).

    ``cache`` (an :class:`api.routes._area.LRU`) keeps the grid graph between calls.
    """
    state = _plan_state(grids, assignment, cache)
    if state is None:
        return _stand_in_evaluate(grids, assignment, tolerance)
    return _jsonable(state.evaluate(tolerance=tolerance))


def _plan_state(grids: gpd.GeoDataFrame, assignment: Assignment, cache: Any) -> Any:
    """The engine's ``PlanState`` over a cached grid graph, or None without the engine."""
    grid_graph = _engine("gis.plan", "grid_graph")
    plan_state = _engine("gis.plan", "PlanState")
    if grid_graph is None or plan_state is None:
        return None

    def make_graph() -> Any:
        return grid_graph(grids, tallied=("population", "households"))

    graph = cache.get_or_make("grid_graph", make_graph) if cache is not None else make_graph()
    series = pd.Series({g: str(d) for g, d in assignment.items()}, name="district")
    return plan_state.from_assignment(graph, series)


def _stand_in_evaluate(
    grids: gpd.GeoDataFrame, assignment: Assignment, tolerance: float
) -> dict[str, Any]:
    """stand-in: population, households, grids and deviation per district."""
    frame = pd.DataFrame(
        {
            "district": grids["code"].astype(str).map(assignment),
            "population": _population(grids).to_numpy(),
            "households": pd.to_numeric(grids.get("households", 0), errors="coerce"),
        }
    ).dropna(subset=["district"])
    per = frame.groupby("district").agg(
        population=("population", "sum"),
        households=("households", "sum"),
        grids=("population", "size"),
    )
    mean = per["population"].mean() if len(per) else 0.0
    per["deviation"] = per["population"] / mean - 1 if mean else 0.0
    max_dev = float(per["deviation"].abs().max()) if len(per) else 0.0
    return {
        "engine": "stand-in",
        "k": len(per),
        "population": float(per["population"].sum()),
        "mean_population": float(mean),
        "max_deviation": max_dev,
        "within_tolerance": bool(max_dev <= tolerance),
        "tolerance": tolerance,
        "districts": [
            {
                "district": int(d),
                "population": float(r.population),
                "households": float(r.households),
                "grids": int(r.grids),
                "deviation": float(r.deviation),
            }
            for d, r in per.iterrows()
        ],
    }


def suggest(
    grids: gpd.GeoDataFrame,
    assignment: Assignment,
    *,
    tolerance: float,
    limit: int,
    cache: Any = None,
) -> list[dict[str, Any]]:
    """Ranked rebalancing moves, each ``{rank, grids, from, to, before, after, reason}``."""
    suggest_moves = _engine("gis.rebalance", "suggest_moves")
    state = _plan_state(grids, assignment, cache) if suggest_moves is not None else None
    if suggest_moves is not None and state is not None and _accepts(suggest_moves, "state"):
        moves = suggest_moves(None, None, tolerance=tolerance, limit=limit, state=state)
        return [_normalise_move(i, m) for i, m in enumerate(moves)]
    if suggest_moves is not None:
        series = pd.Series(assignment, name="district")
        moves = suggest_moves(grids, series, tolerance=tolerance, limit=limit)
        return [_normalise_move(i, m) for i, m in enumerate(moves)]
    return _stand_in_suggest(grids, assignment, tolerance, limit, cache)


def _normalise_move(i: int, move: Any) -> dict[str, Any]:
    move = dict(_jsonable(move if isinstance(move, Mapping) else vars(move)))
    move.setdefault("rank", i + 1)
    grid_list = move.get("grids", move.get("grid", []))
    move["grids"] = [str(g) for g in (grid_list if isinstance(grid_list, list) else [grid_list])]
    move["from"] = _as_int(move["from"])
    move["to"] = _as_int(move["to"])
    return move


def _touching(grids: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    geoms = grids.geometry.values
    return shapely.STRtree(geoms).query(geoms, predicate="touches")


def _stand_in_suggest(
    grids: gpd.GeoDataFrame, assignment: Assignment, tolerance: float, limit: int, cache: Any
) -> list[dict[str, Any]]:
    """stand-in: single border grids moved from a heavy to a lighter neighbour district."""
    codes = grids["code"].astype(str).to_numpy()
    pop = dict(zip(codes, _population(grids).to_numpy(), strict=True))
    totals: dict[int, float] = {}
    for code, d in assignment.items():
        totals[d] = totals.get(d, 0.0) + float(pop.get(code, 0.0))
    if len(totals) < 2:
        return []
    mean = sum(totals.values()) / len(totals)

    def max_dev(t: Mapping[int, float]) -> float:
        return max(abs(v / mean - 1) for v in t.values()) if mean else 0.0

    before = max_dev(totals)
    if cache is not None:
        left, right = cache.get_or_make("touching", lambda: _touching(grids))
    else:
        left, right = _touching(grids)
    candidates = []
    for a, b in zip(left, right, strict=True):
        ga, gb = codes[a], codes[b]
        da, db = assignment.get(ga), assignment.get(gb)
        if da is None or db is None or da == db or totals[da] <= totals[db]:
            continue
        after_totals = dict(totals)
        after_totals[da] -= pop[ga]
        after_totals[db] += pop[ga]
        after = max_dev(after_totals)
        if after < before - 1e-12:
            candidates.append((after, ga, da, db))
    best: dict[str, tuple[float, str, int, int]] = {}
    for cand in sorted(candidates):
        best.setdefault(cand[1], cand)
    ranked = sorted(best.values())[:limit]
    return [
        {
            "rank": i + 1,
            "grids": [g],
            "from": int(da),
            "to": int(db),
            "before": {"max_deviation": before},
            "after": {"max_deviation": after},
            "reason": f"moves {pop[g]:.0f} people from district {da} to the lighter {db}",
            "engine": "stand-in",
        }
        for i, (after, g, da, db) in enumerate(ranked)
    ]


def warm(area: Any) -> None:
    """Build the cached grid graph and walking state of ``area`` ahead of requests."""
    grids = area.grids
    if len(grids):
        _plan_state(grids, {str(c): 1 for c in grids["code"]}, area.derived)
    _site_state(area)


def what_if(area: Any, lon: float, lat: float) -> dict[str, Any] | None:
    """What adding a service site at ``lon, lat`` changes, or None when unavailable.

    The walking state (network, snapped buildings, current distances) is made
    once per area from its buildings, streets and services (or POIs).
    """
    func = _engine("gis.siting", "what_if")
    state = _site_state(area) if func is not None else None
    if state is None:
        return None
    return _jsonable(func(state, lon, lat))


def _site_state(area: Any) -> Any:
    """The walking state for what-if (cached per area), or None when it cannot be made."""
    compute = _engine("gis.coverage", "compute_coverage")
    defaults = _engine("gis.coverage", "default_services")
    if compute is None or "streets" not in area.available():
        return None

    def make_state() -> Any:
        pois = area.index("pois").frame if "pois" in area.available() else None
        if "services" in area.available():
            services = area.index("services").frame
        elif defaults is not None:
            services = defaults(pois)[0]
        else:
            return None
        result = compute(
            area.index("buildings").frame,
            area.index("streets").frame,
            services,
            crs=area.meta.get("crs"),
            pois=pois,
            n_sites=1,
        )
        return result.state

    return area.derived.get_or_make("site_state", make_state)


def check_1310(data_dir: Any) -> dict[str, Any] | None:
    """The "1310" response check, or None when unavailable."""
    func = _engine("gis.response", "check_1310")
    if func is None:
        return None
    try:
        return _jsonable(func(data_dir))
    except TypeError:  # an engine signature this adapter does not know yet
        return None


def _jsonable(value: Any) -> Any:
    """Plain JSON types from engine results (numpy, pandas, dataclasses)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, pd.Series):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, pd.DataFrame):
        return [_jsonable(r) for r in value.to_dict(orient="records")]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if hasattr(value, "__dataclass_fields__"):
        return _jsonable(vars(value))
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
