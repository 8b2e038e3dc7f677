"""Cutting grids alone: CPU seconds of :func:`gis.grids.cut_and_code` on one area's inputs.

The area is read and built up to the cutting step (:func:`gis.pipeline.make_area_grids`
stops there); then ``cut_and_code`` runs ``--repeats`` times on those inputs and the
CPU time of each run is printed with the median.  To compare two versions of the
code, run the script with ``PYTHONPATH`` set to each checkout in turn, alternating,
from a folder that holds no ``gis`` package (e.g. ``cd /tmp``).

Usage::

    .venv/bin/python benchmarks/bench_cut.py AREA [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any


class _CapturedError(Exception):
    """Raised to stop the build once the cutting step's inputs are known."""

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        super().__init__("captured")
        self.call = (args, kwargs)


def cut_inputs(source: Path) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments the build of ``source`` gives ``cut_and_code``."""
    import gis.pipeline as pipeline
    from gis.area import load_area

    def capture(*args: Any, **kwargs: Any) -> None:
        raise _CapturedError(args, kwargs)

    real = pipeline.cut_and_code
    pipeline.cut_and_code = capture  # type: ignore[assignment]
    try:
        pipeline.make_area_grids(load_area(source))
    except _CapturedError as done:
        return done.call
    finally:
        pipeline.cut_and_code = real
    raise RuntimeError("the build did not reach the cutting step")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("area", type=Path, help="an area folder or OSM file")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from gis.grids import cut_and_code

    call_args, call_kwargs = cut_inputs(args.area)
    times = []
    for _ in range(args.repeats):
        start = time.process_time()
        coded = cut_and_code(*call_args, **call_kwargs)
        times.append(time.process_time() - start)
    import gis

    print(
        f"{args.area.name}: {len(coded.codes)} grids; cut_and_code CPU s "
        f"{', '.join(f'{t:.2f}' for t in times)} (median {statistics.median(times):.2f}); "
        f"gis from {Path(gis.__file__).parent}; load {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
