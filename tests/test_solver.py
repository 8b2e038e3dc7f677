"""HiGHS solves cannot write to standard output (the CLI's ``--json`` stays parseable)."""

from __future__ import annotations

import os

import numpy as np
from scipy.optimize import LinearConstraint

from gis.solver import milp, quiet


def test_writes_to_file_descriptor_1_during_a_solve_are_dropped(capfd) -> None:
    print("before", flush=True)
    with quiet():
        os.write(1, b"HighsMipSolverData::transformNewIntegerFeasibleSolution\n")  # as HiGHS does
        with quiet():  # nested (another solve at the same time): still silenced
            os.write(1, b"inner\n")
        os.write(1, b"still inside\n")
    print("after", flush=True)
    assert capfd.readouterr().out == "before\nafter\n"


def test_a_silenced_solve_still_solves() -> None:
    # max x + y with x + 2y <= 4, 3x + y <= 6, integers: (2, 0) or (1, 1) → 2
    res = milp(
        -np.ones(2),
        constraints=[LinearConstraint(np.array([[1.0, 2.0], [3.0, 1.0]]), -np.inf, [4.0, 6.0])],
        integrality=np.ones(2),
    )
    assert res.success and -res.fun == 2.0
