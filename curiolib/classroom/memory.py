"""The peak memory of the kernel a lesson runs in, sampled while it runs (Linux: it reads /proc)."""
from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType

GB = 1e9


def status_bytes(pid: int, field: str) -> int:
    """A byte count from /proc/<pid>/status (``VmRSS`` now, ``VmHWM`` its peak); 0 where it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def process_tree() -> dict[int, list[int]]:
    """Every process's children, from each one's parent in /proc/<pid>/stat (slower: for kernels without
    the children files)."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started (each of its threads' children file lists those that thread started)."""
    found = []
    try:
        threads = [entry.name for entry in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        return found
    for thread in threads:
        try:
            found.extend(int(child) for child in Path(f"/proc/{pid}/task/{thread}/children").read_text().split())
        except (OSError, ValueError):
            continue
    return found


def reset_high_water_mark(pid: int) -> bool:
    """Start ``pid``'s VmHWM over from its current resident size (Linux 4.0+; False where it cannot be written)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``."""
    tree = None if Path(f"/proc/self/task/{os.getpid()}/children").exists() else process_tree()
    found, stack = [], [pid]
    while stack:
        children = _children(stack.pop()) if tree is None else tree.get(stack.pop(), [])
        found.extend(children)
        stack.extend(children)
    return found


class KernelMemory:
    """Sample, in a thread, the memory of the processes this one starts whose environment holds ``marker``.

    The harness marks a lesson's kernel with its own record file (`RECORD_ENV`), so two runs side by side, or
    another Jupyter kernel, are never counted. Each sample adds up the high-water mark (VmHWM) of every marked
    process: a kernel's own peak between two samples is not missed. ``peak_gb`` is None where there is no
    /proc to read (macOS, Windows) or no marked process was seen.
    """

    def __init__(self, name: str, value: str, *, interval: float = 0.5) -> None:
        self.marker = f"{name}={value}".encode() + b"\0"
        self.interval = interval
        self.peak_bytes: int | None = None
        self._marked: dict[int, bool] = {}
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def _is_marked(self, pid: int) -> bool:
        if pid not in self._marked:
            try:
                self._marked[pid] = self.marker in Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:  # gone already, or not ours to read
                return False
        return self._marked[pid]

    def sample(self) -> None:
        """Read the marked processes' peak memory now and keep the largest total seen."""
        marked = [pid for pid in descendants(os.getpid()) if self._is_marked(pid)]
        if marked:
            total = sum(status_bytes(pid, "VmHWM") for pid in marked)
            self.peak_bytes = max(self.peak_bytes or 0, total)

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            self.sample()

    def __enter__(self) -> KernelMemory:
        if Path("/proc/self/status").exists():
            self._thread = threading.Thread(target=self._run, name="kernel-memory", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()

    @property
    def peak_gb(self) -> float | None:
        """The largest total seen, in GB (10⁹ bytes), to two decimals; None if nothing was measured."""
        return None if self.peak_bytes is None else round(self.peak_bytes / GB, 2)
