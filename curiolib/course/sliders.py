"""Sliders that redraw a matplotlib figure, rendered as an image widget so it works everywhere."""
from __future__ import annotations

import html
import io
from collections.abc import Callable

#: The class of the caption under a slider figure: the snapshot takes its text as the figure's alt text.
CAPTION_CLASS = "figure-caption"


def slider_plot(draw: Callable[..., object], sliders: dict, *, figsize: tuple[float, float] = (6, 3.5)):
    """Sliders over ``draw(ax, **values)``; the figure is re-rendered to PNG on every change.

    Rendering to an image (instead of plotting inside an Output widget) keeps the figure out of the
    cell's own outputs, so the notebook re-executes identically under papermill and nbval.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from .._figures import FIGURE_DPI, description

    # At its own size: stretched to the cell's width, a 540-px figure turned soft and fell below the sliders.
    image = widgets.Image(format="png", layout=widgets.Layout(align_self="flex-start", max_width="100%"))
    # What the figure shows, in words, under it: a widget image has no alt text, and its tooltip broke the image
    # in the JupyterLab widget manager that RISE can load (jupyterlab-widgets 3.0.8).
    caption = widgets.HTML(layout=widgets.Layout(max_width="100%"))

    def redraw(_change=None) -> None:
        fig, ax = plt.subplots(figsize=figsize)
        try:
            draw(ax, **{name: slider.value for name, slider in sliders.items()})
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
            image.value = buffer.getvalue()
            caption.value = f"<small class='{CAPTION_CLASS}'>{html.escape(description(fig))}</small>"
        finally:
            plt.close(fig)

    for slider in sliders.values():
        slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox(list(sliders.values())[:3]), widgets.HBox(list(sliders.values())[3:]), image,
                         caption])
