"""Every exception gridplan raises.

Each subclasses a builtin so that callers who do not know gridplan can still
catch it (``except ValueError``).  Messages say what is wrong *and* what to do
next; the faces (CLI, API) show them as they are.
"""

from __future__ import annotations


class GridplanError(Exception):
    """Base of every gridplan error; never raised by itself."""


class InputError(GridplanError, ValueError):
    """An input file or value cannot be used as given."""


class UnreadableFileError(InputError):
    """A file is missing, of an unknown format, or cannot be parsed."""


class CRSError(InputError):
    """A layer has no CRS, or one that cannot be used for the operation."""


class EmptyLayerError(InputError):
    """A layer that must hold features holds none (after clipping)."""


class NoBuildingsError(EmptyLayerError):
    """A study area holds no usable building (a city leaves such a sub-district out)."""


class ManifestError(InputError):
    """An area manifest is missing a field or has a wrong value."""


class UnknownIdError(GridplanError, KeyError):
    """An id (grid code, district, layer, plan, version) does not exist."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""


class PlanError(InputError):
    """A plan is inconsistent: unknown or missing grids, wrong columns."""


class InfeasibleError(GridplanError, ValueError):
    """The request cannot be met (e.g. k larger than the number of grids)."""


class NetworkError(InputError):
    """The street network is empty, disconnected beyond use, or unusable."""


class ServiceError(InputError):
    """Service points are missing or lie outside the street network."""


class ConflictError(GridplanError, RuntimeError):
    """A write was based on a version that is no longer current."""

    def __init__(self, message: str, *, current: int | None = None) -> None:
        super().__init__(message)
        self.current = current


class FetchError(GridplanError, ConnectionError):
    """OpenStreetMap's servers cannot be reached, refuse, or have nothing for the place."""


class OutputError(GridplanError, OSError):
    """An output folder or file cannot be written."""


class BusyError(GridplanError, RuntimeError):
    """Too much work is queued already; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooLargeError(InputError):
    """An input is larger than a configured limit (features, bytes once unpacked)."""


class PortInUseError(GridplanError, OSError):
    """The port a server should listen on is taken by another program."""
