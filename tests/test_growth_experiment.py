"""Lesson 07's experiment: the effort budget split, the learner's design, and the two curve models' fits."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import curve_fit, least_squares

from curiolib.growth.effort_fit import (least_squares_errors, experiment_optimal_beta, fit_effort_experiment,
                                        fit_power_law, growth_gain, heldout_comparison, power_law_gain)
from curiolib.growth.experiment import effort_schedule, run_effort_experiment, run_effort_split

BETAS = (0.1, 0.25, 0.5, 0.75, 1.0)


def _curves(gain_of, *, budget=40, cost=2, rounds=20, seeds=(0, 1, 2), noise=0.002) -> pd.DataFrame:
    """Learning curves of the design's shape, their gains drawn from ``gain_of(new, reread, labelled)``."""
    rows = []
    for beta in BETAS:
        new, reread = effort_schedule(beta, budget, cost, rounds)
        labelled = np.concatenate([[0], np.cumsum(new)])
        gain = gain_of(new, reread, labelled)
        for seed in seeds:
            rng = np.random.default_rng([seed, int(100 * beta)])
            noisy = gain + np.concatenate([[0], rng.normal(0, noise, rounds)])
            rows += [{"beta": beta, "seed": seed, "round": t, "new": int(new[t - 1]) if t else 0,
                      "reread": int(reread[t - 1]) if t else 0, "labelled": int(labelled[t]),
                      "log_likelihood": np.log(0.5) + noisy[t], "accuracy": 0.5} for t in range(rounds + 1)]
    return pd.DataFrame(rows)


def test_each_round_buys_beta_b_over_c_new_examples_and_rereads_the_rest_of_the_budget() -> None:
    new, reread = effort_schedule(0.5, 40, 2, 6)
    assert new.tolist() == [10] * 6 and reread.tolist() == [20] * 6
    # βB/c = 0.75·10/3 = 2.5 is not whole: the fraction carries over, and the running totals stay exact.
    new, reread = effort_schedule(0.75, 10, 3, 7)
    assert np.cumsum(new).tolist() == [int(np.floor(t * 2.5)) for t in range(1, 8)]
    assert reread.tolist() == [2, 3] * 3 + [2]  # (1−β)B = 2.5 per round, alternating
    assert effort_schedule(1.0, 40, 1, 3)[1].tolist() == [0, 0, 0]
    for kwargs, name in (({"beta": 1.5}, "beta"), ({"cost": 0}, "cost"), ({"budget": -1}, "budget"),
                         ({"rounds": 0}, "rounds")):
        with pytest.raises(ValueError, match=name):
            effort_schedule(**({"beta": 0.5, "budget": 40, "cost": 2, "rounds": 5} | kwargs))


def test_the_learner_rereads_only_what_it_has_explored_and_spends_the_budget_as_designed() -> None:
    rng = np.random.default_rng(0)
    pool, labels = rng.normal(size=(300, 8)), rng.integers(0, 2, 300)
    held, held_labels = rng.normal(size=(50, 8)), rng.integers(0, 2, 50)
    run = run_effort_split(pool, labels, held, held_labels, beta=0.25, budget=20, cost=2, rounds=8, seed=3,
                           log_rereads=True)
    new, reread = effort_schedule(0.25, 20, 2, 8)
    assert run["new"].tolist()[1:] == new.tolist() and run["reread"].tolist()[1:] == reread.tolist()
    explored: set[int] = set()
    for _, row in run.iloc[1:].iterrows():
        assert len(set(row["bought_ids"]) & explored) == 0  # a label is bought once
        explored |= set(row["bought_ids"])
        assert set(row["reread_ids"]) <= explored  # re-reads come only from explored examples
    assert run["log_likelihood"].iloc[0] == pytest.approx(np.log(0.5))  # every run starts from one point
    # Nothing explored yet: re-reads have nothing to work on and the learner does not move.
    idle = run_effort_split(pool, labels, held, held_labels, beta=0.0, budget=20, cost=2, rounds=3)
    assert idle["reread"].sum() == 0 and idle["log_likelihood"].nunique() == 1
    with pytest.raises(ValueError, match="pool holds"):
        run_effort_split(pool, labels, held, held_labels, beta=1.0, budget=100, cost=1, rounds=5)
    with pytest.raises(ValueError, match="betas and seeds"):
        run_effort_experiment(pool, labels, held, held_labels, betas=[], seeds=[0], budget=20, cost=2, rounds=2)


def test_reflection_teaches_a_real_learner_something_on_separable_data() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 400)
    features = rng.normal(size=(400, 5)) + 1.5 * labels[:, None]
    curves = run_effort_experiment(features[:300], labels[:300], features[300:], labels[300:], betas=[0.2, 1.0],
                                   seeds=[0], budget=20, cost=4, rounds=6)
    final = curves[curves["round"] == 6].set_index("beta")["log_likelihood"]
    start = curves["log_likelihood"].iloc[0]
    assert final[0.2] > start and final[1.0] > start


def test_the_growth_fit_recovers_its_parameters_and_predicts_held_out_betas_better_than_a_power_law() -> None:
    truth = [0.004, 0.001, 0.4, 2.0]  # e, r, K, ρ
    curves = _curves(lambda new, reread, labelled: growth_gain(truth, new, reread))
    fitted = fit_effort_experiment(curves)
    assert np.allclose(list(fitted.params.values()), truth, rtol=0.1)
    assert all(se > 0 for se in fitted.standard_errors.values())
    table = heldout_comparison(curves, [0.1, 0.5, 1.0], [0.25, 0.75])
    assert (table["growth heldout_rmse"] < table["power law heldout_rmse"]).all()
    best = experiment_optimal_beta(curves, fitted, budget=40, cost=2, rounds=20)
    assert best.model == pytest.approx(1.0) and best.measured == pytest.approx(1.0)  # new labels pay here


def test_a_parameter_the_curves_cannot_pin_down_has_no_standard_error_rather_than_zero() -> None:
    truth = [0.004, 0.001, 0.4, 500.0]  # ρ so large that the reflection limit never binds
    fitted = fit_effort_experiment(_curves(lambda new, reread, labelled: growth_gain(truth, new, reread)))
    assert np.isnan(fitted.standard_errors["reflection_limit"])
    assert all(np.isfinite(fitted.standard_errors[name]) for name in ("per_new_example", "per_reread", "capacity"))


def test_standard_errors_are_the_least_squares_covariance_and_nan_for_a_parameter_without_effect() -> None:
    # A straight line y = a + b·x: the covariance of least squares is s²·(XᵀX)⁻¹, s² = Σresidual² / (n − 2).
    x = np.linspace(0, 1, 30)
    y = 1.0 + 2.0 * x + np.random.default_rng(0).normal(0, 0.1, 30)
    design = np.column_stack([np.ones_like(x), x])
    line = least_squares(lambda p: design @ p - y, [0.0, 0.0], jac=lambda p: design)
    s2 = np.sum(line.fun ** 2) / (30 - 2)
    analytic = np.sqrt(np.diag(s2 * np.linalg.inv(design.T @ design)))
    errors = least_squares_errors(line, ("a", "b"), 30)
    assert [errors["a"], errors["b"]] == pytest.approx(analytic, rel=1e-9)
    _, pcov = curve_fit(lambda x, a, b: a + b * x, x, y)  # scipy's own covariance of the same fit
    assert [errors["a"], errors["b"]] == pytest.approx(np.sqrt(np.diag(pcov)), rel=1e-6)
    # A third parameter the residuals ignore: its Jacobian column is 0 and any value fits as well. curve_fit
    # reports 0 for it (its pseudo-inverse drops that direction); the fit says NaN, and counts it in the degrees
    # of freedom.
    padded = least_squares(lambda p: design @ p[:2] - y, [0.0, 0.0, 5.0],
                           jac=lambda p: np.column_stack([design, np.zeros_like(x)]))
    errors = least_squares_errors(padded, ("a", "b", "unused"), 30)
    assert np.isnan(errors["unused"])
    assert [errors["a"], errors["b"]] == pytest.approx(analytic * np.sqrt(28 / 27), rel=1e-9)
    # A line through two points fits exactly, which says nothing about the noise: no standard errors, not 0.
    through_two = least_squares(lambda p: design[[0, -1]] @ p - y[[0, -1]], [0.0, 0.0], jac=lambda p: design[[0, -1]])
    assert all(np.isnan(list(least_squares_errors(through_two, ("a", "b"), 2).values())))


def test_a_direction_the_data_barely_pin_down_gets_its_large_standard_error_not_a_truncated_small_one() -> None:
    # Two nearly equal columns (1e-9 apart): only their sum is well measured. Inverting JᵀJ squares the condition
    # number (1e18, past float precision) and loses that direction, reporting both as precise; curve_fit's SVD of J
    # keeps it. The covariance s²·(XᵀX)⁻¹ = s²·R⁻¹R⁻ᵀ from X = QR is accurate to about 1e-7 here.
    rng = np.random.default_rng(1)
    x = np.linspace(0, 1, 40)
    design = np.column_stack([np.ones_like(x), x, x + 1e-9 * rng.normal(size=40)])
    y = design @ [1.0, 1.0, 1.0] + rng.normal(0, 0.1, 40)
    fit = least_squares(lambda p: design @ p - y, [0.0, 0.0, 0.0], jac=lambda p: design)
    r_inverse = np.linalg.inv(np.linalg.qr(design, mode="r"))
    analytic = np.sqrt(np.diag(r_inverse @ r_inverse.T) * np.sum(fit.fun ** 2) / (40 - 3))
    errors = least_squares_errors(fit, ("a", "b", "c"), 40)
    assert [errors["a"], errors["b"], errors["c"]] == pytest.approx(analytic, rel=1e-3)
    assert errors["b"] > 1e6  # the data cannot tell b from c (inverting JᵀJ says 0.02)


def test_on_curves_that_follow_a_power_law_in_labels_the_power_law_wins() -> None:
    truth = [0.3, 0.5]
    curves = _curves(lambda new, reread, labelled: power_law_gain(truth, labelled))
    assert np.allclose(list(fit_power_law(curves).params.values()), truth, rtol=0.05)
    table = heldout_comparison(curves, [0.1, 0.5, 1.0], [0.25, 0.75])
    assert (table["power law heldout_rmse"] < table["growth heldout_rmse"]).all()


def test_an_interior_beta_star_is_found_when_rereading_is_cheap_and_limited_by_material() -> None:
    truth = [0.004, 0.002, 0.6, 0.5]  # a label costs 8 re-reads, and re-reads need material
    curves = _curves(lambda new, reread, labelled: growth_gain(truth, new, reread), cost=8, noise=0.0005)
    best = experiment_optimal_beta(curves, fit_effort_experiment(curves), budget=40, cost=8, rounds=20)
    assert best.model_interior and 0 < best.model < 1
    with pytest.raises(ValueError, match="growth-model fit"):
        experiment_optimal_beta(curves, fit_power_law(curves), budget=40, cost=8, rounds=20)


def test_held_out_betas_must_be_disjoint_from_the_fitted_ones_and_present() -> None:
    curves = _curves(lambda new, reread, labelled: 0.001 * labelled)
    with pytest.raises(ValueError, match="disjoint"):
        heldout_comparison(curves, [0.1, 0.5], [0.5])
    with pytest.raises(ValueError, match="no runs with beta"):
        heldout_comparison(curves, [0.1, 0.5], [0.3])
    with pytest.raises(ValueError, match="scale"):
        fit_effort_experiment(curves, scale="logit")
