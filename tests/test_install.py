"""What installing curiolib promises: the bounds in pyproject.toml hold, and Colab's first cell works.

The two slow tests build environments: the minimum-versions one (`scripts/min_versions_env.py`, kept in
`.venv-min/` and rebuilt only when pyproject.toml changes), where the fast tests and lessons 00-02 must pass,
and a fresh Colab-like one, where lesson 00 runs its own first cell (the `%pip install` line, pointed at a
local clone) and must leave the torch and transformers already there untouched.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from curiolib.course import notebook
from curiolib.classroom.catalog import LESSONS, PROJECT_ROOT, find_lesson, repository_url, setup_cell_source
from curiolib.classroom.harness import MissingExtraError, require_papermill

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the dev extra installs tomli, the same reader
    import tomli as tomllib

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
#: Only a local JupyterLab setup, or the tests, need these: Colab's first cell must not install them.
LOCAL_ONLY = {"jupyterlab", "jupyterlab-rise", "papermill", "ipykernel", "pytest", "pytest-xdist", "nbval", "ruff",
              "uv"}


def _load_min_versions_env():
    spec = importlib.util.spec_from_file_location("min_versions_env", PROJECT_ROOT / "scripts" / "min_versions_env.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _names(lines: list[str]) -> set[str]:
    return {Requirement(line).name.lower() for line in lines}


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment a subprocess in another virtual environment gets: offline, one thread, nothing of ours."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"))
    env.update(extra)
    return env


# ---- the version warning of setup_notebook ----------------------------------------------------------------

def _fake_versions(monkeypatch: pytest.MonkeyPatch, fake: dict[str, str]) -> None:
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: fake.get(name.lower(), None) or real(name))


def test_setup_notebook_warns_in_one_line_when_a_version_is_below_a_bound(monkeypatch, capsys) -> None:
    bound = next(Requirement(r) for r in metadata.requires("curiolib") if Requirement(r).name == "transformers")
    _fake_versions(monkeypatch, {"transformers": "4.0.0"})
    notebook.setup_notebook(seed=0)
    lines = capsys.readouterr().out.splitlines()
    warnings = [line for line in lines if line.startswith("warning:")]
    assert warnings == [line for line in lines if "warning" in line.lower()]  # one line says it all
    assert len(warnings) == 1
    assert f"transformers 4.0.0 (needs {bound.specifier})" in warnings[0]
    assert warnings[0].endswith(f'pip install -U "transformers{bound.specifier}"')


def test_setup_notebook_does_not_warn_when_the_bounds_are_met(monkeypatch, capsys) -> None:
    # This environment is installed from pyproject.toml, so it meets the bounds; and so does a far future.
    notebook.setup_notebook(seed=0)
    assert "warning" not in capsys.readouterr().out
    monkeypatch.setattr(metadata, "version", lambda name: "999.0")
    notebook.setup_notebook(seed=0)
    assert "warning" not in capsys.readouterr().out


def test_only_runtime_requirements_that_are_installed_and_too_old_are_reported(monkeypatch) -> None:
    declared = ["numpy>=2.0", 'pytest>=8.0; extra == "dev"', "no-such-package>=1.0", "torch>=2.1"]
    installed = {"numpy": "1.26.4", "pytest": "7.0", "torch": "2.13.0+cpu"}

    def version(name: str) -> str:
        if name not in installed:
            raise metadata.PackageNotFoundError(name)
        return installed[name]

    monkeypatch.setattr(metadata, "requires", lambda name: declared)
    monkeypatch.setattr(metadata, "version", version)
    assert notebook.below_bounds() == {"numpy": ("1.26.4", ">=2.0")}
    installed["numpy"] = "2.0.0rc1"  # a pre-release of the bound is older than the bound
    assert notebook.below_bounds() == {"numpy": ("2.0.0rc1", ">=2.0")}
    installed["numpy"] = "2.1.0.dev0"  # a development build past the bound meets it (packaging 22 needs telling)
    assert notebook.below_bounds() == {}
    installed["numpy"] = "2.0.0"
    assert notebook.below_bounds() == {} and notebook.version_warning() is None


# ---- the extras: what Colab's first cell installs, what `make` installs ----------------------------------

def test_the_first_cell_installs_the_runtime_dependencies_only() -> None:
    line = next(line for line in setup_cell_source().splitlines() if "%pip install" in line)
    assert f'"curiolib @ git+{repository_url()}"' in line, "no extras on Colab"
    runtime = _names(PYPROJECT["project"]["dependencies"])
    assert not runtime & LOCAL_ONLY, f"Colab would install {runtime & LOCAL_ONLY}"
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert _names(extras["lab"]) == {"jupyterlab", "jupyterlab-rise", "jupyterlab-widgets", "papermill", "ipykernel"}
    assert {"pytest", "pytest-xdist", "nbval", "ruff", "uv"} <= _names(extras["dev"])
    for requirement in map(Requirement, extras["lab"]):  # test_project checks the others' the same way
        # The one upper bound: the widget manager that RISE's own build of JupyterLab can load (pyproject.toml).
        bounds = {">=", "<"} if requirement.name == "jupyterlab-widgets" else {">="}
        assert {spec.operator for spec in requirement.specifier} == bounds, requirement
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert 'pip install -q -e ".[lab,dev]"' in makefile, "make run / make test install both extras"


def test_curiolib_run_without_papermill_says_in_one_line_which_extra_installs_it(monkeypatch, capsys,
                                                                                 tmp_path) -> None:
    from curiolib.__main__ import main

    monkeypatch.setitem(sys.modules, "papermill", None)  # what `import papermill` meets where it is missing
    with pytest.raises(ImportError, match=r"curiolib\[lab\]"):
        require_papermill()
    assert main(["run", "00", "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "papermill" in err[0] and "pip install 'curiolib[lab]'" in err[0], err
    assert not (tmp_path / "out").exists(), "nothing runs without papermill"
    assert issubclass(MissingExtraError, ModuleNotFoundError)


def test_the_min_versions_constraints_hold_each_bound_to_its_release_series() -> None:
    module = _load_min_versions_env()
    constraints, overrides = module.constraints("2.13.0+cpu")
    pins = constraints.splitlines()
    declared = module.declared_requirements()
    assert len(pins) == len(declared) - 1 and not any(p.startswith("torch") for p in pins)
    for requirement in declared:
        if requirement.name != "torch":
            assert f"{requirement.name}=={module.lower_bound(requirement)}.*" in pins
    assert overrides == "torch==2.13.0+cpu\n"
    with pytest.raises(ValueError, match="exactly one >= bound"):
        module.lower_bound(Requirement("numpy>=2.0,>=2.1"))


# ---- the minimum-versions environment -----------------------------------------------------------------------

def _installed_versions(python: Path, names: list[str]) -> dict[str, str]:
    code = ("import json, sys\nfrom importlib.metadata import version\n"
            "print(json.dumps({n: version(n) for n in sys.argv[1:]}))")
    out = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True, check=True,
                         env=_clean_env()).stdout
    return json.loads(out)


def _min_versions_check(tmp_path: Path) -> None:
    """The minimum-versions environment holds its bounds, and the fast tests and lessons 00-02 pass in it."""
    module = _load_min_versions_env()
    venv, _ = module.build()
    python = module.venv_python(venv)
    # A requirement for another Python (tomli, on 3.10 only) is not installed here: its marker says so.
    declared = [req for req in module.declared_requirements() if req.marker is None or req.marker.evaluate()]
    installed = _installed_versions(python, [req.name for req in declared])
    for requirement in declared:
        got = Version(installed[requirement.name])
        if requirement.name == "torch":
            assert str(got) == metadata.version("torch")
            continue
        bound = module.lower_bound(requirement)
        assert got.release[:len(bound.release)] == bound.release, f"{requirement}: installed {got}"

    # Bytecode is written, under the environment's own folder: uv installs without it, and where
    # PYTHONDONTWRITEBYTECODE is set (as on this project's machine) every process here would compile all it
    # imports (torch, transformers) from source again, seconds each. Compiled once, on first import, it is not.
    env = _clean_env(JUPYTER_PATH=str(venv / "share" / "jupyter"), PYTHONPYCACHEPREFIX=str(venv / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # The fast tests, this module's fast ones included, in their own temporary folder; through one pytest-xdist
    # worker, as `make test-fast` runs them through two, so that xdist's bound is tested (one keeps the CPUs'
    # share this check had before xdist). Through the `pytest` command, not `python -m pytest`: the project's
    # folder is then not on sys.path by itself, and pyproject.toml's `pythonpath` must put it there before its
    # `-p tests.pytest_start` loads (pytest 8.4 and later do).
    tests = subprocess.run([str(venv / "bin" / "pytest"), "-m", "not slow", "-q", "-p", "no:cacheprovider",
                            "-n", "1", "--dist", "loadgroup", "--no-loadscope-reorder",
                            f"--basetemp={tmp_path / 'pytest'}"], cwd=PROJECT_ROOT, env=env,
                           capture_output=True, text=True)
    assert tests.returncode == 0, tests.stdout[-6000:] + tests.stderr[-3000:]
    # Executed, not compared with nbval: reprs differ between pandas and numpy versions. On the smoke
    # parameters (every cell runs and calls what it calls at full size, on shorter loops), given with -p,
    # not --smoke, so that each run also snapshots its widgets as a full run does.
    for lesson in [find_lesson(number) for number in ("00", "01", "02")]:
        parameters = [arg for name, value in lesson.smoke.items() for arg in ("-p", name, repr(value))]
        run = subprocess.run([str(venv / "bin" / "curiolib"), "run", lesson.stem, *parameters, "--output-dir",
                              str(tmp_path / "out" / lesson.stem), "--no-progress"], cwd=tmp_path, env=env,
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
        summary = json.loads((tmp_path / "out" / lesson.stem / "summary.json").read_text())
        assert list(summary) == [lesson.stem] and summary[lesson.stem]["ok"]
    # At the bounds exactly, setup_notebook must not call anything too old.
    first = find_lesson("00").stem
    assert "older than curiolib needs" not in (tmp_path / "out" / first / f"{first}.ipynb").read_text()


# ---- the Colab path ---------------------------------------------------------------------------------------

def _distribution_state(python: Path, names: list[str]) -> dict[str, list]:
    """Version, folder and RECORD file identity of each package: a reinstall changes the last."""
    code = ("import json, os, sys\nfrom importlib.metadata import distribution\nout = {}\n"
            "for n in sys.argv[1:]:\n"
            "    d = distribution(n); record = os.path.join(str(d._path), 'RECORD'); s = os.stat(record)\n"
            "    out[n] = [d.version, str(d.locate_file('')), record, s.st_ino, s.st_mtime_ns]\n"
            "print(json.dumps(out))")
    out = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True, check=True,
                         env=_clean_env()).stdout
    return json.loads(out)


#: Run before the lesson: Colab's kernel has `google.colab` imported, which is what the first cell looks for.
FAKE_COLAB = "import sys, types\nsys.modules.setdefault('google.colab', types.ModuleType('google.colab'))"

RUN_NOTEBOOK = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, kernel_name="python3", timeout=1800, resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(nb, sys.argv[3])
"""


def _colab_first_cell_check(tmp_path: Path) -> None:
    """Lesson 00's own first cell, in a fresh Colab-like environment, pointed at a clone of this repository."""
    module = _load_min_versions_env()
    # The committed state, as CI's clean clone has it (uncommitted edits are not in a clone).
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(PROJECT_ROOT), str(clone)], check=True)
    venv = tmp_path / "colab"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = module.venv_python(venv)
    # What Colab has before the first cell: torch, transformers, a kernel, a notebook runner and a recent pip
    # (the one Python 3.11 bundles rejects a git+file:/// URL). uv, from its cache, because only what the
    # first cell does is under test.
    preinstalled = [f"torch=={metadata.version('torch')}", f"transformers=={metadata.version('transformers')}",
                    "ipykernel", "nbclient", "pip>=24"]
    subprocess.run([*module.uv_command(), "pip", "install", "-q", "--python", str(python), *module.find_links(),
                    *preinstalled], check=True)
    subprocess.run([str(python), "-Xfrozen_modules=off", "-m", "ipykernel", "install", "--sys-prefix", "--name",
                    "python3"], check=True, stdout=subprocess.DEVNULL)
    before = _distribution_state(python, ["torch", "transformers"])

    # Lesson 00 exactly as committed, but for the repository URL, which becomes the local clone.
    lesson = json.loads((clone / "notebooks" / find_lesson("00").filename).read_text())
    cell = next(c for c in lesson["cells"] if c["cell_type"] == "code" and "%pip install" in "".join(c["source"]))
    assert "".join(cell["source"]) == setup_cell_source()
    line = next(text for text in cell["source"] if "%pip install" in text)
    cell["source"] = [text.replace(repository_url(), f"file://{clone}") for text in cell["source"]]
    assert re.search(r'%pip install -q "curiolib @ git\+file://', "".join(cell["source"])), line
    lesson["cells"].insert(0, {"cell_type": "code", "metadata": {}, "source": FAKE_COLAB, "outputs": [],
                               "execution_count": None})
    source, executed = tmp_path / "00.ipynb", tmp_path / "00.executed.ipynb"
    source.write_text(json.dumps(lesson))
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run([str(python), "-c", RUN_NOTEBOOK, str(source), str(work), str(executed)],
                            env=_clean_env(JUPYTER_PATH=str(venv / "share" / "jupyter")), capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-6000:]

    outputs = "".join("".join(out.get("text", "")) for cell in json.loads(executed.read_text())["cells"]
                      for out in cell.get("outputs", []))
    assert "colab=True" in outputs and "older than curiolib needs" not in outputs, outputs[:2000]
    where = subprocess.run([str(python), "-c", "import curiolib; print(curiolib.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, check=True, env=_clean_env()).stdout
    assert where.startswith(str(venv)), f"installed from git into the environment, not linked: {where}"
    assert _distribution_state(python, ["torch", "transformers"]) == before, "the first cell reinstalled them"
    have = {line.split("==")[0].lower() for line in subprocess.run(
        [str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True,
        env=_clean_env()).stdout.splitlines()}
    assert not have & {"jupyterlab", "papermill", "nbval", "pytest", "pytest-xdist", "ruff", "jupyterlab-rise"}


# ---- the two environment checks, each in its own xdist group (conftest starts the longest work first) -------

@pytest.mark.slow
@pytest.mark.xdist_group("install-min-versions")
def test_fast_tests_and_lessons_00_to_02_pass_with_every_dependency_at_its_lower_bound(tmp_path: Path) -> None:
    _min_versions_check(tmp_path)


@pytest.mark.slow
@pytest.mark.xdist_group("install-colab-first-cell")
def test_colab_first_cell_installs_from_a_clone_leaves_torch_alone_and_lesson_00_runs(tmp_path: Path) -> None:
    _colab_first_cell_check(tmp_path)


def _python_310() -> str | None:
    """A Python 3.10 interpreter that runs on this machine (on PATH, or kept by pyenv), or None."""
    kept = sorted(Path.home().glob(".pyenv/versions/3.10*/bin/python3.10"))
    candidates = [shutil.which("python3.10"), *map(str, kept)]
    for candidate in filter(None, candidates):  # a pyenv shim is on PATH even where its version is not selected
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 10))"],
                               capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    return None


@pytest.mark.slow
def test_curiolib_imports_and_lists_the_lessons_under_the_oldest_python_it_claims(tmp_path: Path) -> None:
    # Python 3.10 (Ubuntu 22.04's) is the oldest requires-python allows. The CPU torch wheel on this machine is
    # for 3.11, so the 3.10 environment takes curiolib alone (--no-deps): enough for import and `curiolib list`.
    python = _python_310()
    if python is None:
        pytest.skip("no Python 3.10 interpreter here (python3.10 on PATH or pyenv's 3.10): nothing to check")
    assert "3.10" in Requirement(f"python{PYPROJECT['project']['requires-python']}").specifier
    venv, source = tmp_path / "py310", tmp_path / "source"
    # A copy of what the wheel is built from: building in the checkout would leave a build/ folder in it.
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, source / name)
    shutil.copytree(PROJECT_ROOT / "curiolib", source / "curiolib", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(source)],
                             capture_output=True, text=True, env=_clean_env(), timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    # From an empty folder, so the checkout's curiolib/ folder cannot stand in for the installed one.
    imported = subprocess.run([str(venv / "bin" / "python"), "-c", "import sys, curiolib; print(sys.version_info[:2], "
                               "curiolib.__file__)"], capture_output=True, text=True, cwd=tmp_path, env=_clean_env())
    assert imported.returncode == 0 and "(3, 10)" in imported.stdout and str(venv) in imported.stdout, imported.stderr
    listed = subprocess.run([str(venv / "bin" / "curiolib"), "list"], capture_output=True, text=True, cwd=tmp_path,
                            env=_clean_env())
    assert listed.returncode == 0, listed.stderr
    rows = [line.split()[0] for line in listed.stdout.splitlines() if not line.startswith("(")]
    assert rows == [lesson.stem for lesson in LESSONS], listed.stdout
