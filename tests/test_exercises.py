"""Exercises: the check a student runs (`check_exercise`), and the student versions `curiolib student` writes.

Nothing here executes a lesson: the student versions are checked on the committed notebooks' cells, each test
function run in this process (as grading runs it, on answers alone); the teacher's answers pass in the smoke runs
tests/test_notebooks.py already makes.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from curiolib import recorded
from curiolib.__main__ import main
from curiolib.classroom.catalog import LESSONS, Lesson
from curiolib.classroom.student import is_teachers, strip_solution, student_version
from curiolib.course.exercises import RECORD_PREFIX, cell_tests, check_calls, check_exercise, run_test



def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _notebook(lesson: Lesson) -> dict:
    return json.loads(lesson.path.read_text(encoding="utf-8"))


#: The lessons whose exercises are in the exercise format (the others still hold theirs in a fold).
EXERCISED = [lesson for lesson in LESSONS if lesson.path.exists()
             and any("exercise" in _tags(cell) for cell in _notebook(lesson)["cells"])]


# ---- check_exercise ---------------------------------------------------------------------------------------------

def _as_in_a_notebook(source: str):
    """The function ``source`` defines, compiled as a notebook cell is (pytest rewrites asserts in this module)."""
    import linecache

    namespace: dict = {}
    name = f"<cell {len(linecache.cache)}>"
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)  # as IPython keeps a cell's lines
    exec(compile(source, name, "exec"), namespace)  # noqa: S102
    return next(value for name, value in namespace.items() if not name.startswith("__"))


_between = _as_in_a_notebook("def between(value):\n    assert 1 < value < 3, f'{value} is not between 1 and 3'\n")


def test_a_check_says_passed_or_not_yet_and_the_tests_own_words() -> None:
    assert check_exercise("99.1", _between, value=2).passed
    assert str(check_exercise("99.1", _between, value=2)) == "Exercise 99.1: passed"
    failed = check_exercise("99.1", _between, value=5)
    assert not failed and str(failed) == "Exercise 99.1: not yet. 5 is not between 1 and 3"


def test_a_placeholder_fails_at_once_naming_what_to_fill_in() -> None:
    called = []
    result = check_exercise("99.2", lambda a, b: called.append(1), a=..., b=1)
    assert not result.passed and result.why == "fill in `a`: it is still `...`." and not called


def test_an_assertion_without_words_names_its_line_and_a_wrong_type_does_not_stop_the_notebook() -> None:
    bare = _as_in_a_notebook("def bare(value):\n    assert value > 0\n")
    assert check_exercise("99.3", bare, value=-1).why == "the check's assertion on line 2 failed: `assert value > 0`"
    assert check_exercise("99.3", bare, value="text").why.startswith("checking the answer raised TypeError")


@pytest.mark.parametrize("exercise, test, message", [
    ("1.2", _between, "exercise must be 'NN.k'"), ("", _between, "exercise must be"),
    ("01.2", "not a function", "test must be a function")])
def test_a_bad_exercise_name_or_test_is_a_value_error(exercise, test, message) -> None:
    with pytest.raises(ValueError, match=message):
        check_exercise(exercise, test, value=2)


def test_a_check_records_its_result_and_answers_for_grading() -> None:
    check_exercise("99.4", _between, value=2.5)
    check_exercise("99.4", _between, hidden=True, value=7)
    assert recorded()[RECORD_PREFIX + "99.4"] == {"passed": True, "why": "", "answers": {"value": 2.5}}
    hidden = recorded()[RECORD_PREFIX + "99.4 hidden"]
    assert hidden["passed"] is False and hidden["answers"] == {"value": 7}
    check_exercise("99.5", lambda frame: None, frame=object())  # what JSON cannot hold: its type, for grading
    assert recorded()[RECORD_PREFIX + "99.5"]["answers"] == {"frame": {"unsaved": "object"}}


# ---- the solution markers ---------------------------------------------------------------------------------------

def test_marked_lines_become_placeholders_and_a_block_one_line() -> None:
    source = ("x = 1\nanswer = compute(x)  # SOLUTION\n    deep: float = 2.0  # SOLUTION\n"
              "    # BEGIN SOLUTION\n    a = 1\n    b = 2\n    # END SOLUTION\nprint(answer)")
    assert strip_solution(source) == ("x = 1\nanswer = ...  # your answer\n    deep: float = ...  # your answer\n"
                                      "    ...  # your code here\nprint(answer)")


@pytest.mark.parametrize("source, message", [
    ("# BEGIN SOLUTION\na = 1", "never closed"), ("a = 1\n# END SOLUTION", "line 2: # END SOLUTION without"),
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION", "line 2: # BEGIN SOLUTION inside another"),
    ("print(a)  # SOLUTION", "line 1: '# SOLUTION' marks an assignment"),
    ("a == b  # SOLUTION", "marks an assignment")])
def test_a_marker_that_cannot_be_read_is_an_error_naming_its_line(source, message) -> None:
    with pytest.raises(ValueError, match=message):
        strip_solution(source, "lesson")


def _cell(kind: str, source: str, *tags: str) -> dict:
    cell = {"cell_type": kind, "metadata": {"tags": list(tags)}, "source": source}
    return cell | ({"outputs": [{"output_type": "stream", "name": "stdout", "text": "x"}], "execution_count": 3}
                   if kind == "code" else {})


def test_a_solution_cell_without_markers_or_a_marker_outside_one_is_refused() -> None:
    with pytest.raises(ValueError, match="tagged 'solution' but marks no line"):
        student_version({"metadata": {}, "cells": [_cell("code", "answer = 42", "solution")]}, "n")
    with pytest.raises(ValueError, match="marks a solution but is not tagged 'solution'"):
        student_version({"metadata": {}, "cells": [_cell("code", "answer = 42  # SOLUTION")]}, "n")


def test_a_student_version_drops_the_teachers_cells_outputs_and_widget_state() -> None:
    teacher = {"metadata": {"widgets": {"state": {}}, "kernelspec": {"name": "python3"}}, "cells": [
        _cell("code", "answer = 42  # SOLUTION", "solution"), _cell("code", "check(...)", "check"),
        _cell("code", "secret()", "hidden-check"), _cell("markdown", "42, because", "answers"),
        _cell("markdown", "## For teachers\n\nStudents forget the seed.")
        | {"metadata": {"slideshow": {"slide_type": "notes"}}}]}
    student = student_version(teacher)
    assert [_source(cell) for cell in student["cells"]] == ["answer = ...  # your answer", "check(...)"]
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in student["cells"])
    assert student["metadata"] == {"kernelspec": {"name": "python3"}}
    assert teacher["cells"][0]["source"] == "answer = 42  # SOLUTION"  # the teacher's copy is left as it was


# ---- each lesson's exercises --------------------------------------------------------------------------------------

def test_every_lesson_is_in_the_exercise_format() -> None:
    assert {lesson.stem[:2] for lesson in EXERCISED} >= {"00", "01", "02", "03", "04", "05", "06", "07", "08"}


@pytest.mark.parametrize("lesson", EXERCISED, ids=lambda lesson: lesson.stem[:2])
def test_each_exercise_has_something_to_do_and_a_check_with_hidden_checks_beside_it(lesson: Lesson) -> None:
    cells = _notebook(lesson)["cells"]
    starts = [i for i, cell in enumerate(cells) if "exercise" in _tags(cell)]
    assert 3 <= len(starts) <= 6, f"{lesson.stem}: {len(starts)} exercises, not 3 to 6"
    checked = {}
    for start, end in zip(starts, starts[1:] + [len(cells)]):
        block = cells[start:end]
        kinds = [tag for cell in block for tag in _tags(cell) if tag in ("solution", "check", "hidden-check", "prose")]
        assert kinds and kinds[0] in ("solution", "prose"), f"{lesson.stem} cell {start}: no solution cell or prose"
        for cell in (cell for cell in block if {"check", "hidden-check"} & set(_tags(cell))):
            for exercise, _, _, hidden in check_calls(_source(cell)):
                assert exercise.startswith(lesson.stem[:2] + "."), f"{exercise} in {lesson.stem}"
                checked.setdefault(exercise, set()).add(hidden)
    assert all(kinds == {False, True} for kinds in checked.values()), f"{lesson.stem}: {checked}"
    long = [line for cell in cells if {"solution", "check", "hidden-check"} & set(_tags(cell))
            for line in _source(cell).split("\n") if len(line) > 100]
    assert not long, f"{lesson.stem}: exercise code lines over 100 characters (JupyterLab cuts them): {long}"
    assert len(checked) >= 3, f"{lesson.stem}: {len(checked)} exercises have checks, not 3 or more"


@pytest.mark.parametrize("lesson", EXERCISED, ids=lambda lesson: lesson.stem[:2])
def test_the_student_version_keeps_no_solution_and_every_check_fails_on_its_placeholders(lesson: Lesson) -> None:
    teacher = _notebook(lesson)
    student = student_version(teacher, lesson.filename)
    kept = [cell for cell in teacher["cells"] if not is_teachers(cell)]
    assert len(kept) < len(teacher["cells"]) and not any("For teachers" in _source(cell) for cell in kept)
    assert [cell["id"] for cell in student["cells"]] == [cell["id"] for cell in kept]
    assert [cell["metadata"].get("slideshow") for cell in student["cells"]] == \
        [cell["metadata"].get("slideshow") for cell in kept]
    installs = [_source(cell) for cell in student["cells"] if "%pip install" in _source(cell)]
    assert installs and installs[0] in [_source(cell) for cell in teacher["cells"]]  # the Colab cell, unchanged
    text = json.dumps(student)
    assert "SOLUTION" not in text
    assert all(not cell.get("outputs") for cell in student["cells"])
    solutions = [_source(cell) for cell in student["cells"] if "solution" in _tags(cell)]
    for cell in (cell for cell in student["cells"] if "check" in _tags(cell)):
        tests = cell_tests(_source(cell))
        for exercise, test, names, _ in check_calls(_source(cell)):
            assert any(f"{name} = ...  # your answer" in "\n".join(solutions) for name in names), exercise
            # Called with every answer left as `...`, the test itself must fail: a test that passes on a
            # placeholder checks nothing (run_test would hide it behind its own "fill in" message).
            with pytest.raises(Exception):  # noqa: B017 - an assertion or a TypeError: either is a failure
                tests[test](**{name: ... for name in names})
            assert not run_test(tests[test], {name: ... for name in names})[0]
    for cell in (cell for cell in teacher["cells"] if "hidden-check" in _tags(cell)):  # grading's, the same rule
        tests = cell_tests(_source(cell))
        for _exercise, test, names, _ in check_calls(_source(cell)):
            with pytest.raises(Exception):  # noqa: B017
                tests[test](**{name: ... for name in names})


@pytest.mark.parametrize("lesson", [lesson for lesson in EXERCISED if lesson.nbval == "committed"],
                         ids=lambda lesson: lesson.stem[:2])
def test_the_committed_lesson_passes_every_check_it_prints(lesson: Lesson) -> None:
    # The committed outputs come from a real run, and nbval re-executes these lessons and compares them.
    cells = nbformat.read(lesson.path, as_version=4).cells
    for cell in (cell for cell in cells if {"check", "hidden-check"} & set(cell.metadata.get("tags", []))):
        printed = "".join(output.get("data", {}).get("text/plain", "") + output.get("text", "")
                          for output in cell.outputs)
        for exercise, *_ in check_calls(cell.source):
            assert f"Exercise {exercise}" in printed and printed.rstrip().endswith("passed"), printed


# ---- curiolib student ---------------------------------------------------------------------------------------------

def test_curiolib_student_writes_only_into_its_folder_and_refuses_a_folder_of_the_users(tmp_path: Path,
                                                                                        capsys) -> None:
    out = tmp_path / "handout"
    assert main(["student", "00", "--output-dir", str(out)]) == 0
    written = sorted(path.name for path in out.iterdir())
    assert written == [".curiolib", "00_getting_started.ipynb"] and sorted(p.name for p in tmp_path.iterdir()) == [
        "handout"]
    nbformat.validate(nbformat.read(out / "00_getting_started.ipynb", as_version=4))
    assert main(["student", "00", "--output-dir", str(out)]) == 0  # its own folder: replaced in place
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "00_getting_started.ipynb").write_text("a student's own work")
    assert main(["student", "00", "--output-dir", str(mine)]) == 2
    assert "holds files curiolib did not write" in capsys.readouterr().err
    assert (mine / "00_getting_started.ipynb").read_text() == "a student's own work"
    assert main(["student", "42", "--output-dir", str(tmp_path / "x")]) == 2 and not (tmp_path / "x").exists()
