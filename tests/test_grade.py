"""`curiolib grade`: a folder of handed-in notebooks, good and hostile, graded apart; nothing outside D harmed.

One grading run (module fixture) of ten small submissions of lesson 00: its exercise cells, right, wrong, or
beside a cell that loops, eats memory, forks, writes a big file, deletes files, forges its results or looks
for the hidden checks. Each runs its own kernel.
"""
from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from curiolib.classroom.catalog import find_lesson
from curiolib.classroom.harness import RESTORE_SIGINT
from curiolib.classroom.grade import (Limits, TeacherChecks, bwrap_available, check_answers, find_submissions, grade,
                                      read_results)

# Slow: each submission starts a kernel (the min-versions run of the fast tests leaves them out).
pytestmark = [pytest.mark.xdist_group("grade"), pytest.mark.slow]
LESSON = find_lesson("00")
TEACHER = json.loads(LESSON.path.read_text(encoding="utf-8"))
LIMITS = Limits(seconds=20, cpu_seconds=40, memory_gb=1.0, disk_mb=16, processes=32)


def _cell(source: str, cell_id: str = "extra001") -> dict:
    return {"cell_type": "code", "id": cell_id, "metadata": {}, "execution_count": None, "outputs": [],
            "source": source}


def _exercises(*, wrong: bool = False) -> list[dict]:
    """Lesson 00's exercise cells (solutions, checks, hidden checks), as handed in: a small submission."""
    cells = [_cell("import numpy as np\n\nseed = 0\n", "setup001")]
    for cell in TEACHER["cells"]:
        if {"solution", "check", "hidden-check"} & set(cell["metadata"].get("tags", [])):
            cells.append(copy.deepcopy(cell))
    if wrong:  # exercise 00.2 answered with the darts of exercise 00.1
        solution = next(c for c in cells if "darts_needed =" in "".join(c["source"]))
        solution["source"] = "darts_needed = 1000.0  # SOLUTION\n"
    return cells


def _notebook(cells: list[dict]) -> str:
    return json.dumps({**{k: v for k, v in TEACHER.items() if k != "cells"}, "cells": cells})


HOSTILE = {
    "loop": "import time\nwhile True:\n    time.sleep(0.5)\n",
    "memory": "hog = []\nwhile True:\n    hog.append(bytearray(50_000_000))\n    hog[-1][::4096] = b'x' * 12208\n",
    "forks": "import os, time\nfor _ in range(100):\n    if os.fork() == 0:\n        time.sleep(60)\n"
             "        os._exit(0)\ntime.sleep(60)\n",
    "bigfile": "with open('big.bin', 'wb') as f:\n    for _ in range(64):\n        f.write(b'x' * 1_000_000)\n",
    "deleter": "import os, shutil\nfor name in os.listdir('.'):\n    (shutil.rmtree if os.path.isdir(name) else "
               "os.remove)(name)\nfor name in os.listdir('..'):\n    try:\n"
               "        os.remove(os.path.join('..', name))\n    except OSError:\n        pass\n",
    # Its own results file, written after its checks: every exercise passed, a score of 100.
    "forger": "import json, os\nfake = {f'check 00.{k}{h}': {'passed': True, 'why': '', 'answers': {}}\n"
              "        for k in (1, 2, 3) for h in ('', ' hidden')}\nfake['score'] = 100\n"
              "open(os.environ['CURIOLIB_RECORD_FILE'], 'w').write(json.dumps(fake))\n"
              "open('grades.csv', 'w').write('student,total\\nforger,6\\n')\n",
    # Looks for any hidden check's test where it runs: its folder, HOME, the environment.
    "reader": "import os\nfrom curiolib import record\nneedle = 'def ' + 'hidden_'\nfound = []\n"
              "for top in ['.', os.environ['HOME']]:\n    for root, _, files in os.walk(top):\n"
              "        for name in files:\n            path = os.path.join(root, name)\n"
              "            if needle in open(path, errors='ignore').read():\n                found.append(path)\n"
              "found += [key for key, value in os.environ.items() if needle in value]\n"
              "record('hidden_found', len(found))\n",
}


def _submissions(folder: Path) -> Path:
    folder.mkdir()
    (folder / "correct.ipynb").write_text(_notebook(_exercises()))
    (folder / "wrong.ipynb").write_text(_notebook(_exercises(wrong=True)))
    (folder / "syntax.ipynb").write_text('{"cells": [\n  {"cell_type": "code",\n   oops}\n')
    for name, source in HOSTILE.items():
        after = name in ("forger", "reader")  # these act once the checks have recorded
        cells = _exercises() if name == "forger" else []
        cells = [*cells, _cell(source)] if after else [_cell(source), *_exercises()]
        (folder / f"{name}.ipynb").write_text(_notebook(cells))
    (folder / "notes.txt").write_text("not a notebook: left alone\n")
    return folder


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("class")
    submissions = _submissions(root / "handed_in")
    (root / "teacher_notes.md").write_text("the teacher's own file beside the grades\n")
    before = _tree(root)
    start = time.perf_counter()
    grades = grade("00", submissions, root / "graded", workers=2, limits=LIMITS, sandbox="none", progress=False)
    seconds = time.perf_counter() - start
    return {"root": root, "grades": {g.student: g for g in grades}, "before": before, "seconds": seconds}


def test_each_submission_is_graded_as_what_it_did(graded: dict) -> None:
    grades = graded["grades"]
    expected = {"correct": "graded", "wrong": "graded", "syntax": "does not parse", "loop": "timed out",
                "memory": "out of memory", "forks": "too many processes", "bigfile": "wrote too much",
                "deleter": "graded", "forger": "graded", "reader": "graded"}
    assert {name: g.status for name, g in grades.items()} == expected
    assert grades["correct"].points == {"00.1": 2, "00.2": 2, "00.3": 2} and grades["correct"].maximum == 6
    assert grades["wrong"].points == {"00.1": 2, "00.2": 0, "00.3": 2}
    assert "line 3" in grades["syntax"].error
    # The hostile cell came first and was stopped (or ran beside them): the exercises after it count as they ran.
    assert grades["deleter"].total == 6 and grades["deleter"].error == ""
    assert grades["reader"].recorded["hidden_found"] == 0 and grades["reader"].total == 0


def test_a_forged_results_file_earns_nothing(graded: dict) -> None:
    forger = graded["grades"]["forger"]
    # Its real answers were recorded, then replaced by "passed" with no answers: the teacher's checks find none.
    assert forger.total == 0
    assert all("no recorded answer" in forger.checks[key]["why"] for key in forger.checks)
    lines = (graded["root"] / "graded" / "grades.csv").read_text().splitlines()
    row = next(line for line in lines if line.startswith("forger,"))
    assert row.split(",")[5] == "0"  # the total column: not the 6 its own grades.csv claimed


def test_nothing_outside_the_output_folder_is_written_or_lost(graded: dict) -> None:
    root = graded["root"]
    after = {name: data for name, data in _tree(root).items() if not name.startswith("graded/")}
    assert after == graded["before"]
    out = root / "graded"
    names = {p.name for p in out.iterdir()}
    assert names == {".curiolib", "grades.csv", "grades.md", "feedback", "executed"}, names
    assert (out / "feedback" / "wrong.md").read_text().count("not yet") == 1
    assert len(list((out / "executed").glob("*.ipynb"))) == 9  # all but the one that does not parse


def test_a_rerun_skips_what_has_not_changed(graded: dict) -> None:
    root = graded["root"]
    start = time.perf_counter()
    again = {g.student: g for g in grade("00", root / "handed_in", root / "graded", limits=LIMITS, sandbox="none",
                                         progress=False)}
    assert time.perf_counter() - start < 5
    assert all(g.skipped for g in again.values())
    assert {k: g.total for k, g in again.items()} == {k: g.total for k, g in graded["grades"].items()}


def test_bad_input_is_refused_before_any_work(tmp_path: Path) -> None:
    folder = _submissions(tmp_path / "in")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds files curiolib did not write"):
        grade("00", folder, theirs, sandbox="none", progress=False)
    assert [p.name for p in theirs.iterdir()] == ["keep.txt"]
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        grade("00", folder, tmp_path / "out", workers=0)
    with pytest.raises(ValueError, match="sandbox must be one of 'auto', 'none', 'bwrap'"):
        grade("00", folder, tmp_path / "out", sandbox="docker")
    with pytest.raises(ValueError, match="holds no .ipynb"):
        find_submissions(theirs)
    with pytest.raises(ValueError, match="memory_gb must be"):
        Limits(memory_gb=0)
    assert not (tmp_path / "out").exists()


def test_a_results_file_is_read_as_data_and_checked(tmp_path: Path) -> None:
    exercises = ("00.1", "00.2")
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"check 00.1": {"passed": True, "answers": {"my_estimate": 3.1}},
                                "check 00.1 hidden": {"passed": True, "answers": {}},
                                "check 09.9": {"answers": {}}, "score": 7, "curve": [1, 2.5],
                                "weird": {"a": 1}}).replace("3.1", "NaN"))
    answers, numbers, notes = read_results(path, exercises)
    # NaN is no answer (the check says to fill it in); a hidden check's record is read for its answers alone.
    assert answers == {"00.1": {"my_estimate": None}, "00.1 hidden": {}}
    assert numbers == {"score": 7, "curve": [1, 2.5]}
    assert any("09.9" in note for note in notes) and any("'weird'" in note for note in notes)
    path.write_bytes(b"\x80not json")
    assert read_results(path, exercises)[2][0].startswith("its results file is not JSON")
    checks = TeacherChecks.from_lesson(LESSON)
    results = check_answers(checks, {"00.2": {"darts_needed": 1000.0}})
    assert results["00.2"]["passed"] is False and "0.005" in results["00.2"]["why"]
    assert results["00.1"]["why"].startswith("its check cell never ran")


def test_ctrl_c_stops_launching_and_writes_what_finished(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a", "b", "c"):
        (folder / f"{name}.ipynb").write_text(_notebook([_cell(HOSTILE["loop"])]))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "curiolib", "grade", "00", str(folder), "--output-dir", str(out),
               "--sandbox", "none", "--seconds", "60"]
    # Started from pytest-xdist's worker, the command inherits SIGINT ignored: it takes Ctrl-C's handler back.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=os.environ | {"OMP_NUM_THREADS": "1", RESTORE_SIGINT: "1"})
    deadline = time.time() + 60
    while time.time() < deadline and not any((out / ".work").glob("*/executed.ipynb")):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    table = (out / "grades.md").read_text()
    assert "| a | interrupted |" in table and "| b |" not in table and "| c |" not in table
    assert not (out / ".work").exists()


@pytest.mark.skipif(not bwrap_available(), reason="needs bubblewrap (Debian: apt install bubblewrap) able to "
                                                  "make a sandbox here")
def test_in_bubblewrap_a_submission_sees_no_hidden_check_and_changes_nothing_outside(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("the teacher's")
    search = HOSTILE["reader"].replace("[os.environ['HOME']]", f"[os.environ['HOME'], {str(LESSON.path.parent)!r}, "
                                       f"{str(folder)!r}, {str(tmp_path / 'out')!r}]")
    planted = LESSON.path.parent / f"planted-{os.getpid()}.txt"
    escape = (f"import os\ntry:\n    os.remove({str(outside)!r})\nexcept OSError:\n    pass\ntry:\n"
              f"    open({str(planted)!r}, 'w').write('x')\nexcept OSError:\n    pass\n")
    (folder / "reader.ipynb").write_text(_notebook([*_exercises(), _cell(search)]))
    (folder / "escape.ipynb").write_text(_notebook([_cell(escape)]))
    grades = {g.student: g for g in grade("00", folder, tmp_path / "out", limits=LIMITS, sandbox="bwrap",
                                          progress=False)}
    assert grades["reader"].recorded["hidden_found"] == 0 and grades["reader"].total == 6
    try:
        assert outside.read_text() == "the teacher's" and not planted.exists()
    finally:
        planted.unlink(missing_ok=True)


def test_the_class_growth_fits_say_what_averaging_does(tmp_path: Path) -> None:
    import numpy as np

    from curiolib.classroom.grade import SERIES, Grade, class_growth, write_class_growth
    from curiolib.growth.model import simulate

    rng = np.random.default_rng(0)
    E, R = rng.uniform(0, 2, 30), rng.uniform(0, 2, 30)
    grades = []
    for k, (alpha, beta) in enumerate([(0.2, 0.9), (0.8, 0.1), (0.5, 0.5)]):
        curve = simulate(0.0, alpha, beta, E, R, 30).I
        grades.append(Grade(f"s{k}", f"s{k}.ipynb", recorded=dict(zip(SERIES, (list(curve), list(E), list(R))))))
    grades.append(Grade("no-series", "x.ipynb"))
    found = class_growth(grades)
    assert found["n"] == 3
    assert abs(found["mean_alpha"] - 0.5) < 1e-9 and abs(found["mean_beta"] - 0.5) < 1e-9
    # Same inputs, exact curves: the mean curve's α is the mean α, its β the α-weighted mean β (0.34), not 0.5.
    assert abs(found["mean_fit"].alpha - 0.5) < 1e-9
    assert abs(found["mean_fit"].beta - (0.2 * 0.9 + 0.8 * 0.1 + 0.5 * 0.5) / 1.5) < 1e-9
    text = write_class_growth(found, tmp_path, "01")
    assert "β = 0.500; their β weighted by their α: 0.340" in text and (tmp_path / "growth.png").stat().st_size
