"""Option types shared by the commands: every value is checked before any file is touched.

Click calls these while it parses the command line, so a bad value stops the
command with exit status 2 and a message naming the option, before the
engine runs and before any output file is written: tolerances are finite
fractions below 1, times finite and positive, CRSs known to PROJ, balance
specifications name finite tolerances, community files hold polygons in
longitude/latitude bounds (the same checks as the API's uploads).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click


class Fraction(click.ParamType):
    """A finite fraction strictly between 0 and 1 (0.02 = ±2%)."""

    name = "fraction"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        return fraction(value, lambda message: self.fail(message, param, ctx))


def fraction(value: Any, fail: Any) -> float:
    """``value`` as a fraction in (0, 1), or ``fail(message)``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        fail(f"{value!r} is not a number: give a fraction such as 0.02 (±2%)")
        raise  # pragma: no cover - fail raises
    if not math.isfinite(number) or not 0 < number < 1:
        fail(
            f"{value!r} is not a fraction between 0 and 1: tolerances are fractions "
            "(0.02 = ±2%, 0.005 = ±0.5%)"
        )
    return number


class Seconds(click.ParamType):
    """A finite, positive number of seconds."""

    name = "seconds"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(number) or number <= 0:
            self.fail(f"{value!r} is not a positive number of seconds (e.g. 30)", param, ctx)
        return number


class MetricCRS(click.ParamType):
    """A projected CRS in metres that PROJ knows (``EPSG:32650``)."""

    name = "crs"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from pyproj import CRS
        from pyproj.exceptions import CRSError

        try:
            crs = CRS.from_user_input(value)
        except CRSError:
            self.fail(
                f"{value!r} is not a CRS PROJ knows: give an EPSG code such as EPSG:32650 "
                "(UTM 50N) or EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger CM 114E)",
                param,
                ctx,
            )
        unit = crs.axis_info[0].unit_name if crs.axis_info else ""
        if not crs.is_projected or unit not in ("metre", "meter"):
            self.fail(
                f"{value!r} is not a projected CRS in metres (areas and lengths need one): "
                "give a UTM or Gauss-Kruger zone such as EPSG:32650",
                param,
                ctx,
            )
        return str(value)


class Balance(click.ParamType):
    """``population,households:0.05``: quantities to balance, each with an optional tolerance."""

    name = "balance"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> dict[str, float | None]:
        if isinstance(value, dict):
            return value
        out: dict[str, float | None] = {}
        for part in str(value).split(","):
            name, _, tol = part.strip().partition(":")
            if not name:
                continue
            out[name] = (
                fraction(tol, lambda message, p=part: self.fail(f"in {p!r}: {message}", param, ctx))
                if tol
                else None
            )
        if not out:
            self.fail(f"{value!r} names no quantity: e.g. population,households:0.05", param, ctx)
        return out


def balance_with(spec: dict[str, float | None] | None, tolerance: float) -> dict[str, float]:
    """The quantities to balance, each with its tolerance (``tolerance`` where none was given)."""
    if not spec:
        return {"population": tolerance}
    return {name: tolerance if tol is None else tol for name, tol in spec.items()}


class LayerFile(click.Path):
    """An existing geodata file checked as ``kind`` (polygons for communities, in lon/lat)."""

    def __init__(self, kind: str) -> None:
        super().__init__(exists=True, dir_okay=False, path_type=Path)
        self.kind = kind
        self.name = f"{kind} file"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from api.uploads import check_layer
        from gis._errors import GridplanError

        path = super().convert(value, param, ctx)
        try:
            check_layer(Path(str(path)), self.kind)
        except GridplanError as exc:
            self.fail(f"{value}: {exc}", param, ctx)
        return path


#: ``--state STATE`` of the commands that keep plans beside a build folder (build, serve).
state_option = click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="GRIDPLAN_STATE_DIR",
    default=None,
    metavar="STATE",
    help="Folder of plans and uploads kept across rebuilds [DIR.state beside DIR].",
)
