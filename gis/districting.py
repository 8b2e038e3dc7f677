"""Districting: k balanced, contiguous, compact districts, fresh or from an old plan.

The main flow is :func:`draw_districts`:

1. turn the grids into numbers (:func:`gis.plan.grid_graph`);
2. a balanced first plan: fresh (METIS parts, :mod:`gis.partition`, inside
   communities when nesting), or redrawn from an old plan at the planner's
   keep level (:mod:`gis.redraw`); then a local search that moves boundary
   grids only when both districts stay contiguous (:mod:`gis.search`);
   fresh plans that miss the tolerance retry with derived seeds;
3. when the tolerance is still missed: boundary moves chosen jointly by a
   MILP when several quantities pull apart (:mod:`gis.transfer`); on coarse
   grids (a few per district) the exact search (:mod:`gis.exact`), which
   finds the best achievable plan or proves how close this one is; on finer
   grids an iterated local search;
4. smooth boundaries (moves that cut fewer edges and keep the tolerance);
5. report metrics, what moved (for a redraw, every keep level side by
   side), and the proven bound.

Everything is deterministic for a given ``seed`` (unless ``time_limit`` cuts
the search short).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis._errors import InfeasibleError, PlanError
from gis.adjacency import Adjacency
from gis.exact import GAP, MAX_GRIDS_PER_DISTRICT, ExactResult, solve_exact, warm_up
from gis.groups import Groups
from gis.partition import allot_seats, partition_groups
from gis.plan import GridGraph, PlanState, grid_graph, repair_contiguity, sort_ids, to_metric
from gis.recombine import recombine
from gis.redraw import KEEP_LEVELS, redraw, redraw_nested
from gis.search import balance_state, perturb_and_polish, polish_worst, smooth, worst_scale
from gis.transfer import transfer_balance

#: Partitions tried (with derived seeds) for a fresh plan that misses its tolerance.
RETRIES = 6
#: Share of the time left that the first exact search may take (coarse grids).
QUICK_SHARE = 0.4
#: Share of the time left that a redraw's local search may take before the exact search.
LOCAL_SHARE = 0.3
#: Share of the time left then that the exact re-cuts of neighbouring districts may take.
RECUT_SHARE = 0.3
#: Share of the time limit kept for smoothing and reporting after the search.
RESERVE_SHARE = 0.1
#: Share of the time limit for the plan itself when redrawing (the rest: the other keep levels).
REDRAW_SHARE = 0.7


@dataclass
class DistrictingResult:
    """What :func:`draw_districts` returns.

    Attributes
    ----------
    assignment
        Grid code → district id (strings ``"1"`` … ``"k"``, or the old ids
        when ``from_plan`` has the same k).
    summary
        JSON-serialisable plan figures (see :func:`draw_districts`).
    districts
        One polygon per district (WGS 84) with its metrics.
    warnings
        Repairs made and tolerances that could not be met.
    state
        The final :class:`gis.plan.PlanState`, for further edits.
    """

    assignment: pd.Series
    summary: dict[str, Any]
    districts: gpd.GeoDataFrame
    warnings: list[str] = field(default_factory=list)
    state: PlanState | None = None


def draw_districts(
    grids: gpd.GeoDataFrame,
    k: int,
    *,
    tolerance: float = 0.02,
    nest: str | None = None,
    from_plan: pd.Series | None = None,
    keep: str = "most",
    balance: Sequence[str] | Mapping[str, float] = ("population",),
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    adjacency: Adjacency | None = None,
    crs: str | None = None,
    time_limit: float = 30.0,
) -> DistrictingResult:
    """Draw ``k`` contiguous, balanced, compact districts.

    Parameters
    ----------
    grids
        Grids with ``code``, ``population`` (and the other balanced
        quantities), optionally ``households`` and ``community``; any CRS.
    k
        Number of districts.
    tolerance
        Allowed deviation from the ideal (fraction, 0.02 = ±2%) for every
        quantity in ``balance`` given as a sequence.
    nest
        ``"communities"`` to keep every district inside one community.
    from_plan
        An existing plan (grid code → district id): its districts are kept
        where balance allows; with another k they are split or merged.
    keep
        With ``from_plan``: ``"most"`` keeps the old boundaries where balance
        allows, ``"compact"`` draws the most compact plan, ``"some"`` lies
        between (:mod:`gis.redraw`); the summary's ``tradeoff`` lists all three.
    balance
        Quantities to balance, or a mapping quantity → tolerance.
    seed
        Seed of the partitioner; equal seeds give equal plans.
    progress
        Called with a short message at each stage.
    adjacency
        The grids' neighbour graph, when already built.
    crs
        Preferred metric CRS (the build's ``crs``).
    time_limit
        Seconds the search may take before it stops with the best plan
        (plans are deterministic for a seed unless this limit cuts them short).

    Returns
    -------
    DistrictingResult
        ``summary`` holds ``max_deviation``, ``deviation_range``,
        ``contiguous``, ``cut_edges``, ``moved_grids``, ``moved_population``,
        ``best_bound`` (no plan can have a smaller max deviation) and the
        per-district metrics.

    Raises
    ------
    InfeasibleError
        ``k`` is below 1 or above the number of grids, or nesting needs more
        districts than ``k`` or more than a community's grids.
    """
    say = progress or (lambda _msg: None)
    quantities, tol = _balance_spec(balance, tolerance)
    # 1. grids as numbers; the clock starts (the exact search compiled first, when it may run)
    gm = to_metric(grids, crs=crs)
    graph = grid_graph(
        gm, adjacency=adjacency, quantities=quantities, tallied=("population", "households")
    )
    _check_k(graph, k)
    warnings = _bridge_notes(graph)
    clock = _Budget.start(graph, k, time_limit, redraw=from_plan is not None)
    deadline = clock.search
    # 2. a balanced first plan: redrawn from the old one, or fresh (inside communities or not)
    say(f"partitioning {graph.n} grids into {k} districts")
    old = None
    if from_plan is not None:
        old = PlanState.from_assignment(graph, from_plan)
        warnings += repair_contiguity(old)
        state, rule = _redrawn(
            graph, old, k, tol, keep=keep, nest=nest, seed=seed, deadline=deadline
        )
    else:
        state, rule = _fresh(graph, k, tol, nest=nest, seed=seed, deadline=deadline, say=say)
    # 3. out of tolerance: joint moves, the exact search on coarse grids, an iterated local search
    state, exact = _reach(state, tol, rule, old=old, seed=seed, deadline=deadline, say=say)
    # 4. smoother boundaries within the tolerance
    smooth(state, tol, groups=rule, deadline=clock.smooth)
    # 5. figures, the proven bound, what moved (and, for a redraw, the other trade-offs)
    summary = _report(state, tol, rule, old=old, exact=exact, nest=nest, seed=seed)
    if old is not None:
        summary["keep"] = keep
        summary["tradeoff"] = tradeoff(
            graph, old, k, tol, chosen=(keep, state), nest=nest, seed=seed, deadline=clock.end
        )
    warnings += _plan_warnings(summary, tol, graph.balanced)
    summary["warnings"] = warnings
    districts = district_polygons(gm, state, summary)
    return DistrictingResult(state.assignment(), summary, districts, warnings, state)


@dataclass(frozen=True)
class _Budget:
    """When the stages of :func:`draw_districts` stop (``time.monotonic()`` values).

    Attributes
    ----------
    search
        The first plan and the search for the tolerance (stages 2 and 3).
    smooth
        Smoother boundaries (stage 4).
    end
        Everything, the other keep levels of a redraw included (stage 5).
    """

    search: float
    smooth: float
    end: float

    @classmethod
    def start(cls, graph: GridGraph, k: int, time_limit: float, *, redraw: bool) -> _Budget:
        """The budget of a plan starting now; compiles the exact search first on coarse grids."""
        if graph.n <= MAX_GRIDS_PER_DISTRICT * k:
            warm_up()  # once per machine (numba's cache on disk), not on the plan's clock
        now = time.monotonic()
        plan = time_limit * (REDRAW_SHARE if redraw else 1.0)
        return cls(now + plan * (1.0 - RESERVE_SHARE), now + plan, now + time_limit)


def _bridge_notes(graph: GridGraph) -> list[str]:
    """What joins grids that share no land boundary: street links, then nearest grids."""
    links = graph.adjacency.links
    nearest = sum(link.kind == "nearest" for link in links)
    notes = []
    if len(links) > nearest:
        notes.append(
            f"{len(links) - nearest} pair(s) of grids are neighbours across water only over "
            "a bridge, tunnel or ferry"
        )
    if nearest:
        notes.append(
            f"{nearest} island(s) or enclave(s) with no street link joined to their nearest grid"
        )
    return notes


def _fresh(
    graph: GridGraph,
    k: int,
    tol: np.ndarray,
    *,
    nest: str | None,
    seed: int,
    deadline: float,
    say: Callable[[str], None],
) -> tuple[PlanState, Groups]:
    """A fresh plan (inside communities when nesting), balanced; retried with derived seeds.

    Fresh plans that miss the tolerance try again with other METIS seeds
    (several quantities: fewer tries, the joint moves do better); the best
    plan by its worst deviation is kept.
    """
    if nest == "communities":
        groups, hard = _community_groups(graph, k), True
    elif nest is None:
        groups, hard = np.zeros(graph.n, dtype=np.int64), False
    else:
        raise PlanError(f"unknown nesting {nest!r}: use 'communities'")
    seats = allot_seats(graph, groups, k)
    best: tuple[PlanState, Groups] | None = None
    for attempt in range(RETRIES if len(tol) == 1 else 3):
        labels, district_group = partition_groups(graph, groups, seats, seed=seed + 7919 * attempt)
        state = PlanState(graph, labels, [str(d + 1) for d in range(k)])
        rule = Groups(groups, district_group, hard)
        say("balancing" if attempt == 0 else f"balancing (attempt {attempt + 1})")
        _make_whole(state, rule)
        ok = balance_state(state, tol, groups=rule, deadline=deadline)
        if best is None or worst_scale(state, tol) < worst_scale(best[0], tol):
            best = (state, rule)
        if ok or time.monotonic() > deadline:
            break
    assert best is not None
    return best


def _make_whole(state: PlanState, rule: Groups) -> None:
    """Repair contiguity and give every empty district a grid."""
    repair_contiguity(state)
    assert rule.district is not None  # every first plan names its districts' groups
    _fill_empty(state, rule.district, rule.grid if rule.hard else None)


def _redrawn(
    graph: GridGraph,
    old: PlanState,
    k: int,
    tol: np.ndarray,
    *,
    keep: str,
    nest: str | None,
    seed: int,
    deadline: float,
) -> tuple[PlanState, Groups]:
    """A plan redrawn from ``old`` at the ``keep`` level (:func:`gis.redraw.redraw`), balanced.

    Same k and ``keep="most"``: the districts keep their old ids.  Nesting in
    communities: each community is redrawn on its own from the old districts'
    pieces inside it (:func:`gis.redraw.redraw_nested`).
    """
    if nest == "communities":
        groups = _community_groups(graph, k)
        labels, district_group = redraw_nested(
            graph, old, groups, allot_seats(graph, groups, k), float(tol[0]), keep=keep, seed=seed
        )
        rule = Groups(groups, district_group, True)
    elif nest is None:
        draft = redraw(graph, old, k, float(tol[0]), keep=keep, seed=seed)
        labels, rule = draft.labels, Groups(draft.groups, draft.district_group, False)
    else:
        raise PlanError(f"unknown nesting {nest!r}: use 'communities'")
    state = PlanState(graph, labels, _district_ids(labels, k, old))
    _make_whole(state, rule)
    balance_state(state, tol, groups=rule, deadline=deadline)
    return state, rule


def _reach(
    state: PlanState,
    tol: np.ndarray,
    rule: Groups,
    *,
    old: PlanState | None,
    seed: int,
    deadline: float,
    say: Callable[[str], None],
) -> tuple[PlanState, ExactResult | None]:
    """Lower the worst deviation when the tolerance is missed.

    Several quantities pulling apart: boundary moves chosen together
    (:mod:`gis.transfer`).  Coarse grids (a few per district): the exact
    search (:mod:`gis.exact`), which also proves how close the plan is to the
    best achievable.  Otherwise an iterated local search.
    """
    if worst_scale(state, tol) <= 1.0:
        return state, None
    if len(tol) > 1:
        say("balancing the quantities together")
        state = _transfer(state, tol, rule, deadline)
    exact = None
    if worst_scale(state, tol) > 1.0 and state.graph.n <= MAX_GRIDS_PER_DISTRICT * state.k:
        say("exact search for the best achievable plan")
        return _coarse(state, tol, rule, old=old, seed=seed, deadline=deadline)
    if worst_scale(state, tol) > 1.0:
        state = perturb_and_polish(state, tol, groups=rule, seed=seed, deadline=deadline)
        polish_worst(state, tol, groups=rule, deadline=deadline)
    return state, exact


def _coarse(
    state: PlanState,
    tol: np.ndarray,
    rule: Groups,
    *,
    old: PlanState | None,
    seed: int,
    deadline: float,
) -> tuple[PlanState, ExactResult | None]:
    """Coarse grids: the exact search; exact re-cuts and the search again when a gap is left.

    A redraw tries the local search first: its moves start from the redrawn
    plan and so keep the old districts, where a plan grown afresh need not.
    """
    polish_worst(state, tol, groups=rule, deadline=deadline)
    if old is not None:
        until = _share(deadline, LOCAL_SHARE)
        state = perturb_and_polish(state, tol, groups=rule, seed=seed, deadline=until)
        if worst_scale(state, tol) <= 1.0:
            return state, None
    # 1. the exact search, briefly: a plan within tolerance, or one proven near the best
    state, exact = _exact_if_coarse(
        state, tol, rule, old=old, deadline=_share(deadline, QUICK_SHARE)
    )
    if _settled(state, tol, exact):
        return state, exact
    # 2. exact re-cuts of the worst district with its neighbours (a better plan to start from)
    recombine(state, tol, groups=rule, deadline=_share(deadline, RECUT_SHARE))
    # 3. the exact search again, with the time left
    state, again = _exact_if_coarse(state, tol, rule, old=old, deadline=deadline)
    return state, _stronger(exact, again)


def _share(deadline: float, share: float) -> float:
    """The time ``share`` of what is left before ``deadline`` from now."""
    now = time.monotonic()
    return now + share * max(deadline - now, 0.0)


def _settled(state: PlanState, tol: np.ndarray, exact: ExactResult | None) -> bool:
    """Within tolerance, or within :data:`gis.exact.GAP` of a proven bound."""
    reached = worst_scale(state, tol)
    gap = GAP / float(tol.max())
    return reached <= 1.0 or (exact is not None and reached - exact.bound <= gap + 1e-9)


def _stronger(first: ExactResult | None, second: ExactResult | None) -> ExactResult | None:
    """Two exact searches of one plan as one: the higher bound, the better plan, work added."""
    if first is None or second is None:
        return second or first
    bound = max(first.bound, second.bound)
    best = second if second.scale <= first.scale else first
    return ExactResult(
        best.labels,
        best.scale,
        min(bound, best.scale),
        bound >= best.scale * (1 - 1e-9),
        first.candidates + second.candidates,
        first.seconds + second.seconds,
    )


def _report(
    state: PlanState,
    tol: np.ndarray,
    rule: Groups,
    *,
    old: PlanState | None,
    exact: ExactResult | None,
    nest: str | None,
    seed: int,
) -> dict[str, Any]:
    """The plan summary with the proven bound (see :func:`plan_summary`)."""
    graph = state.graph
    hard, seats = None, None
    if rule.hard and rule.grid is not None and rule.district is not None:
        hard = rule.grid
        seats = np.bincount(rule.district, minlength=int(rule.grid.max()) + 1)
    bound = best_bound(graph, state.k, groups=hard, seats=seats)
    if exact is not None and len(tol) == 1:
        bound = max(bound, round(exact.bound * float(tol[0]), 6))
    summary = plan_summary(state, tol, old_state=old, bound=bound)
    summary["best_scale"] = None if exact is None else round(exact.bound, 6)
    summary["exact"] = None if exact is None else _exact_summary(exact, worst_scale(state, tol))
    summary["seed"] = seed
    summary["nest"] = nest
    return summary


def tradeoff(
    graph: GridGraph,
    old: PlanState,
    k: int,
    tol: np.ndarray,
    *,
    chosen: tuple[str, PlanState],
    nest: str | None,
    seed: int,
    deadline: float,
) -> list[dict[str, Any]]:
    """The plans of every keep level: people moved against cut edges and Polsby-Popper.

    The chosen level's plan is ``chosen``; the others are drawn (balanced and
    smoothed, without the exact search, sharing the time up to ``deadline``)
    to show what the planner would gain or lose.  A level whose plan moves
    more people and is less compact than another's is marked ``dominated``.
    """
    rows = []
    others = [level for level in KEEP_LEVELS if level != chosen[0]]
    for level in KEEP_LEVELS:
        if level == chosen[0]:
            state = chosen[1]
        else:
            share = max(deadline - time.monotonic(), 0.0) / (len(others) - others.index(level))
            until = time.monotonic() + share
            state, rule = _redrawn(
                graph, old, k, tol, keep=level, nest=nest, seed=seed, deadline=until
            )
            smooth(state, tol, groups=rule, deadline=until)
        rows.append({"keep": level, "chosen": level == chosen[0], **_tradeoff_row(old, state, tol)})
    for row in rows:
        row["dominated"] = any(
            o["moved_population"] <= row["moved_population"]
            and o["cut_edges"] <= row["cut_edges"]
            and o["median_polsby_popper"] >= row["median_polsby_popper"]
            and (o["cut_edges"], o["moved_population"])
            != (row["cut_edges"], row["moved_population"])
            for o in rows
            if o["within_tolerance"] or not row["within_tolerance"]
        )
    return rows


def _tradeoff_row(old: PlanState, state: PlanState, tol: np.ndarray) -> dict[str, Any]:
    pop = state.graph.values[:, 0]
    moved = moved_grids(old, state)
    total = float(pop.sum()) or 1.0
    return {
        "moved_population": round(float(pop[moved].sum()), 1),
        "kept_population_share": round(1.0 - float(pop[moved].sum()) / total, 4),
        "moved_grids": int(moved.sum()),
        "cut_edges": int(state.cut_edges),
        "median_polsby_popper": round(float(np.median(state.polsby_popper())), 4),
        "max_deviation": round(float(np.abs(state.deviations()[:, 0]).max()), 6),
        "within_tolerance": bool(worst_scale(state, tol) <= 1.0 + 1e-9),
    }


def _transfer(state: PlanState, tol: np.ndarray, groups: Groups, deadline: float) -> PlanState:
    """Joint boundary moves (:func:`gis.transfer.transfer_balance`), kept when better."""
    trial = state.copy()
    for _ in range(3):
        moved = transfer_balance(trial, tol, groups=groups, deadline=deadline)
        ok = balance_state(trial, tol, groups=groups, deadline=deadline)
        if ok or moved == 0 or time.monotonic() > deadline:
            break
    return trial if worst_scale(trial, tol) < worst_scale(state, tol) else state


def _exact_if_coarse(
    state: PlanState,
    tol: np.ndarray,
    rule: Groups,
    *,
    old: PlanState | None,
    deadline: float,
) -> tuple[PlanState, ExactResult | None]:
    """Solve exactly when the grids are coarse enough; keep the better plan."""
    if not state.contiguity().all() or worst_scale(state, tol) <= 1.0:
        return state, None
    upper = worst_scale(state, tol) * (1 + 1e-9)
    found = solve_exact(
        state.graph,
        state.k,
        tol,
        upper,
        groups=rule.grid if rule.hard else None,
        old_labels=None if old is None else old.labels,
        time_limit=max(deadline - time.monotonic(), 0.0),
        enough=1.0,
    )
    if found is None or found.labels is None or found.scale > upper:
        return state, found
    ids = _district_ids(found.labels, state.k, old)
    return PlanState(state.graph, found.labels, ids), found


def _exact_summary(exact: ExactResult, reached: float) -> dict[str, Any]:
    return {
        "candidates": exact.candidates,
        "seconds": round(exact.seconds, 3),
        # optimal: no contiguous plan below the proven bound, and this plan reaches it
        "optimal": bool(reached <= exact.bound * (1 + 1e-8) + 1e-9),
        "bound_scale": round(exact.bound, 6),
    }


def _plan_warnings(summary: Mapping[str, Any], tol: np.ndarray, names: Sequence[str]) -> list[str]:
    out = []
    if not summary["within_tolerance"]:
        out.append(_tolerance_warning(summary, tol, names))
    if not summary["contiguous"]:
        out.append("some districts are not contiguous (their grids are not connected)")
    return out


def _tolerance_warning(summary: Mapping[str, Any], tol: np.ndarray, names: Sequence[str]) -> str:
    worst = summary["max_deviation"]
    exact = summary.get("exact")
    if len(tol) > 1:
        scale = summary.get("best_scale")
        reach = ", ".join(
            f"{q} ±{summary['quantities'][q]['max_deviation']:.2%} (±{t:.2%} asked)"
            for q, t in zip(names, tol, strict=True)
        )
        if exact and exact["optimal"]:
            return (
                f"the tolerances are out of reach: no contiguous plan keeps every quantity within "
                f"{scale:.2f}× its tolerance (proven by an exact search); "
                f"this plan reaches that: {reach}"
            )
        return f"tolerances not reached: {reach}; try another seed or larger tolerances"
    bound = summary["best_bound"]
    if (exact and exact["optimal"]) or bound >= worst - 1e-9:
        how = " by the grids' sizes alone: the largest grids, or too few grids to pair"
        if exact and exact["optimal"]:
            how = " by an exact search over every contiguous plan"
        return (
            f"the grids are too coarse for ±{tol[0]:.2%}: the best achievable is ±{bound:.2%} "
            f"(proven{how}), and this plan reaches it"
        )
    if bound > 0:
        gap = 100 * (worst - bound)
        how_far = f"gap {gap:.2f} points" if gap >= 0.01 else "within 0.01 points of it"
        return (
            f"tolerance ±{tol[0]:.2%} not reached: best found ±{worst:.2%}, proven bound "
            f"±{bound:.2%} (no contiguous plan does better), {how_far}"
        )
    why = "the exact search ran out of time" if exact else "grids too fine for the exact search"
    return (
        f"tolerance ±{tol[0]:.2%} not reached: best found ±{worst:.2%}, no bound proven ({why}): "
        "try a longer --time-limit, another seed or a larger tolerance"
    )


# --------------------------------------------------------------------------- set-up
def _balance_spec(
    balance: Sequence[str] | Mapping[str, float], tolerance: float
) -> tuple[tuple[str, ...], np.ndarray]:
    if isinstance(balance, Mapping):
        quantities = tuple(balance)
        tol = np.array([float(balance[q]) for q in quantities])
    else:
        quantities = tuple(balance) or ("population",)
        tol = np.full(len(quantities), float(tolerance))
    if (tol <= 0).any():
        raise PlanError("tolerances must be positive fractions (0.02 = ±2%)")
    return quantities, tol


def _check_k(graph: GridGraph, k: int) -> None:
    if k < 1:
        raise InfeasibleError(f"k must be at least 1 (got {k})")
    if k > graph.n:
        raise InfeasibleError(
            f"k = {k} is larger than the number of grids ({graph.n}): "
            "ask for fewer districts or build smaller grids"
        )


def _community_groups(graph: GridGraph, k: int) -> np.ndarray:
    if graph.community is None:
        raise PlanError("nesting in communities needs a `community` column in the grids")
    groups = graph.community.copy()
    none = groups < 0
    if none.any():
        groups[none] = groups.max() + 1  # grids without a community form one group
    n_groups = len(np.unique(groups))
    if k < n_groups:
        raise InfeasibleError(
            f"nesting in communities needs at least one district per community: "
            f"k = {k} but there are {n_groups} communities"
        )
    return groups


def _district_ids(labels: np.ndarray, k: int, old_state: PlanState | None) -> list[str]:
    """``"1"`` … ``"k"``; the old ids when redrawing with the same k, one new district per old."""
    if old_state is not None and old_state.k == k:
        # one new district per old one: keep the old id of the group each lies in
        ids = [""] * k
        for d in range(k):
            members = np.flatnonzero(labels == d)
            if len(members):
                ids[d] = old_state.districts[int(np.bincount(old_state.labels[members]).argmax())]
        if len(set(ids)) == k and all(ids):
            return ids
    return [str(d + 1) for d in range(k)]


def _fill_empty(state: PlanState, district_group: np.ndarray, groups: np.ndarray | None) -> None:
    """Give each empty district one grid: a leaf of a BFS tree of the fullest district."""
    for d in np.flatnonzero(state.count == 0):
        allowed = (
            np.arange(state.k)
            if groups is None
            else np.flatnonzero(district_group == district_group[d])
        )
        donor = int(allowed[np.argmax(state.count[allowed])])
        members = np.flatnonzero(state.labels == donor)
        if len(members) < 2:
            continue
        for i in members[::-1]:
            if state.keeps_contiguous([int(i)]):
                state.move_index(int(i), int(d))
                break


# --------------------------------------------------------------------------- reporting
def best_bound(
    graph: GridGraph,
    k: int,
    *,
    groups: np.ndarray | None = None,
    seats: np.ndarray | None = None,
) -> float:
    """A lower bound on the max deviation any plan with ``k`` districts can reach.

    The largest of: the largest grid against the ideal (its district holds
    at least that grid); when fewer than ``2k`` grids, the ``2k - n`` grids
    closest to the ideal must stand alone; under nesting, the apportionment
    of districts to communities.
    """
    bounds = [0.0]
    for qi in range(graph.n_balanced):
        v = graph.values[:, qi]
        ideal = v.sum() / k
        if ideal <= 0:
            continue
        bounds.append(float(v.max() / ideal - 1.0))
        singles = 2 * k - graph.n
        if singles > 0:
            bounds.append(float(np.sort(np.abs(v / ideal - 1.0))[singles - 1]))
        if groups is not None and seats is not None:
            pop = np.bincount(groups, weights=v, minlength=len(seats))
            bounds.append(float(np.abs(pop / (seats * ideal) - 1.0).max()))
    return round(max(bounds), 6)


def moved_grids(old: PlanState, new: PlanState) -> np.ndarray:
    """Whether each grid moved: its new district draws most population from another old one."""
    pop = new.graph.values[:, 0] + 1e-9
    table = np.zeros((new.k, old.k))
    np.add.at(table, (new.labels, old.labels), pop)
    major = table.argmax(axis=1)
    return old.labels != major[new.labels]


def plan_summary(
    state: PlanState,
    tol: np.ndarray,
    *,
    old_state: PlanState | None = None,
    bound: float | None = None,
) -> dict[str, Any]:
    """Plan metrics plus moved grids/population and the best bound (JSON-ready)."""
    g = state.graph
    tol_map = {q: float(t) for q, t in zip(g.balanced, tol, strict=True)}
    summary = state.evaluate(tolerance=tol_map)
    if old_state is not None:
        moved = moved_grids(old_state, state)
        pop = g.values[:, g.quantities.index("population")] if "population" in g.quantities else 0
        summary["moved_grids"] = int(moved.sum())
        summary["moved_population"] = round(float(np.sum(pop * moved)), 1)
        summary["moved_share"] = round(float(moved.mean()), 4)
        summary["from_k"] = old_state.k
    else:
        summary["moved_grids"] = 0
        summary["moved_population"] = 0.0
        summary["moved_share"] = 0.0
        summary["from_k"] = None
    summary["best_bound"] = bound
    for row in summary["districts"]:
        row["district"] = district_number(row["district"])
    return summary


def district_number(district: str) -> int | str:
    """A district id as the integer it names (``"7"`` → ``7``); other ids unchanged."""
    text = str(district)
    return int(text) if text.isdigit() else text


def district_polygons(
    grids_metric: gpd.GeoDataFrame, state: PlanState, summary: Mapping[str, Any]
) -> gpd.GeoDataFrame:
    """One (multi)polygon per district in WGS 84 with the district metrics."""
    geoms = np.asarray(grids_metric.geometry.values, dtype=object)
    shapes = []
    for d in range(state.k):
        members = geoms[state.labels == d]
        try:
            shape = shapely.coverage_union_all(members)
            if not shape.is_valid:
                shape = shapely.union_all(members)
        except shapely.errors.GEOSException:
            shape = shapely.union_all(members)
        shapes.append(shape)
    cols = [
        "district",
        "population",
        "households",
        "area_m2",
        "deviation",
        "polsby_popper",
        "contiguous",
        "grids",
        "cut_edges",
    ]
    rows = pd.DataFrame(summary["districts"])
    extra = [c for c in rows.columns if c not in cols and c != "perimeter_m"]
    rows = rows[[c for c in cols if c in rows.columns] + extra]
    out = gpd.GeoDataFrame(rows, geometry=shapes, crs=grids_metric.crs)
    return out.to_crs("EPSG:4326")


def plan_frame(assignment: pd.Series) -> pd.DataFrame:
    """A plan as the CSV frame (``grid``, ``district``), districts in natural order."""
    order = {d: i for i, d in enumerate(sort_ids(assignment.unique()))}
    df = pd.DataFrame(
        {
            "grid": assignment.index.astype(str).to_numpy(),
            "district": assignment.astype(str).to_numpy(),
        }
    )
    df["_o"] = df["district"].map(order)
    return df.sort_values(["_o", "grid"], kind="stable").drop(columns="_o").reset_index(drop=True)
