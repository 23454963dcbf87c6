"""Execute the numbered notebooks with papermill, collect the numbers they record, write a summary."""
from __future__ import annotations

import ast
import contextlib
import errno
import json
import os
import re
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._files import claim_output_dir, move_into_place, write_text_atomically
from .catalog import NOTEBOOK_DIR, Lesson, available_lessons, find_lesson
from .memory import KernelMemory
from ..course.notebook import RECORD_ENV


#: Set by `curiolib sweep` for the runs it starts: a sweep launched from a non-interactive shell hands them
#: SIGINT ignored, and Ctrl-C must still mark them INTERRUPTED.
RESTORE_SIGINT = "CURIOLIB_RESTORE_SIGINT"
#: The kernel's own log shows errors only. Its one warning in a run, "Kernel is running over TCP without
#: encryption", reads to a newcomer as a security problem and is not one here: papermill starts the kernel as
#: the same user, listening on the loopback interface only, and every message is signed with a key from a
#: connection file only that user can read.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]


@dataclass
class NotebookRun:
    """The outcome of executing one notebook: where its copy is, what it recorded, how it ended."""

    name: str
    output_path: Path
    parameters: dict[str, Any]
    seconds: float = 0.0
    recorded: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    interrupted: bool = False
    #: The kernel's peak resident memory in GB (`memory.KernelMemory`); None where it cannot be read.
    peak_gb: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class MissingExtraError(ModuleNotFoundError, ValueError):
    """A module of one of curiolib's extras is not installed (`curiolib run` without papermill)."""

    # Also a ValueError: `curiolib run` prints those as one line and exits 2, not as a traceback.


def skip_iri_grammar() -> None:
    """Keep jsonschema from compiling rfc3987-syntax's grammar in a process curiolib starts for itself.

    nbformat (through papermill, nbclient and nbval) imports jsonschema, which imports rfc3987-syntax where it is
    installed (JupyterLab's jupyter-events asks for it) and so compiles an IRI grammar: over a second of each
    `curiolib run`'s start, for an "iri" format that no notebook's schema uses. jsonschema goes without that format
    when the import fails. Called only by curiolib's own entry points (the command line, grading's processes),
    never on import, so a kernel or a user's program keeps jsonschema as installed.
    """
    if "jsonschema" not in sys.modules:  # once imported, it has the grammar already
        sys.modules.setdefault("rfc3987_syntax", None)  # None in sys.modules: the import raises ImportError


def require_papermill() -> Any:
    """The papermill module, or a one-line error naming the extra that installs it."""
    try:
        import papermill
    except ImportError:
        raise MissingExtraError("running notebooks needs papermill, which the lab extra installs: "
                                "pip install 'curiolib[lab]'", name="papermill") from None
    return papermill


def parse_parameter(text: str) -> Any:
    """Read a `-p name value` value the way papermill does: numbers, booleans, None, else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def clean_notebook(path: Path) -> None:
    """Widgets as static snapshots, no run-specific metadata, slide types by the rule: renders and diffs cleanly."""
    import nbformat

    from .slides import apply_slide_metadata
    from .snapshot import snapshot_widgets

    nb = nbformat.read(path, as_version=4)
    snapshot_widgets(nb)  # before the widget state goes: the snapshots are drawn from it
    nb.metadata.pop("papermill", None)
    nb.metadata.get("kernelspec", {}).update({"name": "python3", "display_name": "Python 3"})
    # language_info stays whole, Python version included: JupyterLab writes the kernel's on opening, and one
    # that differs from the file's marks an untouched lesson modified ("Save changes?" on closing it).
    for cell in nb.cells:
        for key in ("papermill", "execution", "ExecuteTime"):
            cell.metadata.pop(key, None)
    # A fresh run can change which cells draw a figure, so the slide types are re-derived from the rule.
    apply_slide_metadata(nb)
    nbformat.write(nb, path)


def _describe_failure(exc: Exception, output_dir: Path | None = None) -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = f" in {output_dir}" if output_dir is not None else ""
        return f"no space left on the disk while writing{where}: free some space and run it again"
    if isinstance(exc, PapermillExecutionError):
        source = "\n".join("    " + line for line in exc.source.splitlines()[-8:])
        return (f"cell {exc.exec_count} failed with {exc.ename}: {exc.evalue}\n"
                f"  the cell ends with:\n{source}")
    return f"{type(exc).__name__}: {exc}"


def check_parameters(source: Path, params: dict[str, Any]) -> None:
    """Refuse, before anything runs, a parameter the notebook's parameters cell does not define (a typo)."""
    papermill = require_papermill()

    known = list(papermill.inspect_notebook(str(source)))
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(f"{source.stem} has no parameter {', '.join(map(repr, unknown))}; "
                         f"its parameters are: {', '.join(known) or '(none)'}")


def check_destination(source: Path, output_dir: Path, *, inplace: bool = False) -> None:
    """Refuse, before anything runs, a run that would rewrite a notebook curiolib does not own.

    ``--inplace`` rewrites only the committed lessons; a copy never lands on its own source (``--output-dir
    notebooks`` from the repository root would replace the committed lesson with a smoke copy).
    """
    lesson = _lesson_for(source)
    if inplace and (lesson is None or source.resolve() != lesson.path.resolve()):
        raise ValueError(f"--inplace rewrites only the committed lessons in {NOTEBOOK_DIR}; {source} is not one: "
                         "run it with --output-dir, which writes an executed copy and leaves the notebook as it is")
    if not inplace and (output_dir / source.name).resolve() == source.resolve():
        raise ValueError(f"output_dir={str(output_dir)!r} is the folder of {source.name} itself: the run would "
                         "replace the notebook with its executed copy; choose another folder")
    if not inplace and output_dir.resolve() == NOTEBOOK_DIR.resolve():
        raise ValueError(f"output_dir={str(output_dir)!r} is the committed lessons' folder: choose another folder "
                         "(to refresh the committed lessons, use --inplace with default parameters)")


def run_notebook(notebook: str | Path | Lesson, output_dir: Path, *, parameters: dict[str, Any] | None = None,
                 smoke: bool = False, inplace: bool = False, progress: bool = True) -> NotebookRun:
    """Execute one notebook with papermill into ``output_dir`` (or in place) and collect its records.

    The run writes under names of its own and moves them into place only once it has succeeded, so a failed
    or interrupted run (Ctrl-C) leaves the previous good copy and numbers as they were, and two runs into
    one folder never read each other's records. A failed run's copy is kept as ``NN.failed.ipynb``.
    ``output_dir`` must be new, empty or a folder curiolib made (it holds a ``.curiolib`` marker).
    """
    papermill = require_papermill()

    source = notebook_path(notebook)
    lesson = _lesson_for(source)
    output_dir = Path(output_dir)
    params = dict(lesson.smoke) if (smoke and lesson) else {}
    params.update(parameters or {})
    if inplace and params:
        raise ValueError("inplace runs rewrite the committed notebook with its default parameters; "
                         f"drop --smoke and -p (got {params})")
    check_parameters(source, params)
    check_destination(source, output_dir, inplace=inplace)
    output_dir = claim_output_dir(output_dir, parameter="output_dir")
    output_path = source if inplace else output_dir / source.name
    record_path = output_dir / f"{source.stem}.json"
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    partial_notebook = output_path.with_name(f".{source.stem}.{tag}.partial.ipynb")
    partial_record = output_dir / f".{source.stem}.{tag}.partial.json"
    run = NotebookRun(name=source.stem, output_path=output_path, parameters=params)

    # The kernel inherits our environment: that is how record() finds this run's JSON file.
    previous = os.environ.get(RECORD_ENV)
    os.environ[RECORD_ENV] = str(partial_record.resolve())
    work_dir = Path(tempfile.mkdtemp(prefix=f"{source.stem}-", dir=output_dir)) if inplace else output_dir
    memory = KernelMemory(RECORD_ENV, os.environ[RECORD_ENV])  # this run's kernel: the one holding its record file
    start = time.perf_counter()
    try:
        with memory:
            papermill.execute_notebook(str(source), str(partial_notebook), parameters=params, progress_bar=progress,
                                       cwd=str(work_dir), kernel_name="python3", log_output=False,
                                       extra_arguments=KERNEL_ARGUMENTS)
    except KeyboardInterrupt as exc:
        reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else "Ctrl-C"
        run.error, run.interrupted = f"interrupted ({reason})", True
    except Exception as exc:  # papermill wraps the cell's error; any other failure is reported the same way
        run.error = _describe_failure(exc, output_dir)
    finally:
        run.seconds, run.peak_gb = time.perf_counter() - start, memory.peak_gb
        if previous is None:
            os.environ.pop(RECORD_ENV, None)
        else:
            os.environ[RECORD_ENV] = previous
        if inplace:
            with contextlib.suppress(OSError):  # the lesson's scratch folder, ours: gone when it holds nothing
                work_dir.rmdir()
    try:
        run.recorded = json.loads(partial_record.read_text()) if partial_record.exists() else {}
    except (OSError, ValueError) as exc:  # kept apart: the run's own error, if it has one, is the one to show
        problem = f"its numbers in {partial_record.name} could not be read ({type(exc).__name__}: {exc})"
        run.error = f"{run.error}\n  {problem}" if run.error else problem
    try:
        if run.ok:
            if inplace:
                clean_notebook(partial_notebook)
            else:  # smoke copies too: reopened, a live widget is only `VBox(…)` (nbval ignores widget cells' outputs)
                _snapshot(partial_notebook)
            move_into_place(partial_notebook, output_path)
            if partial_record.exists():
                move_into_place(partial_record, record_path)
            else:  # recorded nothing this time: an old file must not pass for this run's numbers
                record_path.unlink(missing_ok=True)
            return run
    except (OSError, ValueError) as exc:  # the disk filled after the last cell, or the copy is unreadable
        run.error = _describe_failure(exc, output_dir)
    kept = output_path.exists()
    if partial_notebook.exists() and not run.interrupted and _readable(partial_notebook):
        move_into_place(partial_notebook, output_dir / f"{source.stem}.failed.ipynb")
    elif partial_notebook.exists() and not run.interrupted:
        run.error += "\n  the executed copy was cut short (not a whole notebook) and was removed"
    partial_notebook.unlink(missing_ok=True)
    partial_record.unlink(missing_ok=True)
    if kept:
        run.error += f"\n  the previous copy {output_path.name} and its numbers were left as they were"
    return run


def _readable(path: Path) -> bool:
    import nbformat

    try:
        nbformat.read(path, as_version=4)
    except Exception:  # a copy cut short by a full disk is not JSON; nbformat raises several kinds for it
        return False
    return True


def _snapshot(path: Path) -> None:
    import nbformat

    from .snapshot import snapshot_widgets

    nb = nbformat.read(path, as_version=4)
    if snapshot_widgets(nb):
        nbformat.write(nb, path)


def notebook_path(notebook: str | Path | Lesson) -> Path:
    """The notebook file a lesson, a stem, a number ("03") or a path names."""
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
        status = "ok" if run.ok else "INTERRUPTED" if run.interrupted else "FAILED"
        params = ", ".join(f"{k}={shown_value(v)}" for k, v in run.parameters.items()) or "defaults"
        lines.append(f"| {table_cell(run.name)} | {status} | {run.seconds:.1f} | {table_cell(params)} |")
    for run in runs:
        lines += ["", f"## {run.name}", ""]
        if run.error:  # a fence longer than any run of backticks in the text keeps it one block
            fence = "`" * max(3, 1 + max((len(m) for m in re.findall("`+", run.error)), default=0))
            lines += [fence, run.error, fence]
        if run.recorded:
            lines += ["| key number | value |", "|---|---|"]
            lines += [f"| {table_cell(key)} | {table_cell(_format_value(value))} |"
                      for key, value in run.recorded.items()]
        elif run.ok:
            lines.append("(no numbers recorded)")
    summary = output_dir / "summary.md"
    write_text_atomically(summary, "\n".join(lines) + "\n")
    write_text_atomically(output_dir / "summary.json", json.dumps(
        {run.name: {"ok": run.ok, "interrupted": run.interrupted, "seconds": round(run.seconds, 2),
                    "peak_gb": run.peak_gb, "parameters": run.parameters, "recorded": run.recorded,
                    "error": run.error}
         for run in runs}, indent=2) + "\n")
    return summary


#: The shared helper under the name the harness gave it (tests/test_safety.py imports it from here).
write_atomically = write_text_atomically


def table_cell(value: Any) -> str:
    """``value`` as the text of one Markdown table cell: a ``|`` escaped, line breaks as spaces."""
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def shown_value(value: Any) -> str | Any:
    """A parameter as a table shows it: a text that would read back as another value (``'30'``) in quotes."""
    return repr(value) if isinstance(value, str) and parse_parameter(value) != value else value


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 120 else text[:117] + "..."


#: The signals that stop a run as Ctrl-C does: `kill` and job schedulers send SIGTERM, a closed terminal SIGHUP.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def stop_signals_as_interrupt() -> Iterator[None]:
    """Inside the block, SIGTERM or SIGHUP stops a run as Ctrl-C does: an INTERRUPTED row, the old results kept.

    Without it either signal ends the process at once: no INTERRUPTED row, a ``.partial.ipynb`` left behind.
    A child started to run a sweep's point gets Ctrl-C's own handler back here, if its parent ignored it.
    """
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    try:
        previous = {number: signal.signal(number, interrupt) for number in STOP_SIGNALS}
        if os.environ.get(RESTORE_SIGINT) == "1" and signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
            previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread: signals cannot be caught here, leave them as they are
        yield
        return
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run_all(notebooks: list[str], output_dir: Path, *, parameters: dict[str, Any] | None = None,
            smoke: bool = False, inplace: bool = False, progress: bool = True) -> list[NotebookRun]:
    """Execute the named notebooks (all lessons when none are named), printing progress as it goes."""
    targets: list[str | Path | Lesson] = list(notebooks) or list(available_lessons())
    output_dir = Path(output_dir)
    for notebook in targets:  # every name, parameter and destination checked before the first notebook runs
        source = notebook_path(notebook)
        lesson = _lesson_for(source)
        check_parameters(source, (dict(lesson.smoke) if smoke and lesson else {}) | dict(parameters or {}))
        check_destination(source, output_dir, inplace=inplace)
    claim_output_dir(output_dir, parameter="output_dir")
    runs = []
    for index, notebook in enumerate(targets, start=1):
        name = notebook.stem if isinstance(notebook, Lesson) else Path(str(notebook)).stem
        print(f"[{index}/{len(targets)}] {name} ...", flush=True)
        run = run_notebook(notebook, output_dir, parameters=parameters, smoke=smoke, inplace=inplace,
                           progress=progress)
        outcome = "ok" if run.ok else "INTERRUPTED" if run.interrupted else "FAILED"
        print(f"[{index}/{len(targets)}] {name} {outcome} in {run.seconds:.1f} s -> {run.output_path}", flush=True)
        if run.error:
            print(run.error, file=sys.stderr, flush=True)
        runs.append(run)
        if run.interrupted:
            break  # Ctrl-C stops the whole run, not just this notebook
    return runs
