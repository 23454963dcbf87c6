"""The notebook harness: parameters in, recorded numbers out, failures loud."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from curiolib.course.harness import clean_notebook, parse_parameter, run_notebook


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_harness_passes_a_parameter_and_collects_the_recorded_number(tmp_path: Path) -> None:
    run = run_notebook("00", tmp_path, parameters={"n_points": 1000, "seed": 3}, progress=False)
    assert run.ok, run.error
    assert run.recorded["n_points"] == 1000
    assert 2.9 < run.recorded["pi_estimate"] < 3.4
    assert json.loads((tmp_path / "00_getting_started.json").read_text()) == run.recorded
    executed = nbformat.read(run.output_path, as_version=4)
    assert any("injected-parameters" in cell.metadata.get("tags", []) for cell in executed.cells)


@pytest.mark.slow
def test_failing_notebook_exits_non_zero_and_shows_the_cells_error(tmp_path: Path) -> None:
    bad = _notebook(tmp_path / "bad.ipynb", "x = 1", "from curiolib import record\nrecord('before', x)",
                    "raise RuntimeError('the lesson broke here')")
    result = subprocess.run([sys.executable, "-m", "curiolib", "run", str(bad), "--output-dir",
                             str(tmp_path / "out"), "--no-progress"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "RuntimeError: the lesson broke here" in result.stderr
    assert "raise RuntimeError" in result.stderr  # the failing cell's source is shown
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "| bad | FAILED |" in summary and "before" in summary


@pytest.mark.slow
def test_smoke_and_parameters_combine_with_explicit_values_winning(tmp_path: Path) -> None:
    run = run_notebook("00", tmp_path, smoke=True, parameters={"seed": 1}, progress=False)
    assert run.ok and run.parameters == {"n_points": 50, "seed": 1}
    assert run.recorded["n_points"] == 50


def test_inplace_refuses_non_default_parameters(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="default parameters"):
        run_notebook("00", tmp_path, smoke=True, inplace=True)


def test_unknown_notebook_lists_the_lessons() -> None:
    with pytest.raises(ValueError, match="notebook must be one of .*00_getting_started"):
        run_notebook("99_missing", Path("unused"))


def test_parse_parameter_reads_numbers_booleans_and_strings() -> None:
    assert parse_parameter("3") == 3 and parse_parameter("0.5") == 0.5
    assert parse_parameter("True") is True and parse_parameter("None") is None
    assert parse_parameter("minilm") == "minilm" and parse_parameter("[1, 2]") == [1, 2]


def test_clean_notebook_strips_widget_state_and_papermill_metadata(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "n.ipynb", "a = 1")
    nb = nbformat.read(path, as_version=4)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.metadata["papermill"] = {"input_path": "/home/someone/n.ipynb"}
    nb.cells[0].metadata["execution"] = {"iopub.status.busy": "2026-01-01"}
    nbformat.write(nb, path)
    clean_notebook(path)
    cleaned = nbformat.read(path, as_version=4)
    assert "widgets" not in cleaned.metadata and "papermill" not in cleaned.metadata
    assert "execution" not in cleaned.cells[0].metadata and cleaned.cells[0].metadata["tags"] == ["parameters"]
