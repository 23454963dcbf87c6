"""Every lesson executes through the harness with its smoke parameters, and passes nbval.

nbval compares outputs literally, so an output that depends on the CPU's floating-point path (vector width,
BLAS kernel, thread count) passes on the machine that wrote it and fails on the next. The tests below
re-execute each lesson on a second path, the way another CPU would, so such an output fails here first.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import Future
from pathlib import Path

import nbformat
import pytest
from _background import after, process_env, started, submit

from curiolib.classroom.catalog import PROJECT_ROOT, Lesson, available_lessons

pytestmark = pytest.mark.slow  # every test here executes lessons
LESSONS = available_lessons()
COMMITTED = [lesson for lesson in LESSONS if lesson.nbval == "committed"]
SANITIZE = PROJECT_ROOT / "tests" / "nbval_sanitize.cfg"


def _numpy_dispatched_features() -> str:
    # Everything numpy picks at run time beyond its baseline; disabling them all is an older CPU's path.
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__
    except ImportError:  # numpy < 2 keeps it under numpy.core
        from numpy.core._multiarray_umath import __cpu_dispatch__
    return " ".join(__cpu_dispatch__)


#: torch's portable kernels instead of AVX2/AVX512, MKL and OpenBLAS on old instruction sets, numpy's
#: baseline SIMD only, one thread (reductions that split by thread add up in another order).
OTHER_CPU = {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
             "OPENBLAS_CORETYPE": "Prescott", "NPY_DISABLE_CPU_FEATURES": _numpy_dispatched_features(),
             "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
#: The smoke copies of the training lessons: the second execution takes torch's portable kernels.
OTHER_KERNELS = {"ATEN_CPU_CAPABILITY": "default"}
#: Each lesson on one thread: jobs run two at a time beside the in-process tests (tests/_background.py).
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _repository_files() -> dict[str, float | None]:
    # Every file of the checkout (but git's, the virtual environment and caches) with its modification time;
    # for Python files only that they exist, since no lesson writes one and a developer may edit them meanwhile.
    # .venv-min and *.egg-info: the minimum-versions environment, whose build (tests/test_install.py, on the
    # same pool) installs curiolib in editable mode and so rewrites the egg-info meanwhile.
    skip = {".git", ".venv", ".venv-min", "__pycache__", ".pytest_cache", ".ruff_cache"}
    files = {}
    for folder, subfolders, names in os.walk(PROJECT_ROOT):
        subfolders[:] = [name for name in subfolders if name not in skip and not name.endswith(".egg-info")]
        for name in names:
            path = Path(folder) / name
            files[str(path.relative_to(PROJECT_ROOT))] = None if name.endswith(".py") else path.stat().st_mtime
    return files


def _environment(extra: dict[str, str] | None) -> dict[str, str]:
    return {**process_env(), **(extra or {})}


def _smoke_run(lesson: Lesson, out: Path) -> dict:
    """`curiolib run NN --smoke`, as a user types it; the summary's entry for the lesson."""
    folder = out / lesson.stem
    done = subprocess.run([sys.executable, "-m", "curiolib", "run", lesson.stem, "--smoke", "--output-dir",
                           str(folder), "--no-progress"], capture_output=True, text=True, timeout=1800,
                          env=_environment(ONE_THREAD))
    summary = folder / "summary.json"
    entry = json.loads(summary.read_text())[lesson.stem] if summary.exists() else {"ok": False, "recorded": {}}
    entry["error"] = entry.get("error") or (None if done.returncode == 0 else done.stderr[-3000:])
    return entry | {"output_path": folder / lesson.filename}


def _nbval(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "--nbval", str(path), "--nbval-current-env",
                           "--nbval-sanitize-with", str(SANITIZE), "-p", "no:cacheprovider", "-q"],
                          capture_output=True, text=True, cwd=path.parent, timeout=1800, env=_environment(env))


def start_background(tmp_path_factory: pytest.TempPathFactory, session: pytest.Session) -> dict[str, Future]:
    """Every lesson execution of this module, on the suite's pool (conftest starts it with the session).

    Training lessons: a smoke run, then nbval on its copy. Fast lessons: a smoke run, nbval on the
    committed notebook, and nbval on it again on another CPU's floating-point path.
    """
    def start() -> dict[str, Future]:
        out = tmp_path_factory.mktemp("smoke")
        before = _repository_files()
        futures: dict[str, Future] = {}

        def smoke_then_nbval(lesson: Lesson) -> tuple[dict, subprocess.CompletedProcess | None]:
            run = _smoke_run(lesson, out)
            if lesson.nbval != "smoke" or not run["ok"]:
                return run, None
            return run, _nbval(run["output_path"], OTHER_KERNELS | ONE_THREAD)

        # The long chains first, so that the last job to finish is a short one.
        for lesson in sorted(LESSONS, key=lambda lesson: lesson.nbval != "smoke"):
            futures[f"smoke {lesson.stem}"] = submit(smoke_then_nbval, lesson)
        for lesson in COMMITTED:
            futures[f"nbval {lesson.stem}"] = submit(_nbval, lesson.path)
            futures[f"other cpu {lesson.stem}"] = submit(_nbval, lesson.path, OTHER_CPU)
        smoke = [future for name, future in futures.items() if name.startswith("smoke ")]
        futures["repository"] = after(smoke, lambda: (before, _repository_files()))
        return futures

    return started(__name__, start)


@pytest.fixture(scope="module")
def background(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Future]:
    """The futures of `start_background`, each test waiting for its own."""
    return start_background(tmp_path_factory, request.session)


def test_a_lesson_run_writes_nothing_into_the_repository(background: dict) -> None:
    before, after = background["repository"].result()
    assert after == before, sorted(set(after.items()) ^ set(before.items()))


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.stem for lesson in LESSONS])
def test_lesson_runs_with_smoke_parameters_and_records_numbers(lesson: Lesson, background: dict) -> None:
    run, _ = background[f"smoke {lesson.stem}"].result()
    assert run["ok"], run["error"]
    assert run["recorded"], f"{lesson.stem} recorded no key numbers"


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.stem for lesson in LESSONS])
def test_lesson_passes_nbval(lesson: Lesson, background: dict) -> None:
    # Fast lessons: nbval re-executes the committed notebook. Training lessons: the smoke copy must
    # reproduce its own outputs on a second execution (see Lesson.nbval), and that second execution
    # takes another CPU's kernels, so an output that depends on them fails here.
    if lesson.nbval == "committed":
        result = background[f"nbval {lesson.stem}"].result()
    else:
        run, result = background[f"smoke {lesson.stem}"].result()
        assert result is not None, f"the smoke run failed, so nbval had nothing to check: {run['error']}"
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.parametrize("lesson", COMMITTED, ids=[lesson.stem for lesson in COMMITTED])
def test_committed_lesson_passes_nbval_on_another_cpus_floating_point_path(lesson: Lesson, background: dict) -> None:
    result = background[f"other cpu {lesson.stem}"].result()
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_the_other_cpu_settings_really_change_the_kernels_a_lesson_runs_on() -> None:
    # If torch or numpy stopped reading these variables, the test above would compare the same path twice.
    probe = ("import torch, numpy\n"
             "from threadpoolctl import threadpool_info\n"
             "print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())\n"
             "print([i.get('architecture') for i in threadpool_info() if i['internal_api'] == 'openblas'])\n")
    default = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    other = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                           env={**os.environ, **OTHER_CPU}).stdout
    assert other.splitlines()[0] == "DEFAULT 1", other
    if default.splitlines()[0].startswith("DEFAULT"):
        pytest.skip(f"this CPU runs torch's portable kernels already; nothing to switch: {default}")
    assert other.splitlines()[1] != default.splitlines()[1], (default, other)


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.stem for lesson in LESSONS])
def test_a_smoke_copy_shows_its_widgets_as_snapshots_not_as_a_repr(lesson: Lesson, background: dict) -> None:
    # Reopened without a kernel, a live widget output is only `VBox(children=…)`: smoke copies are snapshotted too.
    run, _ = background[f"smoke {lesson.stem}"].result()
    assert run["ok"], run["error"]
    copy = nbformat.read(run["output_path"], as_version=4)
    live = [index for index, cell in enumerate(copy.cells) for output in cell.get("outputs", [])
            if "application/vnd.jupyter.widget-view+json" in output.get("data", {})]
    assert not live and "widgets" not in copy.metadata, f"cells {live} keep live widgets"
