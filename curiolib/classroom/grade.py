"""`curiolib grade NN SUBMISSIONS --output-dir D`: each handed-in notebook run apart, graded by the teacher's checks.

Each submission runs in a process tree of its own (never in the teacher's), N at a time, in a fresh working
directory and HOME inside D, under limits: wall-clock time, CPU time, memory, bytes written and processes, set as
`resource` rlimits and also watched from outside (every process the submission starts carries a tag in its
environment, so the watch finds the ones that left the tree). Its kernel records the answers its check cells were
given (`check_exercise`) as JSON; the grader reads that file (never a pickle), keeps only values of the types and
sizes answers may have, and runs the teacher's public and hidden checks on them in another process of its own, which
gets the checks on its standard input: no hidden check's test is ever on disk where a submission runs (the lines of
a hidden-check cell that gather what its test is given, such as the points a student's function is tried at, run in
the submission's kernel and record it). A results file a submission writes itself can only change the answers
graded, never a score: every score comes from the teacher's checks.

What it does not guarantee: run as an ordinary user, a submission is a process of that user and can read and
delete that user's files outside its directory (the lessons, hidden checks included). Run as root, as in a
container, submissions run as the user ``nobody``: the teacher's files can be read where others may read them,
not changed. ``sandbox="bwrap"`` (Debian's ``bubblewrap`` package) also mounts the file system read-only but
for the submission's own directory, hides the lessons, the submissions and D, and cuts the network. The limits
are Linux's (``/proc``, rlimits).
"""
from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import math
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .._files import claim_output_dir, move_into_place, remove_own, write_text_atomically
from .._validation import check_choice, check_int, check_number, choice_error
from ..course.exercises import RECORD_PREFIX, check_calls
from .catalog import Lesson, find_lesson
from .harness import KERNEL_ARGUMENTS, check_parameters, skip_iri_grammar, table_cell

#: Every process a submission starts inherits this variable, holding the submission's own tag.
TAG_ENV = "CURIOLIB_GRADE_TAG"
SANDBOXES = ("auto", "none", "bwrap")
STATUSES = ("graded", "does not parse", "timed out", "out of memory", "out of CPU time", "too many processes",
            "wrote too much", "crashed", "interrupted")
#: What a recorded answer may hold: JSON values this deep, this many items in all, texts this long.
MAX_DEPTH, MAX_ITEMS, MAX_TEXT = 6, 100_000, 20_000
MAX_RESULTS_BYTES = 8_000_000
MAX_NOTEBOOK_BYTES = 50_000_000


@dataclass(frozen=True)
class Limits:
    """What one submission may use: seconds of wall clock and of CPU, GB of memory, MB written, processes."""

    seconds: float = 600.0
    cpu_seconds: float = 1200.0
    memory_gb: float = 4.0
    disk_mb: float = 256.0
    processes: int = 32

    def __post_init__(self) -> None:
        check_number("seconds", self.seconds, low=1)
        check_number("cpu_seconds", self.cpu_seconds, low=1)
        check_number("memory_gb", self.memory_gb, low=0.25)
        check_number("disk_mb", self.disk_mb, low=16)
        check_int("processes", self.processes, low=4)


@dataclass
class Grade:
    """One submission graded: its status, points by exercise, the first error, its recorded numbers."""

    student: str
    file: str
    status: str = "graded"
    points: dict[str, int] = field(default_factory=dict)
    maximum: int = 0
    error: str = ""
    recorded: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    digest: str = ""
    skipped: bool = False  # graded by an earlier run into the same folder, the submission unchanged

    @property
    def total(self) -> int:
        """Points earned: a point for each public check passed and one for each hidden check passed."""
        return sum(self.points.values())


@dataclass(frozen=True)
class TeacherChecks:
    """The lesson's checks, read from the teacher's version: each check cell's source, by cell id."""

    lesson: str
    cells: dict[str, str]  # cell id -> source, public checks and hidden ones
    public: tuple[str, ...]  # cell ids of the check cells, which a submission's own are replaced by
    exercises: tuple[str, ...]
    #: After a check cell (by id), the code that records what its exercise's hidden check will be given.
    recorders: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_lesson(cls, lesson: Lesson) -> TeacherChecks:
        """Read the check and hidden-check cells of a lesson's committed (teacher's) notebook."""
        notebook = json.loads(lesson.path.read_text(encoding="utf-8"))
        cells, public, exercises, recorders = {}, [], [], {}
        for cell in notebook["cells"]:
            tags = cell.get("metadata", {}).get("tags", [])
            if "check" in tags or "hidden-check" in tags:
                source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                cells[cell["id"]] = source
                if "check" in tags:
                    public.append(cell["id"])
                exercises += [call.exercise for call in check_calls(source) if not call.hidden]
                if "hidden-check" in tags and public:
                    recorders[public[-1]] = recorders.get(public[-1], "") + answer_recorder(source)
        if not exercises:
            raise ValueError(f"lesson {lesson.stem} has no exercises to grade (no cell tagged 'check')")
        return cls(lesson.stem, cells, tuple(public), tuple(dict.fromkeys(exercises)), recorders)

    def digest(self) -> str:
        """A digest of the checks: a grade made with other checks is not reused."""
        return hashlib.sha256(json.dumps(self.cells, sort_keys=True).encode()).hexdigest()


# --- inside the submission's process ------------------------------------------------------------------------------

def answer_recorder(source: str) -> str:
    """A hidden-check cell without its tests: what gathers their answers runs, and records them instead of checking.

    The cell's other statements (the points a function is tried at, values from the lesson) run in the
    submission's kernel, as they would in the teacher's; the test functions, and so what they assert, do not.
    """
    tree = ast.parse(source)

    class Recorder(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.AST:
            if getattr(node.func, "id", None) != "check_exercise":
                return self.generic_visit(node)
            key = ast.Constant(node.args[0].value + " hidden")
            keywords = [keyword for keyword in node.keywords if keyword.arg != "hidden"]
            return ast.Call(ast.Name("_record_answers", ast.Load()), [key], keywords)

    tree.body = [node for node in tree.body if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return ast.unparse(ast.fix_missing_locations(Recorder().visit(tree))) + "\n"


def _limit_self(limits: Limits) -> None:
    """Set this process's rlimits, which every process it starts inherits (the kernel, and what the cells start)."""
    import resource

    memory = int(limits.memory_gb * 2**30)
    # Address space is larger than what is resident (thread stacks, allocator arenas): the watch outside
    # enforces memory_gb on what is resident; this stops a runaway allocation well before the machine's end.
    resource.setrlimit(resource.RLIMIT_AS, (2 * memory + 2**32, 2 * memory + 2**32))
    resource.setrlimit(resource.RLIMIT_CPU, (int(limits.cpu_seconds) + 5, int(limits.cpu_seconds) + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limits.disk_mb * 2**20), int(limits.disk_mb * 2**20)))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # RLIMIT_NPROC counts every task (thread) of the user, not this tree's: a backstop against a fork bomb,
    # set above what the user runs now; the watch outside counts this tree's processes.
    running = sum(1 for _ in Path("/proc").glob("[0-9]*/task/[0-9]*") if _owned(_))
    tasks = running + 64 * limits.processes
    resource.setrlimit(resource.RLIMIT_NPROC, (tasks, tasks))
    # Ignored, SIGXFSZ stays ignored in the kernel: writing past the limit raises OSError (EFBIG) in the cell.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _owned(path: Path) -> bool:
    try:
        return path.stat().st_uid == os.getuid()
    except OSError:
        return False


def _execute(limits_json: str, notebook: str, output: str, parameters_json: str) -> int:
    """Run one submission with papermill, errors allowed (a failing cell does not stop the checks after it)."""
    _limit_self(Limits(**json.loads(limits_json)))
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        papermill.execute_notebook(notebook, output, parameters=json.loads(parameters_json), progress_bar=False,
                                   kernel_name="python3", log_output=False, extra_arguments=KERNEL_ARGUMENTS,
                                   allow_errors=True, cwd=".")
    except PapermillExecutionError:
        return 0  # a cell's error: the grader reads it from the executed copy
    return 0


def _run_checks(request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Run the teacher's check cells' tests (their definitions alone) on recorded answers: {"NN.k[ hidden]": ...}."""
    from ..course.exercises import cell_tests, run_test

    results = {}
    for source in request["cells"]:
        tests = cell_tests(source)
        for call in check_calls(source):
            key = call.exercise + (" hidden" if call.hidden else "")
            entry = request["answers"].get(key)
            if entry is None:
                results[key] = {"passed": False, "why": "its check cell never ran (an error above it, or deleted)"}
                continue
            missing = [name for name in call.names if name not in entry]
            if missing:
                results[key] = {"passed": False, "why": f"no recorded answer for {', '.join(missing)}"}
                continue
            answers = {name: (... if entry[name] is None else entry[name]) for name in call.names}
            passed, why = run_test(tests[call.test], answers)
            results[key] = {"passed": passed, "why": why}
    return results


# --- the grader -----------------------------------------------------------------------------------------------------

def bwrap_available() -> bool:
    """Whether bubblewrap is installed and can make a sandbox on this machine."""
    if shutil.which("bwrap") is None:
        return False
    try:
        probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--proc", "/proc", "--unshare-pid", "true"],
                               capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def nobody_can_run(out: Path) -> bool:
    """Whether the user nobody can run this Python and curiolib and enter ``out`` (others may enter each folder)."""
    package = Path(__file__).resolve().parents[1]  # curiolib itself, which the submission's kernel imports

    def reachable(path: Path, need: int) -> bool:
        path = path.resolve()
        return all(folder.stat().st_mode & 0o001 for folder in path.parents) and bool(path.stat().st_mode & need)

    try:
        return (reachable(Path(sys.executable), 0o005) and reachable(package / "__init__.py", 0o004)
                and reachable(out, 0o001))
    except OSError:
        return False


def student_name(path: Path) -> str:
    """The name a submission is graded under: its file's stem, in characters every file system accepts."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem)[:80] or "submission"
    if safe != path.stem:
        safe += "-" + hashlib.sha1(path.name.encode()).hexdigest()[:6]
    return safe


def find_submissions(folder: Path) -> list[Path]:
    """The ``.ipynb`` files of a folder, sorted; ValueError if it is not a folder or holds none."""
    if not folder.is_dir():
        raise ValueError(f"submissions={str(folder)!r} is not a folder: give the folder the notebooks were "
                         "collected in")
    found = sorted(path for path in folder.iterdir() if path.suffix == ".ipynb" and path.is_file())
    if not found:
        raise ValueError(f"submissions={str(folder)!r} holds no .ipynb file")
    names = [student_name(path).casefold() for path in found]
    twice = sorted({found[i].name for i, name in enumerate(names) if names.count(name) > 1})
    if twice:
        raise ValueError(f"{', '.join(twice)} would be graded under one name: rename one of them")
    return found


def _handed_in(path: Path) -> bytes:
    """A submission's bytes; empty when it is over MAX_NOTEBOOK_BYTES (not read: it is graded as unreadable)."""
    with open(path, "rb") as file:
        data = file.read(MAX_NOTEBOOK_BYTES + 1)
    return b"" if len(data) > MAX_NOTEBOOK_BYTES else data


def _prepare(source: bytes, checks: TeacherChecks) -> tuple[dict | None, str]:
    """The submission as it will run (its check cells replaced by the teacher's), or None and why it cannot."""
    import nbformat

    try:
        text = source.decode("utf-8")
        notebook = json.loads(text)
    except UnicodeDecodeError as error:
        return None, f"not UTF-8 text (byte {error.start})"
    except json.JSONDecodeError as error:
        return None, f"line {error.lineno}, column {error.colno}: {error.msg}"
    try:
        node = nbformat.from_dict(notebook)
        nbformat.validate(node)
    except Exception as error:  # nbformat raises several kinds for a notebook it cannot read
        return None, f"not a notebook nbformat can read: {str(error).splitlines()[0]}"
    kept = []
    for cell in notebook["cells"]:
        # A hidden check handed in (a teacher's copy) never runs where the submission runs: grading runs it.
        if cell.get("id") not in checks.public and (cell.get("id") in checks.cells
                                                    or "hidden-check" in cell.get("metadata", {}).get("tags", [])):
            continue
        kept.append(cell)
        # The checks run are the teacher's: a student's edited check cannot change what is recorded.
        if cell.get("id") in checks.public:
            cell["source"] = checks.cells[cell["id"]]
            if checks.recorders.get(cell["id"]):
                kept.append({"cell_type": "code", "id": f"grading-{len(kept)}", "metadata": {}, "outputs": [],
                             "execution_count": None,
                             "source": "from curiolib.course.exercises import record_answers as _record_answers\n"
                                       + checks.recorders[cell["id"]]})
    notebook["cells"] = kept
    return notebook, ""


def _tagged(tag: str) -> list[int]:
    """The processes carrying ``tag`` in their environment (this user's, or everyone's when run as root)."""
    needle = f"{TAG_ENV}={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _proportional_bytes(pid: int) -> int:
    """A process's share of the memory it holds (Pss: a page shared by n processes counts 1/n in each)."""
    from .memory import status_bytes

    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return status_bytes(pid, "VmRSS")  # before Linux 4.14: forked copies are counted once each


def _usage(pids: list[int]) -> tuple[float, float]:
    """GB of memory held and CPU seconds of these processes together (read from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    rss = cpu = 0.0
    for pid in pids:
        # Summed resident sizes would count a forked copy's shared pages once per copy.
        rss += _proportional_bytes(pid) / 2**30
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError, ValueError):
            continue
    return rss, cpu


def _folder_mb(folder: Path) -> float:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total / 2**20


def _kill_tagged(tag: str, process: subprocess.Popen) -> None:
    """Kill every process of the submission, again until none is left (a fork bomb keeps making more)."""
    for _ in range(50):
        pids = _tagged(tag)
        if process.poll() is None:
            pids.append(process.pid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                continue
        time.sleep(0.05)


def _tail(path: Path, size: int = 4000) -> str:
    try:
        with open(path, "rb") as file:
            file.seek(max(0, path.stat().st_size - size))
            return file.read().decode(errors="replace")
    except OSError:
        return ""


def _readable(value: Any, depth: int = 0, budget: list[int] | None = None) -> bool:
    """Whether a recorded value is what an answer may be: JSON scalars, lists and dicts, within the sizes."""
    budget = [MAX_ITEMS] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        return False
    if value is None or isinstance(value, bool) or isinstance(value, int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return len(value) <= MAX_TEXT
    if isinstance(value, list):
        return all(_readable(item, depth + 1, budget) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _readable(item, depth + 1, budget) for key, item in value.items())
    return False


def read_results(path: Path, exercises: tuple[str, ...]) -> tuple[dict[str, dict], dict[str, Any], list[str]]:
    """A submission's results file, checked: (answers by exercise, recorded numbers, what was refused and why)."""
    notes: list[str] = []
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_RESULTS_BYTES + 1)
    except OSError:
        return {}, {}, ["it recorded nothing (no results file)"]
    if len(raw) > MAX_RESULTS_BYTES:
        return {}, {}, [f"its results file is over {MAX_RESULTS_BYTES:,} bytes: refused"]
    try:
        data = json.loads(raw, parse_constant=lambda name: None)  # NaN and Infinity are not answers
    except (ValueError, RecursionError) as error:
        return {}, {}, [f"its results file is not JSON ({str(error).splitlines()[0]}): refused"]
    if not isinstance(data, dict):
        return {}, {}, ["its results file is not a JSON object: refused"]
    answers, numbers = {}, {}
    for key, value in data.items():
        if key.startswith(RECORD_PREFIX):
            # Only the answers are read: whether a check passed is the grader's to say, never the record's.
            exercise = key[len(RECORD_PREFIX):]
            answer = value.get("answers") if isinstance(value, dict) else None
            if exercise.removesuffix(" hidden") not in exercises:
                notes.append(f"a record for exercise {exercise[:40]!r}, which the lesson does not have: ignored")
            elif not isinstance(answer, dict) or not _readable(answer):
                notes.append(f"the answers recorded for {exercise} are not JSON values within the limits: refused")
            else:
                answers[exercise] = answer
        elif isinstance(value, (bool, int, float, str)) and len(key) <= 100 and _readable(value):
            numbers[key] = value if not isinstance(value, str) else value[:200]
        elif isinstance(value, list) and len(key) <= 100 and len(value) <= 10_000 and all(
                isinstance(item, (int, float)) and not isinstance(item, bool) and math.isfinite(item)
                for item in value):
            numbers[key] = value  # a series (a learning curve): plotted, not tabled
        else:
            notes.append(f"the recorded value {key[:40]!r} is not a number, text or series of numbers: left out")
    return answers, numbers, notes


def first_error(notebook_path: Path) -> str:
    """The first error in an executed notebook, as one line: cell, exception and message."""
    try:
        notebook = json.loads(notebook_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    for index, cell in enumerate(notebook.get("cells", [])):
        for output in cell.get("outputs", []) if isinstance(cell, dict) else []:
            if isinstance(output, dict) and output.get("output_type") == "error":
                message = str(output.get("evalue", "")).splitlines()
                return (f"cell {index}: {output.get('ename', 'Error')}" + (f": {message[0]}" if message else ""))[:300]
    return ""


class Grader:
    """Grades submissions one by one or N at a time, each in its own process tree, and can stop them all."""

    def __init__(self, checks: TeacherChecks, out: Path, parameters: dict[str, Any], limits: Limits,
                 sandbox: str, hidden: list[Path], threads: int) -> None:
        self.checks, self.out, self.parameters, self.limits = checks, out, parameters, limits
        self.sandbox, self.hidden, self.threads = sandbox, hidden, threads
        self.stopped = threading.Event()
        self.as_nobody = os.geteuid() == 0 and nobody_can_run(out)
        self.digest_base = json.dumps([checks.digest(), parameters, asdict(limits), sandbox], sort_keys=True)

    def digest(self, source: bytes) -> str:
        """What a grade depends on: the submission, the checks, the parameters, the limits and the sandbox."""
        return hashlib.sha256(source + self.digest_base.encode()).hexdigest()

    def command(self, work: Path) -> list[str]:
        """The command that runs the submission: the worker, inside bubblewrap if asked for."""
        worker = [sys.executable, "-m", "curiolib.classroom.grade", "execute", json.dumps(asdict(self.limits)),
                  "submission.ipynb", "executed.ipynb", json.dumps(self.parameters)]
        if self.sandbox != "bwrap":
            return worker
        wrap = ["bwrap", "--ro-bind", "/", "/", "--dev-bind", "/dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        for folder in self.hidden:  # the lessons, the submissions and D: out of sight
            wrap += ["--tmpfs", str(folder.resolve())]
        wrap += ["--bind", str(work), str(work), "--unshare-pid", "--unshare-ipc", "--unshare-net",
                 "--die-with-parent", "--new-session", "--chdir", str(work), "--"]
        return wrap + worker

    def grade_one(self, path: Path) -> Grade | None:
        """Grade one submission; None if the grader was stopped before it began."""
        source = _handed_in(path)
        grade = Grade(student_name(path), path.name, digest=self.digest(source),
                      maximum=2 * len(self.checks.exercises))
        notebook, why = _prepare(source, self.checks) if source else (
            None, f"{path.stat().st_size:,} bytes: empty, or over the {MAX_NOTEBOOK_BYTES:,} a notebook may have")
        if notebook is None:
            grade.status, grade.error = "does not parse", why
            grade.points = dict.fromkeys(self.checks.exercises, 0)
            return grade
        if self.stopped.is_set():
            return None
        work = self.out / ".work" / f"{grade.student}-{uuid.uuid4().hex[:8]}"
        (work / "home").mkdir(parents=True)
        (work / "submission.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
        tag = uuid.uuid4().hex
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work / "home"), "LANG": "C.UTF-8",
               "TMPDIR": str(work / "home"), "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads),
               "OPENBLAS_NUM_THREADS": str(self.threads), "PYTHONNOUSERSITE": "1", TAG_ENV: tag,
               "CURIOLIB_RECORD_FILE": str(work / "results.json")}
        if self.as_nobody:
            for folder in (work, work / "home"):
                os.chown(folder, 65534, 65534)
        start = time.perf_counter()
        try:
            # The worker's and kernel's own messages (the cells' output is in the notebook): bounded by the
            # file-size limit and the watch on the folder's size.
            with open(work / "worker.log", "wb") as log:
                process = subprocess.Popen(self.command(work), cwd=work, env=env, stdin=subprocess.DEVNULL,
                                           stdout=log, stderr=log, start_new_session=True,
                                           user=65534 if self.as_nobody else None,
                                           group=65534 if self.as_nobody else None)
        except OSError as error:
            grade.status, grade.error = "crashed", f"could not start: {error}"
            return grade
        grade.status = self.watch(process, tag, work, start)
        stderr = _tail(work / "worker.log")
        grade.seconds = time.perf_counter() - start
        _kill_tagged(tag, process)
        self.collect(grade, work, stderr)
        remove_own(self.out, [str(work.relative_to(self.out))])
        return grade

    def watch(self, process: subprocess.Popen, tag: str, work: Path, start: float) -> str:
        """Wait for the submission, killing it at the first limit it passes: the status that says which."""
        limits, status, tick = self.limits, "graded", 0
        while process.poll() is None:
            time.sleep(0.25)  # a scan of /proc each time: often enough to stop a runaway, rare enough to cost little
            tick += 1
            pids = _tagged(tag)
            rss, cpu = _usage(pids)
            if self.stopped.is_set():
                status = "interrupted"
            elif time.perf_counter() - start > limits.seconds:
                status = "timed out"
            elif len(pids) > limits.processes:
                status = "too many processes"
            elif rss > limits.memory_gb:
                status = "out of memory"
            elif cpu > limits.cpu_seconds:
                status = "out of CPU time"
            elif tick % 4 == 0 and _folder_mb(work) > limits.disk_mb:
                status = "wrote too much"
            if status != "graded":
                _kill_tagged(tag, process)
                break
        process.wait()
        return status

    def collect(self, grade: Grade, work: Path, stderr: str) -> None:
        """Read what the run left (its results, its executed copy) and grade the answers with the teacher's checks."""
        answers, grade.recorded, grade.notes = read_results(work / "results.json", self.checks.exercises)
        executed = work / "executed.ipynb"
        if grade.status == "graded":
            grade.error = first_error(executed)
            if not executed.exists():
                grade.status = "crashed"
                lines = [line for line in stderr.strip().splitlines() if line.strip()]
                grade.error = lines[-1][:300] if lines else "the run ended without an executed copy"
        if "File too large" in grade.error:
            grade.status = "wrote too much"
        if executed.is_file() and not executed.is_symlink():
            (self.out / "executed").mkdir(exist_ok=True)
            move_into_place(executed, self.out / "executed" / f"{grade.student}.ipynb")
        grade.checks = check_answers(self.checks, answers)
        grade.points = {exercise: int(grade.checks.get(exercise, {}).get("passed", False))
                        + int(grade.checks.get(exercise + " hidden", {}).get("passed", False))
                        for exercise in self.checks.exercises}


def check_answers(checks: TeacherChecks, answers: dict[str, dict]) -> dict[str, dict[str, Any]]:
    """Run the teacher's checks on the answers in a process of its own (the checks reach it on its stdin)."""
    request = json.dumps({"cells": list(checks.cells.values()), "answers": answers})
    try:
        done = subprocess.run([sys.executable, "-m", "curiolib.classroom.grade", "check"], input=request,
                              capture_output=True, text=True, timeout=120, env=os.environ | {"MPLBACKEND": "Agg"})
        results = json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, ValueError, IndexError) as error:
        why = f"the checks could not run on these answers ({type(error).__name__})"
        return {key: {"passed": False, "why": why} for key in checks.exercises}
    return results


def write_grades(grades: list[Grade], checks: TeacherChecks, out: Path) -> tuple[Path, Path]:
    """``grades.csv`` and ``grades.md``: a row a student, points by exercise, total, first error, numbers."""
    numbers = list(dict.fromkeys(key for grade in grades for key, value in grade.recorded.items()
                                 if not isinstance(value, list)))
    header = ["student", "status", *checks.exercises, "total", "out of", "error", *numbers]
    rows = [[grade.student, grade.status, *(grade.points.get(e, 0) for e in checks.exercises), grade.total,
             grade.maximum, grade.error, *(grade.recorded.get(key, "") for key in numbers)] for grade in grades]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    write_text_atomically(out / "grades.csv", buffer.getvalue())
    lines = [f"# {checks.lesson}: grades", "",
             f"A point for each public check passed and one for each hidden check passed: "
             f"{2 * len(checks.exercises)} in all.", "",
             "| " + " | ".join(table_cell(name) for name in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(table_cell(value) for value in row) + " |" for row in rows]
    write_text_atomically(out / "grades.md", "\n".join(lines) + "\n")
    return out / "grades.csv", out / "grades.md"


def write_feedback(grade: Grade, checks: TeacherChecks, out: Path) -> Path:
    """One student's feedback (``feedback/STUDENT.md``) and the grade it came from (``.json``, reused on a re-run)."""
    folder = out / "feedback"
    folder.mkdir(exist_ok=True)
    lines = [f"# {checks.lesson}: feedback for {grade.student}", "",
             f"{grade.total} of {grade.maximum} points ({grade.status}).", ""]
    if grade.error:
        lines += [f"The run stopped on, or went on past, an error: {grade.error}", ""]
    for exercise in checks.exercises:
        public, hidden = grade.checks.get(exercise, {}), grade.checks.get(exercise + " hidden", {})
        said = "passed" if public.get("passed") else f"not yet. {public.get('why', 'not checked')}"
        lines.append(f"- Exercise {exercise}: {said}; the grading check: "
                     f"{'passed' if hidden.get('passed') else 'not passed'}")
    if grade.notes:
        lines += ["", "Notes:", *(f"- {note}" for note in grade.notes)]
    write_text_atomically(folder / f"{grade.student}.json", json.dumps(asdict(grade), indent=1) + "\n")
    return write_text_atomically(folder / f"{grade.student}.md", "\n".join(lines) + "\n")


def _earlier(out: Path, path: Path, digest: str) -> Grade | None:
    try:
        saved = json.loads((out / "feedback" / f"{student_name(path)}.json").read_text())
    except (OSError, ValueError):
        return None
    if saved.get("digest") != digest or saved.get("status") == "interrupted":
        return None
    saved["skipped"] = True
    return Grade(**{key: saved[key] for key in Grade.__dataclass_fields__ if key in saved})


class GradingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped grading: nothing was started after it, and the table of what finished was written."""

    def __init__(self, grades: list[Grade]) -> None:
        super().__init__("grading interrupted")
        self.grades = grades


def grade(notebook: str | Lesson, submissions: str | Path, output_dir: str | Path, *, workers: int = 1,
          parameters: dict[str, Any] | None = None, smoke: bool = False, limits: Limits | None = None,
          sandbox: str = "auto", plot: str | None = None, x: str | None = None,
          progress: bool = True) -> list[Grade]:
    """Grade every ``.ipynb`` in ``submissions`` by lesson ``notebook``'s checks; the tables go in ``output_dir``."""
    workers = check_int("workers", workers, low=1)
    check_choice("sandbox", sandbox, SANDBOXES)
    lesson = notebook if isinstance(notebook, Lesson) else find_lesson(str(notebook))
    params = dict(lesson.smoke) if smoke else {}
    params.update(parameters or {})
    check_parameters(lesson.path, params)
    limits = limits or Limits()
    found = find_submissions(Path(submissions))
    if sandbox == "bwrap" and not bwrap_available():
        raise ValueError("sandbox='bwrap' needs bubblewrap, which is not installed or cannot make a sandbox here "
                         "(Debian: apt install bubblewrap); sandbox='none' runs without it")
    chosen = "bwrap" if sandbox == "bwrap" or (sandbox == "auto" and bwrap_available()) else "none"
    checks = TeacherChecks.from_lesson(lesson)
    if x is not None and plot is None:
        raise ValueError("x names the figure's axis: give plot=<recorded number> as well")
    out = claim_output_dir(output_dir, parameter="output_dir")
    hidden = [lesson.path.parent, Path(submissions), out]
    grader = Grader(checks, out, params, limits, chosen, hidden, max(1, (os.cpu_count() or 1) // workers))
    grades: list[Grade | None] = [None] * len(found)
    pending = []
    for index, path in enumerate(found):
        earlier = _earlier(out, path, grader.digest(_handed_in(path)))
        if earlier:
            grades[index] = earlier
        else:
            pending.append(index)
    if progress:
        user = "nobody" if grader.as_nobody else pwd.getpwuid(os.geteuid()).pw_name
        print(f"grade {lesson.stem}: {len(found)} submissions, {len(found) - len(pending)} unchanged since they were "
              f"graded, {len(pending)} to run, {workers} at a time (as the user {user}; sandbox: {chosen})", flush=True)
    interrupted = False
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = {pool.submit(grader.grade_one, found[index]): index for index in pending}
        try:
            for count, future in enumerate(as_completed(futures), start=1):
                result = grades[futures[future]] = future.result()
                if result is not None:
                    write_feedback(result, checks, out)
                    if progress:
                        print(f"[{count}/{len(pending)}] {result.student}: {result.status}, {result.total} of "
                              f"{result.maximum}" + (f" ({result.error})" if result.error else ""), flush=True)
        except KeyboardInterrupt:
            interrupted = True
            grader.stopped.set()
            for future in futures:
                future.cancel()
            for future, index in futures.items():
                if not future.cancelled():
                    result = grades[index] = future.result()
                    if result is not None:
                        write_feedback(result, checks, out)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if (out / ".work").is_dir() and not any((out / ".work").iterdir()):
            (out / ".work").rmdir()
    done = [result for result in grades if result is not None]
    write_grades(done, checks, out)
    found = class_growth(done)
    if found is not None:
        markdown = out / "grades.md"
        write_text_atomically(markdown, markdown.read_text() + write_class_growth(found, out, lesson.stem))
    if plot is not None:
        plot_class(done, plot, x, out / "grades.png", title=lesson.stem)
    if interrupted:
        raise GradingInterrupted(done)
    return done


def plot_class(grades: list[Grade], key: str, x: str | None, path: Path, *, title: str = "") -> Path:
    """The class's recorded ``key``: against recorded ``x`` (a point a student), or a strip of values."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .._files import writing_atomically

    def number(grade: Grade, name: str) -> float | None:
        value = grade.recorded.get(name)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    keys = sorted({k for grade in grades for k, v in grade.recorded.items() if isinstance(v, (int, float))})
    points = [(grade, number(grade, key), number(grade, x) if x else 0.0) for grade in grades]
    points = [(grade, y, xv) for grade, y, xv in points if y is not None and xv is not None]
    if not points:
        raise choice_error("plot", key, keys) if keys else ValueError(f"plot={key!r}: no submission recorded numbers")
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.scatter([p[2] for p in points], [p[1] for p in points], alpha=0.7)
    ax.set_ylabel(key)
    if x:
        ax.set_xlabel(x)
    else:
        ax.set_xticks([])
    ax.set_title(f"{title}: {key}, one point a student ({len(points)})", fontsize="medium")
    fig.tight_layout()
    with writing_atomically(path, keep_suffix=True) as partial:
        fig.savefig(partial, dpi=120)
    plt.close(fig)
    return path


#: What lesson 01 records of its fitting demo, one series a student: I(t), E(t) and R(t).
SERIES = ("observed_knowledge", "exploration_inputs", "reflection_inputs")


def class_growth(grades: list[Grade]) -> dict[str, Any] | None:
    """The growth model fitted to each student's series and to the class's mean series; None without series.

    The mean is taken over the students whose series have the most common length (one set of parameters).
    """
    import numpy as np

    from ..growth.model import fit_series

    series = [g for g in grades if all(isinstance(g.recorded.get(key), list) for key in SERIES)]
    lengths = [len(g.recorded[SERIES[0]]) for g in series]
    if len(series) < 2:
        return None
    common = max(set(lengths), key=lengths.count)
    series = [g for g in series if len(g.recorded[SERIES[0]]) == common
              and len(g.recorded[SERIES[1]]) == len(g.recorded[SERIES[2]]) == common - 1]
    arrays = {key: np.array([g.recorded[key] for g in series], dtype=float) for key in SERIES}
    fits = []
    for g, I, E, R in zip(series, *arrays.values()):  # noqa: E741
        try:
            fits.append((g.student, fit_series(I, E, R)))
        except ValueError:  # a series the model cannot fit (constant inputs): left out of the comparison
            continue
    if len(fits) < 2:
        return None
    mean = fit_series(*(arrays[key].mean(axis=0) for key in SERIES))
    alphas = np.array([fit.alpha for _, fit in fits])
    betas = np.array([fit.beta for _, fit in fits])
    return {"students": fits, "mean_fit": mean, "mean_alpha": float(alphas.mean()), "mean_beta": float(betas.mean()),
            "weighted_beta": float((alphas * betas).sum() / alphas.sum()), "curves": arrays, "n": len(fits)}


def write_class_growth(found: dict[str, Any], out: Path, title: str) -> str:
    """growth.png (each student's curve and the class mean; fitted α and β) and the lines grades.md adds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .._files import writing_atomically

    mean = found["mean_fit"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 3.8))
    for curve in found["curves"][SERIES[0]]:
        left.plot(curve, color="0.7", linewidth=0.8)
    left.plot(found["curves"][SERIES[0]].mean(axis=0), color="C3", linewidth=2.5, label="the class mean")
    left.set_xlabel("t")
    left.set_ylabel("I(t)")
    left.legend(fontsize="small")
    right.scatter([fit.alpha for _, fit in found["students"]], [fit.beta for _, fit in found["students"]],
                  color="0.5", label="a student's fit")
    right.scatter([found["mean_alpha"]], [found["mean_beta"]], color="C0", marker="D", s=60,
                  label="the mean of their fits")
    right.scatter([mean.alpha], [mean.beta], color="C3", marker="*", s=160, label="the fit of the mean curve")
    right.set_xlabel("fitted α")
    right.set_ylabel("fitted β")
    right.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
    fig.suptitle(f"{title}: {found['n']} students' growth curves, fitted one by one and averaged", fontsize="medium")
    fig.tight_layout()
    with writing_atomically(out / "growth.png", keep_suffix=True) as partial:
        fig.savefig(partial, dpi=120)
    plt.close(fig)
    rows = "\n".join(f"| {table_cell(name)} | {fit.alpha:.3f} | {fit.beta:.3f} |" for name, fit in found["students"])
    return (f"\n## The class as one experiment: the growth model, student by student and averaged\n\n"
            f"| student | fitted α | fitted β |\n|---|---|---|\n{rows}\n\n"
            f"The mean of the {found['n']} students' fits: α = {found['mean_alpha']:.3f}, "
            f"β = {found['mean_beta']:.3f}; their β weighted by their α: {found['weighted_beta']:.3f}. "
            f"The fit of the class's mean curve: α = {mean.alpha:.3f}, β = {mean.beta:.3f}. "
            "With the same inputs E and R, averaging curves gives exactly the mean α and the α-weighted mean β "
            "(a ratio of means, not a mean of ratios); with each student's own inputs, about that. Heathcote, "
            "Brown and Mewhort (2000) found the same for a curve's shape: averaged exponential learning curves "
            "look like a power law. Figure: growth.png.\n")


def _main(argv: list[str]) -> int:
    skip_iri_grammar()
    if argv[:1] == ["execute"]:
        return _execute(*argv[1:5])
    if argv[:1] == ["check"]:
        print(json.dumps(_run_checks(json.loads(sys.stdin.read()))))
        return 0
    print("usage: python -m curiolib.classroom.grade execute|check ... (curiolib grade runs these)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
