"""New service-point sites: ranked suggestions and "what if I add a site here".

Main flow, :func:`suggest_sites`: the uncovered buildings are the demand; for
each candidate site a bounded Dijkstra finds which of them it would bring
within the walking budget (:func:`coverage_matrix`); a lazy greedy picks the
sites that add the most uncovered population, existing sites fixed, and
records the marginal gain of each (:func:`greedy_max_coverage`).
:func:`exact_max_coverage` solves the same problem exactly with
:func:`scipy.optimize.milp`, to show on small instances how close the greedy
is.  :func:`what_if` answers for one point from a precomputed
:class:`SiteState` with one bounded Dijkstra.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy import optimize, sparse
from scipy.sparse import csgraph

from gis._errors import InfeasibleError, InputError
from gis.access import Snap, snap_xy
from gis.crs import WGS84
from gis.network import WalkNetwork
from gis.paths import _OFFSET, augmented_graph, single_source_reach
from gis.solver import milp

#: OSM ``building`` values of public buildings that could host a service point.
PUBLIC_BUILDINGS = frozenset(
    {
        "public",
        "civic",
        "government",
        "office",
        "community_centre",
        "school",
        "kindergarten",
        "hospital",
        "clinic",
        "library",
        "townhall",
    }
)


@dataclass(frozen=True)
class SiteState:
    """What :func:`what_if` and :func:`suggest_sites` need, computed once.

    Attributes
    ----------
    network, buildings
        The walk network and the buildings snapped to it.
    dist
        Current walking distance (m) from each building to its nearest site.
    radii
        Minutes -> walking budget in metres (at the state's speed).
    population, households
        Per building.
    ids
        Building ids, aligned with ``dist``.
    """

    network: WalkNetwork
    buildings: Snap
    dist: np.ndarray
    radii: dict[int, float]
    population: np.ndarray
    households: np.ndarray
    ids: np.ndarray
    max_snap_m: float = 250.0
    to_metric: Transformer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "to_metric",
            Transformer.from_crs(WGS84, self.network.crs, always_xy=True),
        )


def what_if(state: SiteState, lon: float, lat: float) -> dict[str, Any]:
    """Coverage gained by adding one service point at ``(lon, lat)`` (WGS 84).

    Returns
    -------
    dict
        Per threshold (minutes): buildings, population and households newly
        covered, and the covered population share before and after; plus the
        access-leg length of the new point.
    """
    x, y = state.to_metric.transform(float(lon), float(lat))
    snap = snap_xy(state.network, np.array([[x, y]]))
    if snap.access[0] > state.max_snap_m:
        raise InputError(
            f"the point is {snap.access[0]:.0f} m from the nearest walkable street "
            f"(more than {state.max_snap_m:.0f} m): choose a point near a street"
        )
    radius = max(state.radii.values())
    d_new = single_source_reach(state.network, snap, state.buildings, limit=radius)
    total_pop = float(state.population.sum())
    out: dict[str, Any] = {
        "lon": float(lon),
        "lat": float(lat),
        "access_m": round(float(snap.access[0]), 1),
        "thresholds": {},
    }
    for minutes, r in sorted(state.radii.items()):
        before = state.dist <= r
        after = before | (d_new <= r)
        gained = after & ~before
        out["thresholds"][str(minutes)] = {
            "distance_m": round(r, 1),
            "gain_buildings": int(gained.sum()),
            "gain_population": round(float(state.population[gained].sum()), 1),
            "gain_households": round(float(state.households[gained].sum()), 1),
            "population_share_before": _share(state.population[before].sum(), total_pop),
            "population_share_after": _share(state.population[after].sum(), total_pop),
        }
    return out


def _share(part: float, whole: float) -> float | None:
    return round(float(part) / whole, 4) if whole > 0 else None


# --------------------------------------------------------------------------- numeric core


def coverage_matrix(
    network: WalkNetwork, candidates: Snap, demand: Snap, *, radius: float, chunk: int = 128
) -> sparse.csr_matrix:
    """Boolean ``(candidates, demand)`` matrix: candidate ``c`` brings demand ``d``
    within ``radius`` metres of walking.

    Bounded Dijkstra from the candidates' virtual nodes (one per attachment),
    in chunks; only the reached nodes are expanded to the demand points
    attached to them (via either end of their edge), so the work follows what
    is reached.
    """
    n, c = network.n_nodes, len(candidates)
    if c == 0 or len(demand) == 0:
        return sparse.csr_matrix((c, len(demand)), dtype=bool)
    graph = augmented_graph(network, candidates)
    # demand attachments on nodes, with the rest of their walk from there
    e = demand.edge
    att_node = np.concatenate([network.u[e], network.v[e]])
    att_dem = np.concatenate([demand.owner] * 2)
    att_rest = np.concatenate(
        [demand.t + demand.access, network.length[e] - demand.t + demand.access]
    )
    near = att_rest <= radius
    att_node, att_dem, att_rest = att_node[near], att_dem[near], att_rest[near]
    order = np.argsort(att_node, kind="stable")
    att_dem, att_rest = att_dem[order], att_rest[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(att_node, minlength=n))])
    rows, cols = [], []
    n_att = candidates.n_attachments
    for start in range(0, n_att, chunk):
        idx = np.arange(start, min(start + chunk, n_att))
        dist = csgraph.dijkstra(graph, directed=True, indices=n + idx, limit=radius + _OFFSET)
        r, node = np.nonzero(np.isfinite(dist[:, :n]))
        if r.size == 0:
            continue
        d = dist[r, node] - _OFFSET
        count = indptr[node + 1] - indptr[node]
        pair = np.repeat(np.arange(r.size), count)
        first = np.cumsum(count) - count
        entry = indptr[node][pair] + (np.arange(pair.size) - first[pair])
        ok = d[pair] + att_rest[entry] <= radius
        rows.append(candidates.owner[idx[r[pair[ok]]]])
        cols.append(att_dem[entry[ok]])
    # a candidate and a demand attachment on the same edge: directly along it
    p = pd.DataFrame({"edge": demand.edge, "d": np.arange(demand.n_attachments)})
    q = pd.DataFrame({"edge": candidates.edge, "c": np.arange(n_att)})
    m = p.merge(q, on="edge")
    if not m.empty:
        di, ci = m["d"].to_numpy(), m["c"].to_numpy()
        direct = np.abs(demand.t[di] - candidates.t[ci]) + demand.access[di] + candidates.access[ci]
        ok = direct <= radius
        rows.append(candidates.owner[ci[ok]])
        cols.append(demand.owner[di[ok]])
    if not rows:
        return sparse.csr_matrix((c, len(demand)), dtype=bool)
    r, k = np.concatenate(rows), np.concatenate(cols)
    mat = sparse.csr_matrix((np.ones(r.size), (r, k)), shape=(c, len(demand)))
    mat.sum_duplicates()
    return (mat > 0).tocsr()


def greedy_max_coverage(
    cover: sparse.csr_matrix, weights: np.ndarray, *, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Lazy greedy maximal coverage: up to ``k`` candidates and their marginal gains.

    Stops early when no candidate adds anything.
    """
    cover = sparse.csr_matrix(cover, dtype=bool)
    weights = np.asarray(weights, dtype=float)
    gains0 = cover.astype(float) @ weights
    heap = [(-g, int(i)) for i, g in enumerate(gains0) if g > 0]
    heapq.heapify(heap)
    covered = np.zeros(cover.shape[1], dtype=bool)
    chosen: list[int] = []
    gains: list[float] = []
    indptr, indices = cover.indptr, cover.indices
    while heap and len(chosen) < k:
        _, i = heapq.heappop(heap)
        cols = indices[indptr[i] : indptr[i + 1]]
        gain = float(weights[cols[~covered[cols]]].sum())
        if gain <= 0:
            continue
        if heap and gain < -heap[0][0] - 1e-12:
            heapq.heappush(heap, (-gain, i))
            continue
        chosen.append(i)
        gains.append(gain)
        covered[cols] = True
    return np.asarray(chosen, dtype=np.int64), np.asarray(gains)


def exact_max_coverage(
    cover: sparse.csr_matrix, weights: np.ndarray, *, k: int, time_limit: float = 60.0
) -> tuple[np.ndarray, float]:
    """Optimal maximal coverage by mixed-integer programming (small instances).

    ``max w·y`` subject to ``y_d <= sum_c cover[c, d] x_c``, ``sum x = k``,
    ``x`` binary, ``0 <= y <= 1``.
    """
    cover = sparse.csr_matrix(cover, dtype=float)
    c, d = cover.shape
    k = min(k, c)
    obj = np.concatenate([np.zeros(c), -np.asarray(weights, dtype=float)])
    link = sparse.hstack([-cover.T, sparse.identity(d)]).tocsr()
    card = sparse.csr_matrix(np.concatenate([np.ones(c), np.zeros(d)])[None, :])
    constraints = [
        optimize.LinearConstraint(link, -np.inf, 0.0),
        optimize.LinearConstraint(card, k, k),
    ]
    res = milp(
        obj,
        constraints=constraints,
        integrality=np.concatenate([np.ones(c), np.zeros(d)]),
        bounds=optimize.Bounds(0, 1),
        options={"time_limit": time_limit},
    )
    if res.status != 0 or res.x is None:
        raise InfeasibleError(f"the exact site solver did not reach an optimum: {res.message}")
    chosen = np.flatnonzero(res.x[:c] > 0.5)
    return chosen, float(-res.fun)


# --------------------------------------------------------------------------- adapters


def candidate_sites(
    network: WalkNetwork,
    *,
    buildings: gpd.GeoDataFrame | None = None,
    pois: gpd.GeoDataFrame | None = None,
    demand: Snap | None = None,
    max_street: int = 500,
    seed: int = 0,
) -> gpd.GeoDataFrame:
    """Candidate sites in the network's CRS: public buildings, POIs and street points.

    Street points are the ends of the edges that uncovered buildings snap to
    (``demand``), at most ``max_street`` of them, drawn with ``seed``.
    """
    frames = []
    if buildings is not None and "building" in buildings.columns:
        pub = buildings[buildings["building"].astype("string").isin(PUBLIC_BUILDINGS)]
        if not pub.empty:
            frames.append(
                gpd.GeoDataFrame(
                    {
                        "kind": "public_building",
                        "id": pub.get("id", pd.Series(pub.index, index=pub.index)).astype(str),
                        "name": pub.get("name", pd.Series(None, index=pub.index)),
                    },
                    geometry=shapely.point_on_surface(pub.to_crs(network.crs).geometry.values),
                    crs=network.crs,
                )
            )
    if pois is not None and not pois.empty:
        frames.append(
            gpd.GeoDataFrame(
                {
                    "kind": "poi",
                    "id": pois.get("id", pd.Series(pois.index, index=pois.index)).astype(str),
                    "name": pois.get("name", pd.Series(None, index=pois.index)),
                },
                geometry=pois.to_crs(network.crs).geometry.values,
                crs=network.crs,
            )
        )
    if demand is not None and len(demand) and max_street > 0:
        nodes = np.unique(np.concatenate([network.u[demand.edge], network.v[demand.edge]]))
        rng = np.random.default_rng(seed)
        if nodes.size > max_street:
            nodes = np.sort(rng.choice(nodes, max_street, replace=False))
        frames.append(
            gpd.GeoDataFrame(
                {"kind": "street", "id": [f"node{i}" for i in nodes], "name": None},
                geometry=shapely.points(network.xy[nodes]),
                crs=network.crs,
            )
        )
    if not frames:
        return gpd.GeoDataFrame({"kind": [], "id": [], "name": []}, geometry=[], crs=network.crs)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=network.crs)


def suggest_sites(
    state: SiteState,
    candidates: gpd.GeoDataFrame,
    *,
    minutes: int | None = None,
    k: int = 10,
) -> gpd.GeoDataFrame:
    """Ranked new sites that add the most uncovered population, existing sites fixed.

    Parameters
    ----------
    state
        From :func:`gis.coverage.compute_coverage` (``result.state``).
    candidates
        Points in ``state.network.crs`` with ``kind``, ``id``, ``name``.
    minutes
        The threshold to cover (default: the smallest in ``state.radii``).
    k
        Most sites to return.

    Returns
    -------
    GeoDataFrame
        One row per chosen site, best first: ``rank``, ``gain_population``,
        ``gain_households``, ``gain_buildings``, ``population_share_after``.
    """
    minutes = min(state.radii) if minutes is None else minutes
    if minutes not in state.radii:
        raise InputError(f"no walking budget for {minutes} minutes in this state")
    radius = state.radii[minutes]
    uncovered = ~(state.dist <= radius)
    weights = _demand_weights(state)
    demand_idx = np.flatnonzero(uncovered & (weights > 0))
    columns = [
        "rank",
        "kind",
        "id",
        "name",
        "minutes",
        "gain_population",
        "gain_households",
        "gain_buildings",
        "population_share_after",
    ]
    empty = gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=state.network.crs)
    if demand_idx.size == 0 or len(candidates) == 0 or k <= 0:
        return empty
    cand_snap = snap_xy(state.network, shapely.get_coordinates(candidates.geometry.values))
    ok = cand_snap.access <= state.max_snap_m
    if not ok.any():
        return empty
    cand_idx = np.flatnonzero(ok)
    cover = coverage_matrix(
        state.network, cand_snap.subset(cand_idx), state.buildings.subset(demand_idx), radius=radius
    )
    chosen, _ = greedy_max_coverage(cover, weights[demand_idx], k=k)
    covered = ~uncovered
    total = float(state.population.sum())
    rows = []
    for rank, c in enumerate(chosen, start=1):
        cols = cover.indices[cover.indptr[c] : cover.indptr[c + 1]]
        new = demand_idx[cols][~covered[demand_idx[cols]]]
        covered[new] = True
        src = candidates.iloc[int(cand_idx[c])]
        rows.append(
            {
                "rank": rank,
                "kind": src.get("kind"),
                "id": src.get("id"),
                "name": src.get("name"),
                "minutes": int(minutes),
                "gain_population": round(float(state.population[new].sum()), 1),
                "gain_households": round(float(state.households[new].sum()), 1),
                "gain_buildings": int(new.size),
                "population_share_after": _share(state.population[covered].sum(), total),
                "geometry": src.geometry,
            }
        )
    if not rows:
        return empty
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=state.network.crs)


def _demand_weights(state: SiteState) -> np.ndarray:
    """Population per building, or 1 per building when no population is known."""
    if float(state.population.sum()) > 0:
        return state.population.astype(float)
    return np.ones_like(state.dist)
