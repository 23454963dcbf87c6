"""The source essays' mathematics, run as printed (#41): essay 004 §4.2's MSE gradient beside the chain rule's,
and essay 000's growth model as lesson 01's loop figure describes it."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from curiolib import (GROWTH_STAGES, check_gradient, essay_mse_gradient, gradient_descent, mse_gradient, mse_loss,
                      simulate)

# Lesson 02's data (its cell after the imports, seed 0): y = 2x + 1 plus noise.
rng = np.random.default_rng(0)
x = rng.uniform(-2, 2, 60)
y = 2.0 * x + 1.0 + rng.normal(0, 0.3, 60)
BEST = np.linalg.lstsq(np.column_stack([x, np.ones_like(x)]), y, rcond=None)[0]  # θ* = [w, b] of least squares


def test_the_essays_gradient_is_its_formula_as_printed() -> None:
    # −2·(1/N)·Σ(x_i − y_i) for w and −(2/N)·Σ(x_i − y_i) for b: here Σ(x − y) = (1 − 3) + (2 − 5) = −5, N = 2.
    np.testing.assert_allclose(essay_mse_gradient(np.array([0.0, 0.0]), [1.0, 2.0], [3.0, 5.0]), [5.0, 5.0])


def test_the_essays_gradient_is_the_same_vector_at_every_theta_and_not_zero_at_the_minimum() -> None:
    points = [np.array([0.5, -0.5]), np.array([-1.0, 3.0]), np.array([10.0, -7.0]), BEST]
    gradients = np.array([essay_mse_gradient(point, x, y) for point in points])
    np.testing.assert_array_equal(gradients, np.broadcast_to(gradients[0], gradients.shape))
    assert np.linalg.norm(essay_mse_gradient(BEST, x, y)) > 1, "the essay's gradient vanishes at θ*"
    assert np.linalg.norm(mse_gradient(BEST, x, y)) < 1e-9, "θ* is not the minimum"


def test_the_essays_gradient_fails_the_numerical_check_and_the_chain_rules_passes() -> None:
    loss = lambda t: mse_loss(t, x, y)  # noqa: E731
    for point in (np.array([0.5, -0.5]), np.array([-1.0, 3.0])):
        assert check_gradient(loss, lambda t: essay_mse_gradient(t, x, y), point) > 0.5
        assert check_gradient(loss, lambda t: mse_gradient(t, x, y), point) < 1e-7


def test_the_chain_rules_mse_gradient_matches_autograd() -> None:
    for point in (np.array([0.5, -0.5]), np.array([-1.0, 3.0]), BEST):
        theta = torch.tensor(point, requires_grad=True)
        torch.mean((torch.tensor(y) - (theta[0] * torch.tensor(x) + theta[1])) ** 2).backward()
        np.testing.assert_allclose(mse_gradient(point, x, y), theta.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_descent_with_the_essays_gradient_walks_away_while_the_chain_rules_converges() -> None:
    loss = lambda t: mse_loss(t, x, y)  # noqa: E731
    true = gradient_descent(loss, lambda t: mse_gradient(t, x, y), [-1.0, 3.0], 0.1, 100)
    essay = gradient_descent(loss, lambda t: essay_mse_gradient(t, x, y), [-1.0, 3.0], 0.1, 100)
    np.testing.assert_allclose(true.thetas[-1], BEST, atol=0.05)
    assert essay.losses.min() >= essay.losses[0] and essay.losses[-1] > 50 * essay.losses[0]
    steps = np.diff(essay.thetas, axis=0)
    np.testing.assert_allclose(steps, np.broadcast_to(-0.1 * essay_mse_gradient(BEST, x, y), steps.shape))
    # Started at the minimum, it leaves it at once: the formula cannot tell descent where to stop.
    from_best = gradient_descent(loss, lambda t: essay_mse_gradient(t, x, y), BEST, 0.1, 1)
    assert from_best.losses[1] > from_best.losses[0]


@pytest.mark.parametrize("X", [np.ones((5, 2)), np.ones((5, 3))], ids=["2 features", "3 features"])
def test_the_essays_gradient_refuses_more_than_one_feature(X: np.ndarray) -> None:
    # With d > 1 features the printed ∂L/∂b = −(2/N)·Σ(x_i − y_i) is a vector, not a bias's gradient.
    with pytest.raises(ValueError, match="X must hold one feature"):
        essay_mse_gradient(np.zeros(X.shape[1] + 1), X, np.ones(5))


def test_the_loop_figure_grows_nothing_the_growth_model_keeps_constant() -> None:
    # α (essay 000 §4.2's 创新系数) is one number for a whole run of `simulate`: no stage of the loop may grow it.
    run = simulate(I0=0.0, alpha=0.5, beta=0.5, E=1.0, R=2.0, steps=10)
    assert np.allclose(np.diff(run.I), np.diff(run.I)[0]), "α or β changed during the run"
    meanings = dict(GROWTH_STAGES)
    assert list(meanings) == ["acquire", "practise", "reflect", "optimise"]
    assert "α" not in meanings["optimise"] and "β" in meanings["optimise"], meanings["optimise"]
