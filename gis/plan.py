"""A plan: every grid assigned to a district, and its metrics.

The numeric core is :class:`PlanState`: integer district labels over a grid
graph, with per-district tallies (each balanced quantity, area, perimeter,
grid count), the cut-edge count and community splits, all updated in
O(degree) by :meth:`PlanState.move`.  :func:`evaluate_plan` is the frame
adapter the faces call; :func:`read_plan` reads plans (CSV grid → district,
or GeoJSON district polygons overlaid on the grids) and repairs what can be
repaired, with a warning for each repair.

District ids are strings and are kept as given; new plans number them
``"1"`` … ``"k"``.  Deviations are fractions: ``population / ideal - 1``.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from gis._errors import InfeasibleError, PlanError, UnknownIdError, UnreadableFileError
from gis.adjacency import Adjacency, grid_adjacency
from gis.crs import WGS84, metric_crs
from gis.tables import read_table


# --------------------------------------------------------------------------- graph
@dataclass(frozen=True)
class GridGraph:
    """Grids as numbers: the neighbour graph and per-grid values.

    Attributes
    ----------
    codes
        Grid codes, row order of every array.
    indptr, indices, shared
        CSR neighbour lists and shared boundary lengths (m).
    area, perimeter
        Per-grid area (m²) and perimeter (m).
    values
        ``(n, q)`` per-grid quantities, named by ``quantities``.
    quantities
        Names of the columns of ``values``; the first is the main one.
    n_balanced
        How many leading quantities are balanced; the rest are only tallied.
    community
        Integer community label per grid (``-1`` for none), or ``None``.
    community_codes
        Community code per label.
    """

    codes: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    shared: np.ndarray
    area: np.ndarray
    perimeter: np.ndarray
    values: np.ndarray
    quantities: tuple[str, ...]
    community: np.ndarray | None
    community_codes: np.ndarray
    adjacency: Adjacency
    n_balanced: int = 1

    @property
    def balanced(self) -> tuple[str, ...]:
        """The quantities that are balanced (the first ``n_balanced``)."""
        return self.quantities[: self.n_balanced]

    @property
    def n(self) -> int:
        """Number of grids."""
        return len(self.codes)

    def neighbour_lists(self) -> list[list[int]]:
        """Neighbour indices per grid, as Python lists (fast in loops)."""
        ip, ix = self.indptr.tolist(), self.indices.tolist()
        return [ix[ip[i] : ip[i + 1]] for i in range(self.n)]

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """Directed edge arrays ``(src, dst)``, each undirected edge twice."""
        src = np.repeat(np.arange(self.n), np.diff(self.indptr))
        return src, self.indices

    def index_of(self, codes: Iterable[str]) -> np.ndarray:
        """Row indices of ``codes``; raises :class:`UnknownIdError` for unknown ones."""
        pos = pd.Index(self.codes).get_indexer(list(codes))
        if (pos < 0).any():
            bad = np.asarray(list(codes), dtype=object)[pos < 0][:5]
            raise UnknownIdError(f"unknown grid code(s): {', '.join(map(str, bad))}")
        return pos


def to_metric(grids: gpd.GeoDataFrame, *, crs: str | None = None) -> gpd.GeoDataFrame:
    """``grids`` in a metric CRS (kept when already metric), with a string ``code``."""
    target = metric_crs(grids, preferred=crs)
    out = grids if grids.crs.equals(target) else grids.to_crs(target)
    if "code" not in out.columns:
        raise PlanError("the grids have no `code` column: give each grid its 15-digit code")
    if out["code"].dtype != object or not isinstance(out["code"].iloc[0], str):
        out = out.assign(code=out["code"].astype(str))
    if out["code"].duplicated().any():
        dup = out.loc[out["code"].duplicated(), "code"].iloc[:5].tolist()
        raise PlanError(f"duplicate grid codes: {', '.join(dup)}")
    return out


def grid_graph(
    grids: gpd.GeoDataFrame,
    *,
    adjacency: Adjacency | None = None,
    quantities: Sequence[str] = ("population",),
    tallied: Sequence[str] = (),
    crs: str | None = None,
) -> GridGraph:
    """Turn ``grids`` into a :class:`GridGraph` (projects to a metric CRS first).

    Parameters
    ----------
    grids
        Grids with ``code`` and the ``quantities`` columns (any CRS).
    adjacency
        A ready neighbour graph of the same grids (built when ``None``).
    quantities
        Columns to balance; missing or null values count as 0.
    tallied
        Further columns to tally only (e.g. ``households``), when present.
    crs
        Preferred metric CRS (the build's ``crs``).
    """
    gm = to_metric(grids, crs=crs)
    extra = [t for t in tallied if t in gm.columns and t not in quantities]
    n_balanced = len(quantities)
    quantities = (*quantities, *extra)
    for q in quantities:
        if q not in gm.columns:
            raise PlanError(f"the grids have no `{q}` column to balance")
    if adjacency is None:
        adjacency = grid_adjacency(gm)
    elif len(adjacency.codes) != len(gm) or not np.array_equal(
        adjacency.codes, gm["code"].to_numpy()
    ):
        raise PlanError("the adjacency was built for other grids: rebuild it")
    m = adjacency.matrix
    values = np.column_stack(
        [pd.to_numeric(gm[q], errors="coerce").fillna(0.0).to_numpy(float) for q in quantities]
    )
    geoms = np.asarray(gm.geometry.values, dtype=object)
    community, community_codes = None, np.array([], dtype=object)
    if "community" in gm.columns and gm["community"].notna().any():
        labels, uniq = pd.factorize(gm["community"].astype("string"), use_na_sentinel=True)
        community, community_codes = labels.astype(np.int64), np.asarray(uniq, dtype=object)
    return GridGraph(
        codes=gm["code"].to_numpy(dtype=object),
        indptr=m.indptr.astype(np.int64),
        indices=m.indices.astype(np.int64),
        shared=m.data.astype(float),
        area=shapely.area(geoms),
        perimeter=shapely.length(geoms),
        values=values,
        quantities=tuple(quantities),
        community=community,
        community_codes=community_codes,
        adjacency=adjacency,
        n_balanced=n_balanced,
    )


# --------------------------------------------------------------------------- state
class PlanState:
    """A plan over a :class:`GridGraph` with incrementally updated metrics.

    Parameters
    ----------
    graph
        The grids as numbers.
    labels
        District index (``0 .. k-1``) per grid.
    districts
        District id (string) per index.
    """

    def __init__(self, graph: GridGraph, labels: np.ndarray, districts: Sequence[str]) -> None:
        self.graph = graph
        self.districts = [str(d) for d in districts]
        self.k = len(self.districts)
        self.labels = np.asarray(labels, dtype=np.int64).copy()
        if len(self.labels) != graph.n:
            raise PlanError("a plan needs one district per grid")
        if self.k == 0 or self.labels.min() < 0 or self.labels.max() >= self.k:
            raise PlanError("district labels out of range")
        self._index = {d: i for i, d in enumerate(self.districts)}
        self._nbrs = graph.neighbour_lists()
        self._shared = [
            graph.shared[graph.indptr[i] : graph.indptr[i + 1]].tolist() for i in range(graph.n)
        ]
        self.totals, self.area, self.perimeter, self.count = self._tally()
        self.cut_edges = self._count_cut()
        self._comm_counts, self.communities_split = self._tally_communities()
        self.ideal = graph.values.sum(axis=0) / self.k

    # -- constructors --------------------------------------------------------
    @classmethod
    def from_assignment(cls, graph: GridGraph, assignment: pd.Series) -> PlanState:
        """Build from a Series (grid code → district id) covering every grid."""
        series = assignment.copy()
        series.index = series.index.astype(str)
        series = series.astype(str)
        labels_codes = series.reindex(graph.codes)
        if labels_codes.isna().any():
            missing = graph.codes[labels_codes.isna().to_numpy()][:5]
            raise PlanError(f"the plan leaves grids unassigned: {', '.join(map(str, missing))}")
        districts = sort_ids(pd.unique(labels_codes.to_numpy()))
        pos = {d: i for i, d in enumerate(districts)}
        labels = np.fromiter((pos[d] for d in labels_codes.to_numpy()), np.int64, graph.n)
        return cls(graph, labels, districts)

    # -- fresh tallies (also the reference for tests) -------------------------
    def _tally(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        g, lab, k = self.graph, self.labels, self.k
        totals = np.zeros((k, g.values.shape[1]))
        np.add.at(totals, lab, g.values)
        area = np.bincount(lab, weights=g.area, minlength=k)
        src, dst = g.edges()
        internal = lab[src] == lab[dst]
        inner = np.bincount(lab[src[internal]], weights=g.shared[internal], minlength=k)
        perimeter = np.bincount(lab, weights=g.perimeter, minlength=k) - inner  # 2x/2 per side
        count = np.bincount(lab, minlength=k)
        return totals, area, perimeter, count

    def _count_cut(self) -> int:
        src, dst = self.graph.edges()
        return int((self.labels[src] != self.labels[dst]).sum() // 2)

    def _tally_communities(self) -> tuple[np.ndarray | None, int]:
        comm = self.graph.community
        if comm is None:
            return None, 0
        c = len(self.graph.community_codes)
        ok = comm >= 0
        counts = np.zeros((c, self.k), dtype=np.int64)
        np.add.at(counts, (comm[ok], self.labels[ok]), 1)
        return counts, int(((counts > 0).sum(axis=1) > 1).sum())

    def recount(self) -> dict[str, Any]:
        """Fresh tallies, recomputed from scratch (to check the incremental ones)."""
        totals, area, perimeter, count = self._tally()
        _, split = self._tally_communities()
        return {
            "totals": totals,
            "area": area,
            "perimeter": perimeter,
            "count": count,
            "cut_edges": self._count_cut(),
            "communities_split": split,
        }

    # -- moves -----------------------------------------------------------------
    def move(self, grid: str, district: str) -> None:
        """Move the grid with code ``grid`` to district ``district`` (O(degree))."""
        i = int(self.graph.index_of([grid])[0])
        if district not in self._index:
            raise UnknownIdError(f"unknown district {district!r}")
        self.move_index(i, self._index[district])

    def move_index(self, i: int, d: int) -> None:
        """Move grid ``i`` to district index ``d``, updating every tally."""
        a = int(self.labels[i])
        if a == d:
            return
        g = self.graph
        v = g.values[i]
        self.totals[a] -= v
        self.totals[d] += v
        self.area[a] -= g.area[i]
        self.area[d] += g.area[i]
        self.count[a] -= 1
        self.count[d] += 1
        lab = self.labels
        s_a = s_d = 0.0
        n_a = n_d = 0
        for j, s in zip(self._nbrs[i], self._shared[i], strict=True):
            lj = lab[j]
            if lj == a:
                s_a += s
                n_a += 1
            elif lj == d:
                s_d += s
                n_d += 1
        self.perimeter[a] += 2.0 * s_a - g.perimeter[i]
        self.perimeter[d] += g.perimeter[i] - 2.0 * s_d
        self.cut_edges += n_a - n_d
        community = g.community
        if self._comm_counts is not None and community is not None and community[i] >= 0:
            row = self._comm_counts[community[i]]
            before = (row > 0).sum() > 1
            row[a] -= 1
            row[d] += 1
            after = (row > 0).sum() > 1
            self.communities_split += int(after) - int(before)
        lab[i] = d

    def neighbour_districts(self, i: int) -> set[int]:
        """District indices adjacent to grid ``i`` other than its own."""
        lab = self.labels
        own = lab[i]
        return {int(lab[j]) for j in self._nbrs[i] if lab[j] != own}

    def keeps_contiguous(self, grids: Sequence[int]) -> bool:
        """Whether removing ``grids`` (all in one district) leaves it contiguous and non-empty."""
        lab = self.labels
        a = lab[grids[0]]
        gone = set(grids)
        if self.count[a] <= len(gone):
            return False
        targets = {j for i in gone for j in self._nbrs[i] if lab[j] == a and j not in gone}
        if not targets:
            return False  # the removed grids were the whole district part
        if len(targets) == 1:
            return True
        start = next(iter(targets))
        seen = {start}
        left = len(targets) - 1
        queue = deque([start])
        nbrs = self._nbrs
        while queue:
            u = queue.popleft()
            for w in nbrs[u]:
                if w not in seen and lab[w] == a and w not in gone:
                    seen.add(w)
                    if w in targets:
                        left -= 1
                        if left == 0:
                            return True
                    queue.append(w)
        return False

    # -- whole-plan measures -----------------------------------------------------
    def deviations(self) -> np.ndarray:
        """``(k, q)`` signed deviation of each district from the ideal, per quantity."""
        ideal = np.where(self.ideal > 0, self.ideal, 1.0)
        return np.where(self.ideal > 0, self.totals / ideal - 1.0, 0.0)

    def contiguity(self) -> np.ndarray:
        """Whether each district is contiguous (bool per district)."""
        g, lab = self.graph, self.labels
        src, dst = g.edges()
        keep = lab[src] == lab[dst]
        m = sparse.csr_matrix((np.ones(int(keep.sum())), (src[keep], dst[keep])), shape=(g.n, g.n))
        _, comp = csgraph.connected_components(m, directed=False)
        pairs = np.unique(np.column_stack([lab, comp]), axis=0)
        pieces = np.bincount(pairs[:, 0], minlength=self.k)
        return pieces == 1

    def polsby_popper(self) -> np.ndarray:
        """Polsby-Popper compactness per district, ``4 π A / P²``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            pp = 4.0 * math.pi * self.area / self.perimeter**2
        return np.nan_to_num(pp, nan=0.0)

    def assignment(self) -> pd.Series:
        """The plan as a Series: grid code → district id."""
        ids = np.asarray(self.districts, dtype=object)[self.labels]
        return pd.Series(ids, index=pd.Index(self.graph.codes, name="grid"), name="district")

    def evaluate(self, *, tolerance: float | Mapping[str, float] = 0.02) -> dict[str, Any]:
        """Per-district and plan metrics as plain JSON-serialisable data."""
        g = self.graph
        tol = tolerances(g.balanced, tolerance)
        dev = self.deviations()
        contig = self.contiguity()
        pp = self.polsby_popper()
        cut_per = self._cut_per_district()
        hh = self._total_of("households")
        pop = self._total_of("population")
        rows = []
        for d, name in enumerate(self.districts):
            row: dict[str, Any] = {
                "district": name,
                "grids": int(self.count[d]),
                "population": _num(pop[d]) if pop is not None else None,
                "households": _num(hh[d]) if hh is not None else None,
                "area_m2": round(float(self.area[d]), 1),
                "perimeter_m": round(float(self.perimeter[d]), 1),
                "deviation": round(float(dev[d, 0]), 6),
                "polsby_popper": round(float(pp[d]), 4),
                "contiguous": bool(contig[d]),
                "cut_edges": int(cut_per[d]),
            }
            for qi, q in enumerate(g.quantities):
                if q not in ("population", "households"):
                    row[q] = _num(self.totals[d, qi])
                if 0 < qi < g.n_balanced:
                    row[f"{q}_deviation"] = round(float(dev[d, qi]), 6)
            rows.append(row)
        absdev = np.abs(dev)
        per_quantity = {
            q: {
                "ideal": _num(self.ideal[qi]),
                "max_deviation": round(float(absdev[:, qi].max()), 6),
                "deviation_range": round(float(dev[:, qi].max() - dev[:, qi].min()), 6),
                "tolerance": tol[q],
                "within_tolerance": bool(absdev[:, qi].max() <= tol[q] + 1e-12),
            }
            for qi, q in enumerate(g.balanced)
        }
        main = per_quantity[g.quantities[0]]
        return {
            "k": self.k,
            "grids": int(g.n),
            "ideal": main["ideal"],
            "max_deviation": main["max_deviation"],
            "deviation_range": main["deviation_range"],
            "tolerance": tol[g.quantities[0]],
            "within_tolerance": all(v["within_tolerance"] for v in per_quantity.values()),
            "contiguous": bool(contig.all()),
            "cut_edges": int(self.cut_edges),
            "mean_polsby_popper": round(float(pp.mean()), 4),
            "min_polsby_popper": round(float(pp.min()), 4),
            "communities_split": int(self.communities_split),
            "quantities": per_quantity,
            "bridges": [list(b) for b in g.adjacency.bridges],
            "districts": rows,
        }

    def _total_of(self, name: str) -> np.ndarray | None:
        if name in self.graph.quantities:
            return self.totals[:, self.graph.quantities.index(name)]
        return None

    def _cut_per_district(self) -> np.ndarray:
        src, dst = self.graph.edges()
        cut = self.labels[src] != self.labels[dst]
        return np.bincount(self.labels[src[cut]], minlength=self.k)

    def copy(self) -> PlanState:
        """An independent copy (tallies included)."""
        new = object.__new__(PlanState)
        new.__dict__.update(self.__dict__)
        new.labels = self.labels.copy()
        new.totals = self.totals.copy()
        new.area = self.area.copy()
        new.perimeter = self.perimeter.copy()
        new.count = self.count.copy()
        new._comm_counts = None if self._comm_counts is None else self._comm_counts.copy()
        new.districts = list(self.districts)
        new._index = dict(self._index)
        return new


def _num(x: float) -> float | int | None:
    if x is None or not np.isfinite(x):
        return None
    xr = round(float(x), 3)
    return int(xr) if xr.is_integer() else xr


def tolerances(
    quantities: Sequence[str], tolerance: float | Mapping[str, float]
) -> dict[str, float]:
    """Tolerance per quantity from one number or a mapping (missing ones get 0.02)."""
    if isinstance(tolerance, Mapping):
        return {q: float(tolerance.get(q, 0.02)) for q in quantities}
    return {q: float(tolerance) for q in quantities}


def sort_ids(ids: Iterable[Any]) -> list[str]:
    """District ids as strings in natural order (numbers by value, then text)."""
    ids = [str(x) for x in ids]

    def key(s: str) -> tuple[int, float, str]:
        try:
            return (0, float(s), s)
        except ValueError:
            return (1, 0.0, s)

    return sorted(set(ids), key=key)


# --------------------------------------------------------------------------- frames
def evaluate_plan(
    grids: gpd.GeoDataFrame,
    assignment: pd.Series,
    *,
    adjacency: Adjacency | None = None,
    tolerance: float | Mapping[str, float] = 0.02,
    quantities: Sequence[str] = ("population",),
) -> dict[str, Any]:
    """Metrics of a plan, per district and for the whole plan.

    Parameters
    ----------
    grids
        Grids with ``code``, ``population`` and optionally ``households``,
        ``community`` (any CRS; projected to a metric one).
    assignment
        Grid code → district id, covering every grid.
    adjacency
        The grids' neighbour graph, when already built.
    tolerance
        Allowed deviation (fraction), one for all or per quantity.
    quantities
        Quantities to tally and measure deviation for; the first is the main.

    Returns
    -------
    dict
        JSON-serialisable: ``districts`` (one dict each: district, population,
        households, area_m2, deviation, polsby_popper, contiguous, cut_edges,
        grids) and plan figures ``max_deviation``, ``deviation_range``,
        ``contiguous``, ``cut_edges``, ``communities_split``, ``ideal``.
    """
    graph = grid_graph(
        grids, adjacency=adjacency, quantities=quantities, tallied=("population", "households")
    )
    state = PlanState.from_assignment(graph, assignment)
    return state.evaluate(tolerance=tolerance)


def read_plan(
    path_or_df: str | os.PathLike[str] | pd.DataFrame | pd.Series | gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    *,
    adjacency: Adjacency | None = None,
    drop_unknown: bool = False,
) -> tuple[pd.Series, list[str]]:
    """Read a plan and check it against ``grids``.

    Parameters
    ----------
    path_or_df
        A CSV (``grid``, ``district``), a GeoJSON of district polygons (a
        ``district`` property; overlaid on the grids: each grid goes to the
        polygon covering most of it), or the same as a frame / Series.
    grids
        The grids the plan is for.
    adjacency
        Their neighbour graph (built when needed to place missing grids).
    drop_unknown
        A plan drawn before the grids were rebuilt: grids of the plan that no
        longer exist are dropped with a warning saying how many and which,
        instead of refusing the plan.

    Returns
    -------
    assignment, warnings
        Grid code → district id for every grid, and what was repaired.

    Raises
    ------
    PlanError
        Missing columns, conflicting rows, or a plan that covers no grid.
    UnknownIdError
        The plan names grids that do not exist.
    """
    warnings: list[str] = []
    table = _load_plan_table(path_or_df, grids)
    codes = grids["code"].astype(str)
    known = set(codes)
    unknown = sorted(set(table.index) - known)
    if unknown and drop_unknown and len(unknown) < len(table):
        warnings.append(
            f"{len(unknown)} grid(s) of the plan no longer exist (e.g. {', '.join(unknown[:5])}):"
            " the grids were rebuilt since it was drawn; its districts are kept on the others"
        )
        table = table.drop(unknown)
    elif unknown:
        raise UnknownIdError(
            f"the plan names {len(unknown)} grid(s) that are not in the grids "
            f"(e.g. {', '.join(unknown[:5])}): is it a plan for another grid set?"
        )
    assignment = table.reindex(codes.to_numpy())
    missing = assignment.isna()
    if missing.all():
        raise PlanError("the plan assigns none of the grids")
    if missing.any():
        assignment, note = _fill_missing(assignment, grids, adjacency)
        warnings.append(note)
    assignment.index.name = "grid"
    assignment.name = "district"
    return assignment.astype(str), warnings


def _load_plan_table(source: Any, grids: gpd.GeoDataFrame) -> pd.Series:
    if isinstance(source, pd.Series):
        table = source.rename("district").rename_axis("grid").reset_index()
    elif isinstance(source, gpd.GeoDataFrame):
        return _overlay_polygons(source, grids)
    elif isinstance(source, pd.DataFrame):
        table = source
    else:
        path = Path(source)
        if not path.exists():
            raise UnreadableFileError(f"plan file {path} does not exist")
        if path.suffix.lower() in (".geojson", ".json", ".gpkg", ".shp"):
            try:
                polys = gpd.read_file(path, engine="pyogrio")
            except Exception as exc:  # pyogrio raises several unrelated types
                raise UnreadableFileError(f"cannot read {path}: {exc}") from exc
            return _overlay_polygons(polys, grids)
        table = read_table(path, what="plan file").fillna("")  # as Excel or WPS saved it
    cols = {c.strip().lower(): c for c in table.columns}
    if "grid" not in cols or "district" not in cols:
        found = ", ".join(map(str, table.columns))
        raise PlanError(f"a plan needs columns `grid` and `district`; found {found}")
    table = table[[cols["grid"], cols["district"]]].astype(str)
    table.columns = ["grid", "district"]
    table = table.apply(lambda s: s.str.strip())
    # rows as a reader of the file counts them: the header is line 1
    table.index = pd.RangeIndex(2, len(table) + 2, name="line")
    table = table[(table["grid"] != "") & (table["district"] != "")]
    _check_codes(table["grid"], set(grids["code"].astype(str)))
    return table.set_index("grid")["district"]


#: A code a spreadsheet turned into a number: ``3.20104E+14`` or ``320104001001001.0``.
_MANGLED = r"^\d+(\.\d*)?[eE][+-]?\d+$|^\d+\.0*$"


def _check_codes(codes: pd.Series, known: set[str]) -> None:
    """Refuse repeated grid rows and codes mangled by a spreadsheet, naming their lines."""
    mangled = codes.str.match(_MANGLED) & ~codes.isin(known)
    lost_zeros = codes.str.fullmatch(r"\d+") & ~codes.isin(known)
    lost_zeros &= codes.str.zfill(15).isin(known)
    if mangled.any() or lost_zeros.any():
        bad = codes[mangled | lost_zeros]
        raise PlanError(
            f"the plan's grid codes on line(s) {_lines(bad.index)} were changed by a spreadsheet "
            f"(e.g. {bad.iloc[0]!r}: digits turned into a number, or leading zeros dropped): "
            "export the `grid` column as text, with all 15 digits"
        )
    repeated = codes.duplicated(keep=False)
    if repeated.any():
        parts = [
            f"{code} on lines {_lines(rows.index)}"
            for code, rows in codes[repeated].groupby(codes[repeated], sort=False)
        ]
        more = f" and {len(parts) - 3} more" if len(parts) > 3 else ""
        raise PlanError(
            f"the plan names grid(s) more than once: {'; '.join(parts[:3])}{more}: "
            "keep one row per grid"
        )


def _lines(index: pd.Index) -> str:
    lines = [str(i) for i in index[:8]]
    return ", ".join(lines) + (f" … ({len(index)} in all)" if len(index) > 8 else "")


def _overlay_polygons(polys: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> pd.Series:
    if "district" not in polys.columns:
        raise PlanError("district polygons need a `district` property")
    if polys.crs is None:
        polys = polys.set_crs(WGS84)
    gm = to_metric(grids)
    pm = polys.to_crs(gm.crs)
    gi, pi = shapely.STRtree(pm.geometry.values).query(gm.geometry.values, predicate="intersects")
    if len(gi) == 0:
        raise PlanError("the district polygons do not overlap the grids")
    inter = shapely.area(shapely.intersection(gm.geometry.values[gi], pm.geometry.values[pi]))
    df = pd.DataFrame({"g": gi, "p": pi, "a": inter})
    df = df.sort_values(["g", "a"], ascending=[True, False])
    best = df.drop_duplicates("g")
    best = best[best["a"] > 0]
    districts = pm["district"].astype(str).to_numpy()[best["p"].to_numpy()]
    codes = gm["code"].to_numpy()[best["g"].to_numpy()]
    return pd.Series(districts, index=pd.Index(codes, name="grid"), name="district")


def _fill_missing(
    assignment: pd.Series, grids: gpd.GeoDataFrame, adjacency: Adjacency | None
) -> tuple[pd.Series, str]:
    """Give each unassigned grid the district it shares the longest boundary with."""
    if adjacency is None:
        adjacency = grid_adjacency(to_metric(grids))
    m = adjacency.matrix
    values = assignment.to_numpy(dtype=object).copy()
    missing = np.flatnonzero(pd.isna(values))
    todo = set(missing.tolist())
    while todo:
        progress = False
        for i in sorted(todo):
            row = slice(m.indptr[i], m.indptr[i + 1])
            best: dict[str, float] = {}
            for j, s in zip(m.indices[row], m.data[row], strict=True):
                if not pd.isna(values[j]):
                    best[values[j]] = best.get(values[j], 0.0) + s
            if best:
                values[i] = max(sorted(best), key=best.__getitem__)
                todo.discard(i)
                progress = True
        if not progress:  # pragma: no cover - the graph is connected by bridges
            raise PlanError("cannot place unassigned grids: they touch no assigned grid")
    codes = assignment.index[missing][:5].tolist()
    note = (
        f"{len(missing)} grid(s) missing from the plan were given to the neighbouring "
        f"district they share most boundary with (e.g. {', '.join(map(str, codes))})"
    )
    return pd.Series(values, index=assignment.index), note


def repair_contiguity(state: PlanState) -> list[str]:
    """Give detached pieces of each district to the neighbour they share most boundary with.

    The piece with the largest population (first quantity) stays; the others move.
    Districts left without grids are not possible: the kept piece is non-empty.

    Returns
    -------
    list of str
        One warning per repaired district (empty when all were contiguous).
    """
    g = state.graph
    notes: list[str] = []
    for _ in range(g.n):
        # an empty district (the partitioner leaves some at high k) is not detached:
        # it has no piece to keep, and the caller fills it afterwards
        empty = np.bincount(state.labels, minlength=state.k) == 0
        contig = state.contiguity() | empty
        if contig.all():
            break
        lab = state.labels
        src, dst = g.edges()
        keep = lab[src] == lab[dst]
        m = sparse.csr_matrix((np.ones(int(keep.sum())), (src[keep], dst[keep])), shape=(g.n, g.n))
        _, comp = csgraph.connected_components(m, directed=False)
        comp_pop = np.bincount(comp, weights=g.values[:, 0] + 1e-9)
        for d in np.flatnonzero(~contig):
            members = np.flatnonzero(lab == d)
            pieces = np.unique(comp[members])
            main = pieces[np.argmax(comp_pop[pieces])]
            detached = members[comp[members] != main]
            moved = 0
            for i in detached:
                nb: dict[int, float] = {}
                for j, s in zip(state._nbrs[i], state._shared[i], strict=True):
                    if lab[j] != d:
                        nb[int(lab[j])] = nb.get(int(lab[j]), 0.0) + s
                if nb:
                    state.move_index(int(i), max(sorted(nb), key=nb.__getitem__))
                    moved += 1
            if moved:
                notes.append(
                    f"district {state.districts[d]} was not contiguous: {moved} grid(s) of "
                    f"{len(pieces) - 1} detached piece(s) joined neighbouring districts"
                )
    else:  # pragma: no cover
        raise InfeasibleError("could not make the plan contiguous")
    return notes
