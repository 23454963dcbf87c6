"""curiolib: a Jupyter-first course on knowledge growth and fine-tuning small BERT models.

The import rule: lessons write ``from curiolib import name`` for every name they call, one namespace. Each
subpackage's ``__all__`` is the only list of its public names: this file reads them from the subpackages'
``__init__.py`` without running them, and loads a subpackage the first time one of its names is asked for, so a
lesson's first cell (``setup_notebook``, ``record``, imported at once) does not wait for torch. The subpackages
are attributes too (``curiolib.growth``).

The layers, lowest first; a module imports only from its own layer or a lower one (tests/test_layers.py): the
private helpers (``_files``, ``_validation``, ``_figures``); ``data``; ``finetune`` and ``tasks``; ``efficient``
and ``course`` (the lesson runtime); ``maths`` and ``growth``; ``active``; ``classroom`` (the teacher's tools:
catalog, harness, sweep, slides, deck, snapshot); this namespace; the command line (``__main__``); then
``benchmarks/`` and ``scripts/``.

Where each thing lives, one folder per lesson:

- ``course/``: what a lesson calls while it runs: notebook setup and ``record``, widgets, sliders, figures' alt text
- ``classroom/``: the teacher's tools: the lesson catalog, ``curiolib run`` (papermill), sweeps, slides, decks
- ``growth/``: the knowledge-growth model and its figures (lessons 01, 05)
- ``maths/``: the calculus and the optimiser demos of lesson 02
- ``data/``: loaders, readers, features, tokenizing (sentences and NER label alignment)
- ``finetune/``: the model registry, the training loop, inference (classify, find entities)
- ``tasks/``: sentiment and NER metrics, error analysis and baselines (lessons 03, 04)
- ``active/``: active-learning strategies, loop, report and plots (lesson 05)
- ``efficient/``: LoRA, int8 and ONNX serving, the comparison, dynamic padding (lesson 06)
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

from .course.notebook import record, recorded, seed_everything, setup_notebook

__version__ = "0.1.0"

#: The subpackages, lowest layer first: a name two of them export (a re-export) loads from the lower one.
_SUBPACKAGES = ("data", "finetune", "tasks", "efficient", "course", "maths", "growth", "active", "classroom")


def _declared_names(path: Path) -> list[str]:
    """A subpackage's ``__all__``, read from its ``__init__.py`` without running it (running it may load torch)."""
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        if isinstance(node, ast.Assign) and [getattr(target, "id", None) for target in node.targets] == ["__all__"]:
            try:
                return [str(name) for name in ast.literal_eval(node.value)]
            except ValueError:
                raise ImportError(f"{path}:{node.lineno}: write __all__ out as a list of strings: curiolib reads it "
                                  "without importing the subpackage") from None
    raise ImportError(f"{path} has no __all__: list the names curiolib should export (see curiolib/__init__.py)")


#: Each exported name and the module it loads from.
_WHERE: dict[str, str] = {}
for _package in _SUBPACKAGES:
    for _name in _declared_names(Path(__file__).with_name(_package) / "__init__.py"):
        _WHERE.setdefault(_name, f".{_package}")
del _package, _name

__all__ = ["record", "recorded", "seed_everything", "setup_notebook"]  # imported at once, above
__all__ += [name for name in _WHERE if name not in __all__]


def __getattr__(name: str):
    # PEP 562: import a name's subpackage the first time the name is asked for.
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    if name not in _WHERE:
        raise AttributeError(f"module 'curiolib' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_SUBPACKAGES))
