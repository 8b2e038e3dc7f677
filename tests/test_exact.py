"""Exact districting for coarse grids, checked against brute force on small grid sets."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gis.districting import draw_districts
from gis.exact import candidate_districts, solve_exact
from gis.plan import grid_graph
from tests.districting_fixtures import lattice, voronoi_grids

SMALL = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def small_graph(rows: int, cols: int, pops: list[int], extra: list[int] | None = None):
    grids = lattice(rows, cols, seed=0).assign(population=np.asarray(pops, dtype=float))
    quantities = ("population",)
    if extra is not None:
        grids = grids.assign(staff=np.asarray(extra, dtype=float))
        quantities = ("population", "staff")
    return grid_graph(grids, quantities=quantities)


def connected(graph, members: list[int]) -> bool:
    inside, seen, stack = set(members), {members[0]}, [members[0]]
    nbrs = graph.neighbour_lists()
    while stack:
        for u in nbrs[stack.pop()]:
            if u in inside and u not in seen:
                seen.add(u)
                stack.append(u)
    return len(seen) == len(inside)


def scale_of(graph, k: int, tol: np.ndarray, labels: np.ndarray) -> float:
    nb = graph.n_balanced
    vals = graph.values[:, :nb]
    ideal = vals.sum(axis=0) / k
    totals = np.zeros((k, nb))
    np.add.at(totals, labels, vals)
    return float((np.abs(totals / ideal - 1.0) / tol).max())


def brute_force(graph, k: int, tol: np.ndarray, old: np.ndarray | None = None):
    """Best largest deviation over every contiguous plan, then the least moved population.

    Without an old plan the second figure is the fewest cut edges instead.
    """
    best, best_moved = np.inf, np.inf
    for combo in itertools.product(range(k), repeat=graph.n - 1):
        labels = np.array((0, *combo))  # grid 0 in district 0: fewer symmetric copies
        if len(np.unique(labels)) < k:
            continue
        if not all(connected(graph, list(np.flatnonzero(labels == d))) for d in range(k)):
            continue
        s = scale_of(graph, k, tol, labels)
        moved = cut_edges(graph, labels) if old is None else moved_population(graph, labels, old)
        if s < best - 1e-9 or (abs(s - best) <= 1e-9 and moved < best_moved):
            best, best_moved = s, moved
    return best, best_moved


def cut_edges(graph, labels: np.ndarray) -> int:
    src, dst = graph.edges()
    return int((labels[src] != labels[dst]).sum()) // 2


def moved_population(graph, labels: np.ndarray, old: np.ndarray) -> float:
    pop = graph.values[:, 0]
    table = np.zeros((labels.max() + 1, old.max() + 1))
    np.add.at(table, (labels, old), pop)
    return float(table.sum() - table.max(axis=1).sum())


@SMALL
@given(
    shape=st.sampled_from([(2, 3), (2, 4), (3, 3), (1, 7), (2, 5)]),
    data=st.data(),
    k=st.integers(2, 3),
    milp_sets=st.sampled_from([0, 1_500]),
)
def test_exact_optimum_equals_brute_force(shape, data, k, milp_sets) -> None:
    n = shape[0] * shape[1]
    pops = data.draw(st.lists(st.integers(0, 900), min_size=n, max_size=n).filter(any))
    graph = small_graph(*shape, pops)
    tol = np.array([0.01])
    optimum, fewest_cut = brute_force(graph, k, tol)
    # each level decided by the grown search alone (0), or by a MILP over the sets within it
    found = solve_exact(graph, k, tol, upper=1e6, milp_sets=milp_sets)
    assert found is not None and found.labels is not None
    # the plan found is the best contiguous plan, and it is what it claims
    assert found.scale == pytest.approx(optimum, abs=1e-9)
    assert found.optimal and found.bound == pytest.approx(optimum, abs=1e-9)
    assert scale_of(graph, k, tol, found.labels) == pytest.approx(found.scale, abs=1e-9)
    assert sorted(np.unique(found.labels)) == list(range(k))
    # among the best-balanced plans, the most compact (fewest cut edges)
    assert cut_edges(graph, found.labels) == fewest_cut
    for d in range(k):
        assert connected(graph, list(np.flatnonzero(found.labels == d)))


@SMALL
@given(
    shape=st.sampled_from([(2, 3), (3, 3), (2, 4)]),
    data=st.data(),
)
def test_two_quantities_scale_and_fewest_moved(shape, data) -> None:
    n, k = shape[0] * shape[1], 2
    pops = data.draw(st.lists(st.integers(1, 900), min_size=n, max_size=n))
    staff = data.draw(st.lists(st.integers(0, 9), min_size=n, max_size=n).filter(any))
    old = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    old = np.unique(old, return_inverse=True)[1]
    graph = small_graph(*shape, pops, staff)
    tol = np.array([0.02, 0.1])
    optimum, least_moved = brute_force(graph, k, tol, old)
    found = solve_exact(graph, k, tol, upper=1e6, old_labels=old)
    assert found is not None and found.optimal
    assert found.scale == pytest.approx(optimum, abs=1e-9)
    # among the best-balanced plans, the one that moves the fewest people
    assert moved_population(graph, found.labels, old) == pytest.approx(least_moved, abs=1e-6)


@SMALL
@given(
    shape=st.sampled_from([(3, 3), (2, 5), (3, 4)]),
    data=st.data(),
    upper=st.floats(0.5, 60.0),
)
def test_candidates_are_exactly_the_connected_sets_within_the_bound(shape, data, upper) -> None:
    n, k = shape[0] * shape[1], 3
    pops = data.draw(st.lists(st.integers(0, 900), min_size=n, max_size=n).filter(any))
    graph = small_graph(*shape, pops)
    tol = np.array([0.02])
    listed = candidate_districts(graph, k, tol, upper)
    assert listed is not None and len(listed) == len(set(listed))  # each set once
    ideal = sum(pops) / k
    expected = set()
    for size in range(1, n + 1):
        for members in itertools.combinations(range(n), size):
            total = sum(pops[i] for i in members)
            if abs(total / ideal - 1.0) <= upper * 0.02 * (1 + 1e-9) and connected(
                graph, list(members)
            ):
                expected.add(sum(1 << i for i in members))
    assert set(listed) == expected


def test_nested_sets_stay_in_their_group_and_limits_give_up() -> None:
    grids = lattice(6, 6, seed=3, communities=(2, 1))
    graph = grid_graph(grids)
    groups = graph.community
    listed = candidate_districts(
        graph, 4, np.array([0.05]), 10.0, groups=groups, max_candidates=10**6
    )
    assert listed
    for s in listed:
        members = [i for i in range(graph.n) if s >> i & 1]
        assert len(set(groups[members])) == 1
    assert candidate_districts(graph, 4, np.array([0.05]), 10.0, max_candidates=5) is None
    # a fine grid set is out of reach of the listing: it says so instead of running for ever
    fine = grid_graph(lattice(40, 40, seed=1))
    assert solve_exact(fine, 4, np.array([0.01]), upper=5.0) is None


def test_draw_districts_proves_the_best_on_coarse_grids() -> None:
    # 30 irregular grids into 12 districts: far too coarse for ±0.5%
    grids = voronoi_grids(30, seed=11)
    result = draw_districts(grids, 12, tolerance=0.005, seed=0)
    s = result.summary
    assert s["contiguous"] and not s["within_tolerance"]
    assert s["exact"] is not None and s["exact"]["optimal"]
    # the plan reaches the proven bound, and the warning says so
    assert s["max_deviation"] == pytest.approx(s["best_bound"], abs=1e-6)
    assert any("best achievable" in w for w in result.warnings)
    # no contiguous plan is better: a perturbed, still contiguous plan is never below the bound
    state = result.state
    rng = np.random.default_rng(0)
    for _ in range(300):
        i = int(rng.integers(state.graph.n))
        targets = sorted(state.neighbour_districts(i))
        if targets and state.keeps_contiguous([i]) and state.count[state.labels[i]] > 1:
            state.move_index(i, targets[int(rng.integers(len(targets)))])
            worst = float(np.abs(state.deviations()[:, 0]).max())
            assert worst >= s["best_bound"] - 1e-6


@SMALL
@given(
    shape=st.sampled_from([(2, 3), (3, 3), (2, 4), (1, 7), (2, 5)]),
    data=st.data(),
    k=st.integers(2, 3),
    level=st.floats(0.5, 40.0),
    chunk=st.sampled_from([1, 2, 4096]),
)
def test_grown_search_agrees_with_brute_force(shape, data, k, level, chunk) -> None:
    import time

    from gis._grow import GrowSearch

    n = shape[0] * shape[1]
    pops = data.draw(st.lists(st.integers(1, 900), min_size=n, max_size=n))
    graph = small_graph(*shape, pops)
    tol = np.array([0.02])
    best, _ = brute_force(graph, k, tol)
    assume(abs(best - level) > 1e-6)  # not on the edge of the bounds
    ideal = sum(pops) / k
    bounds = [np.array([ideal * (1 + s * level * 0.02)]) for s in (-1, 1)]
    search = GrowSearch(graph.indptr, graph.indices, graph.values[:, :1], k, *bounds, chunk=chunk)
    status = search.run(time.monotonic() + 600)
    if best < level:  # a plan within the level exists: the search finds one
        assert status == "found"
        labels = search.labels
        assert sorted(np.unique(labels)) == list(range(k))  # every grid in one of k districts
        assert scale_of(graph, k, tol, labels) <= level * (1 + 1e-9)
        for d in range(k):
            assert connected(graph, list(np.flatnonzero(labels == d)))
    else:  # none exists, and the search proves it
        assert status == "none"


def test_grown_search_resumes_where_it_stopped(monkeypatch) -> None:
    import time

    import gis._grow
    from gis._grow import GrowSearch

    graph = grid_graph(voronoi_grids(40, seed=2))
    ideal = graph.values[:, 0].sum() / 6
    bounds = [np.array([ideal * (1 + s * 0.03)]) for s in (-1, 1)]
    args = (graph.indptr, graph.indices, graph.values[:, :1], 6, *bounds)
    whole = GrowSearch(*args)
    assert whole.run(time.monotonic() + 600) == "found"
    monkeypatch.setattr(gis._grow, "STEPS_PER_CALL", 1)  # a look at the clock after every step
    stepwise = GrowSearch(*args)
    assert stepwise.run(time.monotonic() + 600) == "found"
    # the same search, only cut into steps: the same plan after the same steps
    assert stepwise.steps == whole.steps and (stepwise.labels == whole.labels).all()
    late = GrowSearch(*args)
    assert late.run(time.monotonic() - 1) == "unknown" and late.steps == 0


def test_recombination_lowers_the_worst_and_keeps_the_plan_whole() -> None:
    import time

    from gis.groups import FREE
    from gis.recombine import recombine
    from gis.search import worst_scale

    grids = voronoi_grids(60, seed=4)
    state = draw_districts(grids, 8, tolerance=0.02, seed=0).state
    tol = np.array([0.002])  # far tighter than the plan: every district is a worst to re-cut
    before = worst_scale(state, tol)
    steps = recombine(state, tol, groups=FREE, deadline=time.monotonic() + 10)
    assert steps > 0 and worst_scale(state, tol) < before
    assert state.contiguity().all() and (state.count > 0).all()
    fresh = state.recount()
    assert np.allclose(fresh["totals"], state.totals) and fresh["cut_edges"] == state.cut_edges


@pytest.mark.parametrize(
    ("worst", "bound", "said"),
    [(0.18501, 0.18499, "within 0.01 points of it"), (0.20, 0.185, "gap 1.50 points")],
)
def test_the_warning_never_reports_a_gap_of_zero_points(worst: float, bound: float, said: str):
    # a plan a hair above its proven bound is "within 0.01 points", not "gap 0.00 points"
    from gis.districting import _tolerance_warning

    summary = {"max_deviation": worst, "best_bound": bound, "exact": {"optimal": False}}
    warning = _tolerance_warning(summary, np.array([0.02]), ("population",))
    assert said in warning and "0.00 points" not in warning
