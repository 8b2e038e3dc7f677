"""Suggestions keep contiguity and reduce imbalance (property-tested); minimal rebalance."""

from __future__ import annotations

import json
from unittest import mock

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gis import rebalance
from gis.districting import draw_districts
from gis.plan import PlanState
from gis.rebalance import minimal_rebalance, no_move_reason, plan_state, suggest_moves
from tests.districting_fixtures import lattice, voronoi_grids


def blocks(rows: int, cols: int, br: int, bc: int) -> np.ndarray:
    r, c = np.divmod(np.arange(rows * cols), cols)
    return (r * br // rows) * bc + (c * bc // cols)


def ragged_state(seed: int, rows: int = 14, cols: int = 14, k: int = 6) -> PlanState:
    grids = lattice(rows, cols, seed=seed)
    plan = pd.Series(blocks(rows, cols, 2, 3).astype(str), index=grids["code"])
    state = plan_state(grids, plan)
    rng = np.random.default_rng(seed)
    for _ in range(150):  # contiguity-keeping random moves: uneven, ragged districts
        i = int(rng.integers(state.graph.n))
        nbrs = sorted(state.neighbour_districts(i))
        if nbrs and state.keeps_contiguous([i]):
            state.move_index(i, nbrs[int(rng.integers(len(nbrs)))])
    return state


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), tol=st.sampled_from([0.005, 0.02, 0.05]))
def test_suggestions_keep_contiguity_and_reduce_imbalance(seed: int, tol: float) -> None:
    state = ragged_state(seed)
    assert state.contiguity().all()
    labels = state.labels.copy()
    moves = suggest_moves(None, None, state=state, tolerance=tol, limit=15)
    assert np.array_equal(state.labels, labels)  # the caller's state is left as it was
    json.dumps(moves)
    codes = list(state.graph.codes)
    dev0 = state.deviations()[:, 0]
    for rank, move in enumerate(moves, start=1):
        assert move["rank"] == rank
        trial = state.copy()
        for code in move["grids"]:
            i = codes.index(code)
            assert trial.districts[trial.labels[i]] == move["from"]
            trial.move(code, move["to"])
        assert trial.contiguity().all()
        dev1 = trial.deviations()[:, 0]
        assert (dev1**2).sum() < (dev0**2).sum()
        a, b = state.districts.index(move["from"]), state.districts.index(move["to"])
        assert max(abs(dev1[a]), abs(dev1[b])) <= max(abs(dev0[a]), abs(dev0[b])) + 1e-12
        assert b in state.neighbour_districts(codes.index(move["grids"][0]))
        assert move["after"]["from"]["deviation"] == round(float(dev1[a]), 6)
        assert move["reason"]


def test_suggestions_for_2500_grids_are_twenty_short_moves() -> None:
    # (their speed is measured by benchmarks/bench_districts.py)
    grids = lattice(50, 50, seed=3)
    plan = pd.Series(blocks(50, 50, 5, 5).astype(str), index=grids["code"])
    state = plan_state(grids, plan)
    moves = suggest_moves(None, None, state=state)
    assert 0 < len(moves) <= 20
    assert all(len(m["grids"]) in (1, 2) for m in moves)
    assert [m["rank"] for m in moves] == list(range(1, len(moves) + 1))
    for m in moves:  # each one lowers the worse of its two districts, and the plan's worst
        before = max(abs(m["before"]["from"]["deviation"]), abs(m["before"]["to"]["deviation"]))
        after = max(abs(m["after"]["from"]["deviation"]), abs(m["after"]["to"]["deviation"]))
        assert after < before
        assert m["after"]["max_deviation"] < m["before"]["max_deviation"]


def test_balanced_plan_gets_no_suggestion_that_breaks_it() -> None:
    state = ragged_state(1)
    new, _ = minimal_rebalance(None, None, state=state, tolerance=0.05)
    balanced = PlanState.from_assignment(state.graph, new)
    for move in suggest_moves(None, None, state=balanced, tolerance=0.05):
        assert move["after"]["max_deviation"] < move["before"]["max_deviation"]
    # already within the tolerance: the minimal rebalance proposes nothing, and says why
    same, moves = minimal_rebalance(None, None, state=balanced, tolerance=0.05)
    assert moves == [] and same.equals(balanced.assignment())
    assert "already within" in no_move_reason(balanced, 0.05)


def test_minimal_rebalance_of_the_proven_best_plan_proposes_nothing() -> None:
    # coarse grids: the exact search gives the best achievable plan, outside the tolerance
    grids = voronoi_grids(30, seed=11)
    best = draw_districts(grids, 12, tolerance=0.005, seed=0)
    assert best.summary["exact"]["optimal"] and not best.summary["within_tolerance"]
    state = plan_state(grids, best.assignment)
    same, moves = minimal_rebalance(None, None, state=state, tolerance=0.005)
    assert moves == [] and same.equals(state.assignment())
    assert "best achievable" in no_move_reason(state, 0.005)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000))
def test_minimal_rebalance_reaches_tolerance_contiguously(seed: int) -> None:
    state = ragged_state(seed, rows=20, cols=20)
    new, moves = minimal_rebalance(None, None, state=state, tolerance=0.05)
    after = PlanState.from_assignment(state.graph, new)
    assert after.contiguity().all()
    assert np.abs(after.deviations()[:, 0]).max() <= 0.05 + 1e-9
    changed = (after.labels != state.labels).sum()
    assert changed <= len(moves)
    assert all(m["population"] is not None for m in moves)


def test_minimal_rebalance_moves_nothing_when_within_tolerance() -> None:
    state = ragged_state(2)
    new, _ = minimal_rebalance(None, None, state=state, tolerance=0.05)
    again, moves = minimal_rebalance(
        None, None, state=PlanState.from_assignment(state.graph, new), tolerance=0.05
    )
    assert moves == []
    assert again.equals(new)


def replay(plan: pd.Series, moves: list[dict]) -> pd.Series:
    """``plan`` with ``moves`` applied in order (each must start where the grid is)."""
    out = plan.copy()
    for m in moves:
        assert out[m["grid"]] == m["from"], m
        out[m["grid"]] = m["to"]
    return out


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), tol=st.sampled_from([0.01, 0.05]))
def test_minimal_rebalance_moves_replay_to_the_result(seed: int, tol: float) -> None:
    state = ragged_state(seed, rows=16, cols=16)
    before = state.assignment()
    new, moves = minimal_rebalance(None, None, state=state, tolerance=tol)
    assert replay(before, moves).equals(new)
    assert len({m["grid"] for m in moves}) == len(moves) == int((before != new).sum())
    pop = dict(zip(state.graph.codes, state.graph.values[:, 0], strict=True))
    assert all(m["population"] == pop[m["grid"]] and m["from"] != m["to"] for m in moves)
    after = PlanState.from_assignment(state.graph, new)
    assert after.contiguity().all()
    assert np.abs(after.deviations()[:, 0]).max() <= tol + 1e-9


def drifted_plan(seed: int, n: int = 30, k: int = 9) -> tuple[PlanState, PlanState]:
    """A ±1% plan of an n x n lattice, then a corner's population grows by 25%."""
    grids = lattice(n, n, seed=seed)
    plan = draw_districts(grids, k, tolerance=0.01, seed=seed).assignment
    r, c = np.divmod(np.arange(n * n), n)
    grown = grids.copy()
    grown.loc[(r < n * 3 // 10) & (c >= n * 6 // 10), "population"] *= 1.25
    return plan_state(grids, plan), plan_state(grown, plan)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_minimal_rebalance_keeps_a_drifted_plan_compact(seed: int) -> None:
    original, drifted = drifted_plan(seed)
    assert np.abs(drifted.deviations()[:, 0]).max() > 0.05
    new, moves = minimal_rebalance(None, None, state=drifted, tolerance=0.01)
    after = PlanState.from_assignment(drifted.graph, new)
    assert after.contiguity().all()
    assert np.abs(after.deviations()[:, 0]).max() <= 0.01 + 1e-9
    # compact: boundaries shift as bands, so the cut edges barely grow (the
    # single-grid greedy left 15-30% more)
    assert after.cut_edges <= 1.08 * original.cut_edges
    # few people: within 3x of those who must leave the districts beyond tolerance
    must_leave = np.maximum(drifted.totals[:, 0] - 1.01 * drifted.ideal[0], 0.0).sum()
    assert sum(m["population"] for m in moves) <= 3.0 * must_leave


def moved_population(before: PlanState, after: PlanState) -> float:
    return float(before.graph.values[before.labels != after.labels, 0].sum())


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), tol=st.sampled_from([0.01, 0.05]))
def test_no_moved_grid_is_left_sticking_out(seed: int, tol: float) -> None:
    """No moved grid could join a neighbouring district, cutting fewer edges, within tolerance."""
    state = ragged_state(seed, rows=20, cols=20)
    new, _ = minimal_rebalance(None, None, state=state, tolerance=tol)
    after = PlanState.from_assignment(state.graph, new)
    assert np.abs(after.deviations()[:, 0]).max() <= tol + 1e-9
    for i in np.flatnonzero(after.labels != state.labels):
        for d in sorted(after.neighbour_districts(int(i))):
            if not after.keeps_contiguous([int(i)]):
                continue
            trial = after.copy()
            trial.move_index(int(i), d)
            if np.abs(trial.deviations()[:, 0]).max() <= tol + 1e-9:
                assert trial.cut_edges >= after.cut_edges, (int(i), d)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 100_000),
    tol=st.sampled_from([0.01, 0.05]),
    share=st.sampled_from([0.0, 0.02]),
)
def test_clean_up_lowers_cut_edges_within_its_population_budget(
    seed: int, tol: float, share: float
) -> None:
    state = ragged_state(seed, rows=20, cols=20)
    with mock.patch.object(rebalance, "TIDY_ROUNDS", 0):
        raw, _ = minimal_rebalance(None, None, state=state, tolerance=tol)
    with mock.patch.object(rebalance, "TIDY_BUDGET", share):
        new, moves = minimal_rebalance(None, None, state=state, tolerance=tol)
    plain = PlanState.from_assignment(state.graph, raw)
    after = PlanState.from_assignment(state.graph, new)
    assert after.contiguity().all()
    assert np.abs(after.deviations()[:, 0]).max() <= tol + 1e-9
    assert after.cut_edges <= plain.cut_edges
    budget = (1.0 + share) * moved_population(state, plain)
    assert moved_population(state, after) <= budget + 1e-6
    assert replay(state.assignment(), moves).equals(new)


def test_clean_up_straightens_what_the_bands_left() -> None:
    """On these plans the clean-up removes cut edges (it is not a no-op)."""
    fewer = 0
    for seed in range(4):
        _, drifted = drifted_plan(seed)
        with mock.patch.object(rebalance, "TIDY_ROUNDS", 0):
            raw, _ = minimal_rebalance(None, None, state=drifted, tolerance=0.01)
        new, _ = minimal_rebalance(None, None, state=drifted, tolerance=0.01)
        plain = PlanState.from_assignment(drifted.graph, raw)
        after = PlanState.from_assignment(drifted.graph, new)
        assert after.cut_edges <= plain.cut_edges
        fewer += after.cut_edges < plain.cut_edges
    assert fewer >= 2


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000))
def test_minimal_rebalance_balances_every_quantity(seed: int) -> None:
    grids = lattice(16, 16, seed=seed)
    r, c = np.divmod(np.arange(256), 16)
    grids.loc[(r < 6) & (c >= 8), ["population", "households"]] *= 1.3
    plan = pd.Series(blocks(16, 16, 2, 2).astype(str), index=grids["code"])
    state = plan_state(grids, plan, quantities=("population", "households"))
    new, moves = minimal_rebalance(None, None, state=state, tolerance=0.05)
    after = PlanState.from_assignment(state.graph, new)
    assert after.contiguity().all()
    assert np.abs(after.deviations()[:, :2]).max() <= 0.05 + 1e-9
    assert replay(plan, moves).equals(new)
