"""One pool for the suite's subprocess-heavy checks (lesson executions, fresh environments), started with the session.

A module with such checks defines ``start_background(tmp_path_factory) -> dict[str, Future]``, which submits
its jobs here through `started` (so they start once, whoever asks first). conftest calls it as the session
begins, for each module with a selected test that waits on the jobs, so the jobs run on two cores beside the
in-process tests instead of after them; each test then waits for its own future.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

#: Two jobs at a time, each a process on one thread: with the in-process tests, the two cores stay busy.
WORKERS = 2
#: One of two Jupyter kernels started in the same instant died in CI ("Kernel died before replying to
#: kernel_info"); the cause is not proven, so jobs start at least this far apart.
START_GAP_S = 3.0

POOL = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="suite-job")
_gate = threading.Lock()
_last_start = [0.0]
_started: dict[str, dict[str, Future]] = {}
_lock = threading.Lock()


def submit(function: Callable, *args) -> Future:
    """Run ``function(*args)`` on the pool, at least `START_GAP_S` after the previous job started."""
    def job():
        with _gate:
            time.sleep(max(0.0, _last_start[0] + START_GAP_S - time.monotonic()))
            _last_start[0] = time.monotonic()
        return function(*args)

    return POOL.submit(job)


def started(name: str, start: Callable[[], dict[str, Future]]) -> dict[str, Future]:
    """The futures of ``name``'s jobs, submitted by ``start()`` on the first call only."""
    with _lock:
        if name not in _started:
            _started[name] = start()
        return _started[name]


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
            except Exception as exc:  # reported by the test that waits for it
                result.set_exception(exc)

    for future in futures:
        future.add_done_callback(check)
    return result
