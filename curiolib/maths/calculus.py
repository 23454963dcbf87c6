"""The calculus of fine-tuning in plain numpy, every gradient checkable against central differences.

For the lesson only: the real training loop uses torch autograd. Parameters are one flat float64 vector
θ so that a single `check_gradient` works for every loss; for linear regression θ = [w₁ … w_d, b].
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._validation import check_int, check_number

Loss = Callable[[np.ndarray], float]
Gradient = Callable[[np.ndarray], np.ndarray]


def numerical_gradient(f: Loss, params: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences: ∂f/∂θᵢ ≈ (f(θ + εeᵢ) − f(θ − εeᵢ)) / 2ε, error O(ε²)."""
    eps = check_number("eps", eps, low=0, low_inclusive=False)
    params = np.array(params, dtype=np.float64)
    gradient = np.zeros_like(params)
    for index in np.ndindex(params.shape):
        original = params[index]
        params[index] = original + eps
        upper = f(params)
        params[index] = original - eps
        lower = f(params)
        params[index] = original
        gradient[index] = (upper - lower) / (2 * eps)
    return gradient


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """‖a − b‖ / (‖a‖ + ‖b‖): 0 when equal, 1 when opposite; scale-free, unlike an absolute difference."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"gradients must have the same shape, got {a.shape} and {b.shape}")
    denominator = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denominator == 0 else float(np.linalg.norm(a - b) / denominator)


def check_gradient(f: Loss, analytic_grad: Gradient, params: np.ndarray, eps: float = 1e-6) -> float:
    """Relative error between an analytic gradient and central differences at ``params`` (≲1e-7 when right)."""
    params = np.asarray(params, dtype=np.float64)
    return relative_error(analytic_grad(params), numerical_gradient(f, params, eps))


# Linear regression: ŷ = Xw + b, L = (1/N) Σ (yᵢ − ŷᵢ)².

def _split(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    X = np.atleast_2d(np.asarray(X, dtype=np.float64).T).T  # a 1-D x becomes one column
    y = np.asarray(y, dtype=np.float64)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have the same number of rows, got {X.shape[0]} and {y.shape[0]}")
    if np.shape(theta) != (X.shape[1] + 1,):
        raise ValueError(f"theta must hold {X.shape[1]} weights and a bias ({X.shape[1] + 1} values), "
                         f"got shape {np.shape(theta)}")
    return np.asarray(theta[:-1]), float(theta[-1]), X


def mse_loss(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error of the linear model θ = [w, b] on (X, y)."""
    w, b, X = _split(theta, X, y)
    return float(np.mean((y - (X @ w + b)) ** 2))


def mse_gradient(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∂L/∂w = −(2/N) Σ (yᵢ − ŷᵢ) xᵢ and ∂L/∂b = −(2/N) Σ (yᵢ − ŷᵢ)."""
    w, b, X = _split(theta, X, y)
    residual = y - (X @ w + b)
    n = len(y)
    return np.append(-(2 / n) * X.T @ residual, -(2 / n) * residual.sum())


def essay_mse_gradient(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Essay 004 §4.2's MSE gradient as printed: −(2/N) Σ (xᵢ − yᵢ) for w and b, no ŷᵢ, θ unused. Do not use."""
    w, _, X = _split(theta, X, y)
    if len(w) != 1:  # with d features the printed ∂L/∂b is a vector of d, not a bias's gradient
        raise ValueError(f"X must hold one feature for the essay's formula (its ∂L/∂b is a number only then), "
                         f"got {len(w)}")
    n = len(y)
    total = float(np.sum(X[:, 0] - y))
    return np.array([-2 * (1 / n) * total, -(2 / n) * total])


def mse_smoothness(X: np.ndarray) -> float:
    """L, the largest eigenvalue of the MSE Hessian (2/N)·AᵀA with A = [X, 1]: gradient descent needs lr < 2/L."""
    X = np.atleast_2d(np.asarray(X, dtype=np.float64).T).T
    design = np.column_stack([X, np.ones(len(X))])
    return float(np.linalg.eigvalsh(2 / len(X) * design.T @ design).max())


# Classification losses on logits z, mean over the N examples.

def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1/(1 + e^(−z)), computed without overflow for large |z|."""
    z = np.asarray(z, dtype=np.float64)
    return np.exp(-np.logaddexp(0, -z))


def binary_cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    """−(1/N) Σ [yᵢ log σ(zᵢ) + (1 − yᵢ) log(1 − σ(zᵢ))], written with log-sum-exp so it never hits log 0."""
    z, y = np.asarray(logits, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.mean(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)))


def binary_cross_entropy_gradient(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∂L/∂zᵢ = (σ(zᵢ) − yᵢ)/N: prediction minus target."""
    z, y = np.asarray(logits, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return (sigmoid(z) - y) / len(z)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so exp never overflows."""
    z = np.asarray(logits, dtype=np.float64)
    shifted = np.exp(z - z.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.min() < 0 or labels.max() >= classes:
        raise ValueError(f"labels must be class indices in [0, {classes - 1}], got {labels!r}")
    return np.eye(classes)[labels]


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """−(1/N) Σ log softmax(zᵢ)[yᵢ], via log-sum-exp (what torch's CrossEntropyLoss computes)."""
    z = np.asarray(logits, dtype=np.float64)
    log_probs = z - z.max(axis=1, keepdims=True)
    log_probs = log_probs - np.log(np.exp(log_probs).sum(axis=1, keepdims=True))
    return float(-(log_probs * _one_hot(labels, z.shape[1])).sum() / len(z))


def softmax_cross_entropy_gradient(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """∂L/∂z = (softmax(z) − onehot(y))/N: again prediction minus target."""
    z = np.asarray(logits, dtype=np.float64)
    return (softmax(z) - _one_hot(labels, z.shape[1])) / len(z)


@dataclass(frozen=True)
class DescentPath:
    """Every parameter vector and loss gradient descent visited; ``diverged`` if the loss blew up."""

    thetas: np.ndarray
    losses: np.ndarray
    diverged: bool


def gradient_descent(loss: Loss, gradient: Gradient, theta0: np.ndarray, learning_rate: float,
                     steps: int) -> DescentPath:
    """θ ← θ − lr·∇L(θ) for ``steps`` steps, recording the path; stops once the loss has blown up.

    "Blown up" means not finite or a million times the starting loss: past that it only grows.
    """
    learning_rate = check_number("learning_rate", learning_rate, low=0, low_inclusive=False)
    steps = check_int("steps", steps, low=1)
    theta = np.array(theta0, dtype=np.float64)
    thetas, losses = [theta.copy()], [loss(theta)]
    blow_up = 1e6 * max(losses[0], 1e-12)
    diverged = False
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            theta = theta - learning_rate * gradient(theta)
            value = loss(theta)
            if not np.isfinite(value) or value > blow_up:
                diverged = True
                break
            thetas.append(theta.copy())
            losses.append(value)
    return DescentPath(thetas=np.array(thetas), losses=np.array(losses), diverged=diverged)
