"""Assertions several test modules share."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from curiolib.classroom.deck import DEFAULT_NODE_MODULES, PACKAGES

if TYPE_CHECKING:
    import torch

#: The static decks' npm assets. `make test` installs them first where npm is found, so under CI a missing one
#: is a failure, not a skip; without npm (a teacher's laptop) the deck tests skip and pytest -ra says so.
needs_deck_assets = pytest.mark.skipif(
    not all((DEFAULT_NODE_MODULES / package / "package.json").exists() for package in PACKAGES)
    and not os.environ.get("CI"),
    reason="the decks' reveal.js and MathJax are not installed (npm was not found, or `npm ci --prefix slides` "
           "was not run): the static-deck tests are skipped")


def assert_same_weights(model: torch.nn.Module, expected: torch.nn.Module) -> None:
    """Every tensor of ``model``'s state equals ``expected``'s bit for bit (a resumed or repeated run's weights)."""
    import torch

    reference = expected.state_dict()
    for name, value in model.state_dict().items():
        assert torch.equal(value, reference[name]), f"{name} differs"


def lesson_cell(number: str, anchor: str) -> str:
    """The source of lesson ``number``'s one code cell holding ``anchor`` (an error if none or several do).

    Tests of a lesson's own code (#42) run the cell in the test process, rather than executing the lesson again.
    """
    import nbformat

    from curiolib.classroom.catalog import find_lesson

    cells = [cell.source for cell in nbformat.read(find_lesson(number).path, as_version=4).cells
             if cell.cell_type == "code" and anchor in cell.source]
    assert len(cells) == 1, f"lesson {number}: {len(cells)} code cells hold {anchor!r}, not one"
    return cells[0]


def run_cell(source: str, namespace: dict | None = None, *, replace: tuple[str, str] | None = None) -> str:
    """Run a lesson cell's ``source`` in ``namespace`` (in this process) and return what it printed.

    ``replace=(old, new)`` breaks the code first: ``old`` must occur in the source exactly once, so a test whose
    break no longer applies fails rather than passing on unbroken code. IPython-only lines (``%…``, ``!…``) are
    dropped, and a last bare expression is not displayed (a test reads the printed claims).
    """
    import contextlib
    import io

    if replace is not None:
        old, new = replace
        assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times in the cell, not once"
        source = source.replace(old, new)
    source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(source, "<lesson cell>", "exec"), {} if namespace is None else namespace)  # noqa: S102
    return printed.getvalue()


def claims(printed: str) -> dict[str, bool]:
    """Each claim a lesson cell printed ("...: True" or "...: False"), by its text."""
    import re

    return {text.strip(): value == "True" for text, value in re.findall(r"(?m)^(.+?):\s+(True|False)\b", printed)}
