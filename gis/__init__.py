"""gridplan's engine: grids, population, districts and walking coverage.

The engine knows nothing of HTTP, HTML or databases; ``api`` and ``maps`` are
its faces.  Importing it does no work: every module reads and computes only
when one of its functions is called.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
