"""Figures a back row can read and a screen reader can describe: the lessons' matplotlib style and alt text.

`projector_style` sizes text and lines for a projector and tells lines apart by style as well as by colour
(a colour-blind student, or a washed-out projector, still sees which is which). `describe` gives a figure
its one-sentence description; `show_alt_text` makes every figure a notebook draws display as an ``<img>``
carrying that description, which JupyterLab, RISE, the static decks, GitHub and screen readers all show (a
plain PNG output has no place for alt text). A figure nobody described gets one made from its titles and
axis labels, so no figure is left as "Image".
"""
from __future__ import annotations

import base64
import html
import weakref
from typing import Any

#: The widest a committed figure may be, in pixels: in a 1280-px window (a projector's) JupyterLab's output area
#: is 813 px wide with the file browser open (953 px without), and a wider image is shrunk there, its text with it.
MAX_FIGURE_PIXELS = 810
#: Figures render at 100 dots per inch, so a figure may be at most this many inches wide.
FIGURE_DPI = 100
MAX_FIGURE_INCHES = MAX_FIGURE_PIXELS / FIGURE_DPI

#: Line styles paired with matplotlib's ten colours: the n-th line differs from the others in both.
LINE_STYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1)), (0, (8, 2, 2, 2)),
               (0, (4, 2, 1, 2, 1, 2)), (0, (6, 1, 1, 1)))

_DESCRIPTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def projector_style() -> None:
    """Set matplotlib's defaults for the lessons: text a back row can read, lines told apart by style too."""
    import matplotlib as mpl
    from cycler import cycler
    from matplotlib.colors import TABLEAU_COLORS

    colours = list(TABLEAU_COLORS.values())[:len(LINE_STYLES)]  # matplotlib's own ten, in its order
    mpl.rcParams.update({
        "figure.dpi": FIGURE_DPI, "savefig.dpi": "figure",
        "font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 10,
        "xtick.labelsize": 10, "ytick.labelsize": 10, "lines.linewidth": 2, "lines.markersize": 6,
        "legend.framealpha": 0.9,
        "axes.prop_cycle": cycler(color=colours) + cycler(linestyle=list(LINE_STYLES)),
    })


def describe(target: Any, text: str) -> Any:
    """Give a figure (or one of its axes) its one-sentence description, the alt text readers are shown."""
    from ._validation import check_text

    _DESCRIPTIONS[target] = check_text("text", text)
    return target


def description_of(ax: Any) -> str:
    """The description of one axes: the one `describe` gave it, else one made from its title and labels."""
    return _DESCRIPTIONS.get(ax) or _from_labels(ax)


def description(fig: Any) -> str:
    """The alt text of ``fig``: its own description, else its axes' descriptions, else one from its labels."""
    if fig in _DESCRIPTIONS:
        return _DESCRIPTIONS[fig]
    parts = [description_of(ax) for ax in fig.axes
             if ax in _DESCRIPTIONS or (ax.get_visible() and ax.axison and ax.get_label() != "<colorbar>")]
    return " ".join(parts) or "A figure."


def _from_labels(ax: Any) -> str:
    title, x, y = ax.get_title(), ax.get_xlabel(), ax.get_ylabel()
    lines = [label for label in (line.get_label() for line in ax.get_lines()) if label and not label.startswith("_")]
    what = f"{y} against {x}" if x and y else (y or x or "a plot")
    text = f"{title}: {what}" if title else what.capitalize() if what[:1].islower() else what
    if lines:
        text += f", one line each for {', '.join(lines)}"
    return text.rstrip(".") + "."


def figure_html(fig: Any) -> str:
    """``fig`` as an ``<img>`` holding its PNG and its description as alt text."""
    from IPython.core.pylabtools import print_figure

    png = print_figure(fig, "png", bbox_inches="tight")
    alt = html.escape(description(fig), quote=True)
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{alt}" style="max-width:100%"/>'


def show_alt_text() -> bool:
    """In IPython, display every matplotlib figure as an image with alt text; False outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    import matplotlib.pyplot as plt

    # The inline backend, set up when the first figure is made, drops every figure formatter but its own:
    # make that first figure now, then add ours, and add it again before any cell that finds it gone.
    plt.close(plt.figure())
    _register(shell=shell)
    if _register not in shell.events.callbacks["pre_run_cell"]:
        shell.events.register("pre_run_cell", _register)
    return True


def _register(*_: Any, shell: Any = None) -> None:
    from IPython import get_ipython
    from matplotlib.figure import Figure

    html_formatter = (shell or get_ipython()).display_formatter.formatters["text/html"]
    if html_formatter.type_printers.get(Figure) is not figure_html:
        html_formatter.for_type(Figure, figure_html)
