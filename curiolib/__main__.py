"""Command line: `curiolib run [NOTEBOOK ...] [-p NAME VALUE] ...`, `curiolib sweep NB -p NAME V1 V2 ...`, `list`."""
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
    sweep = commands.add_parser("sweep", help="run one notebook over a grid of parameters, N runs at a time")
    sweep.add_argument("notebook", help="stem, number (01) or path")
    sweep.add_argument("-p", "--parameter", nargs="+", action="append", default=[], metavar="NAME VALUE",
                       help="a parameter and the values to sweep: -p beta 0.1 0.5 0.9 (repeatable: a grid)")
    sweep.add_argument("--workers", type=int, default=1, help="runs at a time, each in its own process")
    sweep.add_argument("--output-dir", type=Path, default=None,
                       help="one folder per run plus sweep.csv / sweep.md / sweep.png (default: sweeps/NOTEBOOK)")
    sweep.add_argument("--plot", metavar="KEY", help="draw this recorded number against a swept parameter")
    sweep.add_argument("--x", metavar="NAME", help="the swept parameter on the figure's axis (default: the first)")
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

    if args.command == "sweep":
        return _sweep(args)

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


def _sweep(args: argparse.Namespace) -> int:
    from .course.harness import parse_parameter
    from .course.sweep import sweep

    grid: dict = {}
    try:
        for name, *values in args.parameter:
            if name in grid:
                raise ValueError(f"parameter {name!r} is given twice: list all its values after one -p")
            grid[name] = [parse_parameter(value) for value in values]
        output_dir = args.output_dir or Path("sweeps") / Path(args.notebook).name.removesuffix(".ipynb")
        runs = sweep(args.notebook, grid, output_dir, workers=args.workers, plot=args.plot, x=args.x)
    except ValueError as exc:
        print(f"curiolib sweep: {exc}", file=sys.stderr)
        return 2
    failed = [run.folder.name for run in runs if not run.ok]
    print(f"table: {output_dir / 'sweep.md'} and sweep.csv" + (f"; figure: {output_dir / 'sweep.png'}"
                                                                 if args.plot else ""))
    if failed:
        print(f"{len(failed)} of {len(runs)} runs failed (their rows say why): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
