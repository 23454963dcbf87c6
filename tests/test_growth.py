"""The growth model: closed form, fitting, identifiability, extensions and β*, validation."""
from __future__ import annotations

import numpy as np
import pytest

from curiolib.growth import (closed_form, closed_form_optimal_beta, fit_series, material_limited_final, optimal_beta,
                             simulate)


def _noisy_run(alpha: float, beta: float, steps: int, noise: float, seed: int):
    """Inputs that vary independently, and a trajectory with independent noise on each increment."""
    rng = np.random.default_rng(seed)
    E, R = rng.uniform(0, 2, steps), rng.uniform(0, 2, steps)
    clean = simulate(0, alpha, beta, E, R, steps=steps).I
    return clean + np.concatenate([[0], np.cumsum(rng.normal(0, noise, steps))]), E, R


# --------------------------------------------------------------------------- simulate

@pytest.mark.parametrize("I0, alpha, beta, E, R", [(0, 0.5, 0.3, 1, 2), (2.5, 1.2, 1.0, 0.3, 4), (1, 0, 0.5, 1, 1),
                                                   (0, 2.0, 0.0, 0.7, 0.1)])
def test_simulate_matches_the_closed_form_for_constant_inputs(I0, alpha, beta, E, R) -> None:
    trajectory = simulate(I0, alpha, beta, E, R, steps=40)
    np.testing.assert_allclose(trajectory.I, closed_form(I0, alpha, beta, E, R, np.arange(41)), rtol=1e-12)


def test_simulate_broadcasts_a_grid_and_agrees_with_single_runs() -> None:
    alphas, betas = np.linspace(0, 1, 7)[:, None], np.linspace(0, 1, 5)[None, :]
    grid = simulate(1.0, alphas, betas, lambda t: 1 + np.sin(t), 2.0, steps=30).final
    assert grid.shape == (7, 5)
    for i, j in [(3, 2), (6, 0), (1, 4)]:
        single = simulate(1.0, alphas[i, 0], betas[0, j], lambda t: 1 + np.sin(t), 2.0, steps=30).final
        assert grid[i, j] == pytest.approx(single, rel=1e-12)


def test_inputs_may_be_scalars_arrays_or_callables() -> None:
    E = np.arange(10.0)
    from_array = simulate(0, 0.5, 0.5, E, 1.0, steps=10)
    from_callable = simulate(0, 0.5, 0.5, lambda t: t.astype(float), 1.0, steps=10)
    np.testing.assert_array_equal(from_array.I, from_callable.I)
    # The increments are α(βE(t) + (1−β)R(t)) step by step.
    np.testing.assert_allclose(np.diff(from_array.I), 0.5 * (0.5 * E + 0.5 * 1.0))
    frame = from_array.to_frame()
    assert list(frame.columns) == ["t", "I", "E", "R"] and len(frame) == 11
    np.testing.assert_array_equal(frame["I"], from_array.I)


# --------------------------------------------------------------------------- fit

@pytest.mark.parametrize("true_alpha, true_beta, seed", [(0.5, 0.3, 0), (1.5, 0.8, 1), (0.2, 0.05, 2)])
def test_fit_recovers_alpha_and_beta_from_noisy_data(true_alpha, true_beta, seed) -> None:
    noisy, E, R = _noisy_run(true_alpha, true_beta, steps=300, noise=0.05, seed=seed)
    result = fit_series(noisy, E, R)
    assert result.identifiable and result.message == "ok"
    # Stated tolerance: within 4 standard errors, and the errors are small (< 0.03) at 300 steps.
    assert abs(result.alpha - true_alpha) < 4 * result.alpha_se and result.alpha_se < 0.03
    assert abs(result.beta - true_beta) < 4 * result.beta_se and result.beta_se < 0.03
    assert result.residual_std == pytest.approx(0.05, rel=0.2)
    np.testing.assert_allclose(result.predict(noisy[0], E, R)[-1], noisy[-1], rtol=0.05)


def test_fit_standard_errors_match_the_spread_over_repeated_experiments() -> None:
    fits = [fit_series(*_noisy_run(0.5, 0.3, steps=100, noise=0.1, seed=seed)) for seed in range(200)]
    betas = np.array([f.beta for f in fits])
    mean_se = np.mean([f.beta_se for f in fits])
    assert abs(betas.mean() - 0.3) < 3 * betas.std() / np.sqrt(len(betas))  # unbiased
    assert betas.std() == pytest.approx(mean_se, rel=0.25)  # the delta-method error is honest


def test_fit_is_exact_on_noise_free_data() -> None:
    rng = np.random.default_rng(3)
    E, R = rng.uniform(0, 1, 20), rng.uniform(0, 1, 20)
    result = fit_series(simulate(2.0, 0.8, 0.35, E, R, steps=20).I, E, R)
    assert result.alpha == pytest.approx(0.8, rel=1e-10) and result.beta == pytest.approx(0.35, rel=1e-10)
    assert result.residual_std < 1e-10


def test_fit_says_beta_is_not_identifiable_when_inputs_are_constant() -> None:
    trajectory = simulate(0, 0.5, 0.3, 1.0, 2.0, steps=50)
    result = fit_series(trajectory.I, 1.0, 2.0)
    assert not result.identifiable and np.isnan(result.beta) and np.isnan(result.alpha)
    assert "cannot be identified" in result.message
    # What the data do hold: α(β + (1−β)·k) with R = 2E, here 0.5·(0.3 + 0.7·2) = 0.85.
    assert "= 0.85 " in result.message


def test_fit_reports_proportional_inputs_even_when_they_vary() -> None:
    E = np.linspace(0.5, 2, 60)
    result = fit_series(simulate(0, 0.9, 0.6, E, 3 * E, steps=60).I, E, 3 * E)
    assert not result.identifiable and np.isnan(result.beta)
    assert f"= {0.9 * (0.6 + 0.4 * 3):.4g} " in result.message


def test_fit_still_gives_alpha_when_E_equals_R() -> None:
    E = np.linspace(1, 3, 40)
    result = fit_series(simulate(0, 0.7, 0.2, E, E, steps=40).I, E, E)
    assert not result.identifiable and np.isnan(result.beta)
    assert result.alpha == pytest.approx(0.7)


def test_fit_with_reflection_never_used_identifies_only_alpha_beta() -> None:
    E = np.linspace(1, 3, 40)
    result = fit_series(simulate(0, 0.7, 0.2, E, 0.0, steps=40).I, E, 0.0)
    assert not result.identifiable and np.isnan(result.alpha)
    assert f"αβ = {0.7 * 0.2:.4g}" in result.message


def test_fit_with_no_input_at_all_identifies_nothing() -> None:
    result = fit_series(np.zeros(10), 0.0, 0.0)
    assert not result.identifiable and np.isnan(result.alpha) and np.isnan(result.beta)
    assert "say nothing" in result.message


def test_fit_reports_a_beta_outside_the_unit_interval_without_clipping() -> None:
    rng = np.random.default_rng(1)
    E, R = rng.uniform(0, 2, 100), rng.uniform(0, 2, 100)
    increments = 0.5 * E - 0.2 * R  # reflection that hurts: no α ≥ 0, β in [0, 1] produce this
    result = fit_series(np.concatenate([[0], np.cumsum(increments)]), E, R)
    assert result.identifiable
    assert result.beta == pytest.approx(0.5 / 0.3) and "outside [0, 1]" in result.message
    assert "does not describe these data well" in result.message  # no noise: its error is nothing


def test_a_beta_just_outside_the_unit_interval_by_less_than_its_error_is_not_called_a_bad_fit() -> None:
    # All exploration (β = 1) seen through noise: the fit's β lands either side of 1, within its error.
    for seed in range(20):
        rng = np.random.default_rng(seed)
        E, R = rng.uniform(0, 2, 30), rng.uniform(0, 2, 30)
        result = fit_series(np.concatenate([[0], np.cumsum(0.5 * E + rng.normal(0, 0.3, 30))]), E, R)
        if result.beta > 1 and result.beta - 1 <= 2 * result.beta_se:
            break
    assert "by less than two standard errors" in result.message and "does not describe" not in result.message


# --------------------------------------------------------------------------- extensions and β*

def test_material_limited_closed_form_matches_the_simulation() -> None:
    rng = np.random.default_rng(4)
    betas = np.linspace(0, 1, 101)
    for _ in range(20):
        E, R, rho, steps = rng.uniform(0.1, 3), rng.uniform(0, 6), rng.uniform(0.001, 0.5), int(rng.integers(1, 120))
        simulated = simulate(1.0, 0.7, betas, E, R, steps, reflection_limit=rho).final
        np.testing.assert_allclose(material_limited_final(1.0, 0.7, betas, E, R, rho, steps), simulated, rtol=1e-12)


def test_material_limited_reflection_has_an_interior_optimum_matching_a_brute_force_grid() -> None:
    E, R, rho, steps = 1.0, 3.0, 0.05, 100
    found = optimal_beta(E, R, rho, steps)
    betas = np.linspace(0, 1, 101)
    brute = np.array([simulate(0, 1.0, b, E, R, steps, reflection_limit=rho).final for b in betas])
    best = betas[int(np.argmax(brute))]
    assert found.interior and 0.1 < found.numeric < 0.9
    assert abs(found.numeric - best) <= 0.01  # the brute-force grid spacing
    assert abs(found.closed_form - best) <= 0.01
    assert found.final_knowledge > 1.2 * max(brute[0], brute[-1])  # both extremes lose, and clearly
    assert found.reflect_only == 0.0 and found.explore_only == pytest.approx(E * steps)
    assert abs(found.approximation - found.closed_form) < 0.01  # the smooth formula is close


@pytest.mark.parametrize("seed", range(5))
def test_closed_form_beta_star_is_the_exact_optimum_of_the_discrete_model(seed) -> None:
    rng = np.random.default_rng(seed)
    E, R, rho, steps = rng.uniform(0.2, 2), rng.uniform(2, 6), rng.uniform(0.01, 0.3), int(rng.integers(5, 150))
    exact, _ = closed_form_optimal_beta(E, R, rho, steps)
    fine = np.linspace(0, 1, 20001)
    finals = simulate(0, 1.0, fine, E, R, steps, reflection_limit=rho).final
    at_exact = simulate(0, 1.0, exact, E, R, steps, reflection_limit=rho).final
    assert at_exact >= finals.max() - 1e-9 * finals.max()  # no grid point beats the closed form
    assert abs(fine[int(np.argmax(finals))] - exact) <= 1 / 20000 + 1e-12


@pytest.mark.parametrize("E, R, rho, steps", [(2.0, 1.0, 0.1, 50), (1.0, 1.0, 0.2, 30), (1.0, 1.04, 0.5, 20)])
def test_without_richer_reflection_all_exploration_is_best(E, R, rho, steps) -> None:
    assert R * (steps - 1) <= E * steps  # the stated condition for no interior optimum
    found = optimal_beta(E, R, rho, steps)
    assert closed_form_optimal_beta(E, R, rho, steps)[0] == 1.0
    assert found.numeric == 1.0 and not found.interior


def test_beta_star_for_time_varying_inputs_is_numeric_only() -> None:
    found = optimal_beta(lambda t: 1 + 0.5 * np.sin(t), 3.0, 0.05, 60)
    assert found.closed_form is None and found.interior


def test_saturation_and_forgetting_bend_the_line() -> None:
    saturated = simulate(0, 1.0, 0.5, 1.0, 1.0, steps=400, capacity=10.0)
    assert saturated.final == pytest.approx(10.0, abs=1e-3) and np.all(np.diff(saturated.I) >= 0)
    assert np.diff(saturated.I)[-1] < np.diff(saturated.I)[0]  # growth slows near the capacity
    forgetful = simulate(0, 1.0, 0.5, 1.0, 1.0, steps=400, forgetting=0.1)
    assert forgetful.final == pytest.approx(1.0 / 0.1, rel=1e-3)  # the steady state gain/δ


# --------------------------------------------------------------------------- validation

@pytest.mark.parametrize("kwargs, match", [
    ({"alpha": -0.1}, "alpha must be >= 0"),
    ({"alpha": np.array([0.5, -1.0])}, "alpha must be >= 0"),
    ({"beta": 1.5}, r"beta must be in \[0, 1\]"),
    ({"beta": -0.01}, r"beta must be in \[0, 1\]"),
    ({"beta": float("nan")}, r"beta must be finite numbers in \[0, 1\]"),
    ({"steps": 0}, "steps must be an integer >= 1"),
    ({"steps": 2.5}, "steps must be an integer >= 1"),
    ({"E": -1.0}, "E must be >= 0"),
    ({"R": np.array([1.0] * 9 + [-0.5])}, "R must be >= 0"),
    ({"R": float("nan")}, "R must be finite numbers >= 0"),
    ({"E": lambda t: np.full(len(t), np.nan)}, "E must be finite numbers >= 0"),
    ({"E": np.ones(5)}, "E must be a scalar, a callable of t or an array of length steps=10"),
    ({"R": np.ones((10, 2))}, "R must be a scalar, a callable of t or an array of length steps=10"),
    ({"I0": float("nan")}, "I0 must be finite numbers >= 0"),
    ({"I0": -1.0}, "I0 must be >= 0"),
    ({"capacity": 0}, r"capacity must be > 0"),
    ({"forgetting": 2}, r"forgetting must be in \[0, 1\]"),
    ({"reflection_limit": -1}, "reflection_limit must be >= 0"),
])
def test_simulate_validation_names_the_parameter_and_its_range(kwargs, match) -> None:
    arguments = {"I0": 0.0, "alpha": 0.5, "beta": 0.5, "E": 1.0, "R": 1.0, "steps": 10} | kwargs
    with pytest.raises(ValueError, match=match):
        simulate(**arguments)


def test_fit_validates_its_inputs() -> None:
    with pytest.raises(ValueError, match="I must be a 1-D trajectory of at least 4 values"):
        fit_series(np.array([1.0, 2.0, 3.0]), 1.0, 1.0)
    with pytest.raises(ValueError, match="I must be finite numbers"):
        fit_series(np.array([1.0, np.nan, 3.0, 4.0]), 1.0, 1.0)
    with pytest.raises(ValueError, match="E must be a scalar, a callable of t or an array of length steps=4"):
        fit_series(np.arange(5.0), np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="R must be >= 0"):
        fit_series(np.arange(5.0), np.ones(4), -np.ones(4))


@pytest.mark.parametrize("call, match", [
    (lambda: optimal_beta(1.0, 3.0, 0.0, 10), "rho must be > 0"),
    (lambda: optimal_beta(1.0, 3.0, 0.1, 0), "steps must be an integer >= 1"),
    (lambda: optimal_beta(1.0, 3.0, 0.1, 10, resolution=2), "resolution must be an integer >= 3"),
    (lambda: optimal_beta(1.0, 3.0, 0.1, 10, alpha=0.0), "alpha must be > 0"),
    (lambda: closed_form_optimal_beta(0.0, 3.0, 0.1, 10), "E must be > 0"),
    (lambda: closed_form_optimal_beta(1.0, -3.0, 0.1, 10), "R must be >= 0"),
    (lambda: material_limited_final(0.0, 1.0, 1.2, 1.0, 3.0, 0.1, 10), r"beta must be in \[0, 1\]"),
])
def test_beta_star_functions_validate_their_inputs(call, match) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_a_capacity_the_saturating_step_would_overshoot_is_refused_and_a_valid_one_stays_below_it() -> None:
    with pytest.raises(ValueError, match=r"capacity=1 needs I0 <= capacity .*step gain .* <= capacity \(largest "
                                         r"here 3\)"):
        simulate(0.1, 3, 0.5, 1, 1, 8, capacity=1)  # used to oscillate down to −229
    with pytest.raises(ValueError, match="largest I0 here 2"):
        simulate(2.0, 0.1, 0.5, 1, 1, 8, capacity=1)
    run = simulate(0.0, 0.9, 0.5, 1, 1, 200, capacity=1)
    assert np.all(np.diff(run.I) >= 0) and run.I.max() <= 1
