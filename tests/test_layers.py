"""Imports run downward: every module imports from its own layer or a lower one, never from a higher one.

The declared order, lowest first, is `LAYERS`; `LAYER_OF` places each package (its default) and the modules that
sit apart from their package. Every import counts, module-level or inside a function, absolute or relative.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The folders whose code is walked: the package, then what stands on it.
WALKED = ("curiolib", "benchmarks", "scripts")

LAYERS = ("private helpers", "data", "finetune/tasks", "efficient/course", "maths/growth", "active", "classroom",
          "the curiolib namespace", "command line", "benchmarks/scripts")

#: A package's entry is its default; a longer name overrides it for one module. "curiolib" itself is only
#: curiolib/__init__.py, the one namespace the lessons import from (it re-exports every layer below it).
LAYER_OF: dict[str, str] = {
    "curiolib._files": "private helpers",  # writing files, checking arguments, the figures' style: no curiolib
    "curiolib._validation": "private helpers",
    "curiolib._figures": "private helpers",
    "curiolib._text": "private helpers",
    "curiolib.data": "data",
    "curiolib.finetune": "finetune/tasks",
    "curiolib.tasks": "finetune/tasks",
    "curiolib.efficient": "efficient/course",
    "curiolib.course": "efficient/course",  # the lesson runtime: notebook setup and record, widgets, sliders, source
    "curiolib.classroom": "classroom",  # the teacher's tools: catalog, harness, sweep, slides, deck, snapshot
    "curiolib.maths": "maths/growth",
    "curiolib.growth": "maths/growth",
    "curiolib.active": "active",
    "curiolib": "the curiolib namespace",
    "curiolib.__main__": "command line",
    "benchmarks": "benchmarks/scripts",
    "scripts": "benchmarks/scripts",
}


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name: its longest entry in `LAYER_OF` ("curiolib" only for itself)."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in LAYER_OF and (prefix != "curiolib" or end == len(parts)):
            return LAYER_OF[prefix]
    return None


def module_name(path: Path) -> str:
    """The dotted name of a walked file: curiolib/data/__init__.py is curiolib.data."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    where = ROOT.joinpath(*dotted.split("."))
    return where.with_suffix(".py").is_file() or where.is_dir()


def imported_modules(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, dotted module) for every import of the project's own code in ``source``, which is ``module``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # `from . import x` in a package's __init__ is relative to the package itself, elsewhere to the
                # module's package.
                package = module.split(".")[:len(module.split(".")) - node.level + is_package]
                base = ".".join(package + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                # `from curiolib import data` imports the subpackage; `from curiolib import record`, the package.
                target = f"{base}.{alias.name}"
                found.append((node.lineno, target if _is_module(target) else base))
    # `from .x import a, b` is one import of x.
    return sorted({(line, name) for line, name in found if name.split(".")[0] in WALKED})


def upward_imports(source: str, module: str, where: str, is_package: bool = False) -> list[str]:
    """One line per import in ``source`` (the code of ``module``, shown as ``where``) that reaches a higher layer."""
    own = layer_of(module)
    if own is None:
        return [f"{where}: {module} has no layer: place it in LAYER_OF (tests/test_layers.py)"]
    problems = []
    for line, target in imported_modules(source, module, is_package):
        theirs = layer_of(target)
        if theirs is None:
            problems.append(f"{where}:{line}: imports {target}, which has no layer: place it in LAYER_OF")
        elif LAYERS.index(theirs) > LAYERS.index(own):
            problems.append(f"{where}:{line}: {module} (layer {own!r}) imports {target} (layer {theirs!r}), "
                            "a higher layer")
    return problems


def _walked_files() -> list[Path]:
    return sorted(path for folder in WALKED for path in (ROOT / folder).rglob("*.py"))


def test_no_module_imports_from_a_higher_layer() -> None:
    problems = []
    for path in _walked_files():
        problems += upward_imports(path.read_text(encoding="utf-8"), module_name(path),
                                   str(path.relative_to(ROOT)), path.name == "__init__.py")
    assert not problems, "imports that run upward (lowest layer first: " + " < ".join(LAYERS) + "):\n" + "\n".join(
        problems)


def test_every_placed_module_exists() -> None:
    # When a module moves, its old entry goes rather than lingers.
    stale = [name for name in LAYER_OF if not _is_module(name)]
    assert not stale and set(LAYER_OF.values()) <= set(LAYERS), stale


def test_the_walk_catches_an_upward_import_in_a_function_and_in_each_import_form() -> None:
    source = ("from .._validation import check_int\n"  # down: fine
              "from . import models\n"  # its own package: fine
              "def f():\n"
              "    from ..maths.optimisers import warmup_steps\n"  # relative, in a function: up
              "    import curiolib.active.loop\n"  # absolute: up
              "    from curiolib import growth, record\n")  # a subpackage, and the namespace: both up
    problems = upward_imports(source, "curiolib.finetune.loop", "curiolib/finetune/loop.py")
    assert [problem.split(": ")[0] for problem in problems] == [f"curiolib/finetune/loop.py:{line}"
                                                               for line in (4, 5, 6, 6)]
    assert "layer 'finetune/tasks'" in problems[0] and "curiolib.maths.optimisers (layer 'maths/growth')" in problems[0]
    assert "curiolib (layer 'the curiolib namespace')" in problems[2]
    assert "curiolib.growth (layer 'maths/growth')" in problems[3]
    # `from . import x` in a package's __init__ is the package's own module; in the course runtime it is course.
    assert upward_imports("from . import widgets\nfrom ..classroom import catalog\n", "curiolib.course",
                          "course/__init__.py", is_package=True) == [
        "course/__init__.py:2: curiolib.course (layer 'efficient/course') imports curiolib.classroom.catalog "
        "(layer 'classroom'), a higher layer"]
    assert upward_imports("import os\n", "curiolib.newpackage.thing", "x.py") == [
        "x.py: curiolib.newpackage.thing has no layer: place it in LAYER_OF (tests/test_layers.py)"]


def test_layers_place_the_command_line_above_the_tools_and_below_the_scripts() -> None:
    assert [layer_of(name) for name in ("curiolib.course.notebook", "curiolib.classroom.sweep", "curiolib",
                                        "curiolib.__main__", "scripts.readme_figures", "curiolib.data.hub")] == [
        "efficient/course", "classroom", "the curiolib namespace", "command line", "benchmarks/scripts", "data"]


def test_no_module_imports_another_modules_private_name() -> None:
    # A private name is its module's own business: a module that needs it from outside needs a public one.
    found = []
    for path in sorted((ROOT / "curiolib").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                found += [f"{path.relative_to(ROOT)}:{node.lineno}: {alias.name}" for alias in node.names
                          if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert not found, found
