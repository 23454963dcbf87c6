"""Show a library function's code in the lesson, highlighted: on Colab there is no curiolib/ folder to open."""
from __future__ import annotations

import inspect
from collections.abc import Callable

from .._text import TEXT_WIDTH

#: The longest source line of a function a lesson shows: JupyterLab draws the highlighted block with a
#: margin the printed text does not have, and breaks a longer line mid-word ("a word k / eeps").
CODE_WIDTH = TEXT_WIDTH - 4


def show_source(function: Callable) -> object:
    """The source of ``function`` as a highlighted code block (plain text where no HTML is shown)."""
    from IPython.display import Code

    if not callable(function):
        raise ValueError(f"function must be a function or class, got {type(function).__name__}")
    function = inspect.unwrap(function)  # decorators such as torch.no_grad wrap the code we want to show
    return Code(inspect.getsource(function), language="python")
