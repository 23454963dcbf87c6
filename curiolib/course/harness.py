"""Execute the numbered notebooks with papermill, collect the numbers they record, write a summary."""
from __future__ import annotations

import ast
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalog import Lesson, available_lessons, find_lesson
from .notebook import RECORD_ENV


@dataclass
class NotebookRun:
    """The outcome of executing one notebook: where its copy is, what it recorded, how it ended."""

    name: str
    output_path: Path
    parameters: dict[str, Any]
    seconds: float = 0.0
    recorded: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def parse_parameter(text: str) -> Any:
    """Read a `-p name value` value the way papermill does: numbers, booleans, None, else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def clean_notebook(path: Path) -> None:
    """Drop widget state and machine-specific metadata so a committed notebook renders and diffs cleanly."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for key in ("papermill", "widgets"):
        nb.metadata.pop(key, None)
    nb.metadata.get("kernelspec", {}).update({"name": "python3", "display_name": "Python 3"})
    nb.metadata.get("language_info", {}).pop("version", None)
    for cell in nb.cells:
        for key in ("papermill", "execution", "ExecuteTime"):
            cell.metadata.pop(key, None)
    nbformat.write(nb, path)


def _describe_failure(exc: Exception) -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        source = "\n".join("    " + line for line in exc.source.splitlines()[-8:])
        return (f"cell {exc.exec_count} failed with {exc.ename}: {exc.evalue}\n"
                f"  the cell ends with:\n{source}")
    return f"{type(exc).__name__}: {exc}"


def run_notebook(notebook: str | Path | Lesson, output_dir: Path, *, parameters: dict[str, Any] | None = None,
                 smoke: bool = False, inplace: bool = False, progress: bool = True) -> NotebookRun:
    """Execute one notebook with papermill into ``output_dir`` (or in place) and collect its records."""
    import papermill

    source = _notebook_path(notebook)
    lesson = _lesson_for(source)
    params = dict(lesson.smoke) if (smoke and lesson) else {}
    params.update(parameters or {})
    if inplace and params:
        raise ValueError("inplace runs rewrite the committed notebook with its default parameters; "
                         f"drop --smoke and -p (got {params})")
    output_dir.mkdir(parents=True, exist_ok=True)
    output_path = source if inplace else output_dir / source.name
    record_path = output_dir / f"{source.stem}.json"
    record_path.unlink(missing_ok=True)
    run = NotebookRun(name=source.stem, output_path=output_path, parameters=params)

    # The kernel inherits our environment: that is how record() finds its JSON file.
    previous = os.environ.get(RECORD_ENV)
    os.environ[RECORD_ENV] = str(record_path.resolve())
    work_dir = Path(tempfile.mkdtemp(prefix=f"{source.stem}-", dir=output_dir)) if inplace else output_dir
    start = time.perf_counter()
    try:
        papermill.execute_notebook(str(source), str(output_path), parameters=params, progress_bar=progress,
                                   cwd=str(work_dir), kernel_name="python3", log_output=False)
    except Exception as exc:  # papermill wraps the cell's error; any other failure is reported the same way
        run.error = _describe_failure(exc)
    finally:
        run.seconds = time.perf_counter() - start
        if previous is None:
            os.environ.pop(RECORD_ENV, None)
        else:
            os.environ[RECORD_ENV] = previous
    if record_path.exists():
        run.recorded = json.loads(record_path.read_text())
    if inplace and run.ok:
        clean_notebook(output_path)
    return run


def _notebook_path(notebook: str | Path | Lesson) -> Path:
    if isinstance(notebook, Lesson):
        return notebook.path
    path = Path(notebook)
    return path if path.suffix == ".ipynb" and path.exists() else find_lesson(str(notebook)).path


def _lesson_for(path: Path) -> Lesson | None:
    try:
        return find_lesson(path.stem)
    except ValueError:
        return None


def write_summary(runs: list[NotebookRun], output_dir: Path) -> Path:
    """Write summary.md (one page: each notebook's status, time and key numbers) and summary.json."""
    lines = ["# curiolib run summary", "",
             "| notebook | status | seconds | parameters |", "|---|---|---|---|"]
    for run in runs:
        status = "ok" if run.ok else "FAILED"
        params = ", ".join(f"{k}={v}" for k, v in run.parameters.items()) or "defaults"
        lines.append(f"| {run.name} | {status} | {run.seconds:.1f} | {params} |")
    for run in runs:
        lines += ["", f"## {run.name}", ""]
        if run.error:
            lines += ["```", run.error, "```"]
        if run.recorded:
            lines += ["| key number | value |", "|---|---|"]
            lines += [f"| {key} | {_format_value(value)} |" for key, value in run.recorded.items()]
        elif run.ok:
            lines.append("(no numbers recorded)")
    summary = output_dir / "summary.md"
    summary.write_text("\n".join(lines) + "\n")
    (output_dir / "summary.json").write_text(json.dumps(
        {run.name: {"ok": run.ok, "seconds": round(run.seconds, 2), "parameters": run.parameters,
                    "recorded": run.recorded, "error": run.error} for run in runs}, indent=2) + "\n")
    return summary


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 120 else text[:117] + "..."


def run_all(notebooks: list[str], output_dir: Path, *, parameters: dict[str, Any] | None = None,
            smoke: bool = False, inplace: bool = False, progress: bool = True) -> list[NotebookRun]:
    """Execute the named notebooks (all lessons when none are named), printing progress as it goes."""
    targets: list[str | Path | Lesson] = list(notebooks) or list(available_lessons())
    runs = []
    for index, notebook in enumerate(targets, start=1):
        name = notebook.stem if isinstance(notebook, Lesson) else Path(str(notebook)).stem
        print(f"[{index}/{len(targets)}] {name} ...", flush=True)
        run = run_notebook(notebook, output_dir, parameters=parameters, smoke=smoke, inplace=inplace,
                           progress=progress)
        outcome = "ok" if run.ok else "FAILED"
        print(f"[{index}/{len(targets)}] {name} {outcome} in {run.seconds:.1f} s -> {run.output_path}", flush=True)
        if run.error:
            print(run.error, file=sys.stderr, flush=True)
        runs.append(run)
    return runs
