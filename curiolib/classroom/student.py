"""`curiolib student`: a lesson as a student gets it, solutions out, placeholders in, outputs cleared.

Reads the exercise format of `curiolib.course.exercises`: a ``solution`` cell's marked lines become ``...``,
cells tagged ``hidden-check`` or ``answers`` go, and so do the speaker notes (the "For teachers" cells, which
name what students get wrong); every output and execution count goes, and the rest (the first cell that
installs curiolib on Colab, the slide metadata, the checks the student runs) stays as it is.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path

from .._files import claim_output_dir, write_text_atomically
from .catalog import Lesson

#: Cells with one of these tags are the teacher's: a student version leaves them out.
TEACHER_ONLY_TAGS = ("hidden-check", "answers")
SOLUTION_LINE = re.compile(r"^(?P<head>\s*[^#=]*?[^=!<>]=)(?!=)\s*\S.*?\s*#\s*SOLUTION\s*$")
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"


def is_teachers(cell: dict) -> bool:
    """Whether a cell is the teacher's alone: grading checks, worked answers, or a speaker note ("For teachers")."""
    metadata = cell.get("metadata", {})
    return (any(tag in metadata.get("tags", []) for tag in TEACHER_ONLY_TAGS)
            or metadata.get("slideshow", {}).get("slide_type") == "notes")


def strip_solution(source: str, where: str = "cell") -> str:
    """A ``solution`` cell's source with its marked lines as placeholders (``x = ...``, a block as ``...``).

    ValueError, naming ``where`` and the line, on a marker it cannot read: a solution would otherwise leak.
    """
    out, inside, indent = [], False, ""
    for number, line in enumerate(source.split("\n"), 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"{where}, line {number}: {BEGIN} inside another; close it with {END}")
            inside, indent = True, line[:len(line) - len(line.lstrip())]
            out.append(f"{indent}...  # your code here")
        elif stripped == END:
            if not inside:
                raise ValueError(f"{where}, line {number}: {END} without {BEGIN}")
            inside = False
        elif inside:
            continue
        elif re.search(r"#\s*SOLUTION\s*$", line):
            match = SOLUTION_LINE.match(line)
            if not match:
                raise ValueError(f"{where}, line {number}: '# SOLUTION' marks an assignment (name = value), "
                                 f"got {stripped!r}")
            out.append(f"{match['head']} ...  # your answer")
        else:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN} is never closed with {END}")
    return "\n".join(out)


def student_version(notebook: dict, name: str = "notebook") -> dict:
    """The notebook (nbformat JSON) a student gets: placeholders for solutions, no hidden checks or answers."""
    student = copy.deepcopy(notebook)
    cells = []
    solutions = 0
    for index, cell in enumerate(student["cells"]):
        tags = cell.get("metadata", {}).get("tags", [])
        if is_teachers(cell):
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if "solution" in tags:
            stripped = strip_solution(source, f"{name}, cell {index}")
            if stripped == source:
                raise ValueError(f"{name}, cell {index} is tagged 'solution' but marks no line '# SOLUTION' and no "
                                 f"'{BEGIN}' block: its answer would be handed out")
            source, solutions = stripped, solutions + 1
        elif BEGIN in source or re.search(r"#\s*SOLUTION\s*$", source, re.MULTILINE):
            raise ValueError(f"{name}, cell {index} marks a solution but is not tagged 'solution'")
        cell["source"] = source
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cell["metadata"].pop("papermill", None)
        cell["metadata"].pop("execution", None)
        cells.append(cell)
    student["cells"] = cells
    for key in ("widgets", "papermill"):  # saved widget state and the teacher's run: a student's kernel makes its own
        student["metadata"].pop(key, None)
    return student


def write_student_versions(lessons: list[Lesson], output_dir: str | Path) -> list[Path]:
    """Write each lesson's student version into ``output_dir`` (a folder curiolib made, or a new one)."""
    import json

    versions = {}
    for lesson in lessons:  # all built first: one lesson's bad marker writes nothing
        notebook = json.loads(lesson.path.read_text(encoding="utf-8"))
        versions[lesson.filename] = student_version(notebook, lesson.filename)
    folder = claim_output_dir(output_dir)
    written = []
    for filename, notebook in versions.items():
        path = folder / filename
        write_text_atomically(path, json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written
