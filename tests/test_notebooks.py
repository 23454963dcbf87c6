"""Every lesson executes through the harness with its smoke parameters, and passes nbval."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from curiolib.catalog import PROJECT_ROOT, Lesson, available_lessons
from curiolib.harness import run_notebook

LESSONS = available_lessons()
SANITIZE = PROJECT_ROOT / "tests" / "nbval_sanitize.cfg"


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


def _nbval(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "--nbval", str(path), "--nbval-current-env",
                           "--nbval-sanitize-with", str(SANITIZE), "-p", "no:cacheprovider", "-q"],
                          capture_output=True, text=True, cwd=path.parent, timeout=1800)


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.stem for lesson in LESSONS])
def test_lesson_passes_nbval(lesson: Lesson, smoke_runs: dict) -> None:
    # Fast lessons: nbval re-executes the committed notebook. Training lessons: the smoke copy must
    # reproduce its own outputs on a second execution (see Lesson.nbval).
    path = lesson.path if lesson.nbval == "committed" else smoke_runs[lesson.stem].output_path
    result = _nbval(path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
