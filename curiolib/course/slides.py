"""Slide metadata for the lessons: one rule, in code, decides every cell's slide type.

A teacher presents a lesson with RISE (JupyterLab, live kernel) or as a static reveal.js deck
(`curiolib slides`). Both read ``cell.metadata["slideshow"]["slide_type"]``. The types come from
`slide_types`, never by hand, so a lesson that is edited and not re-tagged fails the tests
(`curiolib tag-slides` re-tags it).

The rule, cell by cell:

- markdown: the title (``# ``) and each ``## `` section start a slide, each ``### `` a sub-slide (a
  vertical slide under its section); ``## For teachers`` becomes speaker notes, seen in the speaker view
  and not on the projector; a paragraph that follows code starts a sub-slide, since it opens a new step
  of the argument; any other paragraph continues the slide it follows (so an exercise and its
  ``<details>`` answers stay together);
- code: the ``parameters`` cell, the setup cell and plumbing (only imports, only function or class
  definitions, only ``record(...)`` calls) are skipped: they are how the notebook runs, not what it
  teaches; a cell longer than `LONG_CELL_LINES` lines starts a sub-slide of its own, so it does not
  push its explanation off the screen; a cell that draws a figure or shows a widget (not a mere progress
  bar) is a fragment (it appears on the next key press, after the teacher has said what to look for);
  every other cell continues its slide.
"""
from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

SLIDE, SUBSLIDE, FRAGMENT, CONTINUE, SKIP, NOTES = "slide", "subslide", "fragment", "-", "skip", "notes"
#: A code cell longer than this does not fit under its explanation on a 960×700 slide at reveal's font size.
LONG_CELL_LINES = 20
#: The heading of each lesson's notes for the teacher: speaker notes, not a slide the class sees.
TEACHERS_HEADING = "## For teachers"
#: Notebook-level settings RISE reads: lessons have tall figures and tables, so a slide scrolls, not clips; the
#: "white" theme's fonts ship with RISE, where its default "simple" fetches them from Google Fonts (offline: no).
RISE_SETTINGS = {"scroll": True, "theme": "white"}
_FIGURES = ("image/png", "image/svg+xml", "image/jpeg")


def _source(cell: Any) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _statements(source: str) -> list[ast.stmt] | None:
    """The top-level statements of a code cell (IPython magics and shell lines blanked), None if not Python."""
    lines = [line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line
             for line in source.splitlines()]
    try:
        return [node for node in ast.parse("\n".join(lines)).body if not isinstance(node, ast.Pass)]
    except SyntaxError:
        return None


def _is_record_call(node: ast.stmt) -> bool:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name) and node.value.func.id == "record")


def is_plumbing(source: str) -> bool:
    """True for a code cell that only imports, only defines helpers, or only records numbers."""
    statements = _statements(source)
    if not statements:
        return False
    imports = (ast.Import, ast.ImportFrom)
    definitions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    if all(isinstance(node, imports) for node in statements):
        return True
    if all(isinstance(node, imports + definitions) for node in statements):
        return any(isinstance(node, definitions) for node in statements)
    return all(_is_record_call(node) for node in statements)


def is_setup_cell(source: str) -> bool:
    """True for the shared cell that installs curiolib on Colab and calls `setup_notebook`."""
    return "setup_notebook(" in source


def _shows_a_figure(cell: Any) -> bool:
    from .snapshot import NOTE

    for output in cell.get("outputs", []):
        data = output.get("data", {})
        html = data.get("text/html", "")
        html = "".join(html) if isinstance(html, list) else html
        # A training cell's progress bar is a widget too, but not what the class should wait for.
        if any(mime in data for mime in _FIGURES) or (NOTE in html and "<progress" not in html):
            return True
    return False


def _markdown_type(source: str, previous: Any | None) -> str:
    text = source.lstrip()
    if text.startswith(TEACHERS_HEADING):
        return NOTES
    if text.startswith(("# ", "## ")):
        return SLIDE
    if text.startswith("###"):
        return SUBSLIDE
    if text.startswith("<details"):  # answers belong on their exercise's slide
        return CONTINUE
    return SUBSLIDE if previous is not None and previous.get("cell_type") == "code" else CONTINUE


def _code_type(cell: Any) -> str:
    source = _source(cell)
    if "parameters" in cell.get("metadata", {}).get("tags", []) or is_setup_cell(source) or is_plumbing(source):
        return SKIP
    if len(source.splitlines()) > LONG_CELL_LINES:
        return SUBSLIDE
    return FRAGMENT if _shows_a_figure(cell) else CONTINUE


def slide_types(nb: Any) -> list[str]:
    """The slide type of every cell of ``nb`` (a notebook dict or nbformat node), by the rule above."""
    types = []
    previous = None
    for index, cell in enumerate(nb["cells"]):
        if index == 0 and cell["cell_type"] == "markdown":
            types.append(SLIDE)  # the title slide, whatever its heading level
        elif cell["cell_type"] == "markdown":
            types.append(_markdown_type(_source(cell), previous))
        elif cell["cell_type"] == "code":
            types.append(_code_type(cell))
        else:  # raw cells are for other exporters, never for the class
            types.append(SKIP)
        if types[-1] != SKIP:  # a skipped cell is invisible: the next one follows what was last shown
            previous = cell
    return types


def apply_slide_metadata(nb: Any) -> int:
    """Write the rule's slide types into ``nb`` (and RISE's settings); returns how many cells changed."""
    changed = 0
    for cell, slide_type in zip(nb["cells"], slide_types(nb)):
        if cell["metadata"].get("slideshow") != {"slide_type": slide_type}:
            cell["metadata"]["slideshow"] = {"slide_type": slide_type}
            changed += 1
    if nb["metadata"].get("rise") != RISE_SETTINGS:
        nb["metadata"]["rise"] = dict(RISE_SETTINGS)
        changed += 1
    return changed


def add_slide_metadata(path: str | Path) -> bool:
    """Re-tag the notebook at ``path`` by the rule, touching nothing else; True if the file changed.

    Only metadata changes: sources and outputs stay byte for byte (nbval compares those outputs with a
    re-execution). The file is written to a temporary name and moved into place, so it is never half written.
    """
    import nbformat

    path = Path(path)
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    if not apply_slide_metadata(nb):
        return False
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial.ipynb")
    nbformat.write(nb, partial)
    os.replace(partial, path)
    return True
