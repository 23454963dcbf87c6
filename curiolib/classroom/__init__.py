"""The teacher's tools: the lesson catalog, running lessons (papermill), sweeps, slides and static decks.

`catalog`: the lessons, their parameters and measured times; `harness`: `curiolib run`, the executed copies and
their numbers; `sweep`: one lesson over a grid of parameters (`curiolib sweep`; the module, not re-exported, so
its name stays the module's); `slides`: the rule for slide types; `deck`: static reveal.js decks; `snapshot`:
widgets saved as HTML for readers without a kernel; `student`: student versions of the lessons
(`curiolib student`). What a lesson itself calls while it runs is in `course/`.
"""
from .catalog import LESSONS, Lesson, available_lessons, find_lesson
from .deck import build_deck
from .harness import NotebookRun, run_all, run_notebook
from .slides import apply_slide_metadata, slide_types
from .snapshot import snapshot_widgets
from .student import student_version, write_student_versions

__all__ = ["LESSONS", "Lesson", "NotebookRun", "apply_slide_metadata", "available_lessons", "build_deck",
           "find_lesson", "run_all", "run_notebook", "slide_types", "snapshot_widgets", "student_version",
           "write_student_versions"]
