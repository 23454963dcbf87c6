"""The README's "What is safe", tried as a careless user and a stranger's file would: `curiolib run`, `sweep`, decks.

Most refusals happen before a kernel starts, so these tests are cheap; a fake papermill stands in for a kernel
where the test is about what happens to the files (a full disk), not about the lesson.
"""
from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from _checks import needs_deck_assets

import curiolib.classroom.catalog as catalog
import curiolib.classroom.harness as harness
from curiolib.classroom.catalog import NOTEBOOK_DIR, PROJECT_ROOT, find_lesson
from curiolib.classroom.harness import run_notebook, table_cell, write_atomically, write_summary
from curiolib.classroom.sweep import check_grid, run_folder_name, write_table

LESSON_00 = find_lesson("00")


def _curiolib(*args: str, cwd: Path | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curiolib", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["celltoolbar"] = "Slideshow"  # what a user's own notebook may carry, and must keep
    nbformat.write(nb, path)
    return path


def _fake_papermill(monkeypatch: pytest.MonkeyPatch, behaviour) -> None:
    import papermill

    monkeypatch.setattr(papermill, "execute_notebook", behaviour)


# --- Data loss -------------------------------------------------------------------------------------------------

def test_a_folder_of_the_users_own_files_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    users = tmp_path / "u"
    users.mkdir()
    (users / "summary.md").write_text("notes")
    (users / LESSON_00.filename).write_text("my own copy")
    before = _snapshot(users)
    done = _curiolib("run", "00", "--smoke", "--output-dir", str(users))
    assert done.returncode == 2 and "holds files curiolib did not write" in done.stderr, done.stderr
    assert _snapshot(users) == before
    with pytest.raises(ValueError, match="output_dir="):
        run_notebook("00", users, smoke=True)
    assert _snapshot(users) == before


def _no_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    def execute(*args, **kwargs) -> None:  # a refusal that failed must not run, let alone write, anything
        raise AssertionError("papermill ran: the run was not refused")

    _fake_papermill(monkeypatch, execute)


def test_the_committed_lessons_folder_is_never_an_output_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture) -> None:
    from curiolib.__main__ import main

    _no_kernel(monkeypatch)
    before = _snapshot(NOTEBOOK_DIR)
    monkeypatch.chdir(PROJECT_ROOT)
    assert main(["run", "00", "--smoke", "--output-dir", "notebooks", "--no-progress"]) == 2
    assert "notebooks" in capsys.readouterr().err
    assert _snapshot(NOTEBOOK_DIR) == before  # no smoke copy over the lesson, no summary.md beside it
    # Even were the lessons' folder marked as curiolib's, it is not an output folder.
    lessons = tmp_path / "notebooks"
    lessons.mkdir()
    shutil.copy(LESSON_00.path, lessons / LESSON_00.filename)
    (lessons / ".curiolib").write_text("made by curiolib\n")
    monkeypatch.setattr(catalog, "NOTEBOOK_DIR", lessons)
    monkeypatch.setattr(harness, "NOTEBOOK_DIR", lessons)
    mine = _notebook(tmp_path / "mine.ipynb", "x = 1")
    before = _snapshot(lessons)
    with pytest.raises(ValueError, match="folder of 00_getting_started.ipynb itself"):
        harness.run_all(["00"], lessons, smoke=True, progress=False)
    with pytest.raises(ValueError, match="committed lessons' folder"):
        harness.run_all([str(mine)], lessons, progress=False)
    assert _snapshot(lessons) == before


def test_a_copy_never_lands_on_its_own_notebook_even_in_curiolibs_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / ".curiolib").write_text("made by curiolib\n")  # a folder curiolib made, the user's notebook put in it
    mine = _notebook(out / "mine.ipynb", "x = 1")
    before = mine.read_bytes()
    with pytest.raises(ValueError, match="replace the notebook"):
        run_notebook(mine, out)
    assert mine.read_bytes() == before


def test_inplace_rewrites_only_the_committed_lessons(tmp_path: Path) -> None:
    mine = _notebook(tmp_path / "mine.ipynb", "x = 1")
    # A copy of a lesson under the lesson's own name is still not the committed lesson.
    copy = tmp_path / "copy" / LESSON_00.filename
    copy.parent.mkdir()
    shutil.copy(LESSON_00.path, copy)
    for notebook in (mine, copy):
        before = notebook.read_bytes()
        done = _curiolib("run", str(notebook), "--inplace", "--output-dir", str(tmp_path / "out"))
        assert done.returncode == 2 and "rewrites only the committed lessons" in done.stderr, done.stderr
        assert notebook.read_bytes() == before
    assert not (tmp_path / "out").exists()


def test_an_inplace_run_leaves_no_empty_scratch_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lessons = tmp_path / "notebooks"
    lessons.mkdir()
    shutil.copy(LESSON_00.path, lessons / LESSON_00.filename)
    monkeypatch.setattr(catalog, "NOTEBOOK_DIR", lessons)
    monkeypatch.setattr(harness, "NOTEBOOK_DIR", lessons)

    def execute(source: str, output: str, **kwargs) -> None:  # a kernel that ran every cell and wrote nothing
        shutil.copy(source, output)

    _fake_papermill(monkeypatch, execute)
    out = tmp_path / "out"
    run = run_notebook("00", out, inplace=True, progress=False)
    assert run.ok, run.error
    assert sorted(path.name for path in out.iterdir()) == [".curiolib"]


def _half_then_full_disk(source: str, output: str, **kwargs) -> None:
    text = Path(source).read_text()
    Path(output).write_text(text[: len(text) // 2])
    raise OSError(errno.ENOSPC, "No space left on device", output)


def test_a_full_disk_during_a_run_leaves_no_partial_or_truncated_file(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    mine = _notebook(tmp_path / "n.ipynb", "x = 1")
    _fake_papermill(monkeypatch, lambda source, output, **kwargs: shutil.copy(source, output))
    assert run_notebook(mine, out, progress=False).ok
    before = _snapshot(out)
    _fake_papermill(monkeypatch, _half_then_full_disk)
    run = run_notebook(mine, out, progress=False)
    assert not run.ok and run.error.startswith(f"no space left on the disk while writing in {out}"), run.error
    assert "left as they were" in run.error
    assert _snapshot(out) == before  # no n.failed.ipynb cut in half, no .partial file


def test_a_record_cut_short_does_not_hide_why_the_run_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from curiolib.course.notebook import RECORD_ENV

    def record_half_then_full_disk(source: str, output: str, **kwargs) -> None:
        Path(os.environ[RECORD_ENV]).write_text('{"value": 1')  # what a write cut short leaves
        _half_then_full_disk(source, output)

    _fake_papermill(monkeypatch, record_half_then_full_disk)
    run = run_notebook(_notebook(tmp_path / "n.ipynb", "x = 1"), tmp_path / "out", progress=False)
    assert run.error.startswith("no space left on the disk"), run.error
    assert "could not be read" in run.error and ".partial.json" in run.error
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [".curiolib"]


def test_a_full_disk_while_writing_the_summary_keeps_the_old_one_and_no_partial(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "summary.md").write_text("the last good summary")
    real = Path.write_text

    def write_half(self: Path, text: str, *args, **kwargs) -> int:
        real(self, text[: len(text) // 2], *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_text", write_half)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(tmp_path / "summary.md", "a new summary")
    monkeypatch.undo()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["summary.md"]
    assert (tmp_path / "summary.md").read_text() == "the last good summary"


# --- Silent wrong results: the summary's and the sweep's tables -----------------------------------------------

def test_a_bar_or_a_line_break_in_a_value_stays_inside_its_table_cell(tmp_path: Path) -> None:
    run = harness.NotebookRun("n", tmp_path / "n.ipynb", {"label": "a|b", "note": "two\nlines", "x": 1},
                              recorded={"what|ever": "c|d\ne"}, error="a ``` fence\nand | a bar")
    text = write_summary([run], tmp_path).read_text()
    rows = [line for line in text.splitlines() if line.startswith("|")]
    for row in rows:  # every row has as many unescaped bars as its table's header
        cells = row.replace("\\|", "").count("|")
        assert cells in (5, 3), row
    assert "a\\|b" in text and "two lines" in text and "c\\|d e" in text
    assert "````\na ``` fence" in text  # the error's own backticks do not close its block
    assert table_cell("x\r\ny") == "x y"


def test_a_text_that_reads_as_a_number_gets_its_own_folder_and_row() -> None:
    grid = {"n_points": [30, "30"]}
    assert run_folder_name({"n_points": 30}) != run_folder_name({"n_points": "30"})
    assert check_grid("00", grid).name == LESSON_00.filename
    assert run_folder_name({"data_source": "sst2"}) == "data_source=sst2"  # plain texts stay readable


def test_values_that_differ_only_in_case_get_folders_apart_where_case_is_ignored() -> None:
    from curiolib.classroom.sweep import run_folders

    for grid in ({"data_source": ["sst2", "SST2"]}, {"x": [float("nan"), "NaN"]}):
        names = run_folders([{name: value} for name, values in grid.items() for value in values])
        assert len({name.casefold() for name in names}) == 2, names
    assert run_folders([{"seed": 0}, {"seed": 1}]) == ["seed=0", "seed=1"]  # readable where nothing clashes


def test_a_sweep_reuses_its_own_run_folders_from_an_older_curiolib(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from curiolib.classroom import sweep as sweeping

    out = tmp_path / "sweep"
    old_run = out / "seed=0"
    old_run.mkdir(parents=True)
    (out / ".curiolib").write_text("made by curiolib\n")
    (old_run / "summary.md").write_text("a failed run's summary, written before run folders had markers")
    launched = []

    def execute(self, source, parameters, folder, threads):
        launched.append((folder / ".curiolib").exists())
        return sweeping.SweepRun(parameters, folder, ok=True)

    monkeypatch.setattr(sweeping._Launcher, "execute", execute)
    runs = sweeping.sweep("00", {"seed": [0]}, out, progress=False)
    assert [run.ok for run in runs] == [True] and launched == [True]


def test_a_folder_without_a_marker_says_how_to_reuse_an_older_curiolibs_output(tmp_path: Path) -> None:
    (tmp_path / "summary.md").write_text("an older curiolib's summary")
    with pytest.raises(ValueError, match="older than its .curiolib marker"):
        run_notebook("00", tmp_path, smoke=True)


def test_the_sweep_table_shows_a_text_that_reads_as_a_number_in_quotes(tmp_path: Path) -> None:
    from curiolib.classroom.sweep import SweepRun

    runs = [SweepRun({"n_points": 30}, tmp_path / "a", ok=True), SweepRun({"n_points": "30"}, tmp_path / "b")]
    csv_path, md_path = write_table(runs, ["n_points"], tmp_path)
    assert [row["n_points"] for row in csv.DictReader(csv_path.open())] == ["30", "'30'"]
    assert "| '30' | FAILED |" in md_path.read_text()


# --- Interruptions --------------------------------------------------------------------------------------------

def _start(command: list[str], **kwargs) -> subprocess.Popen:
    # A suite started in the background hands its children SIGINT ignored: restore the default, as a terminal has.
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kwargs)


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert path.exists(), process.communicate()


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_or_a_closed_terminal_stops_a_run_as_ctrl_c_does(tmp_path: Path, stop: signal.Signals) -> None:
    out, started = tmp_path / "out", tmp_path / "started"
    notebook = _notebook(tmp_path / "n.ipynb", "x = 1",
                         f"import pathlib, time\npathlib.Path({str(started)!r}).touch()\ntime.sleep(120)")
    process = _start([sys.executable, "-m", "curiolib", "run", str(notebook), "--output-dir", str(out),
                      "--no-progress"])
    _wait_for(started, process)
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "| n | INTERRUPTED |" in (out / "summary.md").read_text()
    assert f"interrupted ({stop.name})" in json.loads((out / "summary.json").read_text())["n"]["error"]
    assert not list(out.glob(".*partial*")) and not list(out.glob("*.failed.ipynb")), list(out.iterdir())


@pytest.mark.slow
def test_ctrl_c_stops_a_sweep_launching_and_writes_the_table_of_what_ended(tmp_path: Path) -> None:
    started = tmp_path / "started"
    notebook = _notebook(tmp_path / "n.ipynb", "seed = 0\nflag = ''",
                         "import pathlib, time\npathlib.Path(flag).touch()\ntime.sleep(120)")
    out = tmp_path / "sweep"
    # One worker: the first run starts, Ctrl-C reaches the whole process group (as a terminal sends it).
    process = _start([sys.executable, "-m", "curiolib", "sweep", str(notebook), "-p", "seed", "0", "1", "2",
                      "-p", "flag", str(started), "--output-dir", str(out)], start_new_session=True)
    _wait_for(started, process)
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=90)
    assert process.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr and "no run was started after it" in stderr
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [(row["seed"], row["status"]) for row in rows] == [("0", "INTERRUPTED")]
    assert sorted(path.name for path in out.iterdir() if path.is_dir()) == [run_folder_name(
        {"seed": 0, "flag": str(started)})]  # the two other points never started


# --- Decks ----------------------------------------------------------------------------------------------------

@needs_deck_assets
def test_a_lesson_saved_with_widget_state_makes_a_deck_that_loads_nothing_from_a_cdn(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from curiolib.classroom.deck import build_deck, network_loads
    from curiolib.classroom.snapshot import NOTE, WIDGET_STATE, WIDGET_VIEW

    # What JupyterLab saves after the explorer ran: the widget's view in the output, its state in the metadata.
    nb = nbformat.read(LESSON_00.path, as_version=4)
    nb.metadata["widgets"] = {WIDGET_STATE: {"version_major": 2, "version_minor": 0, "state": {
        "abc": {"model_name": "IntSliderModel", "model_module": "@jupyter-widgets/controls",
                "model_module_version": "2.0.0", "state": {"value": 7, "description": "n"}}}}}
    code = next(cell for cell in nb.cells if cell.cell_type == "code"
                and cell.metadata.get("slideshow", {}).get("slide_type") != "skip")
    code.outputs = [nbformat.v4.new_output("display_data", data={
        WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0}, "text/plain": "IntSlider(7)"})]
    lessons = tmp_path / "notebooks"
    lessons.mkdir()
    nbformat.write(nb, lessons / LESSON_00.filename)
    monkeypatch.setattr(catalog, "NOTEBOOK_DIR", lessons)
    html = build_deck("00", tmp_path / "slides").read_text()
    assert network_loads(html) == [], network_loads(html)
    assert "unpkg" not in html and "cdn.jsdelivr" not in html
    assert NOTE in html  # the widget shows as its snapshot
    assert network_loads('<script src="https://unpkg.com/x.js"></script>') == ["https://unpkg.com/x.js"]
