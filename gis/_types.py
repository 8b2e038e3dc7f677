"""Names for the domain values passed between modules (for annotations only).

Third-party types that are untyped (pyproj's CRS as geopandas accepts it)
get an alias here, so signatures say what they take instead of ``Any``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from pyproj import CRS

#: A file or folder given by the user.
PathLike = str | os.PathLike[str]
#: A coordinate reference system as geopandas and pyproj accept it.
CRSLike = str | int | CRS
#: Called with the name of each step as it starts.
Progress = Callable[[str], None]
