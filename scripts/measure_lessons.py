"""Time every lesson and sample its kernel's memory while a command runs them: the figures in the lesson catalog.

    python scripts/measure_lessons.py --out lesson_times.json -- make run
    python scripts/measure_lessons.py --teacher-notes

The first runs the command, reads the "[k/N] NAME ..." and "[k/N] NAME ok in S s" lines `curiolib run` prints, and every
second sums the resident memory of each Jupyter kernel the command started (and of the kernel's own child
processes). It writes, for each lesson, its seconds and its kernel's peak resident memory, with the date, the
CPU and the command, and prints the `TIMINGS` entries to paste into `curiolib/classroom/catalog.py`. Linux only
(it reads /proc). The second rewrites the "Time." line of every lesson's "For teachers" cell from the catalog
(markdown only: no output changes), which tests/test_project.py checks.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

from curiolib.classroom.memory import process_tree, status_bytes

STARTED = re.compile(r"^\[(\d+)/(\d+)\] (\S+) \.\.\.$")
ENDED = re.compile(r"^\[(\d+)/(\d+)\] (\S+) (ok|FAILED|INTERRUPTED) in ([\d.]+) s")


def _is_kernel(pid: int) -> bool:
    try:
        return b"ipykernel_launcher" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def kernel_memory(root: int) -> int:
    """The resident bytes of every kernel below process ``root``, each with its own descendants."""
    tree = process_tree()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        if _is_kernel(pid):
            family = [pid]
            for member in family:
                family.extend(tree.get(member, []))
            total += sum(status_bytes(member, "VmRSS") for member in family)
        else:
            stack.extend(tree.get(pid, []))
    return total


def cpu_name() -> str:
    """The CPU's model name, as /proc/cpuinfo gives it."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def write_teacher_notes() -> None:
    """Rewrite each lesson's "- **Time.**" line from the catalog's measured run."""
    import nbformat

    from curiolib.classroom.catalog import available_lessons, teacher_time_line

    for lesson in available_lessons():
        nb = nbformat.read(lesson.path, as_version=nbformat.NO_CONVERT)
        changed = False
        for cell in nb.cells:
            if cell.cell_type == "markdown" and cell.source.startswith("## For teachers"):
                lines = cell.source.split("\n")
                new = [teacher_time_line(lesson) if line.startswith("- **Time.**") else line for line in lines]
                changed |= new != lines
                cell.source = "\n".join(new)
        if changed:
            nbformat.write(nb, lesson.path)
            print(f"rewrote the Time line of {lesson.filename}")


def main() -> int:
    """Run the command, print its output through, and write the per-lesson figures."""
    from curiolib._files import write_text_atomically

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="the JSON file to write")
    parser.add_argument("--teacher-notes", action="store_true", help="rewrite the Time lines from the catalog")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="after --: the command that runs the lessons")
    args = parser.parse_args()
    if args.teacher_notes:
        write_teacher_notes()
        return 0
    if args.out is None:
        parser.error("--out is needed to measure")
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command after --, e.g. -- make run")
    lessons: dict[str, dict] = {}
    current: list[str] = []
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(1.0):
            if current:
                entry = lessons[current[-1]]
                entry["peak_bytes"] = max(entry["peak_bytes"], kernel_memory(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for line in process.stdout:
        sys.stdout.write(line)
        if match := STARTED.match(line.strip()):
            current.append(match.group(3))
            lessons[match.group(3)] = {"peak_bytes": 0}
        elif match := ENDED.match(line.strip()):
            lessons[match.group(3)].update(status=match.group(4), seconds=float(match.group(5)))
    process.wait()
    done.set()
    sampler.join()
    result = {"date": date.today().isoformat(), "cpu": cpu_name(), "cores": os.cpu_count(),
              "command": " ".join(command), "exit_status": process.returncode,
              "wall_seconds": round(time.perf_counter() - start, 1),
              "lessons": {name: {"seconds": entry.get("seconds"), "status": entry.get("status"),
                                 "peak_gb": round(entry["peak_bytes"] / 1e9, 2)} for name, entry in lessons.items()}}
    write_text_atomically(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    for name, entry in result["lessons"].items():
        print(f'    "{name}": Timing({entry["seconds"]}, {entry["peak_gb"]}, MEASURED),')
    return process.returncode


if __name__ == "__main__":
    sys.exit(main())
