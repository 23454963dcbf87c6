"""The growth model: closed form, fitting, identifiability, extensions, validation."""
from __future__ import annotations

import numpy as np
import pytest

from curiolib.growth import closed_form, closed_form_optimal_beta, fit, optimal_beta, simulate


@pytest.mark.parametrize("I0, alpha, beta, E, R", [(0, 0.5, 0.3, 1, 2), (2.5, 1.2, 1.0, 0.3, 4), (1, 0, 0.5, 1, 1)])
def test_simulate_matches_the_closed_form_for_constant_inputs(I0, alpha, beta, E, R) -> None:
    trajectory = simulate(I0, alpha, beta, E, R, steps=40)
    np.testing.assert_allclose(trajectory.I, closed_form(I0, alpha, beta, E, R, np.arange(41)), rtol=1e-12)


def test_simulate_broadcasts_a_grid_and_agrees_with_single_runs() -> None:
    alphas, betas = np.linspace(0, 1, 7)[:, None], np.linspace(0, 1, 5)[None, :]
    grid = simulate(1.0, alphas, betas, lambda t: 1 + np.sin(t), 2.0, steps=30).final
    assert grid.shape == (7, 5)
    single = simulate(1.0, alphas[3, 0], betas[0, 2], lambda t: 1 + np.sin(t), 2.0, steps=30).final
    assert grid[3, 2] == pytest.approx(single)


def test_inputs_may_be_arrays_or_callables() -> None:
    E = np.arange(10.0)
    from_array = simulate(0, 0.5, 0.5, E, 1.0, steps=10)
    from_callable = simulate(0, 0.5, 0.5, lambda t: t.astype(float), 1.0, steps=10)
    np.testing.assert_array_equal(from_array.I, from_callable.I)
    frame = from_array.to_frame()
    assert list(frame.columns) == ["t", "I", "E", "R"] and len(frame) == 11


@pytest.mark.parametrize("true_alpha, true_beta", [(0.5, 0.3), (1.5, 0.8)])
def test_fit_recovers_alpha_and_beta_from_noisy_data(true_alpha, true_beta) -> None:
    rng = np.random.default_rng(0)
    E, R = rng.uniform(0, 2, 300), rng.uniform(0, 2, 300)
    clean = simulate(0, true_alpha, true_beta, E, R, steps=300).I
    noisy = clean + np.concatenate([[0], np.cumsum(rng.normal(0, 0.05, 300))])  # noise on each increment
    result = fit(noisy, E, R)
    assert result.identifiable
    # Stated tolerance: within 4 standard errors, and those errors are small (< 0.02 here).
    assert abs(result.alpha - true_alpha) < 4 * result.alpha_se and result.alpha_se < 0.02
    assert abs(result.beta - true_beta) < 4 * result.beta_se and result.beta_se < 0.02
    assert result.residual_std == pytest.approx(0.05, rel=0.2)


def test_fit_says_beta_is_not_identifiable_when_inputs_are_constant() -> None:
    trajectory = simulate(0, 0.5, 0.3, 1.0, 2.0, steps=50)
    result = fit(trajectory.I, 1.0, 2.0)
    assert not result.identifiable and np.isnan(result.beta) and np.isnan(result.alpha)
    assert "cannot be identified" in result.message


def test_fit_still_gives_alpha_when_E_equals_R() -> None:
    E = np.linspace(1, 3, 40)
    result = fit(simulate(0, 0.7, 0.2, E, E, steps=40).I, E, E)
    assert not result.identifiable and np.isnan(result.beta)
    assert result.alpha == pytest.approx(0.7)


def test_fit_reports_a_beta_outside_the_unit_interval() -> None:
    rng = np.random.default_rng(1)
    E, R = rng.uniform(0, 2, 100), rng.uniform(0, 2, 100)
    increments = 0.5 * E - 0.2 * R  # reflection that hurts: no α, β in range produce this
    result = fit(np.concatenate([[0], np.cumsum(increments)]), E, R)
    assert result.beta > 1 and "outside [0, 1]" in result.message


def test_material_limited_reflection_has_an_interior_optimum_matching_a_brute_force_grid() -> None:
    E, R, rho, steps = 1.0, 3.0, 0.05, 100
    found = optimal_beta(E, R, rho, steps)
    betas = np.linspace(0, 1, 101)
    brute = [simulate(0, 1.0, b, E, R, steps, reflection_limit=rho).final for b in betas]
    best = betas[int(np.argmax(brute))]
    assert 0 < found.numeric < 1
    assert abs(found.numeric - best) <= 0.01  # grid spacing of the brute-force search
    assert found.final_knowledge > max(brute[0], brute[-1]) * 1.05  # both extremes lose
    # The closed form is a continuous-time approximation of the discrete model: within 0.02 here.
    assert abs(found.closed_form - found.numeric) < 0.02


def test_closed_form_beta_star_only_exists_when_reflection_is_worth_more() -> None:
    assert closed_form_optimal_beta(2.0, 1.0, 0.1, 50) is None
    assert optimal_beta(2.0, 1.0, 0.1, 50).numeric == pytest.approx(1.0)


def test_saturation_and_forgetting_bend_the_line() -> None:
    saturated = simulate(0, 1.0, 0.5, 1.0, 1.0, steps=400, capacity=10.0)
    assert saturated.final == pytest.approx(10.0, abs=1e-3) and np.all(np.diff(saturated.I) >= 0)
    forgetful = simulate(0, 1.0, 0.5, 1.0, 1.0, steps=400, forgetting=0.1)
    assert forgetful.final == pytest.approx(1.0 / 0.1, rel=1e-3)  # the steady state gain/δ


@pytest.mark.parametrize("kwargs, match", [
    ({"alpha": -0.1}, "alpha must be >= 0"),
    ({"beta": 1.5}, r"beta must be in \[0, 1\]"),
    ({"beta": float("nan")}, r"beta must be in \[0, 1\]"),
    ({"steps": 0}, "steps must be an integer >= 1"),
    ({"E": -1.0}, "E must be >= 0"),
    ({"R": float("nan")}, "R must be finite"),
    ({"E": np.ones(5)}, "E must be a scalar, a callable of t or an array of length steps=10"),
    ({"I0": float("nan")}, "I0 must be a finite number"),
    ({"capacity": 0}, "capacity must be"),
    ({"forgetting": 2}, r"forgetting must be in \[0, 1\]"),
    ({"reflection_limit": -1}, "reflection_limit must be >= 0"),
])
def test_validation_names_the_parameter_and_its_range(kwargs, match) -> None:
    arguments = {"I0": 0.0, "alpha": 0.5, "beta": 0.5, "E": 1.0, "R": 1.0, "steps": 10} | kwargs
    with pytest.raises(ValueError, match=match):
        simulate(**arguments)


def test_fit_validates_its_inputs() -> None:
    with pytest.raises(ValueError, match="I must be a 1-D trajectory of at least 3 values"):
        fit(np.array([1.0, 2.0]), 1.0, 1.0)
    with pytest.raises(ValueError, match="E must be a scalar, a callable of t or an array of length steps=4"):
        fit(np.arange(5.0), np.ones(3), np.ones(4))
