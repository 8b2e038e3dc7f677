"""Progress on stderr for the long commands: a bar on a terminal, plain lines in a log.

A bar redraws itself with carriage returns, which a log file or a CI job
keeps as one long line of frames; when stderr is not a terminal each step
is one plain line instead (``build: 3/8 estimating population``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def interactive() -> bool:
    """Whether stderr is a terminal (bars) rather than a file or a pipe (plain lines)."""
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


@contextmanager
def steps(total: int, *, desc: str) -> Iterator[Callable[[str], None]]:
    """Yield a callback that advances the progress by one named step.

    Parameters
    ----------
    total
        How many steps the work has.
    desc
        Name of the work, shown before the bar or at the start of each line.
    """
    if not interactive():
        yield _lines(total, desc)
        return
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="step", leave=False, dynamic_ncols=True)
    started = False

    def advance(name: str) -> None:
        nonlocal started
        if started:
            bar.update(1)
        started = True
        bar.set_postfix_str(name)

    try:
        yield advance
        bar.update(bar.total - bar.n)
    finally:
        bar.close()


def _lines(total: int, desc: str) -> Callable[[str], None]:
    done = 0

    def advance(name: str) -> None:
        nonlocal done
        done = min(done + 1, total)
        print(f"{desc}: {done}/{total} {name}", file=sys.stderr)

    return advance


class Counter:
    """Progress over counted parts ``(finished, total, label)``: a bar on a terminal, else lines.

    Parameters
    ----------
    desc
        Name of the work, shown before the bar or at the start of each line.
    unit
        What is counted (``sub-district``).
    """

    def __init__(self, desc: str, unit: str) -> None:
        self.desc, self.unit = desc, unit
        self._bar: Any = None

    def __call__(self, finished: int, total: int, label: str) -> None:
        if not interactive():
            print(f"{self.desc}: {finished}/{total} {self.unit}s ({label})", file=sys.stderr)
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=self.desc, unit=self.unit, leave=False)
        self._bar.set_postfix_str(label)
        self._bar.update(finished - self._bar.n)

    def close(self) -> None:
        """Remove the bar (lines need no closing)."""
        if self._bar is not None:
            self._bar.close()
