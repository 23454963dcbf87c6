"""Parameter sweeps for a class: one notebook over a grid of parameters, a table and a figure of the results.

`curiolib sweep 01 -p beta 0.1 0.5 0.9 -p alpha 0.2 0.5 --workers 2` runs every combination through
`curiolib run` in a process of its own (a crashed kernel fails its row, not the sweep), each in its own
folder, and writes ``sweep.csv``, ``sweep.md`` and, with ``--plot``, ``sweep.png``. A rerun into the same
folder skips the runs that finished with the same parameters, so a sweep cut short resumes.
"""
from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._files import MARKER, claim_output_dir, write_text_atomically, writing_atomically
from .._validation import check_int, choice_error
from .harness import RESTORE_SIGINT, check_parameters, notebook_path, parse_parameter, shown_value, table_cell


@dataclass
class SweepRun:
    """One point of the grid: its parameters, its folder, and what the run recorded or why it failed."""

    parameters: dict[str, Any]
    folder: Path
    ok: bool = False
    seconds: float = 0.0
    recorded: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    skipped: bool = False  # finished in an earlier sweep into the same folder
    interrupted: bool = False  # stopped by Ctrl-C (or SIGTERM) while it ran

    @property
    def status(self) -> str:
        """``ok``, ``INTERRUPTED`` or ``FAILED``, as the table shows it."""
        return "ok" if self.ok else "INTERRUPTED" if self.interrupted else "FAILED"


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a sweep: no run was launched after it, and the table of what finished was written."""

    def __init__(self, runs: list[SweepRun]) -> None:
        super().__init__("sweep interrupted")
        self.runs = runs


def run_folder_name(parameters: dict[str, Any]) -> str:
    """A folder name that says which point of the grid it holds, e.g. ``beta=0.5,seed=0``."""
    # A text that reads back as another value (the text '30' beside the number 30) is written with its
    # quotes, so the two never share a folder (the quotes then also bring the digest below).
    parts = [f"{name}={value if isinstance(value, str) and parse_parameter(value) == value else json.dumps(value)}"
             for name, value in parameters.items()]
    raw = ",".join(parts)
    # Only characters every file system accepts; the exact values are in the table and the run's summary.
    safe = re.sub(r"[^A-Za-z0-9_.,=+-]", "_", raw)
    if safe != raw or len(safe) > 200:  # "a b" and "a_b", or two long names, must not share a folder
        digest = hashlib.sha1(json.dumps(parameters, sort_keys=True).encode()).hexdigest()[:10]
        safe = f"{safe[:180]}-{digest}"
    return safe


def run_folders(points: list[dict[str, Any]]) -> list[str]:
    """Each point's folder name, distinct even where the file system ignores case (macOS, Windows)."""
    names = [run_folder_name(point) for point in points]
    folded = [name.casefold() for name in names]
    for index, point in enumerate(points):
        if folded.count(folded[index]) > 1:  # "sst2" and "SST2", or nan and "NaN": one folder there
            digest = hashlib.sha1(json.dumps(point, sort_keys=True).encode()).hexdigest()[:10]
            names[index] = f"{names[index][:180]}-{digest}"
    seen: dict[str, dict[str, Any]] = {}
    for point, name in zip(points, names):  # each run's folder holds its summary: two points must never share one
        other = seen.setdefault(name.casefold(), point)
        if other is not point:
            raise ValueError(f"the grid points {other} and {point} would share the folder {name!r}: give values "
                             "that differ in more than their type")
    return names


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the swept values, the first parameter varying slowest."""
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[name] for name in names))]


def check_grid(notebook: str | Path, grid: dict[str, list[Any]], *, plot: str | None = None,
               x: str | None = None) -> Path:
    """Refuse, before anything runs, an empty grid, a parameter the notebook lacks or an unswept x axis."""
    if not grid:
        raise ValueError("grid is empty: give at least one parameter, e.g. -p beta 0.1 0.5 0.9")
    for name, values in grid.items():
        if not values:
            raise ValueError(f"parameter {name!r} has no values: give at least one after its name")
        if len({json.dumps(value, sort_keys=True) for value in values}) != len(values):
            raise ValueError(f"parameter {name!r} lists a value twice: {values}")
    run_folders(grid_points(grid))  # refuses two points that would share a folder
    source = notebook_path(notebook)
    check_parameters(source, dict.fromkeys(grid))
    if x is not None and x not in grid:
        raise choice_error("x", x, list(grid))
    if x is not None and plot is None:
        raise ValueError("x names the figure's axis: give plot=<recorded number> as well")
    return source


def _finished(folder: Path, stem: str, parameters: dict[str, Any]) -> SweepRun | None:
    # A run counts as finished only if its own summary says it succeeded with exactly these parameters.
    summary = folder / "summary.json"
    try:
        entry = json.loads(summary.read_text())[stem]
    except (OSError, ValueError, KeyError):
        return None
    if not entry.get("ok") or entry.get("parameters") != parameters:
        return None
    return SweepRun(parameters, folder, ok=True, seconds=entry.get("seconds", 0.0),
                    recorded=entry.get("recorded", {}), skipped=True)


class _Launcher:
    """Starts the runs' processes until told to stop, and can pass Ctrl-C on to the ones running."""

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self.running: set[subprocess.Popen] = set()
        self.lock = threading.Lock()

    def stop(self) -> None:
        """Launch nothing more; interrupt the runs under way (each marks itself INTERRUPTED and exits)."""
        with self.lock:
            self.stopped.set()
            for process in self.running:
                # A terminal's Ctrl-C has reached them already; a `kill -INT` of the sweep alone has not.
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)

    def execute(self, source: Path, parameters: dict[str, Any], folder: Path, threads: int) -> SweepRun | None:
        """One `curiolib run` of ``source`` at ``parameters`` in ``folder``; None when stopped before it began."""
        command = [sys.executable, "-m", "curiolib", "run", str(source), "--output-dir", str(folder),
                   "--no-progress"]
        for name, value in parameters.items():
            command += ["-p", name, repr(value)]  # `curiolib run` reads values back with ast.literal_eval
        env = dict(os.environ)
        for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env.setdefault(variable, str(threads))  # N runs at once share the cores instead of fighting for them
        with self.lock:
            if self.stopped.is_set():
                return None
            # A sweep started from a non-interactive shell hands its children SIGINT ignored: each run takes
            # Ctrl-C's handler back itself (a preexec_fn is unsafe from this thread), so Ctrl-C, or stop()
            # above, marks it INTERRUPTED as `curiolib run` does.
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                       env=env | {RESTORE_SIGINT: "1"})
            self.running.add(process)
        try:
            _, stderr = process.communicate()
        finally:
            with self.lock:
                self.running.discard(process)
        run = SweepRun(parameters, folder)
        try:
            entry = json.loads((folder / "summary.json").read_text())[source.stem]
        except (OSError, ValueError, KeyError):
            entry = {}
        run.seconds = entry.get("seconds", 0.0)
        run.recorded = entry.get("recorded", {})
        run.ok = process.returncode == 0 and bool(entry.get("ok"))
        run.interrupted = not run.ok and (process.returncode in (130, -signal.SIGINT) or bool(entry.get("interrupted")))
        if not run.ok:
            message = (entry.get("error") or stderr.strip() or f"exit status {process.returncode}").strip()
            run.error = message.splitlines()[0] if message else f"exit status {process.returncode}"
        return run


def sweep(notebook: str | Path, grid: dict[str, list[Any]], output_dir: str | Path, *, workers: int = 1,
          plot: str | None = None, x: str | None = None, progress: bool = True) -> list[SweepRun]:
    """Run ``notebook`` at every point of ``grid``, ``workers`` at a time; write the table (and figure)."""
    workers = check_int("workers", workers, low=1)
    source = check_grid(notebook, grid, plot=plot, x=x)
    out = claim_output_dir(output_dir, parameter="output_dir")
    points = grid_points(grid)
    threads = max(1, (os.cpu_count() or 1) // workers)
    runs: list[SweepRun | None] = [None] * len(points)
    pending = []
    for index, (parameters, name) in enumerate(zip(points, run_folders(points))):
        folder = out / name
        finished = _finished(folder, source.stem, parameters)
        if finished:
            runs[index] = finished
        else:
            # The sweep's folder is its own, and so is each run's inside it: claimed here, so a run folder an
            # earlier curiolib left without a marker is reused, not refused by the run it starts.
            if folder.is_dir() and not (folder / MARKER).exists():
                (folder / MARKER).write_text("made by curiolib sweep, which replaces only its own files here\n")
            pending.append((index, parameters, folder))
    if progress:
        print(f"sweep {source.stem}: {len(points)} runs, {len(points) - len(pending)} already finished, "
              f"{len(pending)} to run, {workers} at a time", flush=True)
    launcher = _Launcher()
    interrupted = False
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = {pool.submit(launcher.execute, source, parameters, folder, threads): index
                   for index, parameters, folder in pending}
        try:
            for done_count, future in enumerate(as_completed(futures), start=1):
                index = futures[future]
                run = runs[index] = future.result()
                if progress and run is not None:
                    status = "ok" if run.ok else f"{run.status}: {run.error}"
                    print(f"[{done_count}/{len(pending)}] {run.folder.name}: {status}", flush=True)
                if run is not None and run.interrupted:
                    raise KeyboardInterrupt  # a run was stopped by Ctrl-C: the sweep stops with it
        except KeyboardInterrupt:
            interrupted = True
            launcher.stop()
            for future in futures:
                future.cancel()  # the runs not begun never begin
            try:
                for future, index in futures.items():  # the runs under way end as INTERRUPTED: wait for them
                    if not future.cancelled():
                        runs[index] = future.result()
            except KeyboardInterrupt:  # pressed again while waiting: stop waiting, table what has ended
                pass
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=True)
    finished_runs = [run for run in runs if run is not None]
    write_table(finished_runs, list(grid), out)
    if plot is not None and (not interrupted or any(run.ok for run in finished_runs)):
        plot_sweep(finished_runs, plot, x or next(iter(grid)), out / "sweep.png", title=source.stem)
    if interrupted:
        raise SweepInterrupted(finished_runs)
    return finished_runs


def _scalar_keys(runs: list[SweepRun]) -> list[str]:
    keys: dict[str, None] = {}
    for run in (run for run in runs if run.ok):
        for key, value in run.recorded.items():
            if isinstance(value, (int, float, str, bool)) or value is None:
                keys.setdefault(key)
    return list(keys)


def write_table(runs: list[SweepRun], names: list[str], out: Path) -> tuple[Path, Path]:
    """``sweep.csv`` and ``sweep.md``: a row per run, its parameters, status, seconds and recorded numbers."""
    keys = _scalar_keys(runs)
    # A lesson may record a parameter it was given; its column must not pass for the swept one.
    header = [*names, "status", "seconds", *(f"{key} (recorded)" if key in names else key for key in keys), "error"]
    rows = []
    for run in runs:
        rows.append([*(shown_value(run.parameters[name]) for name in names), run.status, round(run.seconds, 1),
                     # A failed run's numbers (recorded before the failing cell) stay in its folder only.
                     *(run.recorded.get(key, "") if run.ok else "" for key in keys), run.error or ""])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[json.dumps(v) if isinstance(v, (list, dict)) else v for v in row] for row in rows])
    csv_path, md_path = out / "sweep.csv", out / "sweep.md"
    write_text_atomically(csv_path, buffer.getvalue())

    lines = ["| " + " | ".join(table_cell(name) for name in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(table_cell(value) for value in row) + " |" for row in rows]
    write_text_atomically(md_path, "\n".join(lines) + "\n")
    return csv_path, md_path


def plot_sweep(runs: list[SweepRun], key: str, x: str, path: Path, *, title: str = "") -> Path:
    """A figure of recorded number ``key`` against swept parameter ``x``, a line per other combination."""
    import matplotlib

    matplotlib.use("Agg")  # a sweep runs from a terminal: no display needed
    import matplotlib.pyplot as plt

    ok = [run for run in runs if run.ok and isinstance(run.recorded.get(key), (int, float))]
    if not ok:
        recorded = sorted(_scalar_keys(runs))
        raise choice_error("plot", key, recorded) if recorded else ValueError(
            f"plot={key!r}: no run finished and recorded numbers; see sweep.md")
    lines: dict[str, list[SweepRun]] = {}
    for run in ok:
        others = ", ".join(f"{name}={shown_value(value)}" for name, value in run.parameters.items() if name != x)
        lines.setdefault(others, []).append(run)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    numeric = all(isinstance(run.parameters[x], (int, float)) for run in ok)
    for label, members in lines.items():
        if numeric:  # otherwise the grid's order, and the values as category names (None included)
            members.sort(key=lambda run: run.parameters[x])
        xs = [run.parameters[x] if numeric else str(shown_value(run.parameters[x])) for run in members]
        ax.plot(xs, [run.recorded[key] for run in members], marker="o", label=label or None)
    ax.set_xlabel(x)
    ax.set_ylabel(key)
    ax.set_title(f"{title}: {key} against {x}" if title else f"{key} against {x}", fontsize="medium")
    if any(lines):
        ax.legend(fontsize="small")
    fig.tight_layout()
    with writing_atomically(path, keep_suffix=True) as partial:  # matplotlib takes the format from the name's end
        fig.savefig(partial, dpi=120)
    plt.close(fig)
    return path
