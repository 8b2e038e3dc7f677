"""Districts per sub-district in a city folder (``gridplan districts DIR --per subdistrict``).

A city's sub-district offices each balance their own districts: every
sub-district (digits 7–9 of the grid codes) is districted on its own by
:func:`gis.districting.draw_districts`, with one k for all or a k per
sub-district from a CSV, and the plans are joined with district numbers running
on from one sub-district to the next (1…k₁, k₁+1…), so ``plan.csv`` stays one
plan of integer districts that every later command reads.

Such a plan is balanced within each sub-district, so its deviations are
measured against each sub-district's own ideal (its population over its
districts), not the city's (:func:`subdistrict_metrics`): whenever every
district of a city plan lies in one sub-district, the metrics say so.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis._errors import InfeasibleError, PlanError, UnreadableFileError
from gis.adjacency import Adjacency
from gis.cityadjacency import within
from gis.districting import DistrictingResult, draw_districts

#: Digits 7–9 of a grid code: its sub-district.
SUBDISTRICT_DIGITS = slice(6, 9)


def draw_per_subdistrict(
    grids: gpd.GeoDataFrame,
    k: int | Mapping[str, int],
    *,
    adjacency: Adjacency | None = None,
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> DistrictingResult:
    """Draw districts inside each sub-district and join them into one plan.

    Parameters
    ----------
    grids
        A city's grids (metric CRS) with 15-digit ``code``.
    k
        Districts per sub-district: one number for all, or sub-district code
        (3 digits) → k.
    adjacency
        The city's grid neighbour graph over ``grids`` (``adjacency.csv``, so
        districts keep off the water); each sub-district is drawn on its part of
        it (:func:`gis.cityadjacency.within`).  None: from the grids alone.
    progress
        Called with a message per sub-district.
    **options
        Passed to :func:`gis.districting.draw_districts` (tolerance, balance, seed, …).

    Returns
    -------
    DistrictingResult
        One plan; ``summary["per_subdistrict"]`` holds each sub-district's figures.
    """
    say = progress or (lambda _m: None)
    codes = grids["code"].astype(str).str[SUBDISTRICT_DIGITS]
    subdistricts = sorted(codes.unique())
    wanted = _k_per_subdistrict(k, subdistricts)
    assignments: list[pd.Series] = []
    frames: list[gpd.GeoDataFrame] = []
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    offset = 0
    for sub in subdistricts:
        members = np.flatnonzero((codes == sub).to_numpy())
        mine = grids.iloc[members]
        k_sub = min(wanted[sub], len(mine))
        say(f"sub-district {sub}: {k_sub} districts over {len(mine)} grids")
        graph = None if adjacency is None else within(adjacency, members, mine.geometry.values)
        result = draw_districts(mine, k_sub, adjacency=graph, **options)
        number = {d: str(offset + i) for i, d in enumerate(_natural(result.assignment), start=1)}
        assignments.append(result.assignment.map(number))
        districts = result.districts.assign(district=result.districts["district"].map(number))
        frames.append(districts.assign(subdistrict=sub))
        rows.append(_figures(sub, result, number))
        warnings.extend(f"{sub}: {w}" for w in result.warnings)
        offset += len(number)
    summary = _summary(rows, warnings)
    return DistrictingResult(
        assignment=pd.concat(assignments),
        summary=summary,
        districts=gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs),
        warnings=warnings,
    )


def district_subdistricts(codes: Any, labels: np.ndarray, k: int) -> list[str] | None:
    """The sub-district of each of ``k`` districts, when each lies in one of a city's.

    Parameters
    ----------
    codes
        15-digit grid codes, one per grid.
    labels
        District index (0 … k-1) per grid.
    k
        Number of districts.

    Returns
    -------
    list of str or None
        Sub-district code (3 digits) per district; None when the grids hold one
        sub-district only (one area, not a city) or a district spans two.
    """
    subs = np.array([str(c)[SUBDISTRICT_DIGITS] for c in codes], dtype=object)
    if len(subs) == 0 or len(set(subs)) < 2:
        return None
    pairs = pd.DataFrame({"district": labels, "sub": subs}).drop_duplicates()
    if len(pairs) != k or pairs["district"].duplicated().any():
        return None
    return pairs.set_index("district")["sub"].reindex(range(k)).tolist()


def subdistrict_metrics(state: Any, metrics: dict[str, Any]) -> dict[str, Any]:
    """Re-base a city plan's metrics on each sub-district's ideal, when its districts nest.

    Each district's deviation becomes ``total / (sub-district total / its
    districts) - 1`` per balanced quantity; the plan's maximum deviation,
    range and tolerance check follow; each district row gains ``subdistrict``
    and ``ideal``, and the plan ``ideal_per`` (``"subdistrict"``) and
    ``subdistricts`` (k, ideal and maximum deviation of each).  Metrics of a
    plan whose districts do not nest (or of one area) are returned unchanged.

    Parameters
    ----------
    state
        The plan (:class:`gis.plan.PlanState`).
    metrics
        ``state.evaluate(...)``.

    Returns
    -------
    dict
    """
    subs = district_subdistricts(state.graph.codes, state.labels, state.k)
    if subs is None:
        return metrics
    graph, totals = state.graph, np.asarray(state.totals, dtype=float)
    index = pd.Index(sorted(set(subs)))
    member = index.get_indexer(subs)  # sub-district index of each district
    k_sub = np.bincount(member, minlength=len(index))
    sums = np.zeros((len(index), totals.shape[1]))
    np.add.at(sums, member, totals)
    ideal = (sums / k_sub[:, None])[member]  # (k, q): each district's own ideal
    safe = np.where(ideal > 0, ideal, 1.0)
    dev = np.where(ideal > 0, totals / safe - 1.0, 0.0)
    out = dict(metrics)
    out["districts"] = [dict(r) for r in metrics["districts"]]
    for d, row in enumerate(out["districts"]):
        row["subdistrict"] = subs[d]
        row["ideal"] = round(float(ideal[d, 0]), 1)
        row["deviation"] = round(float(dev[d, 0]), 6)
        for qi, q in enumerate(graph.quantities[: graph.n_balanced]):
            if qi > 0:
                row[f"{q}_deviation"] = round(float(dev[d, qi]), 6)
    quantities = {q: dict(v) for q, v in metrics["quantities"].items()}
    for qi, q in enumerate(graph.quantities[: graph.n_balanced]):
        absdev = np.abs(dev[:, qi])
        quantities[q].update(
            max_deviation=round(float(absdev.max()), 6),
            deviation_range=round(float(dev[:, qi].max() - dev[:, qi].min()), 6),
            within_tolerance=bool(absdev.max() <= quantities[q]["tolerance"] + 1e-12),
        )
    main = quantities[graph.quantities[0]]
    out.update(
        quantities=quantities,
        max_deviation=main["max_deviation"],
        deviation_range=main["deviation_range"],
        within_tolerance=all(v["within_tolerance"] for v in quantities.values()),
        ideal_per="subdistrict",
        subdistricts=[
            {
                "subdistrict": sub,
                "k": int(k_sub[i]),
                "ideal": round(float(sums[i, 0] / k_sub[i]), 1),
                "max_deviation": round(float(np.abs(dev[member == i, 0]).max()), 6),
            }
            for i, sub in enumerate(index)
        ],
    )
    return out


def read_k_table(path: str | os.PathLike[str]) -> dict[str, int]:
    """A CSV of districts per sub-district: columns ``subdistrict`` (3 or 9 digits) and ``k``.

    Parameters
    ----------
    path
        The CSV file.

    Returns
    -------
    dict
        Sub-district code (3 digits) → k.
    """
    path = Path(path)
    if not path.is_file():
        raise UnreadableFileError(f"the table of k per sub-district {path} does not exist")
    table = pd.read_csv(path, dtype=str)
    if not {"subdistrict", "k"} <= set(table.columns):
        raise PlanError(
            f"{path} needs the columns subdistrict and k (one row per sub-district), "
            f"it has {list(table.columns)}"
        )
    out: dict[str, int] = {}
    for sub, k in zip(table["subdistrict"].str.strip(), table["k"], strict=True):
        if not (sub.isdigit() and len(sub) in (3, 9)) or not str(k).strip().isdigit():
            raise PlanError(f"{path}: row ({sub}, {k}) needs a 3- or 9-digit code and a whole k")
        out[sub[-3:]] = int(k)
    return out


def _k_per_subdistrict(k: int | Mapping[str, int], subdistricts: list[str]) -> dict[str, int]:
    if isinstance(k, int):
        return dict.fromkeys(subdistricts, k)
    missing = [s for s in subdistricts if s not in k]
    if missing:
        raise PlanError(
            f"the table of k per sub-district has no row for {missing}: add one per sub-district"
        )
    bad = [s for s in subdistricts if k[s] < 1]
    if bad:
        raise InfeasibleError(f"k must be at least 1 in every sub-district, not in {bad}")
    return {s: int(k[s]) for s in subdistricts}


def _natural(assignment: pd.Series) -> list[str]:
    from gis.plan import sort_ids

    return [str(d) for d in sort_ids(assignment.unique())]


def _figures(sub: str, result: DistrictingResult, number: dict[str, str]) -> dict[str, Any]:
    s = result.summary
    return {
        "subdistrict": sub,
        "k": s["k"],
        "districts": [int(v) for v in number.values()],
        "grids": s["grids"],
        "max_deviation": s["max_deviation"],
        "contiguous": s["contiguous"],
        "cut_edges": s["cut_edges"],
        "within_tolerance": s["within_tolerance"],
        "best_bound": s["best_bound"],
    }


def _summary(rows: list[dict[str, Any]], warnings: list[str]) -> dict[str, Any]:
    return {
        "per": "subdistrict",
        "k": sum(r["k"] for r in rows),
        "grids": sum(r["grids"] for r in rows),
        "max_deviation": max(r["max_deviation"] for r in rows),
        "contiguous": all(r["contiguous"] for r in rows),
        "within_tolerance": all(r["within_tolerance"] for r in rows),
        "cut_edges": sum(r["cut_edges"] for r in rows),
        "per_subdistrict": rows,
        "warnings": warnings,
    }
