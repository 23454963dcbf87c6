"""Figures and the slider widget of the growth lesson (notebook 01)."""
from __future__ import annotations

import numpy as np

from .growth import Trajectory, simulate


def draw_curiosity_loop(ax=None):
    """The curiosity loop as a circle of four stages: acquire → practise → reflect → optimise → acquire."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    stages = ["acquire\n(explore: E)", "practise", "reflect\n(R)", "optimise\n(α grows)"]
    angles = np.pi / 2 - np.arange(4) * np.pi / 2
    points = np.column_stack([np.cos(angles), np.sin(angles)])
    for i, (x, y) in enumerate(points):
        ax.text(x, y, stages[i], ha="center", va="center", fontsize=11,
                bbox={"boxstyle": "round,pad=0.4", "fc": "#e9f5f3", "ec": "#2a9d8f"})
        start, end = angles[i] - 0.35, angles[i] - np.pi / 2 + 0.35
        arc = np.linspace(start, end, 30)
        ax.plot(np.cos(arc) * 0.95, np.sin(arc) * 0.95, color="#264653")
        ax.annotate("", xy=(np.cos(end) * 0.95, np.sin(end) * 0.95),
                    xytext=(np.cos(end + 0.05) * 0.95, np.sin(end + 0.05) * 0.95),
                    arrowprops={"arrowstyle": "-|>", "color": "#264653"})
    ax.text(0, 0, "I(t) → I(t+1)", ha="center", va="center", fontsize=12)
    ax.set(xlim=(-1.5, 1.5), ylim=(-1.4, 1.4), aspect="equal")
    ax.axis("off")
    return ax


def plot_trajectories(trajectories: dict[str, Trajectory], ax=None, title: str = "Knowledge over time"):
    """One line of I(t) per labelled trajectory."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, trajectory in trajectories.items():
        ax.plot(trajectory.t, trajectory.I, label=label)
    ax.set(xlabel="t", ylabel="knowledge I(t)", title=title)
    ax.legend(fontsize=8)
    return ax


def plot_final_heatmap(alphas: np.ndarray, betas: np.ndarray, final: np.ndarray, ax=None):
    """Seaborn heatmap of I(T) over an α–β grid (α down the side, β along the top)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    step_a, step_b = max(len(alphas) // 5, 1), max(len(betas) // 5, 1)
    sns.heatmap(final, ax=ax, cmap="viridis", cbar_kws={"label": "I(T)"},
                xticklabels=[f"{b:.2f}" if i % step_b == 0 else "" for i, b in enumerate(betas)],
                yticklabels=[f"{a:.2f}" if i % step_a == 0 else "" for i, a in enumerate(alphas)])
    ax.invert_yaxis()
    ax.set(xlabel="β (share of exploration)", ylabel="α (innovation coefficient)", title="Knowledge at the horizon")
    return ax


def growth_explorer(I0: float = 0.0, alpha: float = 0.5, beta: float = 0.5, E: float = 1.0, R: float = 1.0,
                    steps: int = 50):
    """Sliders for α, β, E, R, I0 and the horizon, redrawing I(t) against the all-explore/all-reflect extremes."""
    import ipywidgets as widgets

    from .sliders import slider_plot

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
