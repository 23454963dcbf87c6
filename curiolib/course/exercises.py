"""Exercises a student does: a placeholder to fill in, and `check_exercise`, which says pass or fail and why.

One format for every lesson, read by `curiolib student` (classroom/student.py) and by grading. It follows
otter-grader's (solutions marked in the code, public checks the student runs, hidden ones stripped) without
depending on it, and its checks run from the kernel, so they work on Colab too:

- the exercise's markdown cell is tagged ``exercise``; it says what to do;
- its code cell is tagged ``solution``. In the student version a line ending ``# SOLUTION`` keeps what is left of
  its ``=`` and gets ``...`` on the right (``finals = ...``), and the lines from ``# BEGIN SOLUTION`` to
  ``# END SOLUTION`` become one ``...`` line;
- a cell tagged ``check`` defines the exercise's test and calls `check_exercise`; the student runs it;
- a cell tagged ``hidden-check`` holds the checks grading adds; cells tagged ``answers`` hold worked answers.
  Both are stripped from the student version, as are the "For teachers" speaker notes;
- a markdown cell tagged ``prose`` is where a student writes words for the teacher to read (not checked).

A test is a function of the answers alone (numbers, lists, text: what JSON holds) that asserts; its assertion
message is what the student reads. Using only its arguments, it can run again in another process, on the answers
`check_exercise` recorded (a grader's).
"""
from __future__ import annotations

import ast
import json
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from .._text import wrap
from .notebook import jsonable, record

#: The prefix of the name `check_exercise` records each exercise under (``record("check 01.2", ...)``): run under the
#: harness, a notebook's checks land in its JSON with its key numbers, where tests and grading read them.
RECORD_PREFIX = "check "


@dataclass(frozen=True)
class CheckResult:
    """One exercise checked: whether it passed, and why not."""

    exercise: str
    passed: bool
    why: str = ""

    def __str__(self) -> str:
        return wrap(f"Exercise {self.exercise}: passed" if self.passed
                    else f"Exercise {self.exercise}: not yet. {self.why}")

    def __repr__(self) -> str:  # a check cell's last line shows this
        return str(self)

    def __bool__(self) -> bool:
        return self.passed


def run_test(test: Callable[..., Any], answers: dict[str, Any]) -> tuple[bool, str]:
    """Call ``test(**answers)``: (True, "") if it returns, else (False, why), why being what a student reads."""
    unfilled = [name for name, value in answers.items() if value is Ellipsis]
    if unfilled:
        names = ", ".join(f"`{name}`" for name in unfilled)
        return False, f"fill in {names}: {'it is' if len(unfilled) == 1 else 'they are'} still `...`."
    try:
        test(**answers)
    except AssertionError as error:
        if str(error):
            return False, str(error)
        line = traceback.extract_tb(error.__traceback__)[-1]  # its text, where the cell's source is known
        return False, f"the check's assertion on line {line.lineno} failed" + (f": `{line.line}`" if line.line else "")
    except Exception as error:  # a wrong type of answer: say what went wrong, do not stop the notebook
        return False, f"checking the answer raised {type(error).__name__}: {error}"
    return True, ""


def check_exercise(exercise: str, test: Callable[..., Any], *, hidden: bool = False, **answers: Any) -> CheckResult:
    """Run the exercise's ``test`` on the student's ``answers``: pass, or not yet and why; the answers are kept.

    ``exercise`` is "NN.k" (lesson, exercise). Answers still ``...`` fail at once, saying which to fill in.
    ``hidden=True`` marks a grading check (a ``hidden-check`` cell), kept apart from the student's own.
    """
    if not isinstance(exercise, str) or not re.fullmatch(r"\d\d\.\d+", exercise):
        raise ValueError(f"exercise must be 'NN.k' (lesson, exercise), such as '01.2', got {exercise!r}")
    if not callable(test):
        raise ValueError(f"test must be a function of the answers that asserts, got {type(test).__name__}")
    passed, why = run_test(test, answers)
    result = CheckResult(exercise + (" hidden" if hidden else ""), passed, why)
    _keep(result, answers)
    return result


def _keep(result: CheckResult, answers: dict[str, Any]) -> None:
    record(RECORD_PREFIX + result.exercise, {"passed": result.passed, "why": result.why,
                                             "answers": saved_answers(answers)})


def saved_answers(answers: dict[str, Any]) -> dict[str, Any]:
    """Answers as JSON holds them: ``...`` as null, numpy as Python; what JSON cannot hold, as its type's name."""
    saved = {}
    for name, value in answers.items():  # a type's name is refused by grading, which says so
        value = None if value is Ellipsis else jsonable(value)
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            value = {"unsaved": type(value).__name__}
        saved[name] = value
    return saved


def record_answers(check: str, **answers: Any) -> None:
    """Record the answers a hidden check will be given, without the check: grading runs it apart, on these."""
    record(RECORD_PREFIX + check, {"answers": saved_answers(answers)})


class CheckCall(NamedTuple):
    """One `check_exercise(...)` call of a check cell: the exercise, its test's name, the answers' names, hidden."""

    exercise: str
    test: str
    names: list[str]
    hidden: bool


def check_calls(source: str) -> list[CheckCall]:
    """Each `check_exercise(...)` call in a check cell's source, read without running it."""
    calls = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check_exercise":
            exercise, test = node.args[0].value, node.args[1].id
            names = [keyword.arg for keyword in node.keywords if keyword.arg != "hidden"]
            hidden = any(keyword.arg == "hidden" and keyword.value.value for keyword in node.keywords)
            calls.append(CheckCall(exercise, test, names, hidden))
    return calls


def cell_tests(source: str) -> dict[str, Any]:
    """The functions a check cell defines, from its definitions and imports alone: no kernel, no lesson state.

    How grading runs a test again, in a process of its own, on the answers a submission recorded.
    """
    tree = ast.parse(source)
    tree.body = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.Import, ast.ImportFrom))]
    namespace: dict[str, Any] = {}
    exec(compile(tree, "<check cell>", "exec"), namespace)  # noqa: S102 - the teacher's own check cell
    return namespace
