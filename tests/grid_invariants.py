"""Checks every grid build must pass, shared by the synthetic and real-area tests."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry


def check_grid_invariants(
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    boundary: BaseGeometry,
    *,
    area_rtol: float = 1e-6,
    union_rtol: float = 1e-6,
    count_decimals: int | None = None,
) -> None:
    """Assert the grid invariants of the foundation issue (all frames in one metric CRS).

    Grids tile ``boundary`` (no gap, no overlap, areas sum to it), every building
    is in exactly one existing grid, every grid in exactly one community, codes are
    unique 15-digit strings whose first 12 digits are the community code, and
    households/population are conserved building -> grid -> community.

    ``count_decimals``: the frames' households and population were read from
    files that round them to this many decimals, so each sum of ``n`` rounded
    values may differ from the rounded total by ``(n + 1)`` half units.
    """
    area = boundary.area
    geoms = grids.geometry.values
    assert shapely.is_valid(geoms).all(), "every grid is a valid polygon"
    assert (shapely.get_type_id(geoms) == 3).all(), "every grid is one polygon"
    # tiling: areas sum to the study area, the union equals it
    assert abs(shapely.area(geoms).sum() - area) <= area_rtol * area
    union = shapely.union_all(geoms)
    assert shapely.symmetric_difference(union, boundary).area <= union_rtol * area
    # codes
    codes = grids["code"].astype(str)
    assert codes.is_unique
    assert codes.str.fullmatch(r"\d{15}").all()
    assert (codes.str[:12] == grids["community"]).all()
    assert set(grids["community"]) <= set(communities["code"])
    # every grid lies in its community (up to rounding)
    comm = communities.set_index("code").geometry
    inside = shapely.area(shapely.difference(geoms, comm.loc[grids["community"]].values))
    assert (inside <= 1e-6 * np.maximum(shapely.area(geoms), 1.0) + 1e-3).all()
    # buildings: one grid each, a grid that exists, with its point inside that grid
    assert buildings["grid"].notna().all()
    assert buildings["grid"].isin(codes).all()
    by_code = grids.set_index("code").geometry
    points = buildings.geometry.representative_point().values
    owner = by_code.loc[buildings["grid"]].values
    assert shapely.dwithin(owner, points, 1e-3).all(), "a building lies in the grid it names"
    # sums conserved building -> grid -> community
    check_counts_conserved(grids, buildings, communities, count_decimals=count_decimals)


def check_counts_conserved(
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    count_decimals: int | None = None,
) -> None:
    """Assert households and population add up building -> grid -> community.

    With ``count_decimals`` (counts read from files that round them), a sum of
    ``n`` rounded values may differ from the rounded total by ``n + 1`` half units.
    """
    codes = grids["code"]
    half = 0.0 if count_decimals is None else 0.5 * 10.0**-count_decimals
    per_grid_n = buildings.groupby("grid").size().reindex(codes, fill_value=0).to_numpy()
    per_comm_n = grids.groupby("community").size()
    for column in ("households", "population"):
        per_grid = buildings.groupby("grid")[column].sum().reindex(codes, fill_value=0.0)
        diff = np.abs(per_grid.to_numpy() - grids[column].to_numpy())
        assert (
            diff <= 1e-9 * np.abs(grids[column].to_numpy()) + 1e-6 + half * (per_grid_n + 1)
        ).all()
        per_comm = grids.groupby("community")[column].sum()
        comm_values = communities.set_index("code")[column].reindex(per_comm.index)
        diff = np.abs(per_comm.to_numpy() - comm_values.to_numpy())
        room = half * (per_comm_n.reindex(per_comm.index).to_numpy() + 1)
        assert (diff <= 1e-9 * np.abs(comm_values.to_numpy()) + 1e-6 + room).all()
        total = abs(buildings[column].sum() - grids[column].sum())
        assert total <= 1e-12 * abs(grids[column].sum()) + 1e-6 + half * (
            len(buildings) + len(grids)
        )


def crossed_buildings(
    grids: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, *, share: float = 1e-3
) -> np.ndarray:
    """Ids of the buildings with more than ``share`` of their footprint outside their grid.

    Recomputed from the frames (one metric CRS), independently of the build's own count.
    """
    owner = grids.set_index("code").geometry.loc[buildings["grid"]].values
    footprints = buildings.geometry.values
    outside = shapely.area(shapely.difference(footprints, owner))
    crossed = outside > share * shapely.area(footprints)
    return buildings["id"].to_numpy()[crossed]


def mergeable_pairs(
    grids: gpd.GeoDataFrame, hmin: float, hmax: float, residents_max: float
) -> list[tuple[str, str]]:
    """Neighbouring grids of one community, both under ``hmin``, that fit ``hmax`` together.

    Households are whole numbers rounded from the sums the builder merged on, so the
    test leaves a margin of one household per grid.
    """
    geoms = grids.geometry.values
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    hh = grids["households"].to_numpy()
    pop = grids["population"].to_numpy()
    comm = grids["community"].to_numpy()
    codes = grids["code"].to_numpy()
    out = []
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j or comm[i] != comm[j] or not (0 < hh[i] < hmin - 1 and 0 < hh[j] < hmin - 1):
            continue
        if hh[i] + hh[j] > hmax - 2 or pop[i] + pop[j] > residents_max - 2:
            continue
        shared = shapely.length(shapely.intersection(geoms[i].boundary, geoms[j].boundary))
        if shared > 0.5:
            out.append((str(codes[i]), str(codes[j])))
    return out
