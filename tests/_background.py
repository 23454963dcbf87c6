"""One pool for the suite's subprocess-heavy checks (lesson executions, fresh environments), started with the session.

A module with such checks defines ``start_background(tmp_path_factory, session) -> dict[str, Future]``, which
submits its jobs here through `started` (so they start once, whoever asks first; ``session`` says which of its
tests run, for a module whose jobs serve one test each). conftest calls it as the session begins, for each
module with a selected test that waits on the jobs (a fixture named ``background``), so the jobs run beside
the in-process tests instead of after them; each test then waits for its own future.
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

#: Two jobs at a time, each a process on one thread, beside the in-process tests (also on one thread; a
#: test that starts processes of its own adds to them for a while).
WORKERS = 2
#: One of two Jupyter kernels started in the same instant died in CI ("Kernel died before replying to
#: kernel_info"); the cause is not proven, so jobs start at least this far apart.
START_GAP_S = 3.0

POOL = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="suite-job")
#: Where the session started. The working directory belongs to the whole process, and an in-process test may
#: move it meanwhile (monkeypatch.chdir into its tmp_path, deleted after it passes): a job's process that
#: inherited it would start in a folder that is gone. So a process started by a job without a cwd of its own
#: starts here, as it did when the jobs ran after the other tests.
SESSION_DIR = os.getcwd()
#: The same for the environment: an in-process test may set a variable for a while (curiolib's harness sets
#: CURIOLIB_RECORD_FILE to its run's record file, in a tmp_path deleted afterwards), and a job's process that
#: inherited it would write there. So a job builds its processes' environments from this copy, through
#: `process_env`, never from ``os.environ``.
SESSION_ENV = dict(os.environ)
_popen_init = subprocess.Popen.__init__


def _on_job_thread() -> bool:
    return threading.current_thread().name.startswith("suite-job")


def process_env() -> dict[str, str]:
    """A copy of the environment to start a process with: the session's own on a job's thread, else os.environ."""
    return dict(SESSION_ENV if _on_job_thread() else os.environ)


def _popen_init_for_jobs(self, *args, **kwargs) -> None:
    # For the processes a job starts without saying where or with what (a library's subprocess.run, git, uv).
    if _on_job_thread():
        if kwargs.get("cwd") is None:
            kwargs["cwd"] = SESSION_DIR
        if kwargs.get("env") is None:
            kwargs["env"] = dict(SESSION_ENV)
    _popen_init(self, *args, **kwargs)


subprocess.Popen.__init__ = _popen_init_for_jobs
#: The CPU seconds of the processes the job on this thread started and waited for with wait(), communicate()
#: or run() (theirs and their reaped children's; poll() reaps through os.waitpid and is not counted).
_job_cpu = threading.local()
_try_wait = getattr(subprocess.Popen, "_try_wait", None)  # POSIX only, as os.wait4 is


def _try_wait_counting(self, wait_flags: int) -> tuple[int, int]:
    # Popen's own wait, through wait4, which also gives the process's CPU time; only the job threads count.
    if not _on_job_thread():
        return _try_wait(self, wait_flags)
    try:
        pid, status, usage = os.wait4(self.pid, wait_flags)
    except ChildProcessError:  # as in Popen: reaped elsewhere, its status and time are lost
        return self.pid, 0
    if pid == self.pid:
        _job_cpu.seconds = getattr(_job_cpu, "seconds", 0.0) + usage.ru_utime + usage.ru_stime
    return pid, status


if _try_wait is not None and hasattr(os, "wait4"):
    subprocess.Popen._try_wait = _try_wait_counting
_gate = threading.Lock()
_last_start = [0.0]
_started: dict[str, dict[str, Future]] = {}
_lock = threading.Lock()
SESSION_START = time.monotonic()
#: (job, started, ended, CPU seconds of its processes): times in seconds since the session started. conftest
#: prints them at the end of the run, so that whoever trims the suite sees which jobs end last and cost most.
TIMES: list[tuple[str, float, float, float]] = []


def data_folder() -> Path | None:
    """The benchmark data folder ($CURIOLIB_DATA), or None where it is unset or missing."""
    folder = os.environ.get("CURIOLIB_DATA")
    return Path(folder) if folder and Path(folder).is_dir() else None


def submit(function: Callable, *args) -> Future:
    """Run ``function(*args)`` on the pool, at least `START_GAP_S` after the previous job started."""
    name = " ".join([function.__name__, *(getattr(arg, "stem", None) or ("env" if isinstance(arg, dict) else str(arg))
                                          for arg in args)])

    def job():
        with _gate:
            time.sleep(max(0.0, _last_start[0] + START_GAP_S - time.monotonic()))
            _last_start[0] = start = time.monotonic()
        _job_cpu.seconds = 0.0
        try:
            return function(*args)
        finally:
            TIMES.append((name, start - SESSION_START, time.monotonic() - SESSION_START, _job_cpu.seconds))

    return POOL.submit(job)


class _FailedStart(dict):
    """What `started` keeps when ``start()`` raised: every job's future holds that error."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def __missing__(self, key: str) -> Future:
        future: Future = Future()
        future.set_exception(self.error)
        return future


def started(name: str, start: Callable[[], dict[str, Future]]) -> dict[str, Future]:
    """The futures of ``name``'s jobs, submitted by ``start()`` on the first call only.

    If ``start()`` raises, the error comes back from each of the module's futures, so its own tests fail
    and the rest of the session runs on.
    """
    with _lock:
        if name not in _started:
            try:
                _started[name] = start()
            except Exception as error:
                _started[name] = _FailedStart(error)
        return _started[name]


def selected(session, module) -> set[str]:
    """The names (without parameters) of ``module``'s tests that this session runs."""
    return {item.originalname for item in session.items if getattr(item, "module", None) is module}


def after(futures: list[Future], then: Callable) -> Future:
    """A future for ``then()``, called once every one of ``futures`` is done."""
    result: Future = Future()
    once = threading.Lock()  # the last two futures may finish at once, on two threads

    def check(_done: Future) -> None:
        with once:
            if result.done() or not all(future.done() for future in futures):
                return
            try:
                result.set_result(then())
            except BaseException as exc:  # reported by the test that waits for it
                result.set_exception(exc)

    for future in futures:
        future.add_done_callback(check)
    return result
