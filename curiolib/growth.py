"""The knowledge-growth model I(t+1) = I(t) + α·(β·E(t) + (1−β)·R(t)): simulate it, fit it, extend it.

Symbols: I knowledge, α ≥ 0 the innovation coefficient (how well input turns into knowledge), β ∈ [0, 1]
the share of effort spent exploring, E(t) exploration input (new data seen, papers read), R(t) reflection
input (reviewing, error analysis). Every parameter may be a numpy array: they broadcast, so one call
simulates a whole α–β grid.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._validation import check_int, check_number

Input = float | np.ndarray | Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Trajectory:
    """A simulated run: knowledge I at t = 0..steps (last axis) and the inputs E, R at t = 0..steps−1."""

    t: np.ndarray
    I: np.ndarray  # noqa: E741 - the model's own symbol
    E: np.ndarray
    R: np.ndarray

    @property
    def final(self) -> np.ndarray | float:
        """I(T), the knowledge at the horizon (an array when the parameters were arrays)."""
        final = self.I[..., -1]
        return float(final) if np.ndim(final) == 0 else final

    def to_frame(self) -> pd.DataFrame:
        """One row per time step (t, I, E, R), for a run with scalar parameters."""
        if self.I.ndim != 1:
            raise ValueError(f"to_frame needs scalar parameters; this run has I of shape {self.I.shape}")
        return pd.DataFrame({"t": self.t, "I": self.I, "E": np.append(self.E, np.nan),
                             "R": np.append(self.R, np.nan)})


def _nonnegative_array(name: str, value: np.ndarray | float) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if np.isnan(array).any() or np.isinf(array).any():
        raise ValueError(f"{name} must be finite numbers >= 0 (got NaN or inf)")
    if (array < 0).any():
        raise ValueError(f"{name} must be >= 0, got a minimum of {array.min():g}")
    return array


def _input_series(name: str, value: Input, steps: int) -> np.ndarray:
    """E or R as an array of length ``steps``: from a scalar, an array, or a callable of t."""
    if callable(value):
        value = value(np.arange(steps))
    series = _nonnegative_array(name, value)
    if series.ndim == 0:
        return np.full(steps, float(series))
    if series.shape != (steps,):
        raise ValueError(f"{name} must be a scalar, a callable of t or an array of length steps={steps}, "
                         f"got shape {series.shape}")
    return series


def simulate(I0: float | np.ndarray, alpha: float | np.ndarray, beta: float | np.ndarray, E: Input, R: Input,
             steps: int, *, capacity: float | None = None, forgetting: float = 0.0,
             reflection_limit: float | None = None) -> Trajectory:
    """Run the growth model for ``steps`` steps; I0, alpha and beta broadcast against each other.

    The linear model is ``I(t+1) = I(t) + α·(β·E(t) + (1−β)·R(t))``. Three honest extensions, each off
    by default and combinable:

    - saturation (``capacity=K``): logistic growth, ``gain·(1 − I(t)/K)``; learning slows near K.
    - forgetting (``forgetting=δ``): ``I(t+1) = (1−δ)·I(t) + gain``; a steady state at gain/δ.
    - reflection needs material (``reflection_limit=ρ``): reflection can only work on what was explored,
      ``r(t) = min((1−β)·R(t), ρ·Σ_{s<t} β·E(s))``, so all-reflection (β = 0) learns nothing and an
      interior β* can beat both extremes (see `optimal_beta`).
    """
    steps = check_int("steps", steps, low=1)
    I0 = _finite_array("I0", I0)
    alpha = _nonnegative_array("alpha", alpha)
    beta = np.asarray(beta, dtype=float)
    if np.isnan(beta).any() or (beta < 0).any() or (beta > 1).any():
        raise ValueError(f"beta must be in [0, 1], got values from {np.nanmin(beta):g} to {np.nanmax(beta):g}"
                         if not np.isnan(beta).all() else "beta must be in [0, 1], got NaN")
    exploration = _input_series("E", E, steps)
    reflection = _input_series("R", R, steps)
    if capacity is not None:
        capacity = check_number("capacity", capacity, low=0, low_inclusive=False)
    forgetting = check_number("forgetting", forgetting, low=0, high=1)
    if reflection_limit is not None:
        reflection_limit = check_number("reflection_limit", reflection_limit, low=0)

    shape = np.broadcast_shapes(I0.shape, alpha.shape, beta.shape)
    I = np.empty(shape + (steps + 1,))  # noqa: E741
    I[..., 0] = I0
    explored = np.zeros(np.broadcast_shapes(beta.shape))
    for t in range(steps):
        reflected = (1 - beta) * reflection[t]
        if reflection_limit is not None:
            reflected = np.minimum(reflected, reflection_limit * explored)
        gain = alpha * (beta * exploration[t] + reflected)
        if capacity is not None:
            gain = gain * (1 - I[..., t] / capacity)
        I[..., t + 1] = (1 - forgetting) * I[..., t] + gain
        explored = explored + beta * exploration[t]
    return Trajectory(t=np.arange(steps + 1), I=I, E=exploration, R=reflection)


def _finite_array(name: str, value: float | np.ndarray) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return array


def closed_form(I0: float, alpha: float, beta: float, E: float, R: float, t: np.ndarray | int) -> np.ndarray:
    """I(t) = I0 + t·α·(βE + (1−β)R), the exact solution of the linear model with constant inputs."""
    return I0 + np.asarray(t) * alpha * (beta * E + (1 - beta) * R)


@dataclass(frozen=True)
class GrowthFit:
    """α and β recovered from a trajectory, their standard errors, and whether the data can tell β at all."""

    alpha: float
    beta: float
    alpha_se: float
    beta_se: float
    a: float  # αβ, the weight of exploration
    b: float  # α(1−β), the weight of reflection
    residual_std: float
    r_squared: float
    identifiable: bool
    message: str


def fit(I: np.ndarray, E: Input, R: Input, *, max_condition: float = 1e6) -> GrowthFit:  # noqa: E741
    """Least squares on ΔI(t) = a·E(t) + b·R(t), then α = a + b and β = a/(a + b) (delta-method errors).

    When E and R are (nearly) proportional, as when both are constant, only one combination of a and b
    is in the data: the result says β is not identifiable and leaves β (and α, unless E = R) as NaN.
    """
    I = _finite_array("I", I)  # noqa: E741
    if I.ndim != 1 or len(I) < 3:
        raise ValueError(f"I must be a 1-D trajectory of at least 3 values, got shape {I.shape}")
    steps = len(I) - 1
    exploration = _input_series("E", E, steps)
    reflection = _input_series("R", R, steps)
    increments = np.diff(I)
    design = np.column_stack([exploration, reflection])
    scale = np.linalg.norm(design, axis=0)
    if (scale == 0).any():
        zero = "E" if scale[0] == 0 else "R"
        return _not_identifiable(increments, design, f"{zero} is zero throughout: its weight is not in the data")
    condition = np.linalg.cond(design / scale)
    if condition > max_condition:
        return _not_identifiable(increments, design, "E and R are (nearly) proportional, e.g. both constant: "
                                 "only α·(βE + (1−β)R) is seen, so β cannot be identified. Vary E and R "
                                 "independently to identify it.")
    (a, b), *_ = np.linalg.lstsq(design, increments, rcond=None)
    residuals = increments - design @ np.array([a, b])
    dof = max(steps - 2, 1)
    sigma2 = residuals @ residuals / dof
    covariance = sigma2 * np.linalg.inv(design.T @ design)
    alpha = a + b
    alpha_se = float(np.sqrt(covariance[0, 0] + covariance[1, 1] + 2 * covariance[0, 1]))
    if alpha == 0:
        return GrowthFit(0.0, np.nan, alpha_se, np.nan, a, b, float(np.sqrt(sigma2)), _r2(increments, residuals),
                         False, "α = 0: no growth, so there is no share β to identify")
    gradient = np.array([b, -a]) / alpha**2  # ∂β/∂a, ∂β/∂b
    beta = a / alpha
    message = "ok"
    if not 0 <= beta <= 1 or alpha < 0:
        message = (f"the best fit has a = {a:.3g}, b = {b:.3g}: β = {beta:.3g} lies outside [0, 1], "
                   "so the linear model does not describe these data well")
    return GrowthFit(alpha=float(alpha), beta=float(beta), alpha_se=alpha_se,
                     beta_se=float(np.sqrt(gradient @ covariance @ gradient)), a=float(a), b=float(b),
                     residual_std=float(np.sqrt(sigma2)), r_squared=_r2(increments, residuals),
                     identifiable=True, message=message)


def _r2(increments: np.ndarray, residuals: np.ndarray) -> float:
    total = ((increments - increments.mean()) ** 2).sum()
    return float(1 - (residuals @ residuals) / total) if total > 0 else float("nan")


def _not_identifiable(increments: np.ndarray, design: np.ndarray, reason: str) -> GrowthFit:
    # With E = R every step, ΔI = α·E exactly, whatever β: α is still identified.
    equal_inputs = np.allclose(design[:, 0], design[:, 1])
    alpha = alpha_se = np.nan
    residual_std = np.nan
    if equal_inputs and design[:, 0].any():
        x = design[:, 0]
        alpha = float(x @ increments / (x @ x))
        residuals = increments - alpha * x
        residual_std = float(np.sqrt(residuals @ residuals / max(len(x) - 1, 1)))
        alpha_se = residual_std / float(np.sqrt(x @ x))
        reason += f" (E = R, so α = {alpha:.3g} ± {alpha_se:.2g} is still identified)"
    return GrowthFit(alpha=alpha, beta=np.nan, alpha_se=alpha_se, beta_se=np.nan, a=np.nan, b=np.nan,
                     residual_std=residual_std, r_squared=np.nan, identifiable=False, message=reason)


@dataclass(frozen=True)
class OptimalBeta:
    """The share of exploration that maximises I(T) under material-limited reflection."""

    numeric: float
    closed_form: float | None
    final_knowledge: float


def closed_form_optimal_beta(E: float, R: float, rho: float, steps: int) -> float | None:
    """β* = 1/√(1 + 2ρET(R−E)/R²) for constant E < R (continuous-time approximation); None when R ≤ E.

    With r(t) = min((1−β)R, ρβE·t), I(T) − I0 ≈ α[βET + (1−β)RT − (1−β)²R²/(2ρβE)] once the limit
    stops binding; setting the derivative in β to zero gives the formula. With R ≤ E reflection is never
    worth more than exploring, so β* = 1 and there is no interior optimum.
    """
    E = check_number("E", E, low=0, low_inclusive=False)
    R = check_number("R", R, low=0)
    rho = check_number("rho", rho, low=0, low_inclusive=False)
    steps = check_int("steps", steps, low=1)
    if R <= E:
        return None
    return float(1 / np.sqrt(1 + 2 * rho * E * steps * (R - E) / R**2))


def optimal_beta(E: float, R: float, rho: float, steps: int, *, alpha: float = 1.0, I0: float = 0.0,
                 resolution: int = 2001) -> OptimalBeta:
    """β* found by simulating every β on a fine grid (exact for the discrete model), with the closed form."""
    resolution = check_int("resolution", resolution, low=3)
    betas = np.linspace(0, 1, resolution)
    finals = simulate(I0, alpha, betas, E, R, steps, reflection_limit=rho).final
    best = int(np.argmax(finals))
    return OptimalBeta(numeric=float(betas[best]), closed_form=closed_form_optimal_beta(E, R, rho, steps),
                       final_knowledge=float(finals[best]))
