"""Where a lesson's memory peaks: run its code cells one at a time and report each cell's peak resident memory.

    python scripts/profile_lesson_memory.py 03
    python scripts/profile_lesson_memory.py 04 --smoke
    python scripts/profile_lesson_memory.py /tmp/copy/06_efficient_fine_tuning.ipynb -p train_size 2000

Each code cell runs in one Jupyter kernel, as `curiolib run` runs it (papermill's parameters, the same kernel
arguments). Before a cell starts, the kernel's high-water mark (VmHWM) is reset through /proc/<pid>/clear_refs,
so after the cell it holds that cell's own peak, however short; a thread also sums the resident memory of the
kernel and its child processes every 0.2 s (what scripts/measure_lessons.py samples every second). A cell's
peak is the larger of the two. "kept" is the memory still resident when the cell ends: a cell that keeps a
model it no longer needs shows there. Linux only (it reads /proc). The executed copy, the lesson's files
(checkpoints, saved models) and a JSON of the figures go to a new folder under the temporary directory, or
to --output-dir; the lesson in notebooks/ is never written. Cells are numbered as in the executed copy: with
--smoke or -p, papermill's injected-parameters cell follows the parameters cell and shifts the later numbers by one.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from curiolib.classroom.memory import descendants, reset_high_water_mark, status_bytes

GB = 1e9


def family_memory(pid: int) -> int:
    """The resident bytes of process ``pid`` and all its descendants."""
    return sum(status_bytes(member, "VmRSS") for member in [pid, *descendants(pid)])


class CellMeter:
    """The peak resident memory of a kernel (with its children) between `start` and `stop`."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval = pid, interval
        self.peak = 0
        self.exact = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Reset the kernel's high-water mark and begin sampling."""
        self.exact = reset_high_water_mark(self.pid)
        self.peak = family_memory(self.pid)
        self._done.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(self.interval):
            self.peak = max(self.peak, family_memory(self.pid))

    def stop(self) -> tuple[int, int]:
        """The cell's peak and the memory it left resident, in bytes."""
        self._done.set()
        assert self._thread is not None
        self._thread.join()
        kept = family_memory(self.pid)
        peak = max(self.peak, kept)
        if self.exact:  # the kernel's own peak, however brief, plus what its children hold at the end
            children = kept - status_bytes(self.pid, "VmRSS")
            peak = max(peak, status_bytes(self.pid, "VmHWM") + max(children, 0))
        return peak, kept


def first_line(source: str, width: int = 72) -> str:
    """The cell's first line that says something (not blank, not a comment), shortened to ``width``."""
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    line = next((line for line in lines if not line.startswith("#")), lines[0] if lines else "")
    return line if len(line) <= width else line[:width - 1] + "…"


def profile(source: Path, parameters: dict, output_dir: Path, *, timeout: int | None = None) -> list[dict]:
    """Execute ``source`` cell by cell in ``output_dir``; one row per code cell: index, first line, seconds, bytes."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from papermill.parameterize import parameterize_notebook

    from curiolib.classroom.harness import KERNEL_ARGUMENTS
    from curiolib.course.notebook import RECORD_ENV

    nb = nbformat.read(source, as_version=4)
    if parameters:  # as `curiolib run -p` injects them: a cell after the parameters cell
        nb.metadata.setdefault("papermill", {})
        nb = parameterize_notebook(nb, parameters, kernel_name="python3")
    os.environ[RECORD_ENV] = str(output_dir / f"{source.stem}.json")  # the kernel inherits it: record() writes there
    client = NotebookClient(nb, kernel_name="python3", timeout=timeout, allow_errors=False,
                            extra_arguments=KERNEL_ARGUMENTS, resources={"metadata": {"path": str(output_dir)}})
    rows: list[dict] = []
    with client.setup_kernel():
        pid = client.km.provisioner.process.pid
        meter = CellMeter(pid)
        print(f"kernel {pid} started: {family_memory(pid) / GB:.2f} GB"
              + ("" if reset_high_water_mark(pid) else " (VmHWM cannot be reset here: sampled every 0.2 s only)"),
              flush=True)
        print(f"{'cell':>4}  {'seconds':>7}  {'peak GB':>7}  {'kept GB':>7}  first line", flush=True)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            meter.start()
            start = time.perf_counter()
            error = None
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as exc:
                error = str(exc).strip().splitlines()[-1]
            finally:
                peak, kept = meter.stop()
            row = {"cell": index, "first_line": first_line(cell.source),
                   "seconds": round(time.perf_counter() - start, 1),
                   "peak_gb": round(peak / GB, 3), "kept_gb": round(kept / GB, 3)}
            rows.append(row)
            print(f"{index:>4}  {row['seconds']:>7.1f}  {row['peak_gb']:>7.2f}  {row['kept_gb']:>7.2f}  "
                  f"{row['first_line']}", flush=True)
            if error:
                row["error"] = error
                print(f"cell {index} failed: {error}", file=sys.stderr, flush=True)
                break
    nbformat.write(nb, output_dir / source.name)
    return rows


def main() -> int:
    """Profile one lesson and print its cells' peaks; write them as JSON beside the executed copy."""
    from curiolib._files import claim_output_dir, write_text_atomically
    from curiolib.classroom.catalog import NOTEBOOK_DIR, find_lesson
    from curiolib.classroom.harness import check_parameters, notebook_path, parse_parameter

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lesson", help='a lesson number ("03"), its stem, or a notebook file (a copy)')
    parser.add_argument("--smoke", action="store_true", help="the lesson's smoke parameters from the catalog")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a parameter, as `curiolib run -p` takes it (repeat for more)")
    parser.add_argument("--output-dir", type=Path, help="where the copy and the lesson's files go (default: a new "
                        "folder under the temporary directory)")
    parser.add_argument("--timeout", type=int, help="seconds one cell may take (default: no limit)")
    args = parser.parse_args()
    if not Path("/proc/self/status").exists():
        parser.error("this script reads /proc: Linux only")
    source = notebook_path(args.lesson)
    try:
        lesson = find_lesson(source.stem)
    except ValueError:
        lesson = None
    parameters = dict(lesson.smoke) if args.smoke and lesson else {}
    parameters.update({name: parse_parameter(value) for name, value in args.parameter})
    check_parameters(source, parameters)
    if args.output_dir is None:
        output_dir = Path(tempfile.mkdtemp(prefix=f"profile-{source.stem[:2]}-"))
    elif args.output_dir.resolve() == NOTEBOOK_DIR.resolve():
        parser.error("--output-dir is the committed lessons' folder: choose another")
    elif args.output_dir.resolve() == source.resolve().parent:
        parser.error("--output-dir holds the notebook being profiled, which the profiled copy would replace: "
                     "choose another")
    else:
        output_dir = claim_output_dir(args.output_dir, parameter="--output-dir")
    print(f"profiling {source} with {parameters or 'its default parameters'}; files in {output_dir}", flush=True)
    start = time.perf_counter()
    rows = profile(source, parameters, output_dir.resolve(), timeout=args.timeout)
    peak = max(rows, key=lambda row: row["peak_gb"]) if rows else None
    result = {"notebook": str(source), "parameters": parameters, "seconds": round(time.perf_counter() - start, 1),
              "peak_gb": peak["peak_gb"] if peak else None, "cells": rows}
    write_text_atomically(output_dir / "memory_profile.json", json.dumps(result, indent=2) + "\n")
    if peak:
        print(f"peak {peak['peak_gb']:.2f} GB in cell {peak['cell']} ({peak['first_line']}); "
              f"{result['seconds']:.0f} s in all; {output_dir / 'memory_profile.json'}")
    return 1 if any("error" in row for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
