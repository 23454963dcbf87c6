"""Figures for lesson 05: learning curves with seed bands, growth-model fits (the loop itself: growth.plots)."""
from __future__ import annotations

import matplotlib.pyplot as plt

from ..growth.learning_curves import effort, fit_growth_to_run, growth_score, predicted_curve
from .loop import ActiveLearningRun
from .report import mean_curve

#: The curiosity loop's stages as active learning runs them (drawn by growth.plots.plot_curiosity_loop).
ACTIVE_LEARNING_STAGES = (("acquire", "query the labels of\nthe chosen examples"),
                          ("practise", "fine-tune on every\nlabel so far"),
                          ("reflect", "score the pool: where\nis the model unsure?"),
                          ("optimise", "choose the next batch\n(explore or exploit)"))


def plot_learning_curves(runs: dict[str, list[ActiveLearningRun]], target: float | None = None,
                         ax: plt.Axes | None = None) -> plt.Axes:
    """Validation accuracy against labels used: each strategy's mean over seeds, the band from min to max."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for strategy, strategy_runs in runs.items():
        curve = mean_curve(strategy_runs).query("round > 0")
        line, = ax.plot(curve["labels"], curve["accuracy"], "o-", ms=4,
                        label=f"{strategy} ({len(strategy_runs)} seeds)")
        ax.fill_between(curve["labels"], curve["accuracy_min"], curve["accuracy_max"], color=line.get_color(),
                        alpha=0.15)
    if target is not None:
        ax.axhline(target, color="gray", ls=":", label=f"target {target:g}")
    ax.set(xlabel="labels used", ylabel="validation accuracy", title="learning curves (band: min–max over seeds)")
    ax.legend(fontsize=9)
    return ax


def plot_growth_fits(runs: list[ActiveLearningRun], title: str = "", ax: plt.Axes | None = None) -> plt.Axes:
    """One strategy's mean curve against the linear growth model and the saturating one (capacity 1)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    curve = mean_curve(runs)
    I = growth_score(curve["accuracy"].to_numpy())  # noqa: E741
    E, R = effort(curve)
    ax.plot(curve["round"], I, "ko", label="measured (mean over seeds)")
    for capacity, style, name in ((None, "--", "linear model"), (1.0, "-", "saturating model, K = 1")):
        fitted = fit_growth_to_run(curve, capacity=capacity)
        if fitted.identifiable:
            ax.plot(curve["round"], predicted_curve(fitted, I[0], E, R, capacity), style,
                    label=f"{name}: α = {fitted.alpha:.3g}, β = {fitted.beta:.2f}, R² = {fitted.r_squared:.2f}")
    ax.set(xlabel="round", ylabel="validation accuracy (I)", title=title or "the growth model fitted to a run")
    ax.legend(fontsize=8.5)
    return ax
