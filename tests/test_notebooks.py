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
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from curiolib.classroom.catalog import PROJECT_ROOT, Lesson, available_lessons, smoke_memory_problem
from curiolib.course.exercises import RECORD_PREFIX, cell_tests, check_calls, run_test

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
#: Each lesson on one thread: two workers run tests side by side (`make test`, pytest-xdist).
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _each(lessons: list[Lesson]) -> list:
    """The lessons as parameters, each in its xdist group: the tests of one lesson's executions run in one worker."""
    return [pytest.param(lesson, id=lesson.stem, marks=pytest.mark.xdist_group(f"lesson-{lesson.stem}"))
            for lesson in lessons]


def _environment(extra: dict[str, str] | None) -> dict[str, str]:
    return {**os.environ, **(extra or {})}


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


#: `python -m pytest`, started as tests/pytest_start.py starts the suite's own processes: a smoke copy is checked in
#: its output folder, where the project's pyproject.toml (which loads that plugin) does not apply. (For a committed
#: lesson it does, and the grammar is skipped twice, to the same effect.)
PYTEST = ("import sys\nfrom curiolib.classroom.harness import skip_iri_grammar\nskip_iri_grammar()\n"
          "import pytest\nsys.exit(pytest.main())")


def _nbval(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PYTEST, "--nbval", str(path), "--nbval-current-env",
                           "--nbval-sanitize-with", str(SANITIZE), "-p", "no:cacheprovider", "-q"],
                          capture_output=True, text=True, cwd=path.parent, timeout=1800, env=_environment(env))


def _attempt(step: Callable, *args) -> object:
    """``step(*args)``, or the exception it raised: a step's error is its own tests' (`_result`), not the lesson's."""
    try:
        return step(*args)
    except Exception as error:  # a timeout: the tests of this step get it, the lesson's other steps still run
        return error


def _result(found: object) -> object:
    """What `_attempt` kept: the step's result, or its exception raised again."""
    if isinstance(found, Exception):
        raise found
    return found


def _executions(lesson: Lesson, out: Path, repository_files: Callable[[], dict]) -> dict:
    """Every execution of a lesson, one after another, and the repository's files before and after them all.

    Training lessons: a smoke run, then nbval on its copy. Fast lessons: a smoke run, nbval on the
    committed notebook, and nbval on it again on another CPU's floating-point path.
    """
    before = repository_files()
    run = _attempt(_smoke_run, lesson, out)
    found = {"smoke": run}
    if lesson.nbval == "smoke":
        ran = not isinstance(run, Exception) and run["ok"]
        found["nbval"] = _attempt(_nbval, run["output_path"], OTHER_KERNELS | ONE_THREAD) if ran else None
    else:
        found["nbval"] = _attempt(_nbval, lesson.path)
        found["other cpu"] = _attempt(_nbval, lesson.path, OTHER_CPU)
    return found | {"repository": (before, repository_files())}


@pytest.fixture(scope="session")
def executions(once: Callable, repository_files: Callable[[], dict],
               tmp_path_factory: pytest.TempPathFactory) -> Callable[[Lesson], dict]:
    """A lesson's `_executions`, made by the first of its tests in this process (its xdist group's worker)."""
    out = tmp_path_factory.mktemp("smoke")
    return lambda lesson: once(f"lesson {lesson.stem}", lambda: _executions(lesson, out, repository_files))


@pytest.mark.parametrize("lesson", _each(LESSONS))
def test_a_lesson_run_writes_nothing_into_the_repository(lesson: Lesson, executions: Callable) -> None:
    # Around all of the lesson's executions; conftest also compares the repository around the whole session.
    before, after = executions(lesson)["repository"]
    assert after == before, sorted(set(after.items()) ^ set(before.items()))


@pytest.mark.parametrize("lesson", _each(LESSONS))
def test_lesson_runs_with_smoke_parameters_and_records_numbers(lesson: Lesson, executions: Callable) -> None:
    run = _result(executions(lesson)["smoke"])
    assert run["ok"], run["error"]
    assert run["recorded"], f"{lesson.stem} recorded no key numbers"


@pytest.mark.parametrize("lesson", _each(LESSONS))
def test_a_smoke_run_stays_within_its_lessons_recorded_memory(lesson: Lesson, executions: Callable) -> None:
    # No run of its own: the smoke run above, its kernel's peak (summary.json) against the catalog's figure,
    # so a cell that keeps a model, its optimizer or a batch's activations it no longer needs fails here.
    run = _result(executions(lesson)["smoke"])
    assert run["ok"], run["error"]
    if run.get("peak_gb") is None and not sys.platform.startswith("linux"):
        pytest.skip("the harness reads the kernel's memory from /proc: Linux only")
    problem = smoke_memory_problem(lesson.stem, run.get("peak_gb"))
    assert problem is None, problem


@pytest.mark.parametrize("lesson", _each(LESSONS))
def test_the_teachers_answers_pass_every_check_and_again_from_what_the_run_recorded(lesson: Lesson,
                                                                                    executions: Callable) -> None:
    # No run of its own: the smoke run's recorded checks. Then grading's path: each test function, taken from its
    # cell alone, passes again on the answers the run recorded (so it reads nothing but its answers).
    run = _result(executions(lesson)["smoke"])
    assert run["ok"], run["error"]
    cells = [cell.source for cell in nbformat.read(lesson.path, as_version=4).cells
             if {"check", "hidden-check"} & set(cell.metadata.get("tags", []))]
    expected = {exercise + (" hidden" if hidden else "") for source in cells
                for exercise, _, _, hidden in check_calls(source)}
    checks = {name.removeprefix(RECORD_PREFIX): value for name, value in run["recorded"].items()
              if name.startswith(RECORD_PREFIX)}
    assert set(checks) == expected
    assert {name: check["why"] for name, check in checks.items() if not check["passed"]} == {}
    for source in cells:
        tests = cell_tests(source)
        for exercise, test, names, hidden in check_calls(source):
            answers = checks[exercise + (" hidden" if hidden else "")]["answers"]
            assert sorted(answers) == sorted(names)
            assert run_test(tests[test], answers) == (True, ""), (exercise, answers)


@pytest.mark.parametrize("lesson", _each(LESSONS))
def test_lesson_passes_nbval(lesson: Lesson, executions: Callable) -> None:
    # Fast lessons: nbval re-executes the committed notebook. Training lessons: the smoke copy must
    # reproduce its own outputs on a second execution (see Lesson.nbval), and that second execution
    # takes another CPU's kernels, so an output that depends on them fails here.
    found = executions(lesson)
    if lesson.nbval != "committed":
        run = _result(found["smoke"])
        assert found["nbval"] is not None, f"the smoke run failed, so nbval had nothing to check: {run['error']}"
    result = _result(found["nbval"])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.parametrize("lesson", _each(COMMITTED))
def test_committed_lesson_passes_nbval_on_another_cpus_floating_point_path(lesson: Lesson,
                                                                         executions: Callable) -> None:
    result = _result(executions(lesson)["other cpu"])
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


@pytest.mark.parametrize("lesson", _each(LESSONS))
def test_a_smoke_copy_shows_its_widgets_as_snapshots_not_as_a_repr(lesson: Lesson, executions: Callable) -> None:
    # Reopened without a kernel, a live widget output is only `VBox(children=…)`: smoke copies are snapshotted too.
    run = _result(executions(lesson)["smoke"])
    assert run["ok"], run["error"]
    copy = nbformat.read(run["output_path"], as_version=4)
    live = [index for index, cell in enumerate(copy.cells) for output in cell.get("outputs", [])
            if "application/vnd.jupyter.widget-view+json" in output.get("data", {})]
    assert not live and "widgets" not in copy.metadata, f"cells {live} keep live widgets"
