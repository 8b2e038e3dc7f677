"""Floors, residents and households per building; calibration; household tables.

The estimate per building is

    residents = footprint area × floors × residential share ÷ floor area per person

and households = residents ÷ persons per household.  Floors come from the
``building:levels`` tag, else from ``height`` (÷ storey height), else from the
median of the nearest buildings whose floors are known, else from a default
by building type.  When a known total is given the estimates are scaled so
that they sum to it exactly.  A household table (CSV keyed by building id or
by address) replaces the estimate where it has a row.

The arithmetic (:func:`residents`, :func:`households_from_residents`,
:func:`floors_from_height`, :func:`calibrate`) takes plain numbers and arrays;
:func:`estimate_population`, :func:`apply_household_table` and
:func:`aggregate` are the frame adapters.  Every frame returned is indexed
like its input.

Defaults (see :class:`PopulationParams`, each can be overridden in the area
manifest's ``[defaults]`` table):

* 35 m² of floor area per person, 2.6 persons per household, 3.0 m a storey;
* floors by type when nothing better is known: apartments and residential 6,
  dormitory 5, house / detached / semi-detached 2, terrace 2, bungalow 1,
  ``yes`` (untyped) 3, office and hotel 8, hospital 6, university 5, school 4,
  commercial 3, retail 2, industrial / warehouse / garage / shed / church 1,
  any other type 3; every estimate is clamped to 1–80 floors, to low-rise
  types' own caps (house 3, bungalow 1, …) and to 60,000 m² of gross floor
  area (so a mall among towers is not read as a tower); tagged floors are
  only clamped to 1–80;
* neighbourhood estimate: median of the 8 nearest buildings with known floors
  within 150 m, used when at least 3 such buildings are found;
* residential share: residential types (residential, apartments, house,
  detached, semidetached_house, terrace, bungalow, dormitory, farm, cabin,
  houseboat, static_caravan) 1.0, whatever the land use around them; an
  untyped ``building=yes`` 0.6 when it has no ``shop``/``office``/``amenity``
  tag, 0.3 with a ``shop`` or ``office`` tag or a shop or office mapped as a
  point inside it, 0 with an ``amenity`` tag; an untyped building standing in
  ``landuse=commercial`` or ``retail`` 0.1 (offices and shops with a few flats),
  in ``landuse=industrial`` (and railway, military, port, …) 0, whichever of
  these is lowest; every other type (office, commercial, retail, industrial,
  warehouse, school, …) 0; footprints under 30 m² (sheds, kiosks, garages) and
  rows with no building tag 0;
* not lived in and not a demand point (``demand`` is false, for coverage):
  ``building=roof``, ``carport``, ``canopy``, ``ruins``, ``construction``,
  toll booths (``barrier=toll_booth``), and buildings tagged ``ruins`` or
  ``construction``.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from gis._errors import CRSError, InputError, ManifestError, UnreadableFileError
from gis.tables import read_table

#: Floors used when a building has no tag and too few neighbours with known floors.
DEFAULT_TYPE_FLOORS: Mapping[str, float] = MappingProxyType(
    {
        "apartments": 6.0,
        "residential": 6.0,
        "dormitory": 5.0,
        "house": 2.0,
        "detached": 2.0,
        "semidetached_house": 2.0,
        "terrace": 2.0,
        "bungalow": 1.0,
        "farm": 2.0,
        "cabin": 1.0,
        "yes": 3.0,
        "office": 8.0,
        "hotel": 8.0,
        "hospital": 6.0,
        "university": 5.0,
        "school": 4.0,
        "commercial": 3.0,
        "retail": 2.0,
        "industrial": 1.0,
        "warehouse": 1.0,
        "garage": 1.0,
        "garages": 1.0,
        "shed": 1.0,
        "hut": 1.0,
        "roof": 1.0,
        "church": 1.0,
    }
)

#: Highest floor count an *estimate* may give a low-rise type (tags are trusted).
DEFAULT_TYPE_MAX_FLOORS: Mapping[str, float] = MappingProxyType(
    {
        "house": 3.0,
        "detached": 3.0,
        "semidetached_house": 3.0,
        "terrace": 4.0,
        "bungalow": 1.0,
        "farm": 3.0,
        "cabin": 2.0,
        "garage": 1.0,
        "garages": 1.0,
        "shed": 1.0,
        "hut": 1.0,
        "roof": 1.0,
    }
)

#: Building types whose floor area is all housing.
RESIDENTIAL_TYPES: frozenset[str] = frozenset(
    {
        "residential",
        "apartments",
        "house",
        "detached",
        "semidetached_house",
        "terrace",
        "bungalow",
        "dormitory",
        "farm",
        "cabin",
        "houseboat",
        "static_caravan",
    }
)

#: Residential share of an untyped building (``building=yes``) by the land use it stands in.
DEFAULT_LANDUSE_SHARES: Mapping[str, float] = MappingProxyType(
    {
        "commercial": 0.1,
        "retail": 0.1,
        "industrial": 0.0,
        "railway": 0.0,
        "military": 0.0,
        "port": 0.0,
        "garages": 0.0,
        "depot": 0.0,
        "construction": 0.0,
    }
)

#: Building types nobody lives in that are not demand points either (roofs, ruins, …).
NOT_BUILDINGS: frozenset[str] = frozenset(
    {"roof", "carport", "canopy", "ruins", "construction", "toll_booth", "collapsed", "destroyed"}
)

_FEET_M = 0.3048


@dataclass(frozen=True)
class PopulationParams:
    """Parameters of the population estimate, with documented defaults.

    Attributes
    ----------
    floor_area_per_person_m2
        Gross floor area per resident (m²).  35 by default; Nanjing's
        manifest uses 40, Helsinki's 35.
    persons_per_household
        Residents per household (2.6: Nanjing 2020 census, approx.).
    storey_height_m
        Height of one storey, to turn ``height`` into floors (m).
    min_floors, max_floors
        Range every floor count is clamped to.
    neighbour_k, neighbour_radius_m, neighbour_min
        Missing floors are the median of the ``neighbour_k`` nearest buildings
        with known floors within ``neighbour_radius_m`` metres, when at least
        ``neighbour_min`` are found.
    min_footprint_m2
        Footprints smaller than this hold no residents (sheds, kiosks).
    untyped_share, untyped_shop_share, untyped_amenity_share
        Residential share of ``building=yes`` without ``shop``/``office``/
        ``amenity`` tags, with a ``shop`` or ``office`` tag (or such a point
        inside), and with an ``amenity`` tag.
    landuse_shares
        Residential share of ``building=yes`` by the ``landuse`` it stands in
        (when lower than the above); see :data:`DEFAULT_LANDUSE_SHARES`.
    type_floors
        Default floors by building type; ``default_floors`` for other types.
    type_max_floors
        Cap on estimated floors for low-rise types.
    estimated_floor_area_max_m2
        Cap on the gross floor area of a building whose floors are estimated
        (not tagged): floors ≤ this ÷ footprint.  Towers have small
        footprints; a 12,000 m² footprint among towers is a podium or a mall,
        not a 70-storey block.  60,000 m² is a large residential tower.
    """

    floor_area_per_person_m2: float = 35.0
    persons_per_household: float = 2.6
    storey_height_m: float = 3.0
    min_floors: float = 1.0
    max_floors: float = 80.0
    neighbour_k: int = 8
    neighbour_radius_m: float = 150.0
    neighbour_min: int = 3
    min_footprint_m2: float = 30.0
    untyped_share: float = 0.6
    untyped_shop_share: float = 0.3
    untyped_amenity_share: float = 0.0
    default_floors: float = 3.0
    estimated_floor_area_max_m2: float = 60_000.0
    type_floors: Mapping[str, float] = field(default_factory=lambda: DEFAULT_TYPE_FLOORS)
    type_max_floors: Mapping[str, float] = field(default_factory=lambda: DEFAULT_TYPE_MAX_FLOORS)
    landuse_shares: Mapping[str, float] = field(default_factory=lambda: DEFAULT_LANDUSE_SHARES)

    def __post_init__(self) -> None:
        positive = (
            "floor_area_per_person_m2",
            "persons_per_household",
            "storey_height_m",
            "min_floors",
            "max_floors",
            "neighbour_radius_m",
            "default_floors",
            "estimated_floor_area_max_m2",
        )
        for name in positive:
            value = getattr(self, name)
            if not _is_finite_number(value) or value <= 0:
                raise InputError(f"{name} must be a positive number, got {value!r}")
        if self.min_floors > self.max_floors:
            raise InputError(
                f"min_floors ({self.min_floors}) is above max_floors ({self.max_floors})"
            )
        for name in ("neighbour_k", "neighbour_min"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"{name} must be a whole number ≥ 1, got {value!r}")
        for name in ("untyped_share", "untyped_shop_share", "untyped_amenity_share"):
            value = getattr(self, name)
            if not _is_finite_number(value) or not 0 <= value <= 1:
                raise InputError(f"{name} must be a share between 0 and 1, got {value!r}")
        if not _is_finite_number(self.min_footprint_m2) or self.min_footprint_m2 < 0:
            raise InputError(f"min_footprint_m2 must be ≥ 0, got {self.min_footprint_m2!r}")
        for use, value in self.landuse_shares.items():
            if not _is_finite_number(value) or not 0 <= value <= 1:
                raise InputError(
                    f"landuse_shares.{use} must be a share between 0 and 1, got {value!r}"
                )
        # Freeze the mappings so a shared default can never be changed in place.
        object.__setattr__(self, "type_floors", MappingProxyType(dict(self.type_floors)))
        object.__setattr__(self, "type_max_floors", MappingProxyType(dict(self.type_max_floors)))
        object.__setattr__(self, "landuse_shares", MappingProxyType(dict(self.landuse_shares)))

    @classmethod
    def from_manifest(cls, source: Mapping[str, Any] | str | os.PathLike[str]) -> PopulationParams:
        """Build the parameters from an area manifest's ``[defaults]`` table.

        Parameters
        ----------
        source
            The ``[defaults]`` mapping itself, a whole parsed manifest (its
            ``defaults`` table is used), or the path of an ``area.toml`` or of
            the area folder holding it.  Keys that are not population
            parameters (``households_min``, ``residents_max``, …) are ignored.

        Returns
        -------
        PopulationParams
        """
        if isinstance(source, str | os.PathLike):
            path = Path(source)
            if path.is_dir():
                path = path / "area.toml"
            try:
                with path.open("rb") as fh:
                    source = tomllib.load(fh)
            except FileNotFoundError as exc:
                raise UnreadableFileError(f"{path} does not exist: give an area.toml") from exc
            except tomllib.TOMLDecodeError as exc:
                raise ManifestError(f"{path} is not valid TOML: {exc}") from exc
        defaults = source.get("defaults", source)
        if not isinstance(defaults, Mapping):
            raise ManifestError("the manifest's [defaults] must be a table")
        mappings = ("type_floors", "type_max_floors", "landuse_shares")
        names = {f.name for f in fields(cls)} - set(mappings)
        values = {k: v for k, v in defaults.items() if k in names}
        for key in mappings:
            if key in defaults:
                values[key] = {**getattr(cls(), key), **dict(defaults[key])}
        try:
            return replace(cls(), **values)
        except InputError as exc:
            raise ManifestError(f"[defaults] in the area manifest: {exc}") from exc


def _is_finite_number(value: object) -> bool:
    return (
        isinstance(value, int | float | np.number)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


# --------------------------------------------------------------------------- arithmetic


def residents(
    footprint_m2: ArrayLike,
    floors: ArrayLike,
    residential_share: ArrayLike,
    floor_area_per_person_m2: ArrayLike,
) -> NDArray[np.float64]:
    """Residents of buildings: footprint × floors × residential share ÷ floor area per person.

    Parameters
    ----------
    footprint_m2
        Footprint area (m²), ≥ 0.
    floors
        Number of floors, ≥ 0.
    residential_share
        Share of the floor area that is housing, in [0, 1].
    floor_area_per_person_m2
        Gross floor area per resident (m²), > 0.

    Returns
    -------
    numpy.ndarray
        Residents per building (float, broadcast over the inputs).
    """
    area = np.asarray(footprint_m2, dtype=float)
    fl = np.asarray(floors, dtype=float)
    share = np.asarray(residential_share, dtype=float)
    per = np.asarray(floor_area_per_person_m2, dtype=float)
    if np.any(area < 0) or np.any(fl < 0):
        raise InputError("footprint areas and floors must be ≥ 0")
    if np.any((share < 0) | (share > 1)):
        raise InputError("residential shares must lie between 0 and 1")
    if np.any(~(per > 0)):
        raise InputError("floor area per person must be > 0")
    return area * fl * share / per


def households_from_residents(
    residents: ArrayLike, persons_per_household: ArrayLike
) -> NDArray[np.float64]:
    """Households: residents ÷ persons per household (> 0)."""
    res = np.asarray(residents, dtype=float)
    pph = np.asarray(persons_per_household, dtype=float)
    if np.any(~(pph > 0)):
        raise InputError("persons per household must be > 0")
    return res / pph


def floors_from_height(height_m: ArrayLike, storey_height_m: float = 3.0) -> NDArray[np.float64]:
    """Floors of buildings of a given height: ``round(height / storey height)``, at least 1.

    Missing heights (NaN) stay NaN.
    """
    if not storey_height_m > 0:
        raise InputError(f"storey height must be > 0, got {storey_height_m!r}")
    h = np.asarray(height_m, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(h), np.nan, np.maximum(1.0, np.round(h / storey_height_m)))


def calibrate(
    values: ArrayLike, total: float, *, fixed: ArrayLike | None = None
) -> NDArray[np.float64]:
    """Scale ``values`` so that they sum to ``total``.

    Parameters
    ----------
    values
        Non-negative estimates.
    total
        The known total, ≥ 0.
    fixed
        Boolean mask of values that are known (e.g. from a household table)
        and must not change; only the others are scaled.

    Returns
    -------
    numpy.ndarray
        The scaled values; their sum equals ``total`` to rounding (the last
        difference is put on the largest scaled value).
    """
    v = np.asarray(values, dtype=float).copy()
    if not _is_finite_number(total) or total < 0:
        raise InputError(f"the population total must be a number ≥ 0, got {total!r}")
    if np.any(~np.isfinite(v)) or np.any(v < 0):
        raise InputError("values to calibrate must be finite and ≥ 0")
    free = np.ones(v.shape, bool) if fixed is None else ~np.asarray(fixed, dtype=bool)
    target = total - v[~free].sum()
    current = v[free].sum()
    if target < 0:
        raise InputError(
            f"the known values already sum to {v[~free].sum():.0f}, above the total {total:.0f}"
        )
    if current == 0:
        if target == 0:
            return v
        raise InputError(
            f"there is no estimated population to scale to the total {total:.0f}: "
            "no building is residential (check the building tags)"
        )
    v[free] *= target / current
    free_idx = np.flatnonzero(free)
    v[free_idx[np.argmax(v[free_idx])]] += total - v.sum()
    return v


def whole_numbers(values: ArrayLike, *levels: ArrayLike) -> NDArray[np.int64]:
    """Round ``values`` to whole numbers that still add up level by level.

    The total is rounded; each group of the first level gets the floor or the
    ceiling of its own sum, so that the groups add up to the total (those
    with the largest fractional parts are rounded up); each group's whole
    number is shared the same way among its groups of the next level, and so
    on down to the items.  So buildings sum exactly to their grid and grids to
    their community, and every building, grid and community is within 1 of its
    unrounded value.  (Such a rounding always exists: the floors of the parts
    sum to at most the whole's floor, and rounding up every fractional part
    reaches at least its ceiling.)

    Parameters
    ----------
    values
        One value per item (households of buildings), ≥ 0.
    *levels
        Group labels per item, coarsest first (community, then grid); any
        hashable values (missing ones, ``None`` or NaN, form one group).

    Returns
    -------
    numpy.ndarray of int
    """
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return np.zeros(0, dtype=np.int64)
    parent = np.zeros(len(v), dtype=np.int64)
    totals = np.array([round(float(v.sum()))], dtype=np.int64)
    for level in levels:
        # the groups of this level: one per (parent group, label), numbered as first met
        labels, names = pd.factorize(np.asarray(level, dtype=object), use_na_sentinel=False)
        keys = pd.factorize(parent * max(len(names), 1) + labels)[0]
        first = np.unique(keys, return_index=True)[1]
        totals = _floor_or_ceiling(np.bincount(keys, weights=v), parent[first], totals)
        parent = keys
    return _floor_or_ceiling(v, parent, totals)


def _floor_or_ceiling(
    values: np.ndarray, groups: np.ndarray, totals: np.ndarray
) -> NDArray[np.int64]:
    """Floor or ceiling of each value, summing to ``totals`` per group (largest fractions up).

    Each total must be the floor or the ceiling of its group's sum.
    """
    whole = np.floor(values + 1e-9).astype(np.int64)
    fraction = np.where(values - whole > 1e-9, values - whole, 0.0)
    left = totals - np.bincount(groups, weights=whole, minlength=len(totals)).round().astype(
        np.int64
    )
    order = np.lexsort((np.arange(len(values)), -fraction, groups))
    rank = np.empty(len(values), dtype=np.int64)
    starts = np.searchsorted(groups[order], np.arange(len(totals)))
    rank[order] = np.arange(len(values)) - starts[groups[order]]
    return whole + (rank < left[groups]).astype(np.int64)


# --------------------------------------------------------------------------- tag parsing


def parse_levels(values: ArrayLike) -> NDArray[np.float64]:
    """Parse raw ``building:levels`` tags into floor counts.

    ``"5"`` → 5, ``"3.5"`` → 3.5, ``"5;6"`` → 6 (the highest part), ``"4,5"``
    → 4.5; empty, non-numeric, zero or negative values → NaN.
    """
    return _parse_tags(values, _levels_value)


def parse_height(values: ArrayLike) -> NDArray[np.float64]:
    """Parse raw ``height`` tags into metres.

    ``"12"`` and ``"12 m"`` → 12, ``"12,5"`` → 12.5, ``"40 ft"`` or ``"40'"``
    → 12.19, ``"10;12"`` → 12; anything else → NaN.
    """
    return _parse_tags(values, _height_value)


def _parse_tags(values: ArrayLike, parse: Any) -> NDArray[np.float64]:
    series = pd.Series(np.asarray(values, dtype=object).ravel())
    uniques = series.dropna().unique()
    lookup = {u: parse(u) for u in uniques}
    return series.map(lookup).astype(float).to_numpy()


def _levels_value(raw: object) -> float:
    if isinstance(raw, int | float | np.number) and not isinstance(raw, bool):
        value = float(raw)
        return value if math.isfinite(value) and value > 0 else math.nan
    text = str(raw).strip()
    parts = [p for p in re.split(r"[;]", text) if p.strip()]
    found = []
    for part in parts:
        if not re.fullmatch(r"\s*\+?\d+(?:[.,]\d+)?\s*", part):
            continue
        found.append(float(part.strip().lstrip("+").replace(",", ".")))
    value = max(found) if found else math.nan
    return value if value > 0 else math.nan


def _height_value(raw: object) -> float:
    if isinstance(raw, int | float | np.number) and not isinstance(raw, bool):
        value = float(raw)
        return value if math.isfinite(value) and value > 0 else math.nan
    best = math.nan
    for part in str(raw).split(";"):
        text = part.strip().lower()
        match = re.fullmatch(r"(\d+(?:[.,]\d+)?)\s*(m|meters?|metres?|ft|feet|'|)", text)
        if match is None:
            feet_inches = re.fullmatch(r"(\d+)\s*'\s*(\d+)\s*\"", text)
            if feet_inches is None:
                continue
            value = (float(feet_inches[1]) + float(feet_inches[2]) / 12) * _FEET_M
        else:
            value = float(match[1].replace(",", "."))
            if match[2] in ("ft", "feet", "'"):
                value *= _FEET_M
        if value > 0 and not value <= best:
            best = value
    return best


# --------------------------------------------------------------------------- per-type rules


def residential_shares(
    building: ArrayLike,
    footprint_m2: ArrayLike,
    *,
    amenity: ArrayLike | None = None,
    shop: ArrayLike | None = None,
    office: ArrayLike | None = None,
    landuse: ArrayLike | None = None,
    lived_in: ArrayLike | None = None,
    params: PopulationParams = PopulationParams(),
) -> NDArray[np.float64]:
    """Share of each building's floor area that is housing (see the module notes).

    Parameters
    ----------
    building
        OSM ``building`` tag values (``None`` for rows without one).
    footprint_m2
        Footprint areas (m²).
    amenity, shop, office
        The OSM tags of the same name (``None`` where absent); a shop or
        office mapped as a point inside the footprint counts as ``shop``.
    landuse
        The ``landuse`` the building stands in (``None`` where none).
    lived_in
        False for structures nobody lives in (see :func:`lived_in`); all true
        by default.
    params
        Shares and the smallest residential footprint.
    """
    kind = _normalise_types(building)
    area = np.asarray(footprint_m2, dtype=float)
    n = len(kind)
    share = np.where(np.isin(kind, list(RESIDENTIAL_TYPES)), 1.0, 0.0)
    untyped = kind == "yes"
    has_amenity = _present(amenity, n)
    has_shop = _present(shop, n) | _present(office, n)
    yes_share = np.where(
        has_amenity,
        params.untyped_amenity_share,
        np.where(has_shop, params.untyped_shop_share, params.untyped_share),
    )
    if landuse is not None:
        use = _normalise_types(landuse)
        by_use = _looked_up(params.landuse_shares, use, 1.0)
        yes_share = np.minimum(yes_share, by_use.reshape(n))
    share = np.where(untyped, yes_share, share)
    if lived_in is not None:
        share = np.where(np.asarray(lived_in, dtype=bool), share, 0.0)
    return np.where(area < params.min_footprint_m2, 0.0, share)


def lived_in(
    building: ArrayLike,
    *,
    barrier: ArrayLike | None = None,
    ruins: ArrayLike | None = None,
    construction: ArrayLike | None = None,
) -> NDArray[np.bool_]:
    """Whether each building is one people can live in and be served at (a demand point).

    False for ``building`` = roof, carport, canopy, ruins, construction (see
    :data:`NOT_BUILDINGS`), for toll booths (``barrier=toll_booth``) and for
    buildings with a ``ruins`` or ``construction`` tag.
    """
    kind = _normalise_types(building)
    n = len(kind)
    out = ~np.isin(kind, list(NOT_BUILDINGS))
    if barrier is not None:
        out &= _normalise_types(barrier).reshape(n) != "toll_booth"
    out &= ~_present(ruins, n) & ~_present(construction, n)
    return out


def type_floors(
    building: ArrayLike,
    *,
    params: PopulationParams = PopulationParams(),
) -> NDArray[np.float64]:
    """Default floors by building type (``params.default_floors`` for unknown types)."""
    kind = _normalise_types(building)
    table = params.type_floors
    return _looked_up(table, kind, params.default_floors)


def _normalise_types(building: ArrayLike) -> NDArray[np.str_]:
    raw = pd.Series(np.asarray(building, dtype=object).ravel())
    codes, uniques = pd.factorize(raw)  # a few distinct tags: clean each once
    clean = pd.Series(uniques, dtype=object).astype(str).str.strip().str.lower().to_numpy(dtype=str)
    return np.where(codes >= 0, np.append(clean, "")[codes], "")


def _looked_up(
    table: Mapping[str, float], keys: NDArray[np.str_], default: float
) -> NDArray[np.float64]:
    """``table.get(key, default)`` of every key (looked up once per distinct key)."""
    codes, distinct = pd.factorize(keys)
    return np.array([table.get(k, default) for k in distinct], dtype=float)[codes]


def _present(values: ArrayLike | None, n: int) -> NDArray[np.bool_]:
    if values is None:
        return np.zeros(n, bool)
    text = _normalise_types(values)
    return ~np.isin(text, ["", "no", "none", "nan"])


def neighbour_floors(
    xy: ArrayLike,
    floors: ArrayLike,
    *,
    k: int = 8,
    radius_m: float = 150.0,
    min_count: int = 3,
) -> NDArray[np.float64]:
    """Median floors of the nearest buildings with known floors, for those without.

    Parameters
    ----------
    xy
        (n, 2) metric coordinates of the buildings (e.g. centroids).
    floors
        Known floors, NaN where unknown.
    k, radius_m, min_count
        Use the ``k`` nearest buildings with known floors within ``radius_m``;
        give NaN when fewer than ``min_count`` are found.

    Returns
    -------
    numpy.ndarray
        For each building with unknown floors, the neighbourhood median (or
        NaN); for buildings with known floors, NaN.
    """
    pts = np.asarray(xy, dtype=float).reshape(-1, 2)
    fl = np.asarray(floors, dtype=float)
    out = np.full(fl.shape, np.nan)
    located = np.isfinite(pts).all(axis=1)
    known = ~np.isnan(fl) & located
    missing = np.flatnonzero(np.isnan(fl) & located)
    if not known.any() or missing.size == 0:
        return out
    kk = min(k, int(known.sum()))
    tree = cKDTree(pts[known])
    dist, idx = tree.query(pts[missing], k=kk, distance_upper_bound=radius_m)
    dist = dist.reshape(missing.size, kk)
    idx = idx.reshape(missing.size, kk)
    found = np.isfinite(dist)
    vals = np.where(found, fl[known][np.minimum(idx, known.sum() - 1)], np.nan)
    enough = found.sum(axis=1) >= min_count
    if enough.any():
        out[missing[enough]] = np.nanmedian(vals[enough], axis=1)
    return out


# --------------------------------------------------------------------------- frame adapters

_REQUIRED = ("id", "building")


def estimate_population(
    buildings: gpd.GeoDataFrame,
    *,
    params: PopulationParams = PopulationParams(),
    total: float | None = None,
    landuse: gpd.GeoDataFrame | None = None,
    pois: gpd.GeoDataFrame | None = None,
    points: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """Estimate floors, residents and households of every building.

    Parameters
    ----------
    buildings
        Building footprints in a projected metric CRS, with columns ``id``,
        ``building`` (OSM tag) and optionally ``levels`` and ``height`` (raw
        ``building:levels`` / ``height`` tags), ``amenity``, ``shop``,
        ``office``, ``barrier``, ``ruins``, ``construction``.
    params
        Estimation parameters.
    total
        Known population of the area; when given, the estimates are scaled so
        that they sum to it exactly.
    landuse
        Land-use polygons with a ``landuse`` column (any CRS); a building
        stands in the smallest one holding its inside point.
    pois
        Points of interest with ``shop``/``office`` columns (any CRS); a shop
        or office point inside a footprint counts as that building's tag.
    points
        The inside point of each footprint (:func:`shapely.point_on_surface`),
        when the caller made them already; made here otherwise.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``buildings``, same index, with columns ``floors``,
        ``floors_source`` (``"levels"``, ``"height"``, ``"neighbours"`` or
        ``"type_default"``), ``landuse``, ``residential_share``, ``demand``
        (false for roofs, ruins, …: see :func:`lived_in`), ``population`` and
        ``households``.
    """
    _check_buildings(buildings)
    out = buildings.copy()
    n = len(out)
    footprint = np.nan_to_num(out.geometry.area.to_numpy(dtype=float), nan=0.0)  # no geometry
    kind = _column(out, "building", n)
    if points is None:
        points = shapely.point_on_surface(out.geometry.to_numpy())

    # 1. floors from tags: building:levels, then height
    floors = parse_levels(_column(out, "levels", n))
    source = np.where(np.isnan(floors), "", "levels").astype(object)
    from_height = floors_from_height(
        parse_height(_column(out, "height", n)), params.storey_height_m
    )
    use_height = np.isnan(floors) & ~np.isnan(from_height)
    floors = np.where(use_height, from_height, floors)
    source[use_height] = "height"
    floors = np.clip(floors, params.min_floors, params.max_floors)

    # 2. missing floors: the neighbourhood median, else the type default
    if n:
        xy = np.column_stack([shapely.get_x(points), shapely.get_y(points)])
        near = neighbour_floors(
            xy,
            floors,
            k=params.neighbour_k,
            radius_m=params.neighbour_radius_m,
            min_count=params.neighbour_min,
        )
    else:
        near = np.empty(0)
    use_near = np.isnan(floors) & ~np.isnan(near)
    floors = np.where(use_near, near, floors)
    source[use_near] = "neighbours"
    use_type = np.isnan(floors)
    floors = np.where(use_type, type_floors(kind, params=params), floors)
    source[use_type] = "type_default"
    estimated = use_near | use_type
    caps = _looked_up(params.type_max_floors, _normalise_types(kind), np.inf).reshape(n)
    floors = np.where(estimated, np.minimum(floors, caps), floors)
    by_area = params.estimated_floor_area_max_m2 / np.maximum(footprint, 1.0)
    floors = np.where(estimated, np.minimum(floors, np.maximum(by_area, params.min_floors)), floors)
    floors = np.clip(floors, params.min_floors, params.max_floors)

    # 3. residents and households, from the tags and the land use around
    demand = lived_in(
        kind,
        barrier=_column(out, "barrier", n),
        ruins=_column(out, "ruins", n),
        construction=_column(out, "construction", n),
    )
    use = landuse_of(out, landuse, points=points)
    shop = _column(out, "shop", n)
    if pois is not None and n:
        inside = np.where(shops_inside(out, pois), "yes", None).astype(object)  # type: ignore[call-overload]
        shop = np.where(_present(shop, n), shop, inside)
    share = residential_shares(
        kind,
        footprint,
        amenity=_column(out, "amenity", n),
        shop=shop,
        office=_column(out, "office", n),
        landuse=use,
        lived_in=demand,
        params=params,
    )
    pop = residents(footprint, floors, share, params.floor_area_per_person_m2)
    if total is not None:
        pop = calibrate(pop, total)
    out["floors"] = floors
    out["floors_source"] = pd.Series(source, index=out.index, dtype=object)
    out["landuse"] = pd.Series(use, index=out.index, dtype=object)
    out["residential_share"] = share
    out["demand"] = demand
    out["population"] = pop
    out["households"] = households_from_residents(pop, params.persons_per_household)
    return out


def landuse_of(
    buildings: gpd.GeoDataFrame,
    landuse: gpd.GeoDataFrame | None,
    *,
    points: np.ndarray | None = None,
) -> NDArray[np.object_]:
    """The ``landuse`` value each building stands in (the smallest polygon holding its inside
    point, ``points`` when made already), or ``None``."""
    n = len(buildings)
    out = np.full(n, None, dtype=object)
    if landuse is None or landuse.empty or n == 0 or "landuse" not in landuse.columns:
        return out
    polys = landuse.to_crs(buildings.crs)
    geoms = polys.geometry.to_numpy()
    ok = shapely.get_type_id(geoms) >= 3
    geoms, values = geoms[ok], polys["landuse"].to_numpy(dtype=object)[ok]
    if len(geoms) == 0:
        return out
    if points is None:
        points = shapely.point_on_surface(buildings.geometry.to_numpy())
    b, p = shapely.STRtree(geoms).query(points, predicate="within")
    order = np.lexsort((shapely.area(geoms[p]), b))  # smallest land use first
    b, p = b[order], p[order]
    first = np.unique(b, return_index=True)[1]
    out[b[first]] = values[p[first]]
    return out


def shops_inside(buildings: gpd.GeoDataFrame, pois: gpd.GeoDataFrame) -> NDArray[np.bool_]:
    """Whether a shop or office point (``shop``/``office`` tag) lies inside each footprint."""
    n = len(buildings)
    if pois.empty or not ({"shop", "office"} & set(pois.columns)):
        return np.zeros(n, dtype=bool)
    tagged = _present(_column(pois, "shop", len(pois)), len(pois)) | _present(
        _column(pois, "office", len(pois)), len(pois)
    )
    points = pois[tagged].to_crs(buildings.crs).geometry.to_numpy()
    out = np.zeros(n, dtype=bool)
    if len(points):
        hit = shapely.STRtree(points).query(buildings.geometry.to_numpy(), predicate="contains")[0]
        out[np.unique(hit)] = True
    return out


def _check_buildings(buildings: gpd.GeoDataFrame) -> None:
    if not isinstance(buildings, gpd.GeoDataFrame):
        raise InputError("buildings must be a GeoDataFrame of footprints")
    missing = [c for c in _REQUIRED if c not in buildings.columns]
    if missing:
        raise InputError(
            f"the buildings layer lacks the column(s) {', '.join(missing)}: "
            "expected id, building, geometry (and optionally levels, height, amenity, shop, office)"
        )
    if buildings.crs is None:
        raise CRSError("the buildings layer has no CRS: set it before estimating population")
    if not buildings.crs.is_projected:
        raise CRSError(
            f"the buildings layer is in {buildings.crs.to_string()}, not a metric CRS: "
            "reproject it (gis.crs.metric_crs) before estimating population"
        )


def _column(frame: pd.DataFrame, name: str, n: int) -> NDArray[np.object_]:
    if name not in frame.columns:
        return np.full(n, None, dtype=object)
    return frame[name].to_numpy(dtype=object)


# --------------------------------------------------------------------------- household tables

_ID_PATTERN = re.compile(
    r"^\s*(way|relation|node|w|r|n)?\s*[/:]?\s*(\d+)(?:\.0*)?\s*$", re.IGNORECASE
)  # 123.0: Excel
_ID_PREFIX = {"way": "w", "relation": "r", "node": "n", "w": "w", "r": "r", "n": "n"}
_STREET_COLUMNS = ("addr:street", "addr_street", "street")
_NUMBER_COLUMNS = ("addr:housenumber", "addr_housenumber", "housenumber")
_POPULATION_COLUMNS = ("population", "residents")
#: Headers of household tables as Chinese offices (and spreadsheet users) write them.
_COLUMN_ALIASES = {
    "osm_id": "building_id",
    "buildingid": "building_id",
    "建筑编号": "building_id",
    "建筑id": "building_id",
    "建筑物编号": "building_id",
    "楼栋编号": "building_id",
    "户数": "households",
    "住户数": "households",
    "家庭户数": "households",
    "人口": "population",
    "人数": "population",
    "常住人口": "population",
    "居民人数": "population",
    "街路巷": "addr:street",
    "路名": "addr:street",
    "门牌号": "addr:housenumber",
}
_KNOWN_COLUMNS = frozenset(
    {"building_id", "households", *_STREET_COLUMNS, *_NUMBER_COLUMNS, *_POPULATION_COLUMNS}
)


def normalise_building_id(value: object) -> str | None:
    """Canonical building id: ``"w123"``, ``"r45"``; bare numbers stay ``"123"``.

    Accepts ``"w123"``, ``"way/123"``, ``"way 123"``, ``"relation/45"`` and
    bare OSM numbers (``123`` or ``"123"``); returns ``None`` for anything else.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    match = _ID_PATTERN.match(str(value))
    if match is None:
        return None
    prefix = _ID_PREFIX[match[1].lower()] if match[1] else ""
    return f"{prefix}{int(match[2])}"


def normalise_address(street: object, housenumber: object) -> str | None:
    """Canonical address key: case-folded street and house number, spaces collapsed."""
    if _blank(street) or _blank(housenumber):
        return None
    s = " ".join(str(street).split()).casefold()
    h = "".join(str(housenumber).split()).casefold()
    return f"{s}|{h}"


def _blank(value: object) -> bool:
    return (
        value is None or (isinstance(value, float) and math.isnan(value)) or not str(value).strip()
    )


def apply_household_table(
    buildings: gpd.GeoDataFrame,
    table: pd.DataFrame | str | os.PathLike[str],
    *,
    key: Literal["building_id", "address"] | None = None,
    params: PopulationParams = PopulationParams(),
    require_match: bool = True,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Replace estimated households and population with those of a household table.

    Parameters
    ----------
    buildings
        Buildings with ``id`` (and ``addr_street``/``addr_housenumber`` when
        matching by address), usually the output of :func:`estimate_population`.
    table
        A frame or CSV path with ``households`` and optionally ``population``
        (or ``residents``), keyed by ``building_id`` (``"w123"``,
        ``"way/123"`` or a bare OSM number) or by address (``addr:street`` +
        ``addr:housenumber``).  Rows with the same key are summed.  A key held
        by several buildings (an address shared by blocks) is split between
        them in proportion to their estimated population (else equally).
    key
        ``"building_id"`` or ``"address"``; by default ``building_id`` when
        the table has that column, else ``address``.
    params
        ``persons_per_household`` turns households into population where the
        table gives no population.
    require_match
        Refuse a table no row of which matches a building (False for one
        sub-district of a city's table: the city checks the whole).

    Returns
    -------
    (geopandas.GeoDataFrame, dict)
        The buildings (same index) with ``population``, ``households`` and
        ``population_source`` (``"table"`` or ``"estimate"``), and a report:
        ``rows``, ``matched_rows``, ``unmatched_rows``, ``unmatched`` (the
        keys not found; with ``require_match`` False ``matched`` instead, the
        positions of the rows matched: see :func:`unmatched_keys`),
        ``buildings_replaced``, ``households``, ``population``.
    """
    df = _read_table(table)
    key = _choose_key(df, key)
    households, population = _table_numbers(df)
    if key == "building_id":
        building_keys = _building_id_keys(buildings)
        table_keys = _bare_numbers_resolved(
            df["building_id"].map(normalise_building_id), building_keys
        )
    else:
        street = _first_column(df, _STREET_COLUMNS, "address")
        number = _first_column(df, _NUMBER_COLUMNS, "address")
        table_keys = pd.Series(
            [normalise_address(s, h) for s, h in zip(df[street], df[number], strict=True)],
            index=df.index,
            dtype=object,
        )
        building_keys = _building_address_keys(buildings)
    raw_keys = _keys_as_given(df, key)

    per_key = pd.DataFrame({"key": table_keys, "households": households, "population": population})
    per_key = (
        per_key.dropna(subset=["key"])
        .groupby("key", sort=False)
        .agg(
            households=("households", "sum"),
            population=("population", lambda s: s.sum(min_count=len(s))),
        )
    )
    present = set(building_keys.dropna())
    row_matched = table_keys.isin(present)
    if require_match and not row_matched.any():
        examples = ", ".join(map(str, raw_keys.head(3)))
        ours = ", ".join(map(str, building_keys.dropna().head(3)))
        raise InputError(
            f"no row of the household table matches a building by {key} "
            f"(table keys like {examples}; building keys like {ours or 'none'}): "
            + (
                "give OSM ids such as w123, way/123 or 123"
                if key == "building_id"
                else "give addr:street and addr:housenumber as tagged in OpenStreetMap"
            )
        )

    out = buildings.copy()
    est_pop = (
        out["population"].to_numpy(dtype=float, copy=True)
        if "population" in out.columns
        else np.full(len(out), np.nan)
    )
    est_hh = (
        out["households"].to_numpy(dtype=float, copy=True)
        if "households" in out.columns
        else np.full(len(out), np.nan)
    )
    bkeys = building_keys.to_numpy(dtype=object)
    hit = pd.Series(bkeys).isin(per_key.index).to_numpy()
    weights = np.where(np.isnan(est_pop), 0.0, est_pop)
    frame = pd.DataFrame({"key": bkeys[hit], "w": weights[hit]})
    wsum = frame.groupby("key")["w"].transform("sum").to_numpy()
    count = frame.groupby("key")["w"].transform("size").to_numpy()
    frac = np.where(wsum > 0, frame["w"].to_numpy() / np.where(wsum > 0, wsum, 1), 1.0 / count)
    rows = per_key.loc[frame["key"]]
    hh = rows["households"].to_numpy(dtype=float) * frac
    given_pop = rows["population"].to_numpy(dtype=float)
    pop = np.where(np.isnan(given_pop), hh * params.persons_per_household, given_pop * frac)
    est_hh[hit] = hh
    est_pop[hit] = pop
    out["population"] = est_pop
    out["households"] = est_hh
    out["population_source"] = np.where(hit, "table", "estimate")

    report: dict[str, Any] = {
        "key": key,
        "rows": len(df),
        "matched_rows": int(row_matched.sum()),
        "unmatched_rows": int((~row_matched).sum()),
    }
    if require_match:
        report["unmatched"] = [str(u) for u in raw_keys[~row_matched]]
    else:  # a sub-district's share of a city's table: the few rows it matched, not the rest
        report["matched"] = np.flatnonzero(row_matched.to_numpy()).tolist()
    report |= {
        "buildings_replaced": int(hit.sum()),
        "households": float(hh.sum()),
        "population": float(pop.sum()),
    }
    return out, report


def unmatched_keys(table: pd.DataFrame | str | os.PathLike[str], matched: np.ndarray) -> list[str]:
    """The keys of the rows of ``table`` not ``matched``, as the report lists them.

    Parameters
    ----------
    table
        A household table (a frame as :func:`read_household_table` returns it, or a path).
    matched
        Per row, whether it matched a building (a city's: in any sub-district).

    Returns
    -------
    list of str
        The unmatched rows' keys as the table gives them, in its order.
    """
    df = _read_table(table)
    return [str(u) for u in _keys_as_given(df, _choose_key(df, None))[~matched]]


def _keys_as_given(df: pd.DataFrame, key: str) -> pd.Series:
    """Each row's key as the table writes it: its building id, or its street and number."""
    if key == "building_id":
        return df["building_id"]
    street = _first_column(df, _STREET_COLUMNS, "address")
    number = _first_column(df, _NUMBER_COLUMNS, "address")
    return df[street].astype(str) + " " + df[number].astype(str)


def read_household_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and check a household table once (a city's, before its sub-districts are built).

    Parameters
    ----------
    path
        CSV or workbook, as :func:`apply_household_table` takes.

    Returns
    -------
    pandas.DataFrame
        The table with its headers as gridplan names them.

    Raises
    ------
    InputError
        When it has no key column or no usable ``households``.
    """
    df = _read_table(path)
    _choose_key(df, None)
    _table_numbers(df)
    return df


def _read_table(table: pd.DataFrame | str | os.PathLike[str]) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        df = table.reset_index(drop=True)
    else:
        df = read_table(table, what="household table")
    return df.rename(columns=canonical_column)


def canonical_column(name: object) -> object:
    """A header as offices write it (``Building ID``, ``户数``) → the name gridplan reads."""
    text = str(name).strip()
    key = "_".join(text.lower().split())
    if key in _COLUMN_ALIASES:
        return _COLUMN_ALIASES[key]
    return key if key in _KNOWN_COLUMNS else name


def _choose_key(df: pd.DataFrame, key: str | None) -> Literal["building_id", "address"]:
    has_id = "building_id" in df.columns
    has_addr = any(c in df.columns for c in _STREET_COLUMNS) and any(
        c in df.columns for c in _NUMBER_COLUMNS
    )
    if key is None:
        key = "building_id" if has_id or not has_addr else "address"
    if key not in ("building_id", "address"):
        raise InputError(f"key must be 'building_id' or 'address', got {key!r}")
    if key == "building_id" and not has_id:
        raise InputError(
            "the household table has no building_id column: expected columns "
            "building_id, households (and optionally population), or addr:street, "
            f"addr:housenumber, households; found {', '.join(map(str, df.columns)) or 'none'}"
        )
    if "households" not in df.columns:
        raise InputError(
            "the household table has no households column: expected columns "
            "building_id (or addr:street + addr:housenumber), households and optionally "
            f"population; found {', '.join(map(str, df.columns)) or 'none'}"
        )
    return "building_id" if key == "building_id" else "address"


def _first_column(df: pd.DataFrame, names: tuple[str, ...], what: str) -> str:
    for name in names:
        if name in df.columns:
            return name
    raise InputError(
        f"matching by {what} needs a column {' or '.join(names)} in the household table; "
        f"found {', '.join(map(str, df.columns))}"
    )


def _table_numbers(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    households = _numeric(df, "households", required=True)
    pop_col = next((c for c in _POPULATION_COLUMNS if c in df.columns), None)
    population = (
        _numeric(df, pop_col, required=False)
        if pop_col
        else pd.Series(np.nan, index=df.index, dtype=float)
    )
    return households, population


def _numeric(df: pd.DataFrame, column: str, *, required: bool) -> pd.Series:
    raw = df[column]
    values = pd.to_numeric(raw, errors="coerce").astype(float)
    blank = raw.isna() | raw.astype(str).str.strip().eq("")
    bad = values.isna() & ~blank
    if bad.any():
        rows = ", ".join(f"row {i + 2}: {raw[i]!r}" for i in np.flatnonzero(bad)[:5])
        raise InputError(f"{column} must be numbers in the household table ({rows})")
    if required and blank.any():
        rows = ", ".join(f"row {i + 2}" for i in np.flatnonzero(blank)[:5])
        raise InputError(f"{column} is empty in the household table ({rows}): give a number")
    negative = values < 0
    if negative.any() or np.isinf(values).any():
        rows = ", ".join(f"row {i + 2}: {raw[i]!r}" for i in np.flatnonzero(negative)[:5])
        raise InputError(f"{column} must be ≥ 0 and finite in the household table ({rows})")
    return values


def _building_id_keys(buildings: pd.DataFrame) -> pd.Series:
    if "id" not in buildings.columns:
        raise InputError("the buildings layer has no id column to match the household table on")
    return buildings["id"].map(normalise_building_id).reset_index(drop=True)


def _bare_numbers_resolved(table_keys: pd.Series, building_keys: pd.Series) -> pd.Series:
    """The table's bare numbers as the building ids they name.

    A bare number names a way, else a relation, else a node with that number,
    skipping one the table also names with its prefix (a table of ``13`` and
    ``w13`` means two buildings when ``r13`` exists); when every such building
    is named, the number joins the first (its rows summed with the named one's).
    """
    bare = {k for k in table_keys.dropna() if k.isdigit()}
    if not bare:
        return table_keys
    ids, named = set(building_keys.dropna()), set(table_keys.dropna())
    alias = {}
    for number in bare:
        candidates = [f"{p}{number}" for p in ("w", "r", "n") if f"{p}{number}" in ids]
        free = [c for c in candidates if c not in named]
        if candidates:
            alias[number] = (free or candidates)[0]
    return table_keys.map(lambda k: alias.get(k, k) if isinstance(k, str) else k)


def _building_address_keys(buildings: pd.DataFrame) -> pd.Series:
    street = next((c for c in _STREET_COLUMNS if c in buildings.columns), None)
    number = next((c for c in _NUMBER_COLUMNS if c in buildings.columns), None)
    if street is None or number is None:
        raise InputError(
            "the buildings layer has no addr_street / addr_housenumber columns: "
            "match the household table by building_id instead"
        )
    return pd.Series(
        [
            normalise_address(s, h)
            for s, h in zip(buildings[street], buildings[number], strict=True)
        ],
        dtype=object,
    )


# --------------------------------------------------------------------------- aggregation


def aggregate(buildings: pd.DataFrame, by: str) -> pd.DataFrame:
    """Sum population and households per grid, community or any other column.

    Parameters
    ----------
    buildings
        Rows with ``population``, ``households`` and the column ``by`` (e.g.
        buildings with ``grid``, or grids with ``community``).  Rows whose
        ``by`` is missing form their own group, so sums are always conserved.
    by
        Column to group by.

    Returns
    -------
    pandas.DataFrame
        Indexed by the values of ``by``: ``population``, ``households`` and
        ``buildings`` (number of rows summed, or the sum of an existing
        ``buildings`` column when aggregating aggregates).
    """
    needed = [by, "population", "households"]
    missing = [c for c in needed if c not in buildings.columns]
    if missing:
        raise InputError(
            f"cannot aggregate by {by!r}: the frame lacks the column(s) {', '.join(missing)}"
        )
    frame = pd.DataFrame(
        {
            by: buildings[by].to_numpy(),
            "population": buildings["population"].to_numpy(dtype=float),
            "households": buildings["households"].to_numpy(dtype=float),
            "buildings": (
                buildings["buildings"].to_numpy(dtype=int)
                if "buildings" in buildings.columns
                else np.ones(len(buildings), dtype=int)
            ),
        }
    )
    return frame.groupby(by, dropna=False, sort=True).sum()
