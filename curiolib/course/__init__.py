"""The lesson runtime: notebook setup and `record`, widgets, sliders, figures' alt text, a function's source shown,
exercises' checks (`check_exercise`).

The teacher's tools (the catalog, `curiolib run`, sweeps, slides, decks) are in `classroom/`. `import curiolib`
loads this package for `setup_notebook`, so only light modules load here: `widgets` brings torch (through
`finetune.inference`) and loads the first time one of its names is asked for.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .._figures import describe
from .._text import TEXT_WIDTH, say
from .exercises import check_exercise
from .notebook import record, recorded, seed_everything, setup_notebook
from .source import show_source

if TYPE_CHECKING:
    from .widgets import MAX_WIDGET_CHARS, explain_input, ner_widget, sentiment_widget

__all__ = ["MAX_WIDGET_CHARS", "TEXT_WIDTH", "check_exercise", "describe", "explain_input", "ner_widget", "record",
           "recorded", "say", "seed_everything", "sentiment_widget", "setup_notebook", "show_source"]


def __getattr__(name: str):
    # PEP 562: a name of __all__ not imported above is one of widgets.py's.
    if name in __all__:
        from . import widgets

        return getattr(widgets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
