"""Figures of the growth model (lessons 01, 05, 07): the curiosity loop, trajectories, fits, the slider widget."""
from __future__ import annotations

import numpy as np

from .._figures import describe
from .model import SeriesFit, OptimalBeta, Trajectory, simulate

#: The loop's four stages, each with what it means in the growth model (α is a constant there: nothing grows it).
GROWTH_STAGES = (("acquire", "explore: new material\n(E)"), ("practise", "use what was\nacquired"),
                 ("reflect", "re-work what is\nknown (R)"), ("optimise", "choose the split\nβ for the next turn"))


def plot_curiosity_loop(stages: tuple[tuple[str, str], ...] = GROWTH_STAGES, centre: str = "I(t) → I(t+1)",
                        ax=None):
    """The curiosity loop as a cycle of four stages, each with what it means; lesson 05 passes its own meanings."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.2, 5.2))
    angles = np.pi / 2 - np.arange(len(stages)) * 2 * np.pi / len(stages)  # clockwise from the top
    points = np.column_stack([np.cos(angles), np.sin(angles)])
    for (stage, meaning), (x, y) in zip(stages, points):
        ax.text(x, y, stage, ha="center", va="center", fontsize=12, weight="bold",
                bbox={"boxstyle": "round,pad=0.5", "fc": "#e8f0fe", "ec": "#4a6fa5"})
        above = y > 0.5  # the top stage's note goes above its box, the others' below: away from the arrows
        ax.text(x, y + (0.16 if above else -0.16), meaning, ha="center", va="bottom" if above else "top",
                fontsize=10, color="#333")
    for start, end in zip(points, np.roll(points, -1, axis=0)):
        ax.annotate("", xy=start + 0.66 * (end - start), xytext=start + 0.34 * (end - start),
                    arrowprops={"arrowstyle": "-|>", "lw": 1.8, "color": "#4a6fa5",
                                "connectionstyle": "arc3,rad=-0.25"})
    ax.text(0, 0, centre, ha="center", va="center", fontsize=10, style="italic")
    ax.set(xlim=(-1.6, 1.6), ylim=(-1.5, 1.5), aspect="equal")
    ax.axis("off")
    describe(ax, "The curiosity loop: four stages in a cycle, " + ", then ".join(
        f"{stage} ({' '.join(meaning.split())})" for stage, meaning in stages) + f", around {centre}.")
    return ax


def plot_trajectories(trajectories: dict[str, Trajectory], ax=None, title: str = "Knowledge over time"):
    """One line of I(t) per labelled trajectory."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, trajectory in trajectories.items():
        ax.plot(trajectory.t, trajectory.I, label=label)
    ax.set(xlabel="t", ylabel="knowledge I(t)", title=title)
    ax.legend()
    return ax


def plot_final_heatmap(alphas: np.ndarray, betas: np.ndarray, final: np.ndarray, ax=None,
                       title: str = "Knowledge at the horizon"):
    """Seaborn heatmap of I(T) over an α–β grid (α up the side, β along the bottom), five ticks per axis."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    sns.heatmap(final, ax=ax, cmap="viridis", cbar_kws={"label": "I(T)"}, xticklabels=False, yticklabels=False)
    # Label a few cells only: 200 labels per axis would be a black smear.
    for values, set_ticks, set_labels in ((betas, ax.set_xticks, ax.set_xticklabels),
                                          (alphas, ax.set_yticks, ax.set_yticklabels)):
        where = np.linspace(0, len(values) - 1, 5).round().astype(int)
        set_ticks(where + 0.5)
        set_labels([f"{values[i]:.2f}" for i in where], rotation=0)
    ax.invert_yaxis()
    ax.set(xlabel="β (share of exploration)", ylabel="α (innovation coefficient)", title=title)
    best = np.unravel_index(np.argmax(final), np.shape(final))
    describe(ax, f"{title}: a heatmap of I(T) over α (up the side, {alphas[0]:g} to {alphas[-1]:g}) and β (along the "
             f"bottom, {betas[0]:g} to {betas[-1]:g}), highest at α = {alphas[best[0]]:.2f}, β = {betas[best[1]]:.2f}.")
    return ax


def plot_fit(observed: np.ndarray, result: SeriesFit, E: np.ndarray, R: np.ndarray,
             truth: np.ndarray | None = None, axes=None):
    """Two panels: observed I(t) against the fitted (and true) trajectory; observed ΔI against a·E + b·R."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(8, 3.4))
    left, right = axes
    t = np.arange(len(observed))
    left.plot(t, observed, ".", color="0.6", markersize=4, label="observed (noisy)")
    if truth is not None:
        left.plot(t, truth, color="C0", linewidth=3, alpha=0.4, label="true model")
    left.plot(t, result.predict(observed[0], E, R), color="C3", linestyle="--",
              label=f"fit: α = {result.alpha:.3f}, β = {result.beta:.3f}")
    left.set(xlabel="t", ylabel="knowledge I(t)", title="The trajectory")
    left.legend()
    # The regression itself: each step's increment against what the fitted weights predict for it.
    predicted = result.a * np.asarray(E) + result.b * np.asarray(R)
    right.plot(predicted, np.diff(observed), ".", color="C0", markersize=5)
    line = [predicted.min(), predicted.max()]
    right.plot(line, line, color="C3", linestyle="--", label="ΔI = a·E + b·R")
    right.set(xlabel="fitted a·E(t) + b·R(t)", ylabel="observed ΔI(t)", title="The regression, step by step")
    right.legend()
    left.figure.tight_layout()
    return axes


def plot_optimal_beta(betas: np.ndarray, finals: np.ndarray, best: OptimalBeta, ax=None):
    """I(T) against β under material-limited reflection, with β* by simulation and in closed form."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(betas, finals, color="C0")
    ax.axvline(best.numeric, color="C3", linestyle="--", label=f"β* by simulation = {best.numeric:.3f}")
    if best.closed_form is not None:
        ax.plot([best.closed_form], [np.interp(best.closed_form, betas, finals)], "o", color="C1",
                label=f"β* closed form = {best.closed_form:.3f}")
    ax.set(xlabel="β (share of exploration)", ylabel="I(T)", title="Reflection needs material: an interior optimum")
    ax.legend()
    return ax


def growth_explorer(I0: float = 0.0, alpha: float = 0.5, beta: float = 0.5, E: float = 1.0, R: float = 1.0,
                    steps: int = 50):
    """Sliders for α, β, E, R, I0 and the horizon, redrawing I(t) against the all-explore/all-reflect extremes."""
    import ipywidgets as widgets

    from ..course.sliders import slider_plot

    def draw(ax, I0: float, alpha: float, beta: float, E: float, R: float, steps: int) -> None:
        runs = {f"β = {beta:.2f}": simulate(I0, alpha, beta, E, R, steps),
                "β = 1 (only explore)": simulate(I0, alpha, 1.0, E, R, steps),
                "β = 0 (only reflect)": simulate(I0, alpha, 0.0, E, R, steps)}
        plot_trajectories(runs, ax=ax)

    style = {"description_width": "4em"}
    sliders = {
        "alpha": widgets.FloatSlider(value=alpha, min=0, max=2, step=0.05, description="α", style=style),
        "beta": widgets.FloatSlider(value=beta, min=0, max=1, step=0.05, description="β", style=style),
        "I0": widgets.FloatSlider(value=I0, min=0, max=10, step=0.5, description="I0", style=style),
        "E": widgets.FloatSlider(value=E, min=0, max=5, step=0.1, description="E", style=style),
        "R": widgets.FloatSlider(value=R, min=0, max=5, step=0.1, description="R", style=style),
        "steps": widgets.IntSlider(value=steps, min=1, max=200, description="horizon", style=style),
    }
    return slider_plot(draw, sliders)


def plot_effort_curves(curves, scale: str = "log_likelihood", x: str = "round", ax=None,
                       title: str | None = None):
    """Lesson 07's learning curves: the mean over seeds for each β, with the seeds' range shaded."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for i, (beta, runs) in enumerate(curves.groupby("beta")):
        by_point = runs.groupby(x)[scale]
        ax.plot(by_point.mean().index, by_point.mean(), color=f"C{i}", label=f"β = {beta:g}")
        ax.fill_between(by_point.mean().index, by_point.min(), by_point.max(), color=f"C{i}", alpha=0.15)
    ax.set(xlabel={"round": "round (equal effort each)", "labelled": "labels bought"}.get(x, x),
           ylabel=scale.replace("_", " "), title=title or f"{scale.replace('_', ' ')} by {x}")
    ax.legend()
    return ax


def plot_heldout_predictions(curves, fits: dict, heldout_betas: list[float], ax=None):
    """Observed gains of held-out β runs (one seed) beside what each fitted model predicted for them."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for i, beta in enumerate(heldout_betas):
        run = curves[curves["beta"] == beta].sort_values("round")
        ax.plot(run["round"], run["gain"], "o", color=f"C{i}", markersize=3, label=f"β = {beta:g} measured")
        for fit, style in zip(fits.values(), ("-", ":")):
            ax.plot(run["round"], fit.predict(run), style, color=f"C{i}", label=f"β = {beta:g}, {fit.model}")
    ax.set(xlabel="round", ylabel="knowledge gained", title="held-out β: predicted from the other β's fit")
    ax.legend()
    return ax


def plot_final_by_beta(curves, fitted, *, budget: float, cost: float, rounds: int, ax=None):
    """Final gain against β: each seed's runs, their mean, and the fitted growth model's curve."""
    import matplotlib.pyplot as plt

    from .effort_fit import growth_gain
    from .experiment import effort_schedule

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    final = curves[curves["round"] == rounds]
    ax.plot(final["beta"], final["gain"], ".", color="0.6", label="one seed")
    ax.plot(*zip(*final.groupby("beta")["gain"].mean().items()), "o-", color="C0", label="mean over seeds")
    grid = np.linspace(0, 1, 101)
    params = list(fitted.params.values())
    ax.plot(grid, [growth_gain(params, *effort_schedule(b, budget, cost, rounds))[-1] for b in grid], "--",
            color="C3", label="fitted growth model")
    ax.set(xlabel="β (share of the budget spent on new labels)", ylabel=f"knowledge gained by round {rounds}",
           title=f"a new label costs {cost:g} re-reads")
    ax.legend()
    return ax
