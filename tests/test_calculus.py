"""Every gradient of the lesson against central differences and autograd; descent and its stability bound."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from curiolib.maths.calculus import (binary_cross_entropy, binary_cross_entropy_gradient, check_gradient,
                                     essay_mse_gradient, gradient_descent, mse_gradient, mse_loss, mse_smoothness,
                                     numerical_gradient, softmax_cross_entropy, softmax_cross_entropy_gradient)
from curiolib.maths.optimisers import (check_gradient_accumulation, clipping_effect, linear_warmup_schedule,
                                       optimizer_paths, overfitting_run)

rng = np.random.default_rng(0)
X = rng.normal(size=(40, 3))
y = X @ np.array([1.5, -2.0, 0.5]) + 0.7 + rng.normal(0, 0.1, 40)
THETA = rng.normal(size=4)


def test_numerical_gradient_of_a_known_function() -> None:
    point = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(numerical_gradient(lambda p: np.sum(p**3), point), 3 * point**2, rtol=1e-8)


def test_mse_gradient_matches_central_differences() -> None:
    assert check_gradient(lambda t: mse_loss(t, X, y), lambda t: mse_gradient(t, X, y), THETA) < 1e-6


def test_the_essays_gradient_is_caught() -> None:
    # Essay 004 §4.2's formula is written for one feature x (tests/test_essay_maths.py has the rest of it).
    x, theta = X[:, 0], THETA[[0, -1]]
    error = check_gradient(lambda t: mse_loss(t, x, y), lambda t: essay_mse_gradient(t, x, y), theta)
    assert error > 0.1


CROSS_ENTROPIES = {
    "binary": (binary_cross_entropy, binary_cross_entropy_gradient,
               lambda z, y: torch.nn.functional.binary_cross_entropy_with_logits(z, torch.tensor(y)),
               rng.normal(size=30) * 3, rng.integers(0, 2, 30).astype(float)),
    "softmax": (softmax_cross_entropy, softmax_cross_entropy_gradient,
                lambda z, y: torch.nn.functional.cross_entropy(z, torch.tensor(y)),
                rng.normal(size=(25, 4)) * 2, rng.integers(0, 4, 25)),
}


@pytest.mark.parametrize("name", CROSS_ENTROPIES)
def test_cross_entropy_gradient_matches_numerics_and_autograd(name: str) -> None:
    loss, gradient, torch_loss, logits, labels = CROSS_ENTROPIES[name]
    assert check_gradient(lambda z: loss(z, labels), lambda z: gradient(z, labels), logits) < 1e-6
    z = torch.tensor(logits, requires_grad=True)
    reference = torch_loss(z, labels)
    reference.backward()
    assert reference.item() == pytest.approx(loss(logits, labels), rel=1e-12)
    np.testing.assert_allclose(z.grad.numpy(), gradient(logits, labels), rtol=1e-10)


def test_losses_stay_finite_for_huge_logits() -> None:
    assert np.isfinite(softmax_cross_entropy(np.array([[1000.0, -1000.0]]), np.array([1])))
    assert binary_cross_entropy(np.array([-800.0]), np.array([1.0])) == pytest.approx(800.0)


def test_gradient_accumulation_equals_the_big_batch() -> None:
    check = check_gradient_accumulation(micro_batches=4)
    assert check.max_difference < 1e-12 and check.sizes == [16] * 4
    assert check.ratio_without_scaling == pytest.approx(4.0)  # forgetting 1/k multiplies the gradient by k
    # Micro-batches of unequal size (a token-level loss over padded batches): loss / k is no longer exact.
    unequal = check_gradient_accumulation(micro_batches=4, equal=False)
    assert unequal.sizes == [6, 13, 19, 26] and unequal.max_difference > 1e-3


def test_descent_converges_below_and_diverges_above_two_over_l() -> None:
    smoothness = mse_smoothness(X)
    loss, grad = (lambda t: mse_loss(t, X, y)), (lambda t: mse_gradient(t, X, y))
    good = gradient_descent(loss, grad, np.zeros(4), learning_rate=0.9 * 2 / smoothness, steps=500)
    assert not good.diverged and good.losses[-1] < 0.02  # the noise floor is 0.01
    bad = gradient_descent(loss, grad, np.zeros(4), learning_rate=1.1 * 2 / smoothness, steps=500)
    assert bad.diverged or bad.losses[-1] > bad.losses[0]


def test_quadratic_stability_bound_is_exactly_two_over_l() -> None:
    curvature = 4.0  # f(w) = ½·L·w², gradient L·w: w ← (1 − lr·L)·w
    loss, grad = (lambda w: 0.5 * curvature * float(w @ w)), (lambda w: curvature * w)
    assert not gradient_descent(loss, grad, np.array([1.0]), 0.99 * 2 / curvature, 2000).diverged
    assert gradient_descent(loss, grad, np.array([1.0]), 1.01 * 2 / curvature, 5000).diverged


def test_training_loop_pieces_behave_as_the_lesson_says() -> None:
    paths = optimizer_paths(steps=150)
    assert np.linalg.norm(paths["AdamW"][-1] - [1, -1]) < 0.1
    assert list(paths) == ["SGD, lr 0.035", "SGD, best lr 0.0392", "Adam + L2", "AdamW"]
    # Decoupled decay is not L2 through Adam: the same λ ends at another point.
    assert np.linalg.norm(paths["AdamW"][-1] - paths["Adam + L2"][-1]) > 1e-3
    assert optimizer_paths(steps=150, weight_decay=0.0)["AdamW"][-1] == pytest.approx(
        optimizer_paths(steps=150, weight_decay=0.0)["Adam + L2"][-1])
    rates = linear_warmup_schedule(100, 0.1, learning_rate=1.0)
    assert rates[0] == 0 and rates[10] == pytest.approx(1.0) and rates[-1] == pytest.approx(1 / 90)  # (100−99)/(100−10)
    before, after = clipping_effect(max_norm=1.0)
    assert before > 10 and after == pytest.approx(1.0)
    run = overfitting_run(epochs=300)
    assert run.train_losses[-1] < run.train_losses[run.best_epoch] < run.train_losses[0]
    assert run.validation_losses[-1] > run.validation_losses[run.best_epoch]


@pytest.mark.parametrize("call, match", [
    (lambda: numerical_gradient(np.sum, np.ones(2), eps=0), "eps must be > 0"),
    (lambda: gradient_descent(np.sum, np.sign, np.ones(2), learning_rate=-1, steps=3), "learning_rate must be > 0"),
    (lambda: gradient_descent(np.sum, np.sign, np.ones(2), learning_rate=0.1, steps=0),
     "steps must be an integer >= 1"),
    (lambda: mse_loss(np.ones(3), X, y), r"theta must hold 3 weights and a bias \(4 values\)"),
    (lambda: mse_loss(THETA, X, y[:5]), "X and y must have the same number of rows"),
    (lambda: linear_warmup_schedule(10, 1.5), r"warmup_ratio must be in \[0, 1\]"),
])
def test_bad_arguments_name_the_parameter(call, match) -> None:
    with pytest.raises(ValueError, match=match):
        call()
