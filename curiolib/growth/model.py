"""The knowledge-growth model I(t+1) = I(t) + α·(β·E(t) + (1−β)·R(t)): simulate it, fit it, extend it.

Symbols: I knowledge, α ≥ 0 the innovation coefficient (how well input turns into knowledge), β ∈ [0, 1]
the share of effort spent exploring, E(t) exploration input (new data seen, papers read), R(t) reflection
input (reviewing, error analysis). I0, α and β may be numpy arrays: they broadcast, so one call simulates
a whole α–β grid.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._validation import check_int, check_number

#: An input series: a constant, an array with one value per step, or a function of the step numbers t.
Input = float | np.ndarray | Callable[[np.ndarray], np.ndarray]


# --------------------------------------------------------------------------- validation

def _array_in_range(name: str, value: float | np.ndarray, low: float | None = None,
                    high: float | None = None) -> np.ndarray:
    """``value`` as a finite float array, or ValueError naming ``name`` and its range [low, high]."""
    allowed = (f" in [{low:g}, {high:g}]" if low is not None and high is not None
               else f" >= {low:g}" if low is not None else "")
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or an array of numbers{allowed}, got {value!r}") from None
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite numbers{allowed} (got NaN or inf)")
    if array.size and ((low is not None and array.min() < low) or (high is not None and array.max() > high)):
        raise ValueError(f"{name} must be{allowed}, got values from {array.min():g} to {array.max():g}")
    return array


def _describe(array: np.ndarray) -> str:
    return f"length {len(array)}" if array.ndim == 1 else f"shape {array.shape}"


def _check_broadcast(**arrays: np.ndarray) -> tuple[int, ...]:
    """The shape the named arrays broadcast to, or ValueError naming the first two that do not fit each other."""
    names = list(arrays)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            try:
                np.broadcast_shapes(arrays[first].shape, arrays[second].shape)
            except ValueError:
                raise ValueError(f"{first} ({_describe(arrays[first])}) and {second} ({_describe(arrays[second])}) "
                                 "do not broadcast against each other: give them the same length, or one of them "
                                 f"a new axis for a grid ({first}[:, None])") from None
    # Pairwise fit on every axis means all of them fit together.
    return np.broadcast_shapes(*(array.shape for array in arrays.values()))


def _span(value: np.ndarray | float) -> str:
    """A parameter's value for a message: the number, or the range of an array."""
    array = np.asarray(value, dtype=float)
    if not array.size:
        return "[]"
    low, high = array.min(), array.max()
    return f"{low:g}" if low == high else f"{low:g}..{high:g}"


def _overflow_error(what: str, **parameters) -> ValueError:
    """The error for a result beyond float64's range, naming every parameter and its values."""
    named = ", ".join(f"{name}={_span(value)}" for name, value in parameters.items() if value is not None)
    return ValueError(f"{what} (float64 holds magnitudes from about 2.2e-308 to 1.8e308) with {named}: rescale "
                      "the units, or lower the largest values")


def _input_series(name: str, value: Input, steps: int) -> np.ndarray:
    """E or R as an array of length ``steps``: from a scalar, an array, or a callable of t."""
    if callable(value):
        value = value(np.arange(steps))
    series = _array_in_range(name, value, low=0)
    if series.ndim == 0:
        return np.full(steps, float(series))
    if series.shape != (steps,):
        raise ValueError(f"{name} must be a scalar, a callable of t or an array of length steps={steps}, "
                         f"got shape {series.shape}")
    return series


# --------------------------------------------------------------------------- simulation

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
        """One row per time step (t, I, E, R), for a run with scalar parameters; E, R are NaN at t = T."""
        if self.I.ndim != 1:
            raise ValueError(f"to_frame needs scalar parameters; this run has I of shape {self.I.shape}")
        return pd.DataFrame({"t": self.t, "I": self.I, "E": np.append(self.E, np.nan),
                             "R": np.append(self.R, np.nan)})


def simulate(I0: float | np.ndarray, alpha: float | np.ndarray, beta: float | np.ndarray, E: Input, R: Input,
             steps: int, *, capacity: float | None = None, forgetting: float = 0.0,
             reflection_limit: float | None = None) -> Trajectory:
    """Run the growth model for ``steps`` steps; I0, alpha and beta broadcast against each other.

    The linear model is ``I(t+1) = I(t) + g(t)`` with ``g(t) = α·(β·E(t) + (1−β)·R(t))``. Three honest
    extensions, each off by default and combinable:

    - saturation (``capacity=K``): saturating growth toward K, ``I(t+1) = I(t) + g(t)·(1 − I(t)/K)``; learning slows
      near the capacity K.
    - forgetting (``forgetting=δ``): ``I(t+1) = (1−δ)·I(t) + g(t)``; with constant g, a steady state g/δ.
    - reflection needs material (``reflection_limit=ρ``): reflection can only work on what was explored,
      ``g(t) = α·(β·E(t) + min((1−β)·R(t), ρ·Σ_{s<t} β·E(s)))``, so all-reflection (β = 0) learns nothing
      and an interior β* can beat both extremes (see `optimal_beta`).
    """
    steps = check_int("steps", steps, low=1)
    I0 = _array_in_range("I0", I0, low=0)
    alpha = _array_in_range("alpha", alpha, low=0)
    beta = _array_in_range("beta", beta, low=0, high=1)
    exploration = _input_series("E", E, steps)
    reflection = _input_series("R", R, steps)
    if capacity is not None:
        capacity = check_number("capacity", capacity, low=0, low_inclusive=False)
    forgetting = check_number("forgetting", forgetting, low=0, high=1)
    if reflection_limit is not None:
        reflection_limit = check_number("reflection_limit", reflection_limit, low=0)

    shape = _check_broadcast(I0=I0, alpha=alpha, beta=beta)
    if capacity is not None:
        # With x = I/K the step is x' = 1 − (1 − x)(1 − g/K): it stays in [0, K] when I0 ≤ K and g ≤ K, and
        # overshoots K, oscillates or diverges otherwise (g > 2K), which is the discrete map, not learning.
        with np.errstate(over="ignore"):  # an infinite gain is refused just below, as any gain above capacity
            largest_gain = float(np.max(alpha * (beta * exploration.max() + (1 - beta) * reflection.max())))
        if np.max(I0) > capacity or largest_gain > capacity:
            raise ValueError(f"capacity={capacity:g} needs I0 <= capacity (largest I0 here {np.max(I0):g}) and a "
                             f"step gain α·(β·E + (1−β)·R) <= capacity (largest here {largest_gain:g}); otherwise "
                             "the saturating step overshoots the capacity: lower alpha, E or R, or raise capacity")
    I = np.empty(shape + (steps + 1,))  # noqa: E741
    I[..., 0] = I0
    explored = np.zeros(beta.shape)  # Σ_{s<t} β·E(s): the material reflection can work on
    # numpy would only warn and carry inf or NaN on; the check after the loop names the step and the parameters.
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            reflected = (1 - beta) * reflection[t]
            if reflection_limit is not None:
                reflected = np.minimum(reflected, reflection_limit * explored)
            gain = alpha * (beta * exploration[t] + reflected)
            if capacity is not None:
                gain = gain * (1 - I[..., t] / capacity)
            I[..., t + 1] = (1 - forgetting) * I[..., t] + gain
            explored = explored + beta * exploration[t]
    finite = np.isfinite(I.reshape(-1, steps + 1)).all(axis=0)
    if not finite.all():
        step = int(np.argmin(finite))
        raise _overflow_error(f"the trajectory overflowed at step t={step}", I0=I0, alpha=alpha, beta=beta,
                              E=exploration, R=reflection, reflection_limit=reflection_limit)
    return Trajectory(t=np.arange(steps + 1), I=I, E=exploration, R=reflection)


def closed_form(I0: float, alpha: float, beta: float, E: float, R: float, t: np.ndarray | int) -> np.ndarray:
    """I(t) = I0 + t·α·(βE + (1−β)R), the exact solution of the linear model with constant inputs."""
    arrays = {"I0": _array_in_range("I0", I0, low=0), "alpha": _array_in_range("alpha", alpha, low=0),
              "beta": _array_in_range("beta", beta, low=0, high=1), "E": _array_in_range("E", E, low=0),
              "R": _array_in_range("R", R, low=0), "t": _array_in_range("t", t, low=0)}
    _check_broadcast(**arrays)
    I0, alpha, beta, E, R, t = arrays.values()
    with np.errstate(over="ignore", invalid="ignore"):
        result = I0 + t * alpha * (beta * E + (1 - beta) * R)
    if not np.isfinite(result).all():
        raise _overflow_error("closed_form's I(t) overflowed", **arrays)
    return result


# --------------------------------------------------------------------------- fitting

@dataclass(frozen=True)
class SeriesFit:
    """α and β recovered from one I, E, R series, their standard errors, and whether the data can tell β at all.

    What `fit_series` (a simulated or measured trajectory, lesson 01) and `fit_active_learning_run` (lesson 05)
    return; lesson 07's effort experiment is fitted by `fit_effort_experiment` instead (an `EffortFit`).
    """

    alpha: float
    beta: float
    alpha_se: float
    beta_se: float
    a: float  # αβ, the weight of exploration
    b: float  # α(1−β), the weight of reflection
    residual_std: float  # spread of ΔI around a·E + b·R
    r_squared: float
    identifiable: bool
    message: str

    def predict(self, I0: float, E: np.ndarray, R: np.ndarray) -> np.ndarray:
        """The trajectory the fitted weights draw: I0 + Σ (a·E + b·R); NaN where they are not identified."""
        I0 = check_number("I0", I0)
        E, R = _array_in_range("E", E, low=0), _array_in_range("R", R, low=0)
        _check_broadcast(E=E, R=R)
        if E.ndim > 1 or R.ndim > 1:
            raise ValueError(f"E and R must be scalars or 1-D series, one value per step; got E of shape {E.shape} "
                             f"and R of shape {R.shape}")
        with np.errstate(over="ignore", invalid="ignore"):
            increments = self.a * E + self.b * R
            predicted = np.concatenate([[I0], I0 + np.cumsum(increments)])
        if np.isfinite([self.a, self.b]).all() and not np.isfinite(predicted).all():
            raise _overflow_error("the predicted trajectory overflowed", I0=I0, E=E, R=R, a=self.a, b=self.b)
        return predicted


def fit_series(I: np.ndarray, E: Input, R: Input, *, max_condition: float = 1e6) -> SeriesFit:  # noqa: E741
    """Least squares on ΔI(t) = a·E(t) + b·R(t), then α = a + b and β = a/(a + b) (delta-method errors).

    The errors assume independent noise on each increment ΔI. A fitted b < 0 (or a < 0) gives β outside
    [0, 1]: it is reported in ``message``, not clipped. When E and R are (nearly) proportional, as when both
    are constant, only one combination of a and b is in the data: the result says β is not identifiable,
    leaves β NaN, and its message gives the combination that *is* identified (α itself when E = R).
    """
    I = _array_in_range("I", I)  # noqa: E741
    if I.ndim != 1 or len(I) < 4:
        raise ValueError(f"I must be a 1-D trajectory of at least 4 values (3 steps), got shape {I.shape}")
    steps = len(I) - 1
    exploration = _input_series("E", E, steps)
    reflection = _input_series("R", R, steps)
    with np.errstate(all="ignore"):
        increments = np.diff(I)
        # Least squares and its errors square these sums: beyond float64 (or underflowing to 0 while the
        # values are not 0) they give inf or NaN estimates instead of an answer.
        squares = [increments @ increments, exploration @ exploration, reflection @ reflection]
    lost = [name for name, values, square in zip(("ΔI", "E", "R"), (increments, exploration, reflection), squares)
            if not np.isfinite(square) or (square == 0 and values.any())]
    if lost:
        raise _overflow_error(f"fit_series overflowed squaring {' and '.join(lost)}", I=I, E=exploration,
                              R=reflection)
    with np.errstate(all="ignore"):
        result = _least_squares(increments, exploration, reflection, max_condition)
    # NaN is the honest answer where E and R are zero throughout (nothing to estimate); elsewhere it is an overflow.
    estimates = ([result.a, result.b, result.alpha, result.alpha_se, result.beta, result.beta_se, result.residual_std]
                 if result.identifiable else [result.residual_std])
    if (exploration.any() or reflection.any()) and not np.isfinite(estimates).all():
        raise _overflow_error("fit_series overflowed", I=I, E=exploration, R=reflection)
    return result


def _least_squares(increments: np.ndarray, exploration: np.ndarray, reflection: np.ndarray,
                   max_condition: float) -> SeriesFit:
    steps = len(increments)
    design = np.column_stack([exploration, reflection])
    scale = np.linalg.norm(design, axis=0)
    if (scale == 0).any() or np.linalg.cond(design / scale) > max_condition:
        return _not_identifiable(increments, exploration, reflection)

    (a, b), *_ = np.linalg.lstsq(design, increments, rcond=None)
    residuals = increments - design @ np.array([a, b])
    sigma2 = residuals @ residuals / (steps - 2)
    covariance = sigma2 * np.linalg.inv(design.T @ design)
    alpha = a + b
    alpha_se = float(np.sqrt(covariance[0, 0] + covariance[1, 1] + 2 * covariance[0, 1]))
    common = dict(a=float(a), b=float(b), residual_std=float(np.sqrt(sigma2)),
                  r_squared=_r_squared(increments, residuals))
    if alpha == 0:
        return SeriesFit(alpha=0.0, beta=np.nan, alpha_se=alpha_se, beta_se=np.nan, identifiable=False,
                         message="α = 0: no growth, so there is no share β to identify", **common)
    gradient = np.array([b, -a]) / alpha**2  # ∂β/∂a, ∂β/∂b
    beta = a / alpha
    beta_se = float(np.sqrt(gradient @ covariance @ gradient))
    message = "ok"
    if not 0 <= beta <= 1 or alpha < 0:
        fitted = f"the best fit has a = αβ = {a:.3g}, b = α(1−β) = {b:.3g}: β = {beta:.3g} lies outside [0, 1]"
        # A β just outside [0, 1] by less than its own error is what noise does to a β near 0 or 1.
        if alpha > 0 and np.isfinite(beta_se) and max(-beta, beta - 1) <= 2 * beta_se:
            message = (f"{fitted} by less than two standard errors ({beta_se:.2g} each): these data cannot tell it "
                       "from a β inside, nor say whether b = α(1−β) differs from 0")
        else:
            message = f"{fitted} (or α < 0), so the fitted model does not describe these data well"
    return SeriesFit(alpha=float(alpha), beta=float(beta), alpha_se=alpha_se, beta_se=beta_se, identifiable=True,
                     message=message, **common)


def _r_squared(increments: np.ndarray, residuals: np.ndarray) -> float:
    total = ((increments - increments.mean()) ** 2).sum()
    return float(1 - (residuals @ residuals) / total) if total > 0 else float("nan")


def _not_identifiable(increments: np.ndarray, E: np.ndarray, R: np.ndarray) -> SeriesFit:
    """The fit when E and R carry one direction only: estimate the one combination the data hold."""
    nothing = dict(a=np.nan, b=np.nan, r_squared=np.nan, identifiable=False, beta=np.nan, beta_se=np.nan)
    if not E.any() and not R.any():
        return SeriesFit(alpha=np.nan, alpha_se=np.nan, residual_std=np.nan, **nothing,
                         message="E and R are zero throughout: the data say nothing about α or β")
    # ΔI = c·x along the one input direction x; c is what the data identify.
    if not R.any():
        x, k, why, combination = E, np.nan, "R is zero throughout", "αβ"
    elif not E.any():
        x, k, why, combination = R, np.nan, "E is zero throughout", "α(1−β)"
    else:
        x, k = E, float(E @ R / (E @ E))  # R ≈ k·E, so ΔI ≈ α(β + (1−β)k)·E
        why = f"E and R are (nearly) proportional (R ≈ {k:.3g}·E; constant inputs are the usual case)"
        combination = f"α·(β + (1−β)·{k:.3g})"
    c = float(x @ increments / (x @ x))
    residuals = increments - c * x
    residual_std = float(np.sqrt(residuals @ residuals / (len(x) - 1)))
    c_se = residual_std / float(np.sqrt(x @ x))
    alpha = alpha_se = np.nan
    if np.isclose(k, 1.0):  # E = R: every unit of effort is worth α whatever β, so α is identified
        alpha, alpha_se = c, c_se
    message = (f"β cannot be identified: {why}, so the data only show {combination} = {c:.4g} ± {c_se:.2g}. "
               "Vary E and R independently to identify β.")
    return SeriesFit(alpha=alpha, alpha_se=alpha_se, residual_std=residual_std, message=message, **nothing)


# --------------------------------------------------------------------------- the optimal share β*

@dataclass(frozen=True)
class OptimalBeta:
    """The model's share of exploration that maximises I(T) under material-limited reflection (`optimal_beta`).

    The share measured in lesson 07's effort experiment is `ExperimentOptimalBeta`.
    """

    numeric: float  # argmax of I(T) over a fine β grid, by simulation
    closed_form: float | None  # exact β* of the discrete model (constant inputs only)
    approximation: float | None  # the smooth formula (1 + 2ρE(R(T−½) − ET)/R²)^(−1/2)
    interior: bool  # True when 0 < β* < 1: both all-exploration and all-reflection lose
    final_knowledge: float  # I(T) at the numeric β*
    explore_only: float  # I(T) at β = 1
    reflect_only: float  # I(T) at β = 0


def material_limited_final(I0: float, alpha: float, beta: float | np.ndarray, E: float, R: float, rho: float,
                           steps: int) -> np.ndarray | float:
    """Exact I(T) with reflection limited by material, for constant E and R (vectorised over β).

    Reflection at step t is min(c, d·t) with c = (1−β)R and d = ρβE; it is d·t for the first
    m = min(T, ⌈c/d⌉) steps and c after, so I(T) = I0 + α·(βET + d·m(m−1)/2 + c·(T−m)).
    """
    steps = check_int("steps", steps, low=1)
    I0, alpha = check_number("I0", I0, low=0), check_number("alpha", alpha, low=0)
    E, R = check_number("E", E, low=0), check_number("R", R, low=0)
    rho = check_number("rho", rho, low=0)
    beta = _array_in_range("beta", beta, low=0, high=1)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        c, d = (1 - beta) * R, rho * beta * E
        m = np.where(d > 0, np.minimum(steps, np.ceil(c / np.where(d > 0, d, 1))), steps)
        result = I0 + alpha * (beta * E * steps + d * m * (m - 1) / 2 + c * (steps - m))
    if not np.isfinite(result).all():
        raise _overflow_error("material_limited_final's I(T) overflowed", I0=I0, alpha=alpha, beta=beta, E=E, R=R,
                              rho=rho, steps=steps)
    return float(result) if np.ndim(result) == 0 else result


def closed_form_optimal_beta(E: float, R: float, rho: float, steps: int) -> tuple[float, float]:
    """Exact β* of the discrete material-limited model with constant E, R, and its smooth approximation.

    I(T) is piecewise linear in β with kinks at β_n = R/(R + nρE), the share at which the limit stops
    binding at step n; so β* is a β_n. At β_n, I(T) − I0 = α·β_n·E·(T + ρn(T − (n+1)/2)). Setting the
    derivative in n to zero gives ρE·n² + 2R·n − 2(R(T−½) − ET) = 0, so

        n* = (√(R² + 2ρE(R(T−½) − ET)) − R) / (ρE),
        β* ≈ R/(R + ρE·n*) = (1 + 2ρE(R(T−½) − ET)/R²)^(−1/2)   (the smooth formula),

    and the exact β* is β_n at ⌊n*⌋ or ⌈n*⌉ (the objective, a concave quadratic over a positive linear
    function of n, is unimodal). β* is interior exactly when
    R(T−1) > ET, i.e. reflection is worth more than exploring; otherwise β* = 1. Returns (exact, smooth).
    """
    E = check_number("E", E, low=0, low_inclusive=False)
    R = check_number("R", R, low=0)
    rho = check_number("rho", rho, low=0, low_inclusive=False)
    steps = check_int("steps", steps, low=1)
    E, R, rho = np.float64(E), np.float64(R), np.float64(rho)  # inf past float64's range, never OverflowError
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        drive = R * (steps - 0.5) - E * steps  # > 0 when reflecting beats exploring over the horizon
        if drive <= 0:
            return 1.0, 1.0
        n_star = (np.sqrt(R**2 + 2 * rho * E * drive) - R) / (rho * E)
        smooth = float(1 / np.sqrt(1 + 2 * rho * E * drive / R**2))
        candidates = np.unique(np.clip([0, np.floor(n_star), np.ceil(n_star)], 0, steps))
        betas = R / (R + candidates * rho * E)
        gains = betas * E * (steps + rho * candidates * (steps - (candidates + 1) / 2))
    if not np.isfinite([drive, n_star, smooth, *betas, *gains]).all():
        raise _overflow_error("closed_form_optimal_beta overflowed", E=E, R=R, rho=rho, steps=steps)
    return float(betas[int(np.argmax(gains))]), smooth


def optimal_beta(E: Input, R: Input, rho: float, steps: int, *, alpha: float = 1.0, I0: float = 0.0,
                 resolution: int = 2001) -> OptimalBeta:
    """β* found by simulating every β on a fine grid, with the closed form when E and R are constant."""
    resolution = check_int("resolution", resolution, low=3)
    alpha = check_number("alpha", alpha, low=0, low_inclusive=False)  # α = 0 makes every β equal
    rho = check_number("rho", rho, low=0, low_inclusive=False)
    betas = np.linspace(0, 1, resolution)
    finals = simulate(I0, alpha, betas, E, R, steps, reflection_limit=rho).final
    best = int(np.argmax(finals))
    exact = smooth = None
    if not callable(E) and not callable(R) and np.ndim(E) == 0 and np.ndim(R) == 0 and float(E) > 0:
        exact, smooth = closed_form_optimal_beta(float(E), float(R), rho, steps)
    return OptimalBeta(numeric=float(betas[best]), closed_form=exact, approximation=smooth,
                       interior=bool(finals[best] > max(finals[0], finals[-1])),
                       final_knowledge=float(finals[best]), explore_only=float(finals[-1]),
                       reflect_only=float(finals[0]))
