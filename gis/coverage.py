"""Walking coverage per building, and the figures officials ask for.

Main flow, :func:`compute_coverage`:

1. check the options (speeds, thresholds) and the layers;
2. walk from every building to the nearest service points, within each piece
   of the network, from entrances, by access legs that cross no barrier
   (:func:`gis.walks.measure_walks`);
3. times per building, for every speed profile;
4. the figures: coverage per grid, district, community and area, who is lost
   at a slower speed, uncovered households by cause, pieces without a service
   point, long legs (:func:`gis.coverage_figures.coverage_figures`);
5. display layers: isochrones, gaps, suggested new sites.

Coverage is decided per building, never by polygon: ``walk_s`` is the
seconds from the building to the nearest service point over the streets,
access legs included, ``null`` where unreachable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis._errors import InputError, ServiceError
from gis._types import CRSLike
from gis.access import Snap
from gis.coverage_figures import coverage_figures, gap_areas, tally_frame
from gis.crs import WGS84, metric_crs, require_crs
from gis.isochrones import DEFAULT_WIDTH_M, isochrones
from gis.network import SPEED_PROFILES, STANDARD_DISTANCES_M, WalkNetwork, speed_of
from gis.paths import NodeDistances
from gis.siting import SiteState, candidate_sites, suggest_sites
from gis.walks import MAX_SERVICE_SNAP_M, Walks, measure_walks

__all__ = [
    "SERVICE_KINDS",
    "SPEED_PROFILES",
    "STANDARD_DISTANCES_M",
    "CoverageResult",
    "compute_coverage",
    "default_services",
]

#: POI kinds taken as service points when the user gives none.
SERVICE_KINDS = (
    "community_centre",
    "social_facility",
    "clinic",
    "hospital",
    "government",
    "townhall",
)


@dataclass(frozen=True)
class CoverageResult:
    """Everything :func:`compute_coverage` produces.

    ``buildings`` is indexed like the input and gains ``walk_s``, ``walk2_s``
    (seconds at the first profile), ``walk_m``, ``walk2_m`` (metres),
    ``service`` (id of the nearest service point), ``walk_s_<profile>`` for
    every profile, ``access_m`` (the access leg the walk starts with) and
    ``piece`` (the network piece it starts on).  ``figures`` is what
    ``coverage.json`` holds.  Layers are in WGS 84.  ``state`` answers
    :func:`gis.siting.what_if`.
    """

    buildings: gpd.GeoDataFrame
    figures: dict[str, Any]
    isochrones: gpd.GeoDataFrame
    gaps: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    warnings: list[str]
    state: SiteState
    walks: Walks

    @property
    def network(self) -> WalkNetwork:
        return self.walks.network

    @property
    def nodes(self) -> NodeDistances:
        return self.walks.nodes

    @property
    def services(self) -> Snap:
        return self.walks.services.snap


def compute_coverage(
    buildings: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    services: gpd.GeoDataFrame,
    *,
    minutes: Sequence[int] = (5, 10, 15),
    profiles: Sequence[str | float] = ("adult", "elderly"),
    mode: str = "time",
    plan: pd.DataFrame | None = None,
    crs: CRSLike | None = None,
    pois: gpd.GeoDataFrame | None = None,
    n_sites: int = 10,
    isochrone_width_m: float = DEFAULT_WIDTH_M,
    barriers: gpd.GeoDataFrame | None = None,
    entrances: gpd.GeoDataFrame | None = None,
    join_pieces_m: float | None = None,
) -> CoverageResult:
    """Per-building walking coverage from service points over the street network.

    Parameters
    ----------
    buildings
        Building polygons or points with a CRS; ``population``, ``households``,
        ``grid``, ``community`` and ``id`` columns are used where present.
    streets
        Street lines (see :func:`gis.network.build_walk_network`).
    services
        Service points (or polygons, taken at a point inside).
    minutes
        Thresholds in minutes.
    profiles
        Speed profiles (names of :data:`SPEED_PROFILES` or m/s); the first
        one gives ``walk_s``.
    mode
        ``"time"``: budget = minutes x 60 x speed; ``"standard"``: the GB 50180
        living-circle distances (300 / 500 / 1,000 m for 5 / 10 / 15 minutes)
        whatever the speed.
    plan
        Optional plan (``grid``, ``district``) to report figures per district.
    crs
        Metric CRS to compute in (default: chosen from the buildings).
    pois
        Extra candidate sites for suggestions.
    n_sites
        How many new sites to suggest.
    isochrone_width_m
        Half-width of the display band around reached streets.
    barriers
        Railways, waterways, water, walls and fences that access legs may not
        cross (``kind`` column); without them only motorways are avoided.
    entrances
        Entrance and door nodes; buildings with entrances walk from them.
    join_pieces_m
        Join network pieces whose dead ends lie this close (m); default none.

    Raises
    ------
    ServiceError
        No service points, or none near the walk network.
    InputError
        A non-positive speed, threshold or joining distance, or an unknown mode.
    """
    # 1. options and layers
    minutes, speeds = _options(minutes, profiles, mode)
    metric = _check_layers(buildings, streets, services, crs)
    # 2. walks within each piece, from entrances, by legs that cross no barrier
    walks = measure_walks(
        buildings,
        streets,
        services,
        crs=metric,
        barriers=barriers,
        entrances=entrances,
        join_pieces_m=join_pieces_m,
    )
    service_ids = _ids(services)[walks.kept]
    # 3. times per building
    out = _walk_columns(buildings, walks, speeds, service_ids)
    # 4. figures and warnings
    radii = {name: _radii(minutes, speed, mode) for name, speed in speeds.items()}
    frame = tally_frame(out, plan)
    figures, warnings = coverage_figures(
        frame, walks, radii, mode=mode, speeds=speeds, ids=_ids(buildings), service_ids=service_ids
    )
    warnings = _input_warnings(services, walks, barriers, entrances) + warnings
    # 5. display layers: isochrones, gaps, suggested new sites (first profile)
    first = next(iter(speeds))
    state = _site_state(walks, frame, radii[first], _ids(buildings))
    iso, gaps, sites, figures["sites"] = _layers(
        state,
        walks,
        buildings.to_crs(metric),
        frame,
        pois,
        n_sites=n_sites,
        width_m=isochrone_width_m,
    )
    iso["profile"] = first
    figures["warnings"] = warnings
    return CoverageResult(
        buildings=out,
        figures=figures,
        isochrones=iso.to_crs(WGS84),
        gaps=gaps.to_crs(WGS84),
        sites=sites.to_crs(WGS84),
        warnings=warnings,
        state=state,
        walks=walks,
    )


def default_services(pois: gpd.GeoDataFrame | None) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """The POIs of :data:`SERVICE_KINDS`, and how many of each kind were taken.

    Raises
    ------
    ServiceError
        When the area has none.
    """
    if pois is None or pois.empty or "kind" not in pois.columns:
        raise ServiceError("no service points given and the area has no POIs: pass --services FILE")
    chosen = pois[pois["kind"].isin(SERVICE_KINDS)]
    if chosen.empty:
        raise ServiceError(
            "no service points given and the area has no community centres, clinics or "
            "government offices among its POIs: pass --services FILE"
        )
    counts = chosen["kind"].value_counts()
    return chosen, {str(k): int(v) for k, v in counts.items()}


# --------------------------------------------------------------------------- helpers


def _options(
    minutes: Sequence[int], profiles: Sequence[str | float], mode: str
) -> tuple[tuple[int, ...], dict[str, float]]:
    """Thresholds, and speed per profile name (refusing unknown names, zero, negatives)."""
    checked = _check_minutes(minutes, mode)
    speeds = {}
    for profile in profiles:
        speed = speed_of(profile)
        speeds[_profile_name(profile, speed)] = speed
    if not speeds:
        raise InputError("give at least one speed profile")
    return checked, speeds


def _check_layers(
    buildings: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    services: gpd.GeoDataFrame,
    crs: CRSLike | None,
) -> Any:
    """The metric CRS, once every layer has one and there are service points."""
    require_crs(buildings, "building layer")
    require_crs(streets, "street layer")
    if services is None or len(services) == 0:
        raise ServiceError(
            "no service points: give a file of service points (--services) or an area "
            "whose POIs include community centres, clinics or government offices"
        )
    require_crs(services, "service point layer")
    return metric_crs(buildings, preferred=crs)


def _walk_columns(
    buildings: gpd.GeoDataFrame, walks: Walks, speeds: dict[str, float], service_ids: np.ndarray
) -> gpd.GeoDataFrame:
    """The buildings with their walks: metres, seconds per profile, service, leg, piece."""
    d1, d2, src1 = walks.walk.d1, walks.walk.d2, walks.walk.src1
    out = buildings.copy()
    out["walk_m"] = _nullable(d1, 3)
    out["walk2_m"] = _nullable(d2, 3)
    out["service"] = pd.Series(
        np.where(src1 >= 0, service_ids[np.maximum(src1, 0)], None), index=out.index, dtype=object
    )
    for name, speed in speeds.items():
        out[f"walk_s_{name}"] = _nullable(d1 / speed, 2)
    first = speeds[next(iter(speeds))]
    out["walk_s"] = _nullable(d1 / first, 2)
    out["walk2_s"] = _nullable(d2 / first, 2)
    out["access_m"] = _nullable(walks.buildings.snap.access[walks.walk.via], 1)
    out["piece"] = walks.building_piece()
    return out


def _input_warnings(
    services: gpd.GeoDataFrame,
    walks: Walks,
    barriers: gpd.GeoDataFrame | None,
    entrances: gpd.GeoDataFrame | None,
) -> list[str]:
    """Service points left out, and layers missing for the access rules."""
    notes = []
    if not walks.kept.all():
        off = _ids(services)[~walks.kept]
        notes.append(
            f"{int((~walks.kept).sum())} service points lie more than {MAX_SERVICE_SNAP_M:.0f} m "
            f"from any walkable street and were left out: {', '.join(map(str, off[:20]))}"
        )
    if barriers is None:
        notes.append(
            "no barrier layer: access legs avoid motorways only, not railways, water, walls or "
            "fences (rebuild the area with this version of gridplan to get barriers.geojson)"
        )
    if entrances is None:
        notes.append(
            "no entrance layer: buildings are reached from a point inside them, not from their "
            "doors (rebuild the area to get entrances.geojson)"
        )
    return notes


def _site_state(
    walks: Walks, frame: pd.DataFrame, radii: dict[int, float], ids: np.ndarray
) -> SiteState:
    """What :func:`gis.siting.what_if` and :func:`gis.siting.suggest_sites` start from."""
    return SiteState(
        network=walks.network,
        buildings=walks.buildings.snap,
        dist=walks.walk.d1,
        radii=radii,
        population=frame["population"].to_numpy(float),
        households=frame["households"].to_numpy(float),
        ids=ids,
        max_snap_m=MAX_SERVICE_SNAP_M,
    )


def _layers(
    state: SiteState,
    walks: Walks,
    b_metric: gpd.GeoDataFrame,
    frame: pd.DataFrame,
    pois: gpd.GeoDataFrame | None,
    *,
    n_sites: int,
    width_m: float,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame, dict[str, Any]]:
    """Isochrones, gap areas and suggested sites (metric CRS) at the state's
    thresholds (sites and gaps at the smallest), and the sites' figures."""
    d1 = walks.walk.d1
    minutes = min(state.radii)
    iso = isochrones(
        walks.network, walks.nodes, walks.services.snap, radii=state.radii, width_m=width_m
    )
    iso["population_covered"] = [
        round(float(frame["population"][d1 <= r].sum()), 1) for r in iso["distance_m"]
    ]
    gaps = gap_areas(b_metric, frame, d1, state.radii[minutes], minutes)
    candidates = candidate_sites(
        walks.network,
        buildings=b_metric,
        pois=None if pois is None else pois.to_crs(walks.network.crs),
        demand=state.buildings.subset(~(d1 <= state.radii[minutes])),
    )
    sites = suggest_sites(state, candidates, minutes=minutes, k=n_sites)
    info = {"candidates": len(candidates), "suggested": len(sites), "minutes": minutes}
    return iso, gaps, sites, info


def _profile_name(profile: str | float, speed: float) -> str:
    if isinstance(profile, str) and profile in SPEED_PROFILES:
        return profile
    return f"{speed:g}m_s"


def _check_minutes(minutes: Sequence[int], mode: str) -> tuple[int, ...]:
    if mode not in ("time", "standard"):
        raise InputError(f"unknown mode {mode!r}: use 'time' or 'standard'")
    try:
        values = tuple(sorted({int(m) for m in minutes}))
    except (TypeError, ValueError):
        raise InputError(f"minutes must be whole numbers, got {minutes!r}") from None
    if not values or values[0] <= 0:
        raise InputError(f"minutes must be positive, got {list(minutes)}")
    if mode == "standard":
        unknown = [m for m in values if m not in STANDARD_DISTANCES_M]
        if unknown:
            raise InputError(
                f"the standard mode knows 5, 10 and 15 minutes (GB 50180), not {unknown}"
            )
    return values


def _radii(minutes: Sequence[int], speed: float, mode: str) -> dict[int, float]:
    if mode == "standard":
        return {m: STANDARD_DISTANCES_M[m] for m in minutes}
    return {m: m * 60.0 * speed for m in minutes}


def _nullable(values: np.ndarray, ndigits: int) -> pd.api.extensions.ExtensionArray:
    """Rounded floats with ``<NA>`` (written as JSON null) where infinite."""
    arr = np.round(np.asarray(values, dtype=float), ndigits)
    return pd.array(np.where(np.isfinite(arr), arr, np.nan), dtype="Float64")


def _ids(frame: gpd.GeoDataFrame) -> np.ndarray:
    if "id" in frame.columns:
        return frame["id"].astype(str).to_numpy()
    return np.asarray([str(i) for i in frame.index])
