"""Figures for lesson 05: learning curves with seed bands, growth-model fits (the loop itself: growth.plots)."""
from __future__ import annotations

import itertools

import matplotlib.pyplot as plt

from .._figures import describe, description_of
from ..growth.learning_curves import effort, fit_active_learning_run, growth_score, predicted_curve
from .loop import ActiveLearningRun
from .report import mean_curve

#: The curiosity loop's stages as active learning runs them (drawn by growth.plots.plot_curiosity_loop).
ACTIVE_LEARNING_STAGES = (("acquire", "query the labels of\nthe chosen examples"),
                          ("practise", "fine-tune on every\nlabel so far"),
                          ("reflect", "score the pool: where\nis the model unsure?"),
                          ("optimise", "choose the next batch\n(explore or exploit)"))
#: One marker per strategy, as well as a colour and a line style.
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def plot_learning_curves(runs: dict[str, list[ActiveLearningRun]], target: float | None = None,
                         ax: plt.Axes | None = None) -> plt.Axes:
    """Validation accuracy against labels used: each strategy's mean over seeds, the band from min to max."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4.8))
    for (strategy, strategy_runs), marker in zip(runs.items(), itertools.cycle(_MARKERS)):
        curve = mean_curve(strategy_runs).query("round > 0")
        # colour, line style and marker all differ: the lines stay apart in greyscale and for colour-blind eyes
        line, = ax.plot(curve["labels"], curve["accuracy"], marker=marker, ms=5,
                        label=f"{strategy} ({len(strategy_runs)} seeds)")
        ax.fill_between(curve["labels"], curve["accuracy_min"], curve["accuracy_max"], color=line.get_color(),
                        alpha=0.15)
    if target is not None:
        ax.axhline(target, color="gray", ls=":", lw=1.5, label=f"target {target:g}")
    ax.set(xlabel="labels used", ylabel="validation accuracy", title="learning curves (band: min–max over seeds)")
    # below the axes, where it covers no curve
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    describe(ax, "Learning curves: validation accuracy against the number of labels used, one line per "
             f"strategy ({', '.join(runs)}), each the mean over seeds with the seeds' range shaded"
             + (f", and a dotted line at the target {target:g}." if target is not None else "."))
    return ax


def plot_growth_fits(runs: list[ActiveLearningRun], title: str = "", ax: plt.Axes | None = None,
                     legend: bool = True) -> plt.Axes:
    """One strategy's mean curve against the linear growth model and the saturating one (capacity 1)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    curve = mean_curve(runs)
    I = growth_score(curve["accuracy"].to_numpy())  # noqa: E741
    E, R = effort(curve)
    ax.plot(curve["round"], I, "ko", label="measured (mean over seeds)")
    fits = []
    for capacity, style, name in ((None, "--", "linear model"), (1.0, "-", "saturating model, K = 1")):
        fitted = fit_active_learning_run(curve, capacity=capacity)
        if fitted.identifiable:
            ax.plot(curve["round"], predicted_curve(fitted, I[0], E, R, capacity), style, label=name)
            fits.append(f"{name.split(' model')[0]} {fitted.r_squared:.2f}")
    # the fitted α and β are in the tables the lesson prints; the panel keeps what a glance compares: R²
    title = title or "the growth model fitted to a run"
    ax.set(xlabel="round", ylabel="validation accuracy (I)",
           title=f"{title} (R²: {', '.join(fits)})" if fits else title)
    if legend:
        ax.legend()
    describe(ax, f"{title}: validation accuracy by round, measured (black dots) against the linear growth model "
             f"(dashed) and the saturating one (solid){'; R² ' + ', '.join(fits) if fits else ''}.")
    return ax


def plot_growth_fit_grid(runs: dict[str, list[ActiveLearningRun]]) -> plt.Figure:
    """`plot_growth_fits` for each strategy, two panels a row, one legend in a spare panel (or below)."""
    rows = (len(runs) + 2) // 2  # room for the legend in a panel of its own
    fig, axes = plt.subplots(rows, 2, figsize=(8, 3.2 * rows), sharey=True, squeeze=False)
    for ax, (strategy, strategy_runs) in zip(axes.flat, runs.items()):
        plot_growth_fits(strategy_runs, title=strategy, ax=ax, legend=False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    for spare in axes.flat[len(runs):]:
        spare.axis("off")
    axes.flat[-1].legend(handles, labels, loc="center", frameon=False)
    fig.tight_layout()
    describe(fig, " ".join(description_of(ax) for ax in axes.flat[:len(runs)]))
    return fig
