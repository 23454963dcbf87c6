"""Command line: `curiolib run [NOTEBOOK ...] [-p NAME VALUE] [--smoke] [--output-dir DIR] [--inplace]`,
`curiolib sweep NOTEBOOK -p NAME V1 V2 ... [--workers N] [--plot KEY]`,
`curiolib slides [NOTEBOOK ...] [--output-dir DIR] [--force]`, `curiolib tag-slides [NOTEBOOK ...] [--check]`,
`curiolib student [NOTEBOOK ...] --output-dir DIR`, `curiolib grade NOTEBOOK SUBMISSIONS --output-dir DIR`."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from .classroom.catalog import LESSONS, available_lessons


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `curiolib` command."""
    parser = argparse.ArgumentParser(prog="curiolib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute notebooks with papermill and summarise their key numbers")
    run.add_argument("notebooks", nargs="*", help="stems, numbers (03) or paths; all lessons when none")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="override a value of the cell tagged 'parameters' (repeatable)")
    run.add_argument("--smoke", action="store_true",
                     help="each lesson's small smoke parameters, for the tests: every cell runs, but the models stay "
                          "near chance and widgets stay live (reopened without a kernel they show as VBox(...)); "
                          "prepare a class with a full run")
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
    slides = commands.add_parser("slides", help="static reveal.js decks that present with no network")
    slides.add_argument("notebooks", nargs="*", help="stems, numbers (01) or paths; all lessons when none")
    slides.add_argument("--output-dir", type=Path, default=Path("outputs/slides"),
                        help="where the decks and their slides_assets folder go (default: outputs/slides)")
    slides.add_argument("--node-modules", type=Path, default=None,
                        help="the npm folder with reveal.js, mathjax, requirejs and jquery "
                             "(default: slides/node_modules, made by `npm ci --prefix slides`)")
    slides.add_argument("--force", action="store_true", help="replace files of the same name not written by curiolib")
    tag = commands.add_parser("tag-slides", help="rewrite the lessons' slide metadata by the rule (after an edit)")
    tag.add_argument("notebooks", nargs="*", help="stems, numbers (01) or paths; all lessons when none")
    tag.add_argument("--check", action="store_true",
                     help="change nothing; exit 1 if a lesson is not tagged by the rule")
    student = commands.add_parser("student", help="student versions: solutions out, placeholders in, outputs cleared")
    student.add_argument("notebooks", nargs="*", help="stems or numbers (03); all lessons when none")
    student.add_argument("--output-dir", type=Path, required=True,
                         help="a new folder, or one curiolib made: it never writes outside it")
    grade = commands.add_parser(
        "grade", help="grade a folder of handed-in notebooks, each in its own limited process",
        formatter_class=argparse.RawDescriptionHelpFormatter, description=GRADE_HELP)
    grade.add_argument("notebook", help="the lesson: stem or number (00)")
    grade.add_argument("submissions", type=Path, help="the folder of handed-in .ipynb files (one a student)")
    grade.add_argument("--output-dir", type=Path, required=True,
                       help="grades.csv, grades.md, feedback/ and executed/ go here; a new folder or one curiolib made")
    grade.add_argument("--workers", type=int, default=1, help="submissions run at a time")
    grade.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                       help="run each submission with this parameter (repeatable)")
    grade.add_argument("--smoke", action="store_true", help="run each submission at the lesson's smoke parameters")
    grade.add_argument("--seconds", type=float, default=600, help="wall-clock limit a submission (default 600)")
    grade.add_argument("--memory-gb", type=float, default=4, help="resident memory limit a submission (default 4)")
    grade.add_argument("--sandbox", choices=["auto", "none", "bwrap"], default="auto",
                       help="bwrap: bubblewrap's sandbox (auto: when it is installed and works)")
    grade.add_argument("--plot", metavar="KEY", help="draw this recorded number for the class (grades.png)")
    grade.add_argument("--x", metavar="KEY", help="against this recorded number (default: a strip of values)")
    return parser


GRADE_HELP = """Each handed-in notebook runs in a process tree of its own, N at a time, in a fresh working
directory and HOME inside the output folder, under limits on wall-clock and CPU time, memory, bytes written and
processes (rlimits, and a watch from outside; Linux). Its answers come back as JSON, checked, and the teacher's
public and hidden checks run on them in a separate process: no hidden check's test is on disk where a submission
runs (what it is given is gathered in the submission's kernel), and no score a submission writes is read. A re-
run skips the submissions that have not changed; Ctrl-C stops launching, writes the table of what finished and
exits 130.

What it does not guarantee: run as an ordinary user, a submission can read, and delete, that user's files
outside its directory (the lessons, hidden checks included); run as root (a container), submissions run as the
user nobody and cannot change the teacher's files. --sandbox bwrap (Debian's bubblewrap package) mounts the file
system read-only but for the submission's own directory, hides the lessons, the submissions and the output
folder, and cuts the network."""


def _lessons(names: list[str]):
    from .classroom.catalog import find_lesson

    return [find_lesson(name) for name in names] if names else available_lessons()


def _writing(command: str, output_dir: Path, write: Callable[[], None]) -> int:
    """Run a command that writes into ``output_dir``: 0, or one line and 2 (bad input) or 1 (cannot write)."""
    try:
        write()
    except ValueError as exc:
        print(f"curiolib {command}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"curiolib {command}: cannot write to {output_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def slides_command(args: argparse.Namespace) -> int:
    """`curiolib slides`: build the decks, one line per deck."""
    from .classroom.deck import build_deck

    def write() -> None:
        for lesson in _lessons(args.notebooks):
            deck = build_deck(lesson, args.output_dir, node_modules=args.node_modules, overwrite=args.force)
            print(f"slides: {deck}")

    return _writing("slides", args.output_dir, write)


def tag_slides_command(args: argparse.Namespace) -> int:
    """`curiolib tag-slides`: apply the slide rule to the lessons, or with --check only report."""
    import nbformat

    from .classroom.slides import add_slide_metadata, apply_slide_metadata

    try:
        lessons = _lessons(args.notebooks)
    except ValueError as exc:
        print(f"curiolib tag-slides: {exc}", file=sys.stderr)
        return 2
    untagged = []
    for lesson in lessons:
        if args.check:
            if apply_slide_metadata(nbformat.read(lesson.path, as_version=nbformat.NO_CONVERT)):
                untagged.append(lesson.filename)
        elif add_slide_metadata(lesson.path):
            print(f"re-tagged {lesson.path}")
    if untagged:
        print(f"not tagged by the slide rule: {', '.join(untagged)} (run `curiolib tag-slides`)", file=sys.stderr)
        return 1
    return 0


def student_command(args: argparse.Namespace) -> int:
    """`curiolib student`: write the student versions, one line per notebook."""
    from .classroom.student import write_student_versions

    def write() -> None:
        for path in write_student_versions(_lessons(args.notebooks), args.output_dir):
            print(f"student version: {path}")

    return _writing("student", args.output_dir, write)


def grade_command(args: argparse.Namespace) -> int:
    """`curiolib grade`: grade the folder, print where the tables are; 130 after Ctrl-C."""
    from .classroom.grade import GradingInterrupted, Limits, grade
    from .classroom.harness import parse_parameter, stop_signals_as_interrupt

    try:
        limits = Limits(seconds=args.seconds, cpu_seconds=2 * args.seconds, memory_gb=args.memory_gb)
        parameters = {name: parse_parameter(value) for name, value in args.parameter}
        with stop_signals_as_interrupt():
            grade(args.notebook, args.submissions, args.output_dir, workers=args.workers,
                  parameters=parameters, smoke=args.smoke, limits=limits, sandbox=args.sandbox,
                  plot=args.plot, x=args.x)
    except ValueError as exc:
        print(f"curiolib grade: {exc}", file=sys.stderr)
        return 2
    except GradingInterrupted as stop:
        print(f"interrupted: nothing was started after it; {len(stop.grades)} graded submission(s) are in "
              f"{args.output_dir / 'grades.md'} (a re-run skips them)", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"curiolib grade: cannot write to {args.output_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"grades: {args.output_dir / 'grades.md'} and grades.csv; feedback: {args.output_dir / 'feedback'}/"
          + (f"; figure: {args.output_dir / 'grades.png'}" if args.plot else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `curiolib` and `python -m curiolib`; returns the process exit code."""
    from .classroom.harness import skip_iri_grammar

    skip_iri_grammar()
    args = build_parser().parse_args(argv)
    if args.command == "list":
        present = {lesson.stem for lesson in available_lessons()}
        for lesson in LESSONS:
            mark = "" if lesson.stem in present else "  (notebook not in this checkout)"
            took = f"{lesson.timing.minutes()}, {lesson.timing.peak_gb:.1f} GB" if lesson.timing else "not timed"
            print(f"{lesson.stem:30} {lesson.title:40} {took}{mark}")
        conditions = list(dict.fromkeys(lesson.timing.measured for lesson in LESSONS if lesson.timing))
        for measured in conditions:  # a line per measured run, each naming its lessons where there are two
            lessons = " ".join(lesson.stem[:2] for lesson in LESSONS
                               if lesson.timing and lesson.timing.measured == measured)
            which = f" of {lessons}" if len(conditions) > 1 else ""
            print(f"(time and peak memory of a full run{which}: {measured})")
        return 0

    if args.command == "sweep":
        return _sweep(args)
    if args.command == "slides":
        return slides_command(args)
    if args.command == "tag-slides":
        return tag_slides_command(args)
    if args.command == "student":
        return student_command(args)
    if args.command == "grade":
        return grade_command(args)

    from .classroom.catalog import run_estimate
    from .classroom.harness import parse_parameter, run_all, stop_signals_as_interrupt, write_summary

    parameters = {name: parse_parameter(value) for name, value in args.parameter}
    try:
        if not args.smoke and not parameters:
            try:
                estimate = run_estimate(_lessons(args.notebooks))
            except ValueError:  # a notebook of the user's own: it has no measured time (run_all checks the name)
                estimate = None
            if estimate:
                print(f"curiolib run: {estimate}", flush=True)
        with stop_signals_as_interrupt():
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
    if not args.inplace:
        print(f"executed notebooks, to open in JupyterLab: {args.output_dir}/")
    if any(run.interrupted for run in runs):
        print("interrupted: the notebooks that had finished before were kept", file=sys.stderr)
        return 130
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from .classroom.harness import parse_parameter, stop_signals_as_interrupt
    from .classroom.sweep import SweepInterrupted, sweep

    grid: dict = {}
    output_dir = args.output_dir or Path("sweeps") / Path(args.notebook).name.removesuffix(".ipynb")
    try:
        for name, *values in args.parameter:
            if name in grid:
                raise ValueError(f"parameter {name!r} is given twice: list all its values after one -p")
            grid[name] = [parse_parameter(value) for value in values]
        with stop_signals_as_interrupt():
            runs = sweep(args.notebook, grid, output_dir, workers=args.workers, plot=args.plot, x=args.x)
    except ValueError as exc:
        print(f"curiolib sweep: {exc}", file=sys.stderr)
        return 2
    except SweepInterrupted as stop:
        done = sum(run.ok for run in stop.runs)
        print(f"interrupted: no run was started after it; {done} finished run(s) are in "
              f"{output_dir / 'sweep.md'} and sweep.csv (a rerun skips them)", file=sys.stderr)
        return 130
    failed = [run.folder.name for run in runs if not run.ok]
    print(f"table: {output_dir / 'sweep.md'} and sweep.csv" + (f"; figure: {output_dir / 'sweep.png'}"
                                                                 if args.plot else ""))
    if failed:
        print(f"{len(failed)} of {len(runs)} runs failed (their rows say why): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
