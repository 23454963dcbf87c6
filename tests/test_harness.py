"""The notebook harness: parameters in, recorded numbers out, failures loud."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from curiolib.classroom.harness import clean_notebook, parse_parameter, run_notebook


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
    assert "without encryption" not in result.stderr  # the kernel's loopback-TCP warning is not shown
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


def _recording_notebook(path: Path, value: int, *, then: str = "") -> Path:
    return _notebook(path, f"value = {value}", "from curiolib import record\nrecord('value', value)", then or "1")


@pytest.mark.slow
def test_a_failed_run_keeps_the_previous_copy_and_numbers_and_saves_its_own_apart(tmp_path: Path) -> None:
    out = tmp_path / "out"
    good = run_notebook(_recording_notebook(tmp_path / "n.ipynb", 1), out, progress=False)
    assert good.ok, good.error
    before = (out / "n.ipynb").read_text()
    broken = run_notebook(_recording_notebook(tmp_path / "n.ipynb", 2, then="raise RuntimeError('broke')"), out,
                          progress=False)
    assert not broken.ok and "left as they were" in broken.error
    assert (out / "n.ipynb").read_text() == before
    assert json.loads((out / "n.json").read_text()) == {"value": 1}
    assert "RuntimeError" in (out / "n.failed.ipynb").read_text()
    assert not list(out.glob(".*partial*")), list(out.iterdir())


@pytest.mark.slow
def test_ctrl_c_during_a_run_keeps_the_previous_results_and_says_interrupted(tmp_path: Path) -> None:
    out, started = tmp_path / "out", tmp_path / "started"
    command = [sys.executable, "-m", "curiolib", "run", str(tmp_path / "n.ipynb"), "--output-dir", str(out),
               "--no-progress"]
    _recording_notebook(tmp_path / "n.ipynb", 1)
    assert subprocess.run(command, capture_output=True, timeout=300).returncode == 0
    before = (out / "n.ipynb").read_text()
    # The new run records 2, then signals it is under way and waits: Ctrl-C lands mid-run, not by a timer.
    _recording_notebook(tmp_path / "n.ipynb", 2,
                        then=f"import pathlib, time\npathlib.Path({str(started)!r}).touch()\ntime.sleep(120)")
    # A terminal's Ctrl-C reaches a process whose SIGINT is at its default. A suite started in the background
    # by a non-interactive shell (`make test &`) hands its children SIGINT ignored, and Python then installs
    # no KeyboardInterrupt at all: restore the default, so the test presses a key that exists.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 240
    while not started.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert started.exists(), process.communicate()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)  # one press stops it: the cell's 120 s sleep is not waited out
    assert process.returncode == 130, stderr
    assert (out / "n.ipynb").read_text() == before
    assert json.loads((out / "n.json").read_text()) == {"value": 1}
    assert "| n | INTERRUPTED |" in (out / "summary.md").read_text()
    assert not list(out.glob(".*partial*")), list(out.iterdir())


@pytest.mark.slow
def test_two_runs_into_one_folder_at_once_each_record_their_own_numbers(tmp_path: Path) -> None:
    # Each run records, waits for the other to have started, and records again.
    _notebook(tmp_path / "n.ipynb", "value = 0\nhere = ''\nother = ''",
              "import pathlib, time\nfrom curiolib import record\nrecord('value', value)\n"
              "pathlib.Path(here).touch()\ndeadline = time.time() + 120\n"
              "while not pathlib.Path(other).exists() and time.time() < deadline:\n    time.sleep(0.1)\n"
              "record('again', value)")
    script = ("import json, sys; from pathlib import Path; from curiolib.classroom.harness import run_notebook\n"
              "run = run_notebook(sys.argv[1], Path(sys.argv[2]), progress=False, "
              "parameters={'value': int(sys.argv[3]), 'here': sys.argv[4], 'other': sys.argv[5]})\n"
              "print(json.dumps(run.recorded)); sys.exit(0 if run.ok else 1)")
    marks = [str(tmp_path / "a"), str(tmp_path / "b")]
    runs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "n.ipynb"), str(tmp_path / "out"),
                              str(value), marks[i], marks[1 - i]], stdout=subprocess.PIPE, text=True)
            for i, value in enumerate((50, 5000))]
    recorded = [json.loads(process.communicate(timeout=300)[0]) for process in runs]
    assert recorded == [{"value": 50, "again": 50}, {"value": 5000, "again": 5000}]


def test_an_unknown_parameter_is_refused_before_anything_runs_with_the_notebooks_parameters(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no parameter 'epoch'.*n_points"):
        run_notebook("00", tmp_path / "out", parameters={"epoch": 1})
    assert not (tmp_path / "out").exists()
    result = subprocess.run([sys.executable, "-m", "curiolib", "run", "00", "-p", "nonexistent_param", "5",
                             "--output-dir", str(tmp_path / "cli")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "nonexistent_param" in result.stderr
    assert not (tmp_path / "cli").exists()


def test_an_unwritable_output_folder_is_one_line_and_exit_1(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should go")
    result = subprocess.run([sys.executable, "-m", "curiolib", "run", "00", "--output-dir", str(blocked / "out")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "cannot write" in result.stderr


def _widget(states: dict, model_id: str, model: str, **state) -> str:
    states[model_id] = {"model_name": f"{model}Model", "state": state}
    return f"IPY_MODEL_{model_id}"


def test_a_widget_output_becomes_a_snapshot_of_its_last_state_for_readers_without_a_kernel() -> None:
    from curiolib.classroom.snapshot import WIDGET_STATE, WIDGET_VIEW, snapshot_widgets

    states: dict = {}
    slider = _widget(states, "s", "FloatSlider", description="α", value=0.75, readout_format=".2f")
    text = _widget(states, "t", "Textarea", value="Paris <script>")
    out = _widget(states, "o", "Output", outputs=[{"output_type": "display_data",
                                                  "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}}])
    _widget(states, "box", "VBox", children=[slider, text, out])
    bar = [_widget(states, "d", "HTML", value="training: 100%"), _widget(states, "p", "FloatProgress", value=8, max=8),
           _widget(states, "r", "HTML", value=" 8/8 [00:01&lt;00:00]")]
    _widget(states, "tqdm", "HBox", children=bar)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("w", outputs=[nbformat.v4.new_output(
        "display_data", {WIDGET_VIEW: {"model_id": model_id}, "text/plain": "VBox(children=(...))"})])
        for model_id in ("box", "tqdm")]
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": states}}
    assert snapshot_widgets(nb) == 2
    sliders, progress = (cell.outputs[0].data for cell in nb.cells)
    assert WIDGET_VIEW not in sliders and "widgets" not in nb.metadata
    assert "α <b>0.75</b>" in sliders["text/html"] and "data:image/png;base64,iVBOR" in sliders["text/html"]
    assert "Paris &lt;script&gt;" in sliders["text/html"]  # typed text is escaped, never run
    assert sliders["text/plain"] == "α = 0.75\nParis <script>\n[figure]"
    # a progress bar is left as tqdm's own line of text, what a re-run's output carries for nbval to compare
    assert progress == {"text/plain": "training: 100%|██████████| 8/8 [00:01<00:00]"}


@pytest.mark.slow
def test_a_run_leaves_progress_bars_finished_and_widgets_drawn_in_the_saved_copy(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "w.ipynb", "steps = 3",
                     "from tqdm.auto import tqdm\nfor _ in tqdm(range(steps), desc='training'):\n    pass",
                     "import ipywidgets as w\nw.VBox([w.IntSlider(value=steps, description='steps')])")
    run = run_notebook(path, tmp_path / "out", progress=False)
    assert run.ok, run.error
    saved = nbformat.read(run.output_path, as_version=4)
    outputs = [output for cell in saved.cells for output in cell.outputs if "data" in output]
    assert [output.data["text/plain"].split("|")[0] for output in outputs] == ["training: 100%", "steps = 3"]
    assert not any("application/vnd.jupyter.widget-view+json" in output.data for output in outputs)
