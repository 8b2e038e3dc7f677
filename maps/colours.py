"""District colours: one palette for the page and the report, neighbours always differ.

:func:`grid_colours` is the main flow for a report: find which districts touch
on the map (:func:`district_graph`), colour them (:func:`colour_districts`)
and look the colours up in the palette that the planner page reads too
(``maps/static/palette.json``).

:func:`colour_districts` is the numeric core, and ``colourDistricts`` in
``maps/static/js/colours.js`` is the same algorithm line for line (a browser
test runs both on the same graphs): districts in number order each keep the
colour they want (the one they had, else their "home" colour, number − 1
modulo the palette size) unless a neighbour earlier in the order already holds
it; a district that must change takes the first colour free among its
neighbours that the fewest later neighbours want.  So a fresh colouring depends only
on the plan (the page and the report agree), and after an edit a district
keeps its colour unless a clash forces it to change.  Should a district find
no free colour (neighbours holding all eight), one of its neighbours moves to
another colour to hand its own over; only when none can is the whole graph
coloured again by DSATUR.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np

PALETTE_PATH = Path(__file__).resolve().parent / "static" / "palette.json"


@functools.cache
def palette() -> dict[str, Any]:
    """The shared palette (``districts`` colours, ``fill_opacity``, ``unassigned``)."""
    return json.loads(PALETTE_PATH.read_text(encoding="utf-8"))


def grid_colours(grids: Any) -> dict[int, str]:
    """Colour of each district of ``grids`` (a GeoDataFrame with ``district``), as hex.

    Parameters
    ----------
    grids
        Grids with a CRS and an integer ``district`` column.

    Returns
    -------
    dict
        District → ``#rrggbb``; touching districts get different colours.
    """
    # Which districts touch on the map (a shared piece of boundary, as the page sees it).
    graph = district_graph(grids)
    # Colour them: each keeps its home colour unless a neighbour earlier in the order has it.
    colours = palette()["districts"]
    index = colour_districts(graph, n_colours=len(colours))
    # The palette's colours, as the page shows them.
    return {d: colours[i] for d, i in index.items()}


def district_graph(grids: Any) -> dict[int, set[int]]:
    """District → districts sharing a piece of boundary with it (every district a key)."""
    from gis.adjacency import shared_lengths

    metric = grids.to_crs(grids.estimate_utm_crs())
    matrix = shared_lengths(np.asarray(metric.geometry.values, dtype=object)).tocoo()
    district = grids["district"].astype(int).to_numpy()
    graph: dict[int, set[int]] = {int(d): set() for d in np.unique(district)}
    a, b = district[matrix.row], district[matrix.col]
    for x, y in zip(a[a != b].tolist(), b[a != b].tolist(), strict=True):
        graph[x].add(y)
    return graph


def colour_districts(
    neighbours: Mapping[int, Collection[int]],
    previous: Mapping[int, int] | None = None,
    *,
    n_colours: int,
) -> dict[int, int]:
    """Palette index of each district; no two neighbours share one when it can be helped.

    Parameters
    ----------
    neighbours
        District → its neighbours (symmetric; every district a key).
    previous
        The colouring shown so far (district → index); districts keep these
        unless a clash forces a change.  ``None``: a fresh colouring.
    n_colours
        Palette size.

    Returns
    -------
    dict
        District → palette index in ``range(n_colours)``.
    """
    previous = previous or {}

    def wanted(d: int) -> int:
        p = previous.get(d)
        return p if p is not None and 0 <= p < n_colours else (d - 1) % n_colours

    colour: dict[int, int] = {}
    for d in sorted(neighbours):
        taken = {colour[m] for m in neighbours[d] if m in colour}
        if wanted(d) not in taken:
            colour[d] = wanted(d)
            continue
        free = [c for c in range(n_colours) if c not in taken]
        if free:
            colour[d] = _least_wanted(free, [wanted(m) for m in neighbours[d] if m not in colour])
        elif not _hand_over(d, neighbours, colour, n_colours, wanted):
            return dsatur(neighbours, n_colours=n_colours)
    return colour


def _least_wanted(free: list[int], wants: list[int]) -> int:
    """The free colour fewest later neighbours want (ties: the lower index)."""
    return min(free, key=lambda c: (wants.count(c), c))


def _hand_over(
    d: int,
    neighbours: Mapping[int, Collection[int]],
    colour: dict[int, int],
    n_colours: int,
    wanted: Any,
) -> bool:
    """Colour ``d``, ringed by every colour, by moving one neighbour to another colour.

    The first colour held by a single neighbour that has a colour of its own
    to move to goes to ``d``; that neighbour takes its first free colour
    (the one fewest later neighbours want).  Colours no later neighbour
    wants are tried first, so the hand-over forces no further change.  False
    when no neighbour can move.
    """
    later = {wanted(m) for m in neighbours[d] if m not in colour}
    for c in sorted(range(n_colours), key=lambda c: (c in later, c)):
        holders = [m for m in neighbours[d] if colour.get(m) == c]
        if len(holders) != 1:
            continue
        m = holders[0]
        used = {colour[q] for q in neighbours[m] if q in colour and q != d} | {c}
        free = [x for x in range(n_colours) if x not in used]
        if free:
            colour[m] = _least_wanted(free, [wanted(q) for q in neighbours[m] if q not in colour])
            colour[d] = c
            return True
    return False


def dsatur(neighbours: Mapping[int, Collection[int]], *, n_colours: int) -> dict[int, int]:
    """Brélaz's DSATUR colouring (ties: more neighbours, then the lower number).

    A district whose neighbours already hold every colour gets the one fewest
    of them hold (the only case where neighbours can share a colour).
    """
    colour: dict[int, int] = {}
    while len(colour) < len(neighbours):
        d = min(
            (d for d in neighbours if d not in colour),
            key=lambda d: (
                -len({colour[m] for m in neighbours[d] if m in colour}),
                -len(neighbours[d]),
                d,
            ),
        )
        used = [colour[m] for m in neighbours[d] if m in colour]
        colour[d] = min(range(n_colours), key=lambda c: (used.count(c), c))
    return colour
