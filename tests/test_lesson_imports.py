"""One way in for the lessons: `from curiolib import name` for every name a lesson calls (curiolib/__init__.py).

Not `from curiolib.active import x`, not `import curiolib.growth`, not `from curiolib import growth` and then
`growth.simulate`: one namespace, so a student who reads `simulate` in one lesson finds it the same way in all.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: The subpackages, found on disk, so a new one is covered without editing this file.
SUBPACKAGES = frozenset(path.parent.name for path in (ROOT / "curiolib").glob("*/__init__.py"))


def _code(source: str) -> str:
    """A cell's source as Python: IPython's `%` and `!` lines become `pass` (their indentation kept)."""
    return "\n".join(line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!"))
                     else line for line in source.splitlines())


def import_faults(cells: list[str]) -> list[str]:
    """What breaks the lessons' import rule in a notebook's code cells (`cell N: what`): imports, then attributes."""
    faults: list[str] = []
    modules: set[str] = set()  # local names bound to a curiolib subpackage, by any import style
    trees = [ast.parse(_code(source), f"cell {index}") for index, source in enumerate(cells)]
    for index, tree in enumerate(trees):
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "curiolib":
                names = ", ".join(alias.name for alias in node.names)
                if node.module != "curiolib":
                    faults.append(f"cell {index}: from {node.module} import {names}")
                for alias in node.names:
                    if node.module == "curiolib" and alias.name in SUBPACKAGES:
                        faults.append(f"cell {index}: from curiolib import {alias.name} (a subpackage)")
                        modules.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "curiolib":
                        faults.append(f"cell {index}: import {alias.name}")
                        modules.add(alias.asname or alias.name.split(".")[0])
    for index, tree in enumerate(trees):
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
                faults.append(f"cell {index}: {node.value.id}.{node.attr}")
    return faults


def _code_cells(path: Path) -> list[str]:
    """Each cell's code, "" for a markdown cell, so a fault's cell number is the notebook's own (from 0)."""
    return ["".join(cell["source"]) if cell["cell_type"] == "code" else ""
            for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]]


@pytest.mark.parametrize("path", LESSONS, ids=[path.stem for path in LESSONS])
def test_every_lesson_imports_each_name_from_curiolib_itself(path: Path) -> None:
    faults = import_faults(_code_cells(path))
    assert not faults, (f"{path.name} (cells counted from 0): write `from curiolib import name` for every "
                        f"name a lesson calls: {faults}")


def test_the_rule_catches_each_other_import_style() -> None:
    cells = ["import sys\nif sys:\n    %pip install x\nfrom curiolib import record\n!ls",
             "from curiolib.active import entropy, train_round\nimport curiolib.maths as m",
             "from curiolib import growth, simulate\nresult = growth.fit([1], 2, 3)\nm.descend()\nsimulate(1)",
             "import curiolib\ncuriolib.train()\nfit = result.fit(1)  # a method called fit is no subpackage"]
    assert import_faults(cells) == [
        "cell 1: from curiolib.active import entropy, train_round", "cell 1: import curiolib.maths",
        "cell 2: from curiolib import growth (a subpackage)", "cell 3: import curiolib",
        "cell 2: growth.fit", "cell 2: m.descend", "cell 3: curiolib.train"]
    assert import_faults(["from curiolib import record, simulate\nrecord('x', simulate(1).I)"]) == []
    assert len(LESSONS) == 9 and {"growth", "maths", "active", "efficient"} <= SUBPACKAGES
