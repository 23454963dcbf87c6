"""Figures and the learning-rate widget of the mathematics lesson (notebook 02)."""
from __future__ import annotations

import numpy as np

from .calculus import DescentPath, gradient_descent, mse_gradient, mse_loss, mse_smoothness


def plot_descent(x: np.ndarray, y: np.ndarray, path: DescentPath, axes=None, title: str = ""):
    """Loss curve (left) and the path over the loss surface in (w, b) (right) of 1-D linear regression."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(8, 3.4))
    curve, surface = axes
    curve.semilogy(path.losses)
    curve.set(xlabel="step", ylabel="MSE (log scale)", title=title or "loss")
    if path.diverged:
        curve.text(0.5, 0.9, "diverged", transform=curve.transAxes, ha="center", color="C3", fontsize=12)
    w_grid, b_grid = np.meshgrid(np.linspace(-2, 6, 120), np.linspace(-4, 4, 120))
    residuals = y[None, None, :] - (w_grid[..., None] * x[None, None, :] + b_grid[..., None])
    surface.contour(w_grid, b_grid, (residuals**2).mean(-1), levels=np.geomspace(0.05, 200, 15), cmap="viridis")
    visible = path.thetas[np.all(np.abs(path.thetas) < 50, axis=1)]
    surface.plot(visible[:, 0], visible[:, 1], "o-", color="C3", markersize=2, linewidth=1)
    surface.set(xlabel="w", ylabel="b", xlim=(-2, 6), ylim=(-4, 4), title="path on the loss surface")
    return axes


def descent_explorer(x: np.ndarray, y: np.ndarray, learning_rate: float = 0.1, steps: int = 50):
    """Sliders for the learning rate (log scale) and the number of steps; the title marks the bound 2/λ_max."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from ..course.sliders import slider_plot

    bound = 2 / mse_smoothness(x)
    loss, grad = (lambda t: mse_loss(t, x, y)), (lambda t: mse_gradient(t, x, y))

    def draw(ax, learning_rate: float, steps: int) -> None:
        path = gradient_descent(loss, grad, np.array([-1.0, 3.0]), learning_rate, steps)
        ax.remove()  # this figure needs two panels
        fig = plt.gcf()
        plot_descent(x, y, path, axes=fig.subplots(1, 2),
                     title=f"lr = {learning_rate:.3g} ({learning_rate / bound:.2f} × the bound 2/λ_max = {bound:.3g})")

    sliders = {
        "learning_rate": widgets.FloatLogSlider(value=learning_rate, base=10, min=-3, max=0.3, step=0.05,
                                                description="lr"),
        "steps": widgets.IntSlider(value=steps, min=1, max=300, description="steps"),
    }
    return slider_plot(draw, sliders, figsize=(8, 3.4))
