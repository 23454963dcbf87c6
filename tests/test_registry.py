"""One registry of public names: each subpackage's `__all__` is the only list, and `curiolib` exports all of them.

The lessons write `from curiolib import name` for every name they call, so every name of every subpackage must
resolve from `curiolib`, to the same object, and `import curiolib` (a lesson's first cell) must not wait for torch.
"""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import curiolib

PACKAGE = Path(curiolib.__file__).parent
#: Every subpackage, found on disk rather than taken from curiolib's own list, so a new one cannot be forgotten.
SUBPACKAGES = sorted(path.parent.name for path in PACKAGE.glob("*/__init__.py"))


def _subpackage(name: str) -> ModuleType:
    return importlib.import_module(f"curiolib.{name}")


def _exporters() -> dict[str, list[str]]:
    """Each name of a subpackage's __all__, and the subpackages that export it."""
    exporters: dict[str, list[str]] = {}
    for package in SUBPACKAGES:
        for name in _subpackage(package).__all__:
            exporters.setdefault(name, []).append(package)
    return exporters


def test_every_subpackage_declares_its_exports_and_is_an_attribute() -> None:
    assert SUBPACKAGES, PACKAGE
    for package in SUBPACKAGES:
        module = _subpackage(package)
        assert getattr(curiolib, package) is module, package
        assert isinstance(getattr(module, "__all__", None), list) and module.__all__, f"curiolib.{package}: no __all__"
        assert len(set(module.__all__)) == len(module.__all__), f"curiolib.{package}.__all__ repeats a name"


def test_every_name_a_subpackage_exports_is_exported_from_curiolib() -> None:
    missing = {name: packages for name, packages in _exporters().items() if name not in curiolib.__all__}
    assert not missing, f"names `from curiolib import name` cannot reach (name: its subpackages): {missing}"


def test_every_name_of_curiolib_is_the_object_of_its_subpackage() -> None:
    exporters = _exporters()
    for name in curiolib.__all__:
        value = getattr(curiolib, name)
        homes = [_subpackage(package) for package in exporters.get(name, [])]
        assert homes, f"curiolib.{name} is in no subpackage's __all__"
        for home in homes:
            assert getattr(home, name) is value, f"curiolib.{name} is not {home.__name__}.{name}"
    assert len(set(curiolib.__all__)) == len(curiolib.__all__)


def test_no_name_is_exported_by_two_subpackages_as_different_objects() -> None:
    # One namespace for the lessons: two subpackages may share a name only as one object (a re-export).
    collisions = []
    for name, packages in _exporters().items():
        objects = {id(getattr(_subpackage(package), name)) for package in packages}
        if len(objects) > 1:
            collisions.append(f"{name}: {', '.join(f'curiolib.{package}' for package in packages)}")
    clashing = sorted(set(_exporters()) & set(SUBPACKAGES))  # `curiolib.growth` cannot be both
    assert not collisions, f"one name, different objects: {collisions}"
    assert not clashing, f"names exported that are also a subpackage's name: {clashing}"


def test_dir_lists_every_name_and_every_subpackage() -> None:
    # (An unknown name's AttributeError: tests/test_project.py::test_every_name_of_the_public_api_resolves.)
    listed = set(dir(curiolib))
    assert set(curiolib.__all__) <= listed and set(SUBPACKAGES) <= listed
    assert {"record", "recorded", "seed_everything", "setup_notebook"} <= set(curiolib.__all__)


def test_import_curiolib_and_its_name_list_load_no_torch_and_no_transformers() -> None:
    # A lesson's first cell (`from curiolib import record, setup_notebook`) must not wait for torch; reading
    # curiolib's name list must not import the subpackages to find it.
    code = ("import sys\nimport curiolib\nfrom curiolib import record, recorded, seed_everything, setup_notebook\n"
            "names = curiolib.__all__, dir(curiolib)\n"
            "heavy = ('torch', 'transformers', 'curiolib.data', 'curiolib.finetune')\n"
            "print(sorted(m for m in heavy if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr[-2000:]


def test_a_name_loads_its_own_subpackage_only_and_only_when_asked_for() -> None:
    code = ("import sys\nimport curiolib\nassert 'curiolib.growth' not in sys.modules\n"
            "from curiolib import simulate\n"
            "print(simulate is curiolib.growth.simulate, 'curiolib.active' in sys.modules, "
            "'curiolib.efficient' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.split() == ["True", "False", "False"], done.stdout + done.stderr[-2000:]


@pytest.mark.parametrize(("text", "said"), [
    ("from .a import f\n\n__all__ = ['f'] + EXTRA\n", "__init__.py:3: write __all__ out as a list of strings"),
    ("from .a import f\n", "__init__.py has no __all__"),
])
def test_a_subpackage_list_curiolib_cannot_read_is_an_error_naming_the_file(text: str, said: str,
                                                                           tmp_path: Path) -> None:
    (tmp_path / "__init__.py").write_text(text)
    with pytest.raises(ImportError, match=said):
        curiolib._declared_names(tmp_path / "__init__.py")
    (tmp_path / "__init__.py").write_text("__all__ = ['f', 'g']\n")
    assert curiolib._declared_names(tmp_path / "__init__.py") == ["f", "g"]


def test_no_exported_name_hides_a_module_of_its_own_package() -> None:
    # `from .sweep import sweep` made `curiolib.classroom.sweep` the function: the module could no longer be
    # reached (or patched) by that name.
    hidden = [f"curiolib.{package}.{name}" for package in SUBPACKAGES for name in _subpackage(package).__all__
              if (PACKAGE / package / f"{name}.py").exists()]
    assert not hidden, hidden
