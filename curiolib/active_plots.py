"""Figures for lesson 05: the curiosity loop as a cycle, learning curves with seed bands, growth-model fits."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .active import ActiveLearningRun, fit_growth_to_run, growth_score, mean_curve, predicted_curve

#: The loop's four stages, each with what it becomes in active learning.
LOOP_STAGES = (("acquire", "query the labels of\nthe chosen examples"),
               ("practise", "fine-tune on every\nlabel so far"),
               ("reflect", "score the pool: where\nis the model unsure?"),
               ("optimise", "choose the next batch\n(explore or exploit)"))


def plot_curiosity_loop(ax: plt.Axes | None = None) -> plt.Figure:
    """The curiosity loop as a cycle of four stages, each labelled with its active-learning step."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.2, 5.2))
    angles = np.pi / 2 - np.arange(len(LOOP_STAGES)) * 2 * np.pi / len(LOOP_STAGES)  # clockwise from the top
    points = np.column_stack([np.cos(angles), np.sin(angles)])
    for (stage, meaning), (x, y) in zip(LOOP_STAGES, points):
        ax.text(x, y, f"{stage}\n", ha="center", va="center", fontsize=12, weight="bold",
                bbox=dict(boxstyle="round,pad=0.6", fc="#e8f0fe", ec="#4a6fa5"))
        ax.text(x, y - 0.08, meaning, ha="center", va="top", fontsize=8.5, color="#333")
    for start, end in zip(points, np.roll(points, -1, axis=0)):
        ax.annotate("", xy=start + 0.72 * (end - start), xytext=start + 0.28 * (end - start),
                    arrowprops=dict(arrowstyle="-|>", lw=1.8, color="#4a6fa5", connectionstyle="arc3,rad=-0.25"))
    ax.text(0, 0, "one round\n= one turn", ha="center", va="center", fontsize=10, style="italic")
    ax.set(xlim=(-1.6, 1.6), ylim=(-1.5, 1.5), aspect="equal")
    ax.axis("off")
    return ax.figure


def plot_learning_curves(runs: dict[str, list[ActiveLearningRun]], target: float | None = None,
                         ax: plt.Axes | None = None) -> plt.Figure:
    """Validation accuracy against labels used: each strategy's mean over seeds, the band from min to max."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for strategy, strategy_runs in runs.items():
        curve = mean_curve(strategy_runs).query("round > 0")
        line, = ax.plot(curve["labels"], curve["accuracy"], "o-", ms=4, label=f"{strategy} ({len(strategy_runs)} seeds)")
        ax.fill_between(curve["labels"], curve["accuracy_min"], curve["accuracy_max"], color=line.get_color(),
                        alpha=0.15)
    if target is not None:
        ax.axhline(target, color="gray", ls=":", label=f"target {target:g}")
    ax.set(xlabel="labels used", ylabel="validation accuracy", title="learning curves (band: min–max over seeds)")
    ax.legend(fontsize=9)
    return ax.figure


def plot_growth_fits(runs: list[ActiveLearningRun], title: str = "", ax: plt.Axes | None = None) -> plt.Figure:
    """One strategy's mean curve against the linear growth model and the saturating one (capacity 1)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    curve = mean_curve(runs)
    I = growth_score(curve["accuracy"].to_numpy())  # noqa: E741
    E, R = curve["E"].to_numpy()[1:] / 100, curve["R"].to_numpy()[1:] / 100
    ax.plot(curve["round"], I, "ko", label="measured (mean over seeds)")
    for capacity, style, name in ((None, "--", "linear model"), (1.0, "-", "saturating model, K = 1")):
        fitted = fit_growth_to_run(curve, capacity=capacity)
        if fitted.identifiable:
            ax.plot(curve["round"], predicted_curve(fitted, I[0], E, R, capacity), style,
                    label=f"{name}: α = {fitted.alpha:.3g}, β = {fitted.beta:.2f}, R² = {fitted.r_squared:.2f}")
    ax.set(xlabel="round", ylabel="validation accuracy (I)", title=title or "the growth model fitted to a run")
    ax.legend(fontsize=8.5)
    return ax.figure
