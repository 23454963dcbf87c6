"""The numbered notebooks: titles, what each teaches, and the small parameters that make a smoke run."""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any


PROJECT_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"


def minutes(seconds: float) -> str:
    """A duration as a teacher plans with it: "about 6 min", or "under a minute"."""
    return "under a minute" if seconds < 60 else f"about {round(seconds / 60)} min"


@dataclass(frozen=True)
class Timing:
    """One measured full run of a lesson at its default parameters: how long, and the kernel's peak memory."""

    seconds: float
    peak_gb: float
    #: When and how it was measured: a figure without its conditions cannot be compared.
    measured: str

    def minutes(self) -> str:
        """The time as a teacher plans with it: "about 6 min", or "under a minute"."""
        return minutes(self.seconds)

    def sentence(self, stem: str) -> str:
        """The "Time." note of the lesson's "For teachers" cell, and of `curiolib list`."""
        advice = "run it before class" if self.seconds > 120 else "short enough to run in class"
        return (f"A full run (`curiolib run {stem[:2]}`) took {self.seconds:.0f} s, its memory peaking at "
                f"{self.peak_gb:.1f} GB ({self.measured}): {advice}.")


#: The conditions of the measured run in `TIMINGS` (scripts/measure_lessons.py took it).
MEASURED = ("2026-12-07, a clean clone of commit ac285a5, `curiolib run --inplace` (the eight lessons in turn), a "
            "2-core AMD EPYC CPU, torch on 2 threads, nothing else running")
#: Lessons 00 and 03 timed again after their computed answers changed (00's runs fewer darts; 03's takes
#: `answer_epochs`, the same work at its default), from the same command naming them in a clean clone of dc3cecf.
REMEASURED = ("2026-12-07, a clean clone of commit dc3cecf, `curiolib run 00 03 --inplace`, a 2-core AMD EPYC CPU, "
              "torch on 2 threads, nothing else running")
#: Lessons 04 and 05 with their exercises (issue #43), from a clean clone of 3ca9ef6; 01 and 02 again, and 03 and 06
#: after a student's read of their exercises changed them, from a clean clone of 32d68d1. This machine ran the same
#: lessons about a quarter slower this evening than when `MEASURED` was taken (03: 352 s then, 440 s now).
MEASURED_43 = ("2026-12-07 evening, a clean clone of commit 3ca9ef6, `curiolib run 01 02 03 04 05 06 --inplace`, a "
               "2-core AMD EPYC CPU, torch on 2 threads, nothing else running while 04 and 05 ran")
MEASURED_43B = ("2026-12-07 evening, a clean clone of commit 32d68d1, `curiolib run 03 06 --inplace` then "
                "`curiolib run 01 02 --inplace`, a 2-core AMD EPYC CPU, torch on 2 threads, nothing else running")
#: Lesson 08, new with issue #45, from a clean clone of c70c9ec.
MEASURED_45 = ("2026-12-07 evening, a clean clone of commit c70c9ec, `curiolib run 08 --inplace`, a 2-core AMD EPYC "
               "CPU, torch on 2 threads, nothing else running (a benchmark paused meanwhile)")
#: Each lesson's measured full run (`python scripts/measure_lessons.py --out t.json -- curiolib run NN ... --inplace`
#: in a clean clone): seconds, and the peak resident memory of its kernel with the kernel's child processes,
#: sampled every second. 00 and 07, unchanged since, from `REMEASURED` and `MEASURED`.
TIMINGS: dict[str, Timing] = {
    "00_getting_started": Timing(7.0, 0.42, REMEASURED),
    "01_knowledge_growth": Timing(10.0, 0.58, MEASURED_43B),
    "02_fine_tuning_math": Timing(13.1, 0.59, MEASURED_43B),
    "03_bert_sentiment": Timing(440.5, 1.81, MEASURED_43B),
    "04_bert_ner": Timing(544.5, 1.72, MEASURED_43),
    "05_curiosity_loop": Timing(441.4, 1.68, MEASURED_43),
    "06_efficient_fine_tuning": Timing(576.6, 1.76, MEASURED_43B),
    "07_exploration_vs_reflection": Timing(47.5, 1.21, MEASURED),
    "08_forgetting_and_replay": Timing(495.4, 1.70, MEASURED_45),
}
#: Each lesson's smoke run as tests/test_notebooks.py runs it (`curiolib run NN --smoke`, one thread): its kernel's
#: peak resident memory in GB as `curiolib run` writes it to summary.json (``peak_gb``, the kernel's high-water
#: mark). Measured 2026-12-07 on the machine of `MEASURED`, one lesson at a time, after issue 46's fixes (03 and 06
#: again with issue 41's cells); 00 and 01 again on 2026-12-08, once the first cell stopped importing transformers
#: and datasets (0.41 -> 0.31 and 0.62 -> 0.57 GB).
SMOKE_PEAK_GB: dict[str, float] = {
    "00_getting_started": 0.31,
    "01_knowledge_growth": 0.57,
    "02_fine_tuning_math": 0.59,
    "03_bert_sentiment": 1.58,
    "04_bert_ner": 1.42,
    "05_curiosity_loop": 1.46,
    "06_efficient_fine_tuning": 1.59,
    "07_exploration_vs_reflection": 0.86,
    "08_forgetting_and_replay": 1.39,
}
#: A smoke run may peak at up to ×1.1 its recorded figure + 0.1 GB before the test calls it a leak: 0.14 GB over
#: the figure for lesson 00, 0.26 GB for lesson 03. Two smoke runs here differed by 0.02 GB at most, and the
#: margin leaves room for another CPU's kernels. Caught: a second model kept with its optimizer's moments and
#: gradients (0.36 GB for MiniLM) in any lesson, a model loaded where a lesson needs none, a batch's activations
#: kept; one kept MiniLM's weights alone (0.09 GB) are below what the check can tell apart.
SMOKE_PEAK_ALLOWANCE = (1.1, 0.1)


def smoke_memory_problem(stem: str, peak_gb: float | None) -> str | None:
    """Why a smoke run's peak memory is out of line with its lesson's recorded figure; None when it is within."""
    recorded = SMOKE_PEAK_GB.get(stem)
    if recorded is None:
        return f"{stem} has no recorded smoke peak in catalog.SMOKE_PEAK_GB: add its summary.json peak_gb"
    if peak_gb is None:
        return f"the smoke run of {stem} measured no memory (peak_gb is None): the harness found no kernel to read"
    factor, extra = SMOKE_PEAK_ALLOWANCE
    allowed = factor * recorded + extra
    if peak_gb <= allowed:
        return None
    return (f"the smoke run of {stem} peaked at {peak_gb:.2f} GB, above the {allowed:.2f} GB allowed ({factor}× its "
            f"recorded {recorded:.2f} GB + {extra} GB): does a cell keep a model, its optimizer or a batch's "
            f"activations it no longer needs? `python scripts/profile_lesson_memory.py {stem[:2]} --smoke` shows "
            "each cell's peak")


@dataclass(frozen=True)
class Lesson:
    """One numbered notebook and the parameters that make it run in seconds."""

    stem: str
    title: str
    teaches: str
    smoke: dict[str, Any] = field(default_factory=dict)
    #: "committed": nbval re-executes the committed notebook; "smoke": too slow for that, so nbval
    #: checks that a smoke-parameter copy reproduces its own outputs on a second execution.
    nbval: str = "committed"
    #: The settings the lesson's "On a Colab GPU" section gives (a test runs them offline on tiny sizes).
    colab: dict[str, Any] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return f"{self.stem}.ipynb"

    @property
    def path(self) -> Path:
        return NOTEBOOK_DIR / self.filename

    @property
    def timing(self) -> Timing | None:
        """The lesson's measured full run (None until one is recorded in `TIMINGS`)."""
        return TIMINGS.get(self.stem)


# Smoke parameters live here and nowhere else: the tests run every notebook with them.
LESSONS: tuple[Lesson, ...] = (
    Lesson("00_getting_started", "Getting started", "the first cell, recording numbers, the harness",
           smoke={"n_points": 50}),
    Lesson("01_knowledge_growth", "The knowledge-growth model",
           "I(t+1) = I(t) + α(βE + (1−β)R): simulate, explore, fit, extend",
           smoke={"steps": 20}),
    Lesson("02_fine_tuning_math", "The mathematics of fine-tuning",
           "losses, gradients and optimisers, each checked against autograd",
           smoke={"steps": 30}),
    Lesson("03_bert_sentiment", "BERT sentiment classification",
           "fine-tuning a small BERT end to end, with a type-a-sentence widget",
           smoke={"train_size": 32, "eval_size": 32, "epochs": 1, "batch_size": 16, "max_length": 64,
                  "padding_demo_examples": 2, "answer_epochs": 2},
           nbval="smoke", colab={"model_name": "bert-base-uncased", "data_source": "sst2", "epochs": 2,
                                 "batch_size": 32, "learning_rate": 3e-5}),
    Lesson("04_bert_ner", "BERT named-entity recognition",
           "sub-word label alignment, entity-level scores, capitals given back to an uncased model",
           smoke={"train_size": 32, "eval_size": 32, "epochs": 1, "batch_size": 16}, nbval="smoke",
           colab={"model_name": "bert-base-cased", "data_source": "conll2003", "epochs": 3, "batch_size": 32,
                  "learning_rate": 3e-5}),
    Lesson("05_curiosity_loop", "The curiosity loop, made concrete",
           "active learning against random sampling and the plain recipes, with the growth model fitted",
           # Two strategies (random, the comparison's baseline, and explore_exploit, which scores entropy too).
           smoke={"label_schedule": [8, 16, 24], "seeds": [0], "candidates": 24, "eval_size": 32,
                  "strategies": ["random", "explore_exploit"], "epochs_per_round": 1, "answer_rounds": 2},
           nbval="smoke",
           colab={"data_source": "sst2", "label_schedule": [100, 300, 500, 1000, 2000], "candidates": 4000,
                  "seeds": [0, 1, 2]}),
    Lesson("06_efficient_fine_tuning", "Efficient fine-tuning",
           "LoRA, int8 quantisation, ONNX export and distillation, measured",
           # train_size no smaller than batch_size (32): the memory cell measures one batch of training sentences.
           smoke={"train_size": 32, "eval_size": 32, "budget_epochs": 1, "ranks": [2, 8]}, nbval="smoke",
           colab={"model_name": "bert-base-uncased", "data_source": "sst2", "train_size": 20000}),
    Lesson("07_exploration_vs_reflection", "Exploration against reflection",
           "the growth model meets a real learner: an effort experiment that separates E from R",
           smoke={"pool_size": 300, "seeds": [0, 1], "rounds": 6, "costs": [1, 4]}, nbval="smoke"),
    Lesson("08_forgetting_and_replay", "Forgetting and replay",
           "learning that moves on: what is not rehearsed is lost, and replay as reflection, measured",
           smoke={"pool_size": 40, "eval_size": 16, "seeds": [0, 1], "betas": [0.25, 0.5, 1.0],
                  "fit_betas": [0.25, 1.0], "rounds": 3, "budget": 10, "first_rounds": 3, "finetune_rounds": 4,
                  "finetune_budget": 4, "eval_every": 2, "max_length": 16}, nbval="smoke"),
)


def teacher_time_line(lesson: Lesson) -> str:
    """The "Time." line of the lesson's "For teachers" cell, written from its measured run."""
    if lesson.timing is None:
        return "- **Time.** Not measured yet."
    return f"- **Time.** {lesson.timing.sentence(lesson.stem)}"


def run_estimate(lessons: list[Lesson]) -> str | None:
    """What `curiolib run` says before it starts: the lessons' measured time together, or None if one has none."""
    timings = [lesson.timing for lesson in lessons]
    if not timings or any(timing is None for timing in timings):
        return None
    total = sum(timing.seconds for timing in timings)
    return f"{len(lessons)} lesson(s) took {minutes(total)} in a measured run ({MEASURED})"


#: Memory a server keeps for itself and JupyterHub when `class_capacity` counts students.
SERVER_RESERVE_GB = 2.0


def class_capacity(server_gb: float) -> str:
    """How many students a server of ``server_gb`` GB holds, each running the heaviest lesson: the README's line."""
    if not server_gb > SERVER_RESERVE_GB:
        raise ValueError(f"server_gb must be more than the {SERVER_RESERVE_GB:g} GB kept for the system, "
                         f"got {server_gb!r}")
    timed = [lesson for lesson in LESSONS if lesson.timing is not None]
    heaviest = max(timed, key=lambda lesson: lesson.timing.peak_gb)
    peak = heaviest.timing.peak_gb
    students = int((server_gb - SERVER_RESERVE_GB) // peak)
    return (f"every lesson's kernel peaked at {peak:.2f} GB or less (lesson {heaviest.stem[:2]}, the heaviest), "
            f"so a server with {server_gb:g} GB of memory holds {students} students running it at once "
            f"({SERVER_RESERVE_GB:g} GB kept for the system)")


def available_lessons() -> list[Lesson]:
    """The lessons whose notebook exists in this checkout, in order."""
    return [lesson for lesson in LESSONS if lesson.path.exists()]


def find_lesson(name: str) -> Lesson:
    """Look a lesson up by stem, number prefix ("03") or notebook path."""
    from .._validation import choice_error

    stem = Path(name).name.removesuffix(".ipynb")
    for lesson in LESSONS:
        if stem == lesson.stem or stem == lesson.stem[:2]:
            return lesson
    raise choice_error("notebook", stem, [lesson.stem for lesson in available_lessons()])


@lru_cache(maxsize=1)
def repository_url() -> str:
    """The repository URL, written once in pyproject.toml's [project.urls] (or the installed metadata)."""
    pyproject = PROJECT_ROOT / "pyproject.toml"
    if sys.version_info >= (3, 11):  # Python 3.10 has no TOML reader: there the installed metadata says it
        import tomllib  # novermin: inside the version check above, which vermin does not follow

        if pyproject.exists():
            return tomllib.loads(pyproject.read_text())["project"]["urls"]["Repository"]
    from importlib.metadata import metadata

    for entry in metadata("curiolib").get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "repository":
            return url.strip()
    raise LookupError("curiolib's metadata names no Repository URL")


def setup_cell_source() -> str:
    """The code cell every notebook runs first after its parameters: install on Colab, then set up."""
    return (
        "import sys\n"
        "\n"
        "if \"google.colab\" in sys.modules:  # Colab starts without curiolib: install it first\n"
        f"    %pip install -q \"curiolib @ git+{repository_url()}\"\n"
        "\n"
        "from curiolib import record, setup_notebook\n"
        "\n"
        "env = setup_notebook(seed=seed)"
    )


def colab_url(lesson: Lesson, branch: str = "main") -> str:
    """The "Open in Colab" link of a lesson's notebook on GitHub."""
    match = re.match(r"https://github\.com/([^/]+/[^/]+?)(?:\.git)?/?$", repository_url())
    if not match:
        raise ValueError(f"Repository URL must be a https://github.com/OWNER/NAME URL, got {repository_url()!r}")
    return f"https://colab.research.google.com/github/{match.group(1)}/blob/{branch}/notebooks/{lesson.filename}"
