"""District colours: neighbours always differ, stable across edits, a colour-blind-safe palette."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from maps.colours import colour_districts, district_graph, grid_colours, palette
from tests.browser_fixtures import make_build_dir

N = len(palette()["districts"])


def lattice_plan(seed: int, nx: int, ny: int, k: int) -> np.ndarray:
    """District (1..k) of each cell of an ``nx × ny`` lattice, grown from k random seeds."""
    rng = np.random.default_rng(seed)
    label = np.zeros(nx * ny, dtype=int)
    frontier = []
    for d, cell in enumerate(rng.choice(nx * ny, size=k, replace=False), start=1):
        label[cell] = d
        frontier.append(cell)
    while frontier:
        cell = frontier.pop(int(rng.integers(len(frontier))))
        x, y = divmod(cell, ny)
        for nx_, ny_ in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            if 0 <= nx_ < nx and 0 <= ny_ < ny and label[nx_ * ny + ny_] == 0:
                label[nx_ * ny + ny_] = label[cell]
                frontier.append(nx_ * ny + ny_)
    return label


def graph_of(label: np.ndarray, nx: int, ny: int) -> dict[int, set[int]]:
    """District graph of a lattice plan (cells sharing an edge)."""
    graph: dict[int, set[int]] = {int(d): set() for d in np.unique(label)}
    grid = label.reshape(nx, ny)
    for a, b in itertools.chain(
        zip(grid[:-1].ravel(), grid[1:].ravel(), strict=True),
        zip(grid[:, :-1].ravel(), grid[:, 1:].ravel(), strict=True),
    ):
        if a != b:
            graph[int(a)].add(int(b))
            graph[int(b)].add(int(a))
    return graph


def clashes(graph: dict[int, set[int]], colour: dict[int, int]) -> list[tuple[int, int]]:
    return [(a, b) for a in graph for b in graph[a] if a < b and colour[a] == colour[b]]


plans = st.tuples(
    st.integers(0, 10_000), st.integers(4, 14), st.integers(4, 14), st.integers(2, 40)
).filter(lambda p: p[3] <= p[1] * p[2])


@settings(max_examples=150, deadline=None)
@given(plans)
def test_neighbours_never_share_a_colour(plan) -> None:
    seed, nx, ny, k = plan
    graph = graph_of(lattice_plan(seed, nx, ny, k), nx, ny)
    colour = colour_districts(graph, n_colours=N)
    assert set(colour) == set(graph) and set(colour.values()) <= set(range(N))
    assert clashes(graph, colour) == []
    assert colour == colour_districts(graph, n_colours=N)  # a fresh colouring is the plan's own


@settings(max_examples=150, deadline=None)
@given(plans, st.integers(0, 10_000))
@example((6, 6, 6, 11), 1)  # a district ringed by all eight colours after the edit
@example((9, 12, 12, 17), 4465)  # CI: a hand-over took a colour a later neighbour wanted
@example((4, 12, 12, 40), 12)  # every free colour wanted: take the least wanted
def test_an_edit_changes_only_colours_a_clash_forces(plan, pick) -> None:
    """Move one boundary cell: districts keep their colour unless a neighbour now shares it."""
    seed, nx, ny, k = plan
    label = lattice_plan(seed, nx, ny, k)
    graph = graph_of(label, nx, ny)
    before = colour_districts(graph, n_colours=N)
    rng = np.random.default_rng(pick)
    grid = label.reshape(nx, ny)
    x, y = int(rng.integers(nx)), int(rng.integers(ny))
    around = [
        grid[a, b]
        for a, b in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1))
        if 0 <= a < nx and 0 <= b < ny and grid[a, b] != grid[x, y]
    ]
    if around:
        label = label.copy()
        label[x * ny + y] = around[0]
    after_graph = graph_of(label, nx, ny)
    after = colour_districts(after_graph, before, n_colours=N)
    assert clashes(after_graph, after) == []
    changed = {d for d in after if d in before and after[d] != before[d]}
    clashed = {d for d in changed if any(before.get(m) == before[d] for m in after_graph[d])}
    # a district changes when a neighbour held its colour, or (ringed by every colour)
    # when it hands its own colour to one such clashed neighbour
    assert all(d in clashed or after_graph[d] & clashed for d in changed), changed - clashed
    assert len(changed - clashed) <= len(clashed)


def test_a_district_ringed_by_every_colour_takes_one_neighbours() -> None:
    """District 9 touches 1..8, which hold all eight colours and do not touch each other:
    one neighbour moves on and hands its colour over; the other seven keep theirs."""
    graph = {d: {9} for d in range(1, 9)} | {9: set(range(1, 9))}
    previous = {d: d - 1 for d in range(1, 9)} | {9: 0}
    after = colour_districts(graph, previous, n_colours=N)
    assert clashes(graph, after) == []
    assert sum(after[d] != previous[d] for d in range(1, 9)) == 1


@pytest.mark.parametrize("rim", [7, 8, 9, 12, 16, 17, 24])
def test_a_district_ringed_by_every_colour_still_differs(rim) -> None:
    """A hub ringed by ``rim`` districts: the greedy pass runs out; a neighbour hands its
    colour over, or (every colour held twice: 16 and more) DSATUR colours the graph."""
    hub = rim + 1
    graph = {d: {hub, 1 + d % rim, 1 + (d - 2) % rim} for d in range(1, rim + 1)}
    graph[hub] = set(range(1, rim + 1))
    colour = colour_districts(graph, n_colours=N)
    assert clashes(graph, colour) == []


def test_report_town_districts_touching_differ(tmp_path: Path) -> None:
    """On the report's grids: districts that share a boundary get different colours."""
    from maps.report import load

    folder = make_build_dir(tmp_path, nx=8, ny=6, k=4)
    data = load(folder, tolerance=0.02, language=None)
    graph = district_graph(data.grids)
    assert graph == {1: {2}, 2: {1, 3}, 3: {2, 4}, 4: {3}}  # four stripes of columns
    colours = grid_colours(data.grids)
    assert all(colours[a] != colours[b] for a in graph for b in graph[a])
    assert set(colours.values()) <= set(palette()["districts"])


def test_palette_is_colour_blind_safe() -> None:
    """Every two district colours stay apart for normal, deuteranope, protanope and tritanope eyes.

    Colours are judged as drawn: at the fill opacity, over the local basemap
    colour; distance in CAM02-UCS (about 1 unit is a just noticeable difference).
    """
    from colorspacious import cspace_convert

    pal = palette()

    def rgb(h: str) -> np.ndarray:
        return np.array([int(h[i : i + 2], 16) for i in (1, 3, 5)]) / 255

    alpha = pal["fill_opacity"]
    drawn = np.array([alpha * rgb(c) + (1 - alpha) * rgb(pal["basemap"]) for c in pal["districts"]])
    assert len(set(pal["districts"])) == len(pal["districts"]) >= 6
    for cvd in (None, "deuteranomaly", "protanomaly", "tritanomaly"):
        seen = drawn
        if cvd:
            space = {"name": "sRGB1+CVD", "cvd_type": cvd, "severity": 100}
            seen = np.clip(cspace_convert(drawn, space, "sRGB1"), 0, 1)
        ucs = cspace_convert(seen, "sRGB1", "CAM02-UCS")
        distance = np.linalg.norm(ucs[:, None] - ucs[None], axis=2)
        closest = distance[np.triu_indices(len(ucs), 1)].min()
        assert closest >= 10, (cvd, closest)
