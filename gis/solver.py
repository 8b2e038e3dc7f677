"""HiGHS solves that cannot write to stdout, so the CLI's JSON stays clean.

HiGHS (behind :func:`scipy.optimize.milp` and :func:`~scipy.optimize.linprog`)
sometimes prints a line of its own to the process's standard output even with
``disp=False`` (``HighsMipSolverData::transformNewIntegerFeasibleSolution
tmpSolver.run();``), past Python's ``sys.stdout``.  :func:`milp` and
:func:`linprog` call scipy's with file descriptor 1 pointed at the null device
for the duration of the solve (:func:`quiet`); every solve in gridplan goes
through them.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

from scipy import optimize


class _Silencer:
    """File descriptor 1 redirected to the null device while any solve runs (any thread).

    The descriptor belongs to the process, so this state does too: the first
    solve to start redirects it, the last to end restores it.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.saved: int | None = None

    def enter(self) -> None:
        with self.lock:
            self.active += 1
            if self.active > 1:
                return
            _flush_all()
            try:
                saved = os.dup(1)
            except OSError:  # no standard output at all: nothing to protect
                return
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.close(null)
            self.saved = saved

    def leave(self) -> None:
        with self.lock:
            self.active -= 1
            if self.active > 0 or self.saved is None:
                return
            _flush_all()  # what the solver buffered goes to the null device, not to stdout
            os.dup2(self.saved, 1)
            os.close(self.saved)
            self.saved = None


_SILENCER = _Silencer()


def _flush_all() -> None:
    """Flush Python's and the C library's buffers of standard output."""
    with contextlib.suppress(ValueError, OSError):  # a closed sys.stdout
        sys.stdout.flush()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Run the block with the process's standard output (fd 1) sent to the null device."""
    _SILENCER.enter()
    try:
        yield
    finally:
        _SILENCER.leave()


def milp(*args: Any, **kwargs: Any) -> Any:
    """:func:`scipy.optimize.milp`, silenced (see :func:`quiet`)."""
    with quiet():
        return optimize.milp(*args, **kwargs)


def linprog(*args: Any, **kwargs: Any) -> Any:
    """:func:`scipy.optimize.linprog`, silenced (see :func:`quiet`)."""
    with quiet():
        return optimize.linprog(*args, **kwargs)
