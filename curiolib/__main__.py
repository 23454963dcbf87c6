"""Command line: `curiolib run [NOTEBOOK ...] [-p NAME VALUE] [--smoke] [--output-dir DIR] [--inplace]`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .course.catalog import LESSONS, available_lessons


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `curiolib` command."""
    parser = argparse.ArgumentParser(prog="curiolib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute notebooks with papermill and summarise their key numbers")
    run.add_argument("notebooks", nargs="*", help="stems, numbers (03) or paths; all lessons when none")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="override a value of the cell tagged 'parameters' (repeatable)")
    run.add_argument("--smoke", action="store_true", help="use each lesson's small smoke parameters")
    run.add_argument("--output-dir", type=Path, default=Path("outputs"),
                     help="where executed copies, recorded numbers and summary.md go (default: outputs)")
    run.add_argument("--inplace", action="store_true",
                     help="rewrite the committed notebooks with fresh outputs (default parameters only)")
    run.add_argument("--no-progress", action="store_true", help="hide papermill's per-cell progress bar")
    commands.add_parser("list", help="list the lessons")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `curiolib` and `python -m curiolib`; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "list":
        present = {lesson.stem for lesson in available_lessons()}
        for lesson in LESSONS:
            mark = "" if lesson.stem in present else "  (not written yet)"
            print(f"{lesson.stem:28} {lesson.title}{mark}")
        return 0

    from .course.harness import parse_parameter, run_all, write_summary

    parameters = {name: parse_parameter(value) for name, value in args.parameter}
    try:
        runs = run_all(args.notebooks, args.output_dir, parameters=parameters, smoke=args.smoke,
                       inplace=args.inplace, progress=not args.no_progress)
        summary = write_summary(runs, args.output_dir)
    except ValueError as exc:
        print(f"curiolib run: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an output folder that cannot be written: one line, not a traceback
        print(f"curiolib run: cannot write to {args.output_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    failed = [run.name for run in runs if not run.ok]
    print(f"summary: {summary}")
    if any(run.interrupted for run in runs):
        print("interrupted: the notebooks that had finished before were kept", file=sys.stderr)
        return 130
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
