"""Fitting lesson 07's learning curves: the growth model in effort units against a power law in labels.

The growth model, with E(t) new examples and R(t) re-reads per round (β is known: it is the design) and
G(t) = I(t) − I(0) the knowledge gained:

    G(t+1) = G(t) + (1 − G(t)/K) · (e·E(t) + r·min(R(t), ρ·N(t)))

e and r are what one new example and one re-read are worth (α·e and α·r of the plain model), K the capacity
(saturating growth), and ρ limits reflection to the material explored so far, N(t) examples (re-reading a
handful of examples again and again teaches little). The fit is nonlinear least squares with every
parameter bounded (`scipy.optimize.least_squares`), so e, r, K, ρ stay non-negative.

The peer is a standard learning-curve model that knows only the number of labels seen, n:
G(n) = A·(1 − (n + 1)^(−γ)). The growth model earns its place only where it predicts better.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from .._validation import check_choice
from .experiment import EXPERIMENT_SCALES, effort_schedule

GROWTH_PARAMETERS = ("per_new_example", "per_reread", "capacity", "reflection_limit")
POWER_LAW_PARAMETERS = ("ceiling", "exponent")


def growth_gain(params: np.ndarray | list[float], new: np.ndarray, reread: np.ndarray) -> np.ndarray:
    """G(0..T) of the effort growth model for one run's new examples and re-reads per round."""
    per_new, per_reread, capacity, limit = (float(p) for p in params)
    gain, explored, out = 0.0, 0.0, [0.0]
    for bought, rereads in zip(new, reread):
        explored += bought  # new examples come first in a round, so its re-reads may use them
        step = per_new * bought + per_reread * min(rereads, limit * explored)
        gain += (1 - gain / capacity) * step
        out.append(gain)
    return np.array(out)


def power_law_gain(params: np.ndarray | list[float], labelled: np.ndarray) -> np.ndarray:
    """G(n) = A·(1 − (n + 1)^(−γ)): a learning curve in the number of labels seen alone."""
    ceiling, exponent = (float(p) for p in params)
    return ceiling * (1 - (np.asarray(labelled, dtype=float) + 1) ** (-exponent))


@dataclass(frozen=True)
class EffortFit:
    """A learning-curve model fitted to lesson 07's effort experiment: its parameters, their errors, its RMSE.

    What `fit_effort_experiment` (the growth model in effort units) and `fit_power_law` (its peer) return; a fit
    to one I, E, R series is a `SeriesFit`.
    """

    model: str  # "growth" or "power law"
    params: dict[str, float]
    standard_errors: dict[str, float]
    rmse: float
    points: int

    def predict(self, run: pd.DataFrame) -> np.ndarray:
        """The predicted gain G for each row of one run (its rounds in order, round 0 first)."""
        run = run.sort_values("round")
        values = list(self.params.values())
        if self.model == "growth":
            return growth_gain(values, run["new"].to_numpy()[1:], run["reread"].to_numpy()[1:])
        return power_law_gain(values, run["labelled"].to_numpy())


def with_gain(curves: pd.DataFrame, scale: str = "log_likelihood") -> pd.DataFrame:
    """``curves`` with a ``gain`` column: knowledge on ``scale`` minus the run's own round-0 value."""
    check_choice("scale", scale, EXPERIMENT_SCALES)
    missing = {"beta", "seed", "round", "new", "reread", "labelled", scale} - set(curves.columns)
    if missing:
        raise ValueError(f"curves lack the columns {sorted(missing)} (use run_effort_experiment's table)")
    curves = curves.sort_values(["beta", "seed", "round"]).copy()
    start = curves.groupby(["beta", "seed"])[scale].transform("first")
    return curves.assign(gain=curves[scale] - start)


def _runs(curves: pd.DataFrame):
    return [run for _, run in curves.groupby(["beta", "seed"], sort=True)]


def least_squares_errors(result, names: tuple[str, ...], points: int) -> dict[str, float]:
    """Standard errors from scipy's covariance of a least-squares fit (curve_fit's); NaN where it is undefined.

    curve_fit's covariance is s²·(JᵀJ)⁺ at the optimum, s² = Σresidual² / (points − parameters), the pseudo-inverse
    taken from the SVD of J without the singular values below eps·max(J.shape)·s₀ (inverting JᵀJ instead squares
    J's condition number and can drop a direction the data barely pin down, reporting it as precise). scipy
    computes it only inside curve_fit, which would replace the several starts of bounded `least_squares` here and
    raises on a start that does not converge, so it is computed the same way from the best start's result
    (tests/test_growth_experiment.py holds it to curve_fit's). NaN where curve_fit says 0: a parameter whose column
    of the Jacobian is zero (e.g. a limit that never binds) has no effect on the fit near the estimate, so any value
    nearby fits as well, and its standard error is undefined, not zero. NaN for all where curve_fit says inf: no
    points beyond the parameters to estimate the noise from.
    """
    errors = dict.fromkeys(names, float("nan"))
    dof = points - len(names)
    columns = np.linalg.norm(result.jac, axis=0)
    free = columns > 1e-8 * max(float(columns.max()), 1e-300)
    if dof <= 0 or not free.any():
        return errors
    _, singular, vt = np.linalg.svd(result.jac[:, free], full_matrices=False)
    keep = singular > np.finfo(float).eps * max(result.jac.shape) * singular[0]
    cov = (vt[keep].T / singular[keep] ** 2) @ vt[keep] * (2 * result.cost / dof)
    for name, variance in zip([name for name, pinned in zip(names, free) if pinned], np.diag(cov)):
        errors[name] = float(np.sqrt(max(variance, 0.0)))
    return errors


def fit_effort_experiment(curves: pd.DataFrame, scale: str = "log_likelihood") -> EffortFit:
    """Fit e, r, K, ρ by bounded least squares to every round of every run in ``curves``."""
    curves = with_gain(curves, scale)
    runs = _runs(curves)
    observed = np.concatenate([run["gain"].to_numpy()[1:] for run in runs])
    top = max(float(np.abs(observed).max()), 1e-6)
    schedules = [(run["new"].to_numpy()[1:], run["reread"].to_numpy()[1:]) for run in runs]

    def residuals(params: np.ndarray) -> np.ndarray:
        return np.concatenate([growth_gain(params, new, reread)[1:] for new, reread in schedules]) - observed

    most_new = max(float(new.sum()) for new, _ in schedules) or 1.0
    most_reread = max(float(reread.sum()) for _, reread in schedules) or 1.0
    lower = [0.0, 0.0, top * 1.01, 0.0]
    upper = [np.inf, np.inf, top * 1e3, 1e3]
    best = None
    # A few starts: ρ and K make the surface non-convex, and one start can stop in a poor valley.
    for limit in (0.1, 1.0, 10.0):
        for capacity in (top * 1.5, top * 10):
            start = [top / most_new, top / most_reread, capacity, limit]
            result = least_squares(residuals, start, bounds=(lower, upper), x_scale="jac")
            if best is None or result.cost < best.cost:
                best = result
    rmse = float(np.sqrt(2 * best.cost / len(observed)))
    return EffortFit("growth", dict(zip(GROWTH_PARAMETERS, map(float, best.x))),
                     least_squares_errors(best, GROWTH_PARAMETERS, len(observed)), rmse, len(observed))


def fit_power_law(curves: pd.DataFrame, scale: str = "log_likelihood") -> EffortFit:
    """Fit A and γ of the power law in labels seen to every round of every run in ``curves``."""
    curves = with_gain(curves, scale)
    rows = curves[curves["round"] > 0]
    labelled, observed = rows["labelled"].to_numpy(float), rows["gain"].to_numpy()
    top = max(float(np.abs(observed).max()), 1e-6)
    best = None
    for exponent in (0.1, 0.5, 2.0):
        result = least_squares(lambda p: power_law_gain(p, labelled) - observed, [top * 1.2, exponent],
                               bounds=([0.0, 1e-4], [top * 1e3, 10.0]), x_scale="jac")
        if best is None or result.cost < best.cost:
            best = result
    rmse = float(np.sqrt(2 * best.cost / len(observed)))
    return EffortFit("power law", dict(zip(POWER_LAW_PARAMETERS, map(float, best.x))),
                     least_squares_errors(best, POWER_LAW_PARAMETERS, len(observed)), rmse, len(observed))


def check_heldout_split(fit_betas: list[float], heldout_betas: list[float], present) -> None:
    """Refuse a held-out design whose β lists overlap, are empty, or name β with no runs among ``present``."""
    if set(fit_betas) & set(heldout_betas) or not fit_betas or not heldout_betas:
        raise ValueError(f"fit_betas and heldout_betas must be non-empty and disjoint, got {fit_betas} and "
                         f"{heldout_betas}")
    absent = (set(fit_betas) | set(heldout_betas)) - set(present)
    if absent:
        raise ValueError(f"no runs with beta in {sorted(absent)}; the curves hold {sorted(set(present))}")


def heldout_comparison(curves: pd.DataFrame, fit_betas: list[float], heldout_betas: list[float], *,
                       scale: str = "log_likelihood") -> pd.DataFrame:
    """Per seed: fit both models on ``fit_betas``' runs, then the RMSE of each on the ``heldout_betas``' curves.

    One row per seed, so the two models' errors can be compared pairwise, with their spread over seeds.
    """
    curves = with_gain(curves, scale)
    check_heldout_split(fit_betas, heldout_betas, curves["beta"])
    rows = []
    for seed, runs in curves.groupby("seed"):
        fitted = {fit.model: fit for fit in (fit_effort_experiment(runs[runs["beta"].isin(fit_betas)], scale),
                                             fit_power_law(runs[runs["beta"].isin(fit_betas)], scale))}
        held = _runs(runs[runs["beta"].isin(heldout_betas)])
        row = {"seed": seed}
        for name, fit in fitted.items():
            errors = np.concatenate([fit.predict(run)[1:] - run["gain"].to_numpy()[1:] for run in held])
            row[f"{name} heldout_rmse"] = float(np.sqrt(np.mean(errors ** 2)))
        rows.append(row)
    table = pd.DataFrame(rows).set_index("seed")
    return table.assign(difference=table["growth heldout_rmse"] - table["power law heldout_rmse"])


def seed_interval(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student's t interval of per-seed values: (mean, low, high); NaN bounds for a single seed."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or not len(values):
        raise ValueError(f"values must be a non-empty 1-D list of per-seed numbers, got shape {values.shape}")
    mean = float(values.mean())
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    # A handful of seeds: t, not 1.96, or the interval is too narrow.
    half = float(stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


@dataclass(frozen=True)
class ExperimentOptimalBeta:
    """The share of exploration that maximises the final knowledge in lesson 07's effort experiment.

    Measured on the runs, and as their fit (`fit_effort_experiment`) predicts; the plain model's own optimum,
    under material-limited reflection, is `OptimalBeta` (`optimal_beta`).
    """

    measured: float
    measured_interior: bool  # the best measured β beats both ends of the range tried
    model: float
    model_interior: bool
    best_tried: float  # the β tried with the highest mean final knowledge, and the runner-up
    next_tried: float
    lead: tuple[float, float, float]  # best minus next, paired by seed: mean and 95 % interval (`seed_interval`)

    @property
    def best_is_ahead(self) -> bool:
        """Whether the best β tried beats the next beyond the seeds' spread (the interval excludes 0)."""
        return bool(self.lead[1] > 0)


def experiment_optimal_beta(curves: pd.DataFrame, fitted: EffortFit, *, budget: float, cost: float, rounds: int,
                            scale: str = "log_likelihood", resolution: int = 201) -> ExperimentOptimalBeta:
    """β* from the runs (mean final gain over seeds, parabolic interpolation at the best β) and from the model."""
    if fitted.model != "growth":
        raise ValueError("experiment_optimal_beta needs a growth-model fit (a power law in labels has no β)")
    curves = with_gain(curves, scale)
    finals = curves[curves["round"] == rounds].pivot_table(index="seed", columns="beta", values="gain")
    if finals.empty:
        raise ValueError(f"no run reached round {rounds}: rounds must be the design's number of rounds")
    measured, interior, best_tried, runner_up, lead = best_tried_share(finals)
    grid = np.linspace(0, 1, resolution)
    params = list(fitted.params.values())
    predicted = np.array([growth_gain(params, *effort_schedule(beta, budget, cost, rounds))[-1] for beta in grid])
    top = int(np.argmax(predicted))
    return ExperimentOptimalBeta(measured=measured, measured_interior=interior, model=float(grid[top]),
                                 model_interior=bool(predicted[top] > max(predicted[0], predicted[-1])),
                                 best_tried=best_tried, next_tried=runner_up, lead=lead)


def best_tried_share(finals: pd.DataFrame) -> tuple[float, bool, float, float, tuple[float, float, float]]:
    """From final scores (a row a seed, a column a β): (β*, interior, best β tried, runner-up, lead over it).

    β* is the best β by the mean over seeds, moved to the top of a parabola through it and its neighbours when
    it is not at an end; the lead is best minus runner-up seed by seed (the same seed's runs share their
    material's order), with its 95 % interval (`seed_interval`).
    """
    final = finals.mean()
    betas, values = final.index.to_numpy(float), final.to_numpy()
    best = int(np.argmax(values))
    measured = float(betas[best])
    if 0 < best < len(betas) - 1:
        x, y = betas[best - 1:best + 2], values[best - 1:best + 2]
        a, b, _ = np.polyfit(x, y, 2)
        if a < 0:
            measured = float(np.clip(-b / (2 * a), x[0], x[-1]))
    ranked = final.sort_values().index
    runner_up = ranked[-2] if len(ranked) > 1 else ranked[-1]
    lead = seed_interval((finals[ranked[-1]] - finals[runner_up]).dropna().to_numpy())
    return measured, bool(0 < best < len(betas) - 1), float(ranked[-1]), float(runner_up), lead
