"""Printed text that fits a lesson's output area: `TEXT_WIDTH` and `say` (no curiolib import)."""
from __future__ import annotations

import textwrap
from typing import Any

#: The most characters a printed line of a lesson holds: JupyterLab's output area, 813 px in a 1280-px window
#: with the file browser open, fits about 104 of its monospace characters, and breaks a longer line mid-word.
TEXT_WIDTH = 100


def wrap(line: str) -> str:
    """One line wrapped at spaces to `TEXT_WIDTH` characters, a continuation indented two more than the line."""
    if len(line) <= TEXT_WIDTH:
        return line
    indent = line[:len(line) - len(line.lstrip(" "))]
    return textwrap.fill(line, TEXT_WIDTH, subsequent_indent=indent + "  ", break_long_words=False,
                         break_on_hyphens=False)


def say(*parts: Any, sep: str = " ") -> None:
    """`print`, with each line wrapped at spaces to `TEXT_WIDTH` characters (a continuation indented by two)."""
    for line in sep.join(str(part) for part in parts).split("\n"):
        print(wrap(line))
