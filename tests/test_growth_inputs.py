"""The growth model's array parameters: shapes that do not fit and numbers too large for float64 are named errors."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from curiolib.growth import (closed_form, closed_form_optimal_beta, fit_series, material_limited_final, optimal_beta,
                             simulate)

HUGE = 1e300  # finite, but α·E at this size is beyond float64's 1.8e308


@pytest.fixture(autouse=True)
def _numpy_warnings_are_errors():
    # A ValueError is the answer, not an inf after "overflow encountered in multiply".
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


# --------------------------------------------------------------------------- overflow

@pytest.mark.parametrize("kwargs, step", [
    ({"alpha": HUGE, "E": HUGE, "R": HUGE}, 1),
    ({"I0": 1e307, "E": 1e307, "R": 1e307}, 17),  # I grows by 1e307 a step: past 1.8e308 at step 17
    ({"alpha": np.array([1.0, HUGE]), "E": HUGE, "R": HUGE}, 1),
    ({"alpha": HUGE, "E": HUGE, "R": HUGE, "reflection_limit": HUGE}, 1),
    ({"alpha": HUGE, "E": HUGE, "R": HUGE, "forgetting": 0.5}, 1),
])
def test_simulate_says_at_which_step_the_trajectory_overflowed_and_with_which_parameters(kwargs, step) -> None:
    arguments = {"I0": 0.0, "alpha": 1.0, "beta": 0.5, "E": 1.0, "R": 1.0, "steps": 40} | kwargs
    with pytest.raises(ValueError, match=rf"the trajectory overflowed at step t={step}\b") as error:
        simulate(**arguments)
    message = str(error.value)
    assert all(f"{name}=" in message for name in ("I0", "alpha", "beta", "E", "R")) and "\n" not in message


def test_simulate_keeps_large_but_representable_trajectories() -> None:
    run = simulate(0.0, 1e150, 0.5, 1e150, 1e150, steps=10)
    assert np.isfinite(run.I).all() and run.final == pytest.approx(1e301)


@pytest.mark.parametrize("call, names", [
    (lambda: closed_form(0.0, HUGE, 0.5, HUGE, HUGE, np.arange(5)), ("alpha", "E", "R")),
    (lambda: material_limited_final(0.0, HUGE, 0.5, HUGE, HUGE, 0.1, 10), ("alpha", "E", "R")),
    (lambda: material_limited_final(0.0, 1.0, np.linspace(0, 1, 5), HUGE, HUGE, HUGE, 10), ("E", "R", "rho")),
    (lambda: closed_form_optimal_beta(1e-300, 1e300, 1e-300, 10), ("E", "R", "rho")),
    (lambda: optimal_beta(HUGE, HUGE, 0.1, 10, alpha=HUGE), ("alpha", "E", "R")),
])
def test_the_other_model_functions_refuse_an_overflow_naming_their_parameters(call, names) -> None:
    with pytest.raises(ValueError, match="overflow") as error:
        call()
    assert all(f"{name}=" in str(error.value) for name in names)


@pytest.mark.parametrize("I, E, R", [
    (np.array([0, 1e308, -1e308, 0, 1.0]), np.arange(4.0) + 1, np.arange(4.0)[::-1] + 1),  # ΔI overflows
    (np.arange(5.0), np.arange(4.0) * 1e300 + 1, np.arange(4.0)[::-1] + 1),  # E·E overflows
    (np.arange(5.0), np.arange(4.0) * 1e-200 + 1e-300, np.arange(4.0)[::-1] + 1),  # E·E underflows to 0
    (np.array([0, 1e300, 2e300, 3e300, 4e300]), np.array([1, 2, 1, 3.0]), np.array([2, 1, 1, 1.0])),
])
def test_fit_refuses_data_beyond_float64_instead_of_returning_nan(I, E, R) -> None:  # noqa: E741
    with pytest.raises(ValueError, match="overflow") as error:
        fit_series(I, E, R)
    assert all(f"{name}=" in str(error.value) for name in ("I", "E", "R"))


def test_a_prediction_that_overflows_is_refused() -> None:
    result = fit_series(np.array([0, 1, 2.5, 3, 4.6, 5]), np.array([1, 2, 1, 3.0, 1]), np.array([2, 1, 1, 1.0, 2]))
    with pytest.raises(ValueError, match="overflow"):
        result.predict(0.0, np.full(10, 1e308), np.full(10, 1e308))


# --------------------------------------------------------------------------- shapes

@pytest.mark.parametrize("kwargs, first, second", [
    ({"alpha": np.array([0.1, 0.2]), "beta": np.array([0.1, 0.2, 0.3])}, "alpha (length 2)", "beta (length 3)"),
    ({"I0": np.array([0.0, 1.0, 2.0]), "alpha": np.array([0.1, 0.2])}, "I0 (length 3)", "alpha (length 2)"),
    ({"I0": np.zeros((2, 4)), "beta": np.array([0.1, 0.2, 0.3])}, "I0 (shape (2, 4))", "beta (length 3)"),
])
def test_simulate_names_the_parameters_whose_shapes_do_not_broadcast(kwargs, first, second) -> None:
    arguments = {"I0": 0.0, "alpha": 0.5, "beta": 0.5, "E": 1.0, "R": 1.0, "steps": 10} | kwargs
    with pytest.raises(ValueError, match=f"{re.escape(first)} and {re.escape(second)} do not broadcast"):
        simulate(**arguments)


def test_simulate_still_broadcasts_a_column_against_a_row() -> None:
    grid = simulate(0.0, np.array([0.1, 0.2])[:, None], np.array([0.1, 0.2, 0.3])[None, :], 1.0, 1.0, 5).final
    assert grid.shape == (2, 3)


def test_closed_form_names_the_parameters_whose_shapes_do_not_broadcast() -> None:
    with pytest.raises(ValueError, match=r"alpha \(length 2\) and beta \(length 3\) do not broadcast"):
        closed_form(0.0, np.array([1.0, 2.0]), np.array([0.1, 0.2, 0.3]), 1.0, 1.0, 5)
    with pytest.raises(ValueError, match=r"E \(length 4\) and t \(length 6\) do not broadcast"):
        closed_form(0.0, 1.0, 0.5, np.ones(4), 1.0, np.arange(6))


@pytest.mark.parametrize("kwargs, match", [({"alpha": -1.0}, "alpha must be >= 0"),
                                           ({"beta": 1.5}, r"beta must be in \[0, 1\]"),
                                           ({"E": float("nan")}, "E must be finite numbers >= 0"),
                                           ({"t": -1}, "t must be >= 0")])
def test_closed_form_checks_its_parameters_as_simulate_does(kwargs, match) -> None:
    arguments = {"I0": 0.0, "alpha": 0.5, "beta": 0.5, "E": 1.0, "R": 1.0, "t": np.arange(5)} | kwargs
    with pytest.raises(ValueError, match=match):
        closed_form(**arguments)


def test_a_prediction_from_inputs_of_different_lengths_names_both() -> None:
    result = fit_series(np.array([0, 1, 2.5, 3, 4.6, 5]), np.array([1, 2, 1, 3.0, 1]), np.array([2, 1, 1, 1.0, 2]))
    with pytest.raises(ValueError, match=r"E \(length 3\) and R \(length 4\)"):
        result.predict(0.0, np.ones(3), np.ones(4))
    np.testing.assert_allclose(result.predict(0.0, np.ones(3), 1.0), result.predict(0.0, np.ones(3), np.ones(3)))

