"""Every lesson executes through the harness with its smoke parameters, and passes nbval.

nbval compares outputs literally, so an output that depends on the CPU's floating-point path (vector width,
BLAS kernel, thread count) passes on the machine that wrote it and fails on the next. The tests below
re-execute each lesson on a second path, the way another CPU would, so such an output fails here first.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from curiolib.course.catalog import PROJECT_ROOT, Lesson, available_lessons
from curiolib.course.harness import run_notebook

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
#: For the training lessons one thread costs four times the time; the kernel change alone catches most.
OTHER_CPU_TWO_THREADS = {"ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "2"}


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Smoke-run each lesson once; the nbval tests below reuse the executed copies."""
    out = tmp_path_factory.mktemp("smoke")
    return {lesson.stem: run_notebook(lesson, out, smoke=True, progress=False) for lesson in LESSONS}


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.stem for lesson in LESSONS])
def test_lesson_runs_with_smoke_parameters_and_records_numbers(lesson: Lesson, smoke_runs: dict) -> None:
    run = smoke_runs[lesson.stem]
    assert run.ok, run.error
    assert run.recorded, f"{lesson.stem} recorded no key numbers"


def _nbval(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "--nbval", str(path), "--nbval-current-env",
                           "--nbval-sanitize-with", str(SANITIZE), "-p", "no:cacheprovider", "-q"],
                          capture_output=True, text=True, cwd=path.parent, timeout=1800,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.stem for lesson in LESSONS])
def test_lesson_passes_nbval(lesson: Lesson, smoke_runs: dict) -> None:
    # Fast lessons: nbval re-executes the committed notebook. Training lessons: the smoke copy must
    # reproduce its own outputs on a second execution (see Lesson.nbval), and that second execution
    # takes another CPU's kernels, so an output that depends on them fails here.
    if lesson.nbval == "committed":
        result = _nbval(lesson.path)
    else:
        result = _nbval(smoke_runs[lesson.stem].output_path, OTHER_CPU_TWO_THREADS)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.parametrize("lesson", COMMITTED, ids=[lesson.stem for lesson in COMMITTED])
def test_committed_lesson_passes_nbval_on_another_cpus_floating_point_path(lesson: Lesson) -> None:
    result = _nbval(lesson.path, OTHER_CPU)
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
