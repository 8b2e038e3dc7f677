"""A city folder served by sub-district: the ``subdistrict`` filter of the collections.

A city build (``gridplan build SOURCE --subdistricts FILE``) writes the
sub-districts' polygons to ``subdistricts.geojson`` and puts each one's
3-digit code in digits 7–9 of every grid, community and building code.
:func:`rows` turns ``?subdistrict=001`` into the row positions of a layer
that belong to it: by code for grids, communities and buildings (through
their grid), and through the plan's assignment for districts (a district
belongs to every sub-district one of its grids lies in).  An unknown code is
a 400 that names the known ones.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from fastapi import HTTPException

from api.area import Area, FeatureIndex
from api.store import Store

#: The column of each layer whose code carries the sub-district in digits 7–9.
CODE_COLUMN = {"grids": "code", "communities": "code", "buildings": "grid"}
#: Every layer the filter applies to (districts go through the plan's grids).
FILTERED = (*CODE_COLUMN, "districts", "subdistricts")
#: Digits 7–9 of a code (0-based slice).
PART = slice(6, 9)


def known(area: Area) -> dict[str, str]:
    """The served folder's sub-districts: 3-digit code → name.

    From ``subdistricts.geojson`` in a city folder; in a one-area folder, the
    sub-district parts of its grid codes (named by their code).
    """

    def make() -> dict[str, str]:
        if "subdistricts" in area.available():
            frame = area.index("subdistricts").frame
            if "subdistrict" in frame.columns and len(frame):
                names = frame["name"] if "name" in frame.columns else frame["subdistrict"]
                return {str(c): str(n) for c, n in zip(frame["subdistrict"], names, strict=True)}
        codes = sorted({str(c)[PART] for c in area.grids["code"]} if len(area.grids) else set())
        return {c: c for c in codes}

    found: dict[str, str] = area.derived.get_or_make("subdistricts", make)
    return found


def parse(area: Area, value: str | None) -> str | None:
    """The 3-digit sub-district code asked for (``001``, or 9 digits ending in it), or None.

    Raises
    ------
    HTTPException
        400 naming the known codes when ``value`` is not one of them.
    """
    if value is None:
        return None
    codes = known(area)
    text = value.strip()
    if text in codes:
        return text
    if len(text) == 9 and text.isdigit() and text[-3:] in codes and _admin_matches(area, text):
        return text[-3:]
    listed = ", ".join(f"{c} ({n})" if n != c else c for c, n in codes.items()) or "none"
    raise HTTPException(
        400,
        f"subdistrict={value!r} is not a sub-district of this folder: give one of its "
        f"3-digit codes: {listed}",
    )


def _admin_matches(area: Area, code: str) -> bool:
    """A 9-digit code names the same sub-district as the folder's (admin digits included)."""
    if "subdistricts" not in area.available():
        return any(str(c)[:9] == code for c in area.grids["code"])
    frame = area.index("subdistricts").frame
    return "code" in frame.columns and code in {str(c) for c in frame["code"]}


def rows(
    area: Area,
    store: Store,
    index: FeatureIndex,
    code: str | None,
    *,
    plan: str | None,
    version: int | None,
) -> np.ndarray | None:
    """Row positions of a layer in sub-district ``code`` (None: no filter asked for).

    Cached per data version; districts follow the plan version's assignment.

    Raises
    ------
    HTTPException
        400 for a layer that is not split by sub-district (streets, POIs, ...).
    """
    name = index.name
    if code is None:
        return None
    if name not in FILTERED:
        raise HTTPException(
            400,
            f"collection {name!r} is not split by sub-district: the subdistrict filter applies "
            f"to {', '.join(n for n in FILTERED if n in area.available())}; use bbox instead",
        )
    if name == "districts":
        return _district_rows(area, store, index, code, plan=plan, version=version)
    key = ("subdistrict-rows", index.version, name, code)
    return np.asarray(area.derived.get_or_make(key, lambda: _code_rows(name, index, code)))


def _code_rows(name: str, index: FeatureIndex, code: str) -> np.ndarray:
    frame = index.frame
    column = "subdistrict" if name == "subdistricts" else CODE_COLUMN[name]
    if column not in frame.columns:
        return np.zeros(0, dtype=np.int64)
    values = frame[column].astype(str)
    mine = values == code if name == "subdistricts" else values.str[PART] == code
    return np.flatnonzero(mine.to_numpy())


def _district_rows(
    area: Area,
    store: Store,
    index: FeatureIndex,
    code: str,
    *,
    plan: str | None,
    version: int | None,
) -> np.ndarray:
    """Districts with at least one grid in sub-district ``code``."""
    from api.plans import DEFAULT_PLAN

    row = store.get_version(plan or DEFAULT_PLAN, version)
    inside = _districts_in(row.assignment or {}, code)
    if "district" not in index.frame.columns:
        return np.zeros(0, dtype=np.int64)
    numbers = index.frame["district"].to_numpy()
    return np.flatnonzero([int(d) in inside for d in numbers])


def _districts_in(assignment: Mapping[str, int], code: str) -> set[int]:
    return {int(d) for grid, d in assignment.items() if str(grid)[PART] == code}


__all__ = ["FILTERED", "known", "parse", "rows"]
