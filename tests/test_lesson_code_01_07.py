"""Lessons 01 and 07 write their idea out before the library runs it (#42): each such cell, taken from the
committed notebook and run here on tiny data, prints its claim True, and False once one line of it is broken.

No lesson is executed: the cells run in this process (tests/_checks.py), in a namespace holding what the lesson's
earlier cells would have made.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _checks import lesson_cell, run_cell
from curiolib import fit_effort_experiment, fit_series, run_effort_experiment, say, simulate, with_gain

#: Each case: which cell is run unchanged, and the one line that breaks it (None: unchanged).
RECURSION_BREAK = ("(1 - beta) * R_t[t]", "(1 - beta) * E_t[t]")  # reflection's input read as exploration's
LEAST_SQUARES_BREAK = ("np.column_stack([E_seen, R_seen])", "np.column_stack([R_seen, E_seen])")  # columns swapped
OBJECTIVE_BREAK = ("G += (1 - G / K) * (", "G += (")  # the saturation dropped from the predicted gain


def _claim(printed: str, claim: str) -> bool:
    """The boolean a lesson cell printed after ``claim`` (the cell prints it as "...: True" or "...: False")."""
    text = " ".join(printed.split())  # say() wraps long lines
    assert claim in text, printed
    verdict = text[text.index(claim):].split(": ")[-1].split()[0]
    assert verdict in ("True", "False"), printed
    return verdict == "True"


@pytest.mark.parametrize("broken", [None, RECURSION_BREAK], ids=["as committed", "one line broken"])
def test_lesson_01s_recursion_gives_simulates_trajectory(broken: tuple[str, str] | None) -> None:
    # E ≠ R, so reading one input for the other changes every step.
    namespace = {"np": np, "simulate": simulate, "say": say, "alpha": 0.5, "beta": 0.3, "E": 1.0, "R": 2.0,
                 "steps": 20}
    printed = run_cell(lesson_cell("01", "def grow("), namespace, replace=broken)
    assert _claim(printed, "same trajectory as simulate") is (broken is None)


@pytest.mark.parametrize("broken", [None, LEAST_SQUARES_BREAK], ids=["as committed", "one line broken"])
def test_lesson_01s_normal_equations_give_fit_series_alpha_and_beta(broken: tuple[str, str] | None) -> None:
    # β = 0.3: swapping E's and R's columns swaps a and b, so the β found becomes about 0.7.
    namespace = {"np": np, "simulate": simulate, "fit_series": fit_series, "say": say, "alpha": 0.5, "beta": 0.3,
                 "steps": 20, "noise": 0.05, "seed": 0}
    printed = run_cell(lesson_cell("01", "np.linalg.solve(X.T @ X"), namespace, replace=broken)
    assert _claim(printed, "same α and β as fit_series") is (broken is None)


@pytest.fixture(scope="module")
def effort_namespace() -> dict:
    """What lesson 07's cells before section 4's fit make, on a tiny synthetic pool (no encoder), and the fit."""
    rng = np.random.default_rng(0)
    weights = rng.normal(size=6)
    pool, held = rng.normal(size=(120, 6)), rng.normal(size=(60, 6))
    fit_betas = [0.1, 0.5, 1.0]
    curves = run_effort_experiment(pool, (pool @ weights > 0).astype(int), held, (held @ weights > 0).astype(int),
                                   betas=fit_betas, seeds=[0, 1], budget=40, cost=4, rounds=6, learning_rate=0.05)
    fitted = fit_effort_experiment(curves[curves["beta"].isin(fit_betas)])
    return {"np": np, "pd": pd, "with_gain": with_gain, "say": say, "curves": curves, "fit_betas": fit_betas,
            "fitted": fitted}


@pytest.mark.parametrize("broken", [None, OBJECTIVE_BREAK], ids=["as committed", "one line broken"])
def test_lesson_07s_objective_is_what_fit_effort_experiment_minimised(effort_namespace: dict,
                                                                    broken: tuple[str, str] | None) -> None:
    namespace = dict(effort_namespace)
    run_cell(lesson_cell("07", "def objective("), namespace, replace=broken)
    printed = run_cell(lesson_cell("07", "at_fit = objective("), namespace)
    assert _claim(printed, "same objective as fit_effort_experiment minimises") is (broken is None)
