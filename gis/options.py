"""What each flow of :mod:`gis.pipeline` takes: one typed, frozen options object per flow.

The faces (command line, API jobs) parse their input into these and hand
them to the pipeline; defaults here are the defaults everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gis._types import PathLike


@dataclass(frozen=True)
class BuildOptions:
    """Options of :func:`gis.pipeline.build`; ``None``: the area manifest's, else the default.

    Attributes
    ----------
    households_min, households_max, residents_max
        Grid targets (default 300–500 households, 2,500 residents).
    households
        The office's household table (CSV), replacing the estimate where it matches.
    communities
        Community boundaries (GeoJSON, GeoPackage, Shapefile).
    population_total
        Known total population to calibrate the estimate to.
    crs
        Metric CRS to compute in.
    """

    households_min: float | None = None
    households_max: float | None = None
    residents_max: float | None = None
    households: PathLike | None = None
    communities: PathLike | None = None
    population_total: float | None = None
    crs: str | None = None


@dataclass(frozen=True)
class StaffOptions:
    """Workers to apportion to districts (:func:`gis.staffing.staff_districts`).

    Attributes
    ----------
    workers
        Whole number of workers to share by load.
    method
        Apportionment method: ``hamilton``, ``webster``, ``jefferson``,
        ``adams`` or ``huntington-hill``.
    """

    workers: int
    method: str = "hamilton"


@dataclass(frozen=True)
class PlanOptions:
    """Options of :func:`gis.pipeline.draw_plan`.

    Attributes
    ----------
    k
        Number of districts.
    tolerance
        Allowed deviation from the ideal (fraction, 0.02 = ±2%).
    nest
        ``"communities"`` to keep every district inside one community.
    from_plan
        An existing plan to start from: CSV (``grid``, ``district``) or
        GeoJSON of district polygons.
    balance
        Quantity → tolerance; ``None`` balances population at ``tolerance``.
    seed
        Seed of the partitioner (same seed, same plan).
    time_limit
        Seconds for the search.
    staffing
        Workers to apportion and offices to propose, when given.
    keep
        With ``from_plan``: ``"most"``, ``"some"`` or ``"compact"`` (see
        :mod:`gis.redraw`).
    """

    k: int
    tolerance: float = 0.02
    nest: str | None = None
    from_plan: PathLike | None = None
    balance: Mapping[str, float] | None = None
    seed: int = 0
    time_limit: float = 30.0
    staffing: StaffOptions | None = None
    keep: str = "most"


@dataclass(frozen=True)
class SuggestOptions:
    """Options of :func:`gis.pipeline.suggest_plan`.

    Attributes
    ----------
    plan
        The plan: CSV or GeoJSON of district polygons (default ``DIR/plan.csv``).
    tolerance
        Allowed deviation from the ideal (fraction).
    limit
        Most moves to list.
    minimal
        Instead, rebalance to the tolerance moving the fewest people.
    """

    plan: PathLike | None = None
    tolerance: float = 0.02
    limit: int = 20
    minimal: bool = False


@dataclass(frozen=True)
class CoverageOptions:
    """Options of :func:`gis.pipeline.measure_coverage`.

    Attributes
    ----------
    minutes
        Thresholds in minutes.
    services
        Service points (GeoJSON, GeoPackage, …); default: suitable POIs of the area.
    speed
        Speed profile of ``walk_s``: ``adult``, ``elderly`` or a speed in m/s;
        the other named profiles are measured too.
    standard
        Use the GB 50180 living-circle distances instead of times.
    sites
        How many new sites to suggest.
    join_pieces
        Join pieces of the walk network whose dead ends lie within this many
        metres of another piece (each link reported); ``None``: join nothing.
    """

    minutes: tuple[int, ...] = (5, 10, 15)
    services: PathLike | None = None
    speed: str = "adult"
    standard: bool = False
    sites: int = 10
    join_pieces: float | None = None


@dataclass(frozen=True)
class RespondOptions:
    """Options of :func:`gis.pipeline.respond` (the "1310" check).

    Attributes
    ----------
    bases
        Worker bases (points); default ``DIR/services.geojson``, else the
        area's community centres, clinics and government offices.
    mode
        ``walk`` or ``bicycle``.
    minutes
        Thresholds; the largest decides which buildings count as outside.
    plan
        Plan for the figures per district (default ``DIR/plan.csv`` when it exists).
    out
        A ``.json`` file for the full result (and ``NAME_outside.geojson`` beside it).
    """

    bases: PathLike | None = None
    mode: str = "walk"
    minutes: tuple[float, ...] = (3.0, 10.0)
    plan: PathLike | None = None
    out: PathLike | None = None
