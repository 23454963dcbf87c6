"""`curiolib sweep`: a grid of papermill runs, a table and a figure; a failed run fails its row only."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from curiolib.classroom.catalog import find_lesson
from curiolib.classroom.sweep import check_grid, grid_points, run_folder_name, sweep


def test_grid_points_cover_every_combination_first_parameter_slowest() -> None:
    points = grid_points({"beta": [0.1, 0.9], "seed": [0, 1, 2]})
    assert len(points) == 6
    assert points[:3] == [{"beta": 0.1, "seed": s} for s in (0, 1, 2)]
    assert len({run_folder_name(point) for point in points}) == 6


def test_run_folder_names_are_safe_and_readable() -> None:
    assert run_folder_name({"beta": 0.5, "seed": 0}) == "beta=0.5,seed=0"
    name = run_folder_name({"data_source": "a/b c", "sizes": [16, 32], "train_size": None})
    assert "/" not in name and " " not in name
    assert name.startswith("data_source=a_b_c,sizes=")
    # Values that read the same once made safe, or names cut to length, still get folders of their own.
    assert run_folder_name({"data_source": "a b"}) != run_folder_name({"data_source": "a_b"})
    assert run_folder_name({"x": "y" * 300}) != run_folder_name({"x": "y" * 301})


@pytest.mark.parametrize("grid, plot, x, message", [
    ({}, None, None, "grid is empty"),
    ({"n_points": []}, None, None, "has no values"),
    ({"n_points": [10, 10]}, None, None, "twice"),
    ({"n_pionts": [10]}, None, None, "no parameter 'n_pionts'"),
    ({"n_points": [10]}, "pi_estimate", "seed", "x must be one of"),
    ({"n_points": [10]}, None, "n_points", "plot="),
])
def test_bad_grids_are_refused_before_any_run(tmp_path: Path, grid, plot, x, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sweep("00", grid, tmp_path / "out", plot=plot, x=x)
    assert not (tmp_path / "out").exists()


def test_workers_and_foreign_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="workers"):
        sweep("00", {"n_points": [10]}, tmp_path / "out", workers=0)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="did not write"):
        sweep("00", {"n_points": [10]}, theirs)
    assert (theirs / "notes.txt").read_text() == "mine"


def test_command_line_refuses_a_parameter_given_twice(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "curiolib", "sweep", "00", "-p", "seed", "0", "-p", "seed", "1",
                           "--output-dir", str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 2
    assert "given twice" in done.stderr
    assert check_grid("00", {"seed": [0, 1]}).name == "00_getting_started.ipynb"


@pytest.mark.slow
def test_two_by_two_grid_on_lesson_00_with_one_failing_run(tmp_path: Path) -> None:
    # Lesson 00's parameters, darts and record cells (its figure, setup and 200-run exercise cost the sweep's
    # mechanics nothing to leave out), with one more cell, which fails at exactly one point of the grid.
    nb = nbformat.read(find_lesson("00").path, as_version=4)
    kept = [cell for cell in nb.cells if cell.cell_type == "code"
            and ("parameters" in cell.metadata.get("tags", []) or "darts = rng.random" in cell.source)]
    assert len(kept) == 2, "lesson 00's parameters or darts cell moved"
    nb.cells = [*kept, nbformat.v4.new_code_cell(
        "from curiolib import record\n\nrecord('n_points', n_points)\nrecord('pi_estimate', pi_estimate)\n"
        "if n_points == 50 and seed == 1:\n    raise RuntimeError('this run fails on purpose')")]
    notebook = tmp_path / "00_getting_started.ipynb"
    nbformat.write(nb, notebook)
    out = tmp_path / "sweep"
    command = [sys.executable, "-m", "curiolib", "sweep", str(notebook), "-p", "n_points", "50", "400",
               "-p", "seed", "0", "1", "--workers", "2", "--output-dir", str(out), "--plot", "pi_estimate"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert first.returncode == 1, first.stdout + first.stderr  # the sweep finished, one row failed
    assert "1 of 4 runs failed" in first.stderr

    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [(row["n_points"], row["seed"]) for row in rows] == [("50", "0"), ("50", "1"), ("400", "0"), ("400", "1")]
    status = {(row["n_points"], row["seed"]): row["status"] for row in rows}
    assert status == {("50", "0"): "ok", ("50", "1"): "FAILED", ("400", "0"): "ok", ("400", "1"): "ok"}
    failed = rows[1]
    assert "RuntimeError" in failed["error"] and failed["pi_estimate"] == ""
    for row in rows:  # each ok row carries its own run's number, read from its own folder
        if row["status"] == "ok":
            folder = out / f"n_points={row['n_points']},seed={row['seed']}"
            recorded = json.loads((folder / "00_getting_started.json").read_text())
            assert float(row["pi_estimate"]) == pytest.approx(recorded["pi_estimate"])
            assert recorded["n_points"] == int(row["n_points"])
    assert "| 50 | 1 | FAILED |" in (out / "sweep.md").read_text()
    assert (out / "sweep.png").stat().st_size > 5000

    # A rerun skips the three finished runs and tries the failed one again.
    finished = {row_folder: (row_folder / "summary.json").stat().st_mtime_ns
                for row_folder in out.iterdir() if row_folder.is_dir() and row_folder.name != "n_points=50,seed=1"}
    second = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert second.returncode == 1
    assert "3 already finished, 1 to run" in second.stdout
    assert {folder: (folder / "summary.json").stat().st_mtime_ns for folder in finished} == finished
    again = list(csv.DictReader((out / "sweep.csv").open()))
    assert [row for row in again if row["status"] == "ok"] == [row for row in rows if row["status"] == "ok"]
    assert again[1]["status"] == "FAILED"
