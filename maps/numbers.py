"""Numbers as people read them, rounded the way the planner page rounds them.

The page formats with ``Intl.NumberFormat`` and ``Number.prototype.toFixed``
(``maps/static/js/i18n.js`` ``num`` and ``pct``): both round the exact value of
the number half away from zero.  Python's ``round`` and ``format`` round half
to even, and ``int`` truncates (a report once said 90,741 residents where the
page said 90,742), so the report formats through these instead.  A browser
test checks that both give the same text for the same numbers.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

DASH = "–"


def _half_away(x: float, places: int) -> Decimal:
    """``x`` rounded half away from zero to ``places`` decimals, from its exact binary value."""
    return Decimal(x).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def whole(x: float | None) -> str:
    """A count with thousands separators: 90741.5 → ``"90,742"`` (``num`` in i18n.js)."""
    if x is None or math.isnan(x):
        return DASH
    sign = "-" if math.copysign(1.0, x) < 0 else ""  # Intl writes -0 as "-0"
    return f"{sign}{_half_away(abs(float(x)), 0):,.0f}"


def percent(f: float | None, *, signed: bool = True) -> str:
    """A fraction as a percentage with one decimal: 0.0213 → ``"+2.1%"`` (``pct`` in i18n.js)."""
    if f is None or math.isnan(f):
        return DASH
    x = float(f) * 100  # the same product toFixed is given
    sign = "-" if x < 0 else "+" if signed and f > 0 else ""
    return f"{sign}{_half_away(abs(x), 1):.1f}%"
