"""A step-by-step progress bar on stderr for the long commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def steps(total: int, *, desc: str) -> Iterator[Callable[[str], None]]:
    """Yield a callback that advances a tqdm bar by one named step.

    Parameters
    ----------
    total
        How many steps the work has.
    desc
        Name of the work, shown before the bar.
    """
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
