"""Which districts a grid may join: groups of grids and of districts.

A plan drawn inside communities (hard nesting) or from an old plan (soft:
districts should keep to their old group) gives every grid a group and every
district the group it belongs to.  The local searches ask this one object
whether a move crosses groups and whether that is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Groups:
    """The group of each grid and of each district, and whether crossing is forbidden.

    Attributes
    ----------
    grid
        Group per grid, or ``None`` (no groups).
    district
        Group per district index, or ``None``.
    hard
        Moves across groups are forbidden (nesting); else only discouraged.
    """

    grid: np.ndarray | None = None
    district: np.ndarray | None = None
    hard: bool = False

    @property
    def known(self) -> bool:
        """Whether both grids and districts have groups."""
        return self.grid is not None and self.district is not None

    def crossing(self, i: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether moving grids ``i`` into districts ``b`` leaves the grids' groups."""
        if self.grid is None or self.district is None:
            return np.zeros(np.shape(i), dtype=bool)
        return self.grid[i] != self.district[b]

    def allowed(self, i: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether moving grids ``i`` into districts ``b`` is allowed."""
        if not self.hard:
            return np.ones(np.shape(i), dtype=bool)
        return ~self.crossing(i, b)


#: No groups: every move is allowed.
FREE = Groups()
