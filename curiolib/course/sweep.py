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
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._files import claim_output_dir
from .._validation import check_int, choice_error
from .harness import _notebook_path, _write_atomically, check_parameters


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


def run_folder_name(parameters: dict[str, Any]) -> str:
    """A folder name that says which point of the grid it holds, e.g. ``beta=0.5,seed=0``."""
    parts = [f"{name}={json.dumps(value) if not isinstance(value, str) else value}"
             for name, value in parameters.items()]
    raw = ",".join(parts)
    # Only characters every file system accepts; the exact values are in the table and the run's summary.
    safe = re.sub(r"[^A-Za-z0-9_.,=+-]", "_", raw)
    if safe != raw or len(safe) > 200:  # "a b" and "a_b", or two long names, must not share a folder
        digest = hashlib.sha1(json.dumps(parameters, sort_keys=True).encode()).hexdigest()[:10]
        safe = f"{safe[:180]}-{digest}"
    return safe


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
    source = _notebook_path(notebook)
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


def _execute(source: Path, parameters: dict[str, Any], folder: Path, threads: int) -> SweepRun:
    command = [sys.executable, "-m", "curiolib", "run", str(source), "--output-dir", str(folder), "--no-progress"]
    for name, value in parameters.items():
        command += ["-p", name, repr(value)]  # `curiolib run` reads values back with ast.literal_eval
    env = dict(os.environ)
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(variable, str(threads))  # N runs at once share the cores instead of fighting for them
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    run = SweepRun(parameters, folder)
    try:
        entry = json.loads((folder / "summary.json").read_text())[source.stem]
    except (OSError, ValueError, KeyError):
        entry = {}
    run.seconds = entry.get("seconds", 0.0)
    run.recorded = entry.get("recorded", {})
    run.ok = done.returncode == 0 and bool(entry.get("ok"))
    if not run.ok:
        message = entry.get("error") or done.stderr.strip() or f"exit status {done.returncode}"
        run.error = message.strip().splitlines()[0] if message.strip() else f"exit status {done.returncode}"
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
    for index, parameters in enumerate(points):
        folder = out / run_folder_name(parameters)
        finished = _finished(folder, source.stem, parameters)
        if finished:
            runs[index] = finished
        else:
            pending.append((index, parameters, folder))
    if progress:
        print(f"sweep {source.stem}: {len(points)} runs, {len(points) - len(pending)} already finished, "
              f"{len(pending)} to run, {workers} at a time", flush=True)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(_execute, source, parameters, folder, threads): index
                   for index, parameters, folder in pending}
        for done_count, future in enumerate(as_completed(futures), start=1):
            index = futures[future]
            runs[index] = future.result()
            if progress:
                run = runs[index]
                status = "ok" if run.ok else f"FAILED: {run.error}"
                print(f"[{done_count}/{len(pending)}] {run.folder.name}: {status}", flush=True)
    finished_runs = [run for run in runs if run is not None]
    write_table(finished_runs, list(grid), out)
    if plot is not None:
        plot_sweep(finished_runs, plot, x or next(iter(grid)), out / "sweep.png", title=source.stem)
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
        status = "ok" if run.ok else "FAILED"
        rows.append([*(run.parameters[name] for name in names), status, round(run.seconds, 1),
                     # A failed run's numbers (recorded before the failing cell) stay in its folder only.
                     *(run.recorded.get(key, "") if run.ok else "" for key in keys), run.error or ""])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[json.dumps(v) if isinstance(v, (list, dict)) else v for v in row] for row in rows])
    csv_path, md_path = out / "sweep.csv", out / "sweep.md"
    _write_atomically(csv_path, buffer.getvalue())

    def cell(value: Any) -> str:
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    _write_atomically(md_path, "\n".join(lines) + "\n")
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
        others = ", ".join(f"{name}={value}" for name, value in run.parameters.items() if name != x)
        lines.setdefault(others, []).append(run)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    numeric = all(isinstance(run.parameters[x], (int, float)) for run in ok)
    for label, members in lines.items():
        if numeric:  # otherwise the grid's order, and the values as category names (None included)
            members.sort(key=lambda run: run.parameters[x])
        xs = [run.parameters[x] if numeric else str(run.parameters[x]) for run in members]
        ax.plot(xs, [run.recorded[key] for run in members], marker="o", label=label or None)
    ax.set_xlabel(x)
    ax.set_ylabel(key)
    ax.set_title(f"{title}: {key} against {x}" if title else f"{key} against {x}", fontsize="medium")
    if any(lines):
        ax.legend(fontsize="small")
    fig.tight_layout()
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial.png")
    fig.savefig(partial, dpi=120)
    plt.close(fig)
    os.replace(partial, path)
    return path
