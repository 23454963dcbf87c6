"""The project's front door: metadata agrees with itself, README badges and notebooks agree, notebooks are clean."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from packaging.requirements import Requirement

from curiolib.classroom.catalog import (LESSONS, NOTEBOOK_DIR, PROJECT_ROOT, available_lessons, colab_url, find_lesson,
                                     repository_url, setup_cell_source, teacher_time_line)

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the dev extra installs tomli, the same reader
    import tomli as tomllib

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
README = (PROJECT_ROOT / "README.md").read_text()
COMMITTED = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def _names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower().replace("_", "-") for r in requirements}


def test_environment_yml_names_the_same_runtime_dependencies_as_pyproject() -> None:
    env = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert conda_python == ["python=3.11"]
    assert "-e ." in pip_section, "environment.yml must install this package"
    from_env = [r for r in pip_section if not r.startswith("-e")]
    assert _names(from_env) == _names(PYPROJECT["project"]["dependencies"])
    # Same lower bounds too, so the two files cannot drift apart silently.
    declared = PYPROJECT["project"]["dependencies"]
    assert {str(Requirement(r)) for r in from_env} == {str(Requirement(r)) for r in declared}


def test_dependencies_have_lower_bounds_not_pins() -> None:
    for requirement in PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["dev"]:
        specifiers = {spec.operator for spec in Requirement(requirement).specifier}
        assert specifiers == {">="}, f"{requirement}: use a lower bound, Colab keeps its own torch/transformers"


def test_every_notebook_is_a_lesson_and_every_lesson_notebook_exists_in_order() -> None:
    stems = [path.stem for path in COMMITTED]
    assert stems == [lesson.stem for lesson in available_lessons()]
    assert stems == sorted(stems) and stems[0].startswith("00_")


def test_readme_has_one_colab_badge_per_notebook_pointing_at_the_repository() -> None:
    badges = re.findall(r"\(https://colab\.research\.google\.com/github/[^)\s]+\)", README)
    expected = [f"({colab_url(lesson)})" for lesson in available_lessons()]
    assert badges == expected
    assert repository_url().startswith("https://github.com/")


def test_repository_url_is_written_once_and_notebooks_agree_with_it() -> None:
    url = repository_url()
    owner_repo = url.removeprefix("https://github.com/")
    # The README's only mentions are the badges, which derive from the URL, and the first screen's clone line.
    assert README.count(f"git clone {url} ") == 1
    assert README.count(owner_repo) - 1 == README.count(f"github/{owner_repo}/blob/") == len(available_lessons())
    for path in PROJECT_ROOT.glob("curiolib/**/*.py"):
        assert owner_repo not in path.read_text(), f"{path.name} spells the repository; use catalog.repository_url()"
    for path in COMMITTED:
        nb = json.loads(path.read_text())
        code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
        # The shared first cell installs this repository on Colab: it must be exactly the canonical one.
        assert "".join(code[1]["source"]) == setup_cell_source(), f"{path.name}: setup cell differs"
        assert sum(owner_repo in "".join(cell["source"]) for cell in nb["cells"]) == 1


def test_readme_gives_exactly_the_two_commands_and_ci_runs_the_test_one() -> None:
    assert "make run" in README and "make test" in README
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))] == ["make test"]


def kernel_language_info() -> dict:
    """What ipykernel sends as language_info, from the Python that runs it (environment.yml pins the version)."""
    from ipykernel.ipkernel import IPythonKernel

    return json.loads(json.dumps(IPythonKernel.language_info))


@pytest.mark.parametrize("path", COMMITTED, ids=[p.stem for p in COMMITTED])
def test_committed_notebook_is_clean_and_executed(path: Path) -> None:
    nb = json.loads(path.read_text())
    assert "widgets" not in nb["metadata"], "widget state blobs break GitHub rendering"
    assert "papermill" not in nb["metadata"], "papermill metadata holds paths and timings"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    # JupyterLab writes the kernel's language_info on opening; any difference marks an untouched lesson modified.
    assert nb["metadata"]["language_info"] == kernel_language_info(), (
        f"{path.name}: language_info differs from what this environment's kernel reports")
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
    assert code[0]["metadata"].get("tags") == ["parameters"], "first code cell must be the tagged parameters cell"
    for cell in code:
        assert cell["execution_count"] is not None, "committed notebooks hold outputs of a real run"
        assert not {"papermill", "execution", "ExecuteTime"} & set(cell["metadata"])
        assert "injected-parameters" not in cell["metadata"].get("tags", []), "commit a default-parameter run"
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"{path.name} was committed with an error"
            # Without a kernel a widget reference shows as VBox(children=...) or a progress bar's first frame.
            assert "application/vnd.jupyter.widget-view+json" not in output.get("data", {}), (
                f"{path.name} cell {cell['execution_count']}: a widget without its static snapshot")
            assert not re.search(r"\b0%\|", "".join(output.get("data", {}).get("text/plain", ""))), (
                f"{path.name} cell {cell['execution_count']}: a progress bar frozen at 0%")
    counts = [cell["execution_count"] for cell in code]
    assert counts == list(range(1, len(code) + 1)), "outputs must come from one top-to-bottom run"


def test_every_lesson_records_smoke_parameters_it_declares() -> None:
    for lesson in available_lessons():
        source = json.loads(lesson.path.read_text())
        params_cell = "".join(next(c for c in source["cells"] if c["cell_type"] == "code")["source"])
        for name in lesson.smoke:
            assert re.search(rf"^{name}\s*=", params_cell, re.M), f"{lesson.stem} has no parameter {name!r}"
    assert all(lesson.nbval in {"committed", "smoke"} for lesson in LESSONS)


#: What a lesson may import from: the package's API, one namespace (tests/test_lesson_imports.py holds the rule).
LESSON_MODULES = {"curiolib"}


def _curiolib_imports(source: str) -> list[tuple[str, str]]:
    """(module, name) for every name a notebook cell imports from curiolib (IPython magics blanked first)."""
    import ast

    code = "\n".join(line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!"))
                     else line for line in source.splitlines())
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "curiolib":
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names if alias.name.split(".")[0] == "curiolib"]
    return found


def test_notebooks_import_only_the_public_api() -> None:
    import importlib

    for lesson in available_lessons():
        nb = json.loads(lesson.path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            for module, name in _curiolib_imports("".join(cell["source"])):
                assert module in LESSON_MODULES, f"{lesson.filename} imports from {module}; use one of {LESSON_MODULES}"
                assert not name.startswith("_"), f"{lesson.filename} imports the private name {module}.{name}"
                assert name == "" or hasattr(importlib.import_module(module), name), f"{module} has no {name}"


def test_the_import_check_catches_a_private_name_and_an_internal_module() -> None:
    source = "%pip install x\nfrom curiolib.finetune.loop import _restore_best\nimport curiolib.data\n"
    found = _curiolib_imports(source)
    assert found == [("curiolib.finetune.loop", "_restore_best"), ("curiolib.data", "")]


def test_every_name_of_the_public_api_resolves() -> None:
    import curiolib

    for name in curiolib.__all__:
        assert getattr(curiolib, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        curiolib.no_such_name  # noqa: B018


#: Numbers a lesson's text may quote without an output or a line of code showing them: mathematics and
#: facts about the data that no cell prints. Keep it short; a result belongs in an output.
QUOTED_CONSTANTS: dict[str, set[str]] = {
    "04_bert_ner": {"92.4"},  # BERT-base's CoNLL-2003 test F1 as the BERT paper reports it (Devlin et al. 2019)
}
#: A decimal number; a section reference ("§4.2", the essays' sections) is a place, not a result.
DECIMAL = re.compile(r"(?<![\w.§])\d+\.\d+(?![\w.])")


def _outputs_text(cell: dict) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append("".join(output.get("text", "")))
        for mime in ("text/plain", "text/html", "text/markdown"):
            parts.append("".join(output.get("data", {}).get(mime, "")))
    return "\n".join(parts)


@pytest.mark.parametrize("path", COMMITTED, ids=[p.stem for p in COMMITTED])
def test_every_decimal_number_in_a_lessons_text_is_in_its_outputs_or_code(path: Path) -> None:
    # A sentence quoting a result drifts when the result changes; it must be printed by the code instead.
    cells = json.loads(path.read_text())["cells"]
    shown = "\n".join(_outputs_text(cell) + "".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    allowed = QUOTED_CONSTANTS.get(path.stem, set())
    # The "Time." line quotes the catalog's measured run, not an output: the test below holds it to the catalog.
    time_line = teacher_time_line(find_lesson(path.stem))
    quoted = [(index, number) for index, cell in enumerate(cells) if cell["cell_type"] == "markdown"
              for number in DECIMAL.findall("".join(cell["source"]).replace(time_line, ""))]
    unbacked = [(index, number) for index, number in quoted if number not in shown and number not in allowed]
    assert not unbacked, f"{path.name}: (cell, number) quoted in markdown that no output or code shows: {unbacked}"


def test_the_decimal_check_catches_a_number_no_output_shows() -> None:
    assert DECIMAL.findall("accuracy rose to 0.913 (from 0.5) in 3 epochs, v1.2.3 and §4.2 aside") == ["0.913", "0.5"]


@pytest.mark.parametrize("path", COMMITTED, ids=[p.stem for p in COMMITTED])
def test_no_cell_source_holds_a_control_character(path: Path) -> None:
    # "\beta" written from a Python string becomes a backspace and "eta": the formula renders wrong.
    for index, cell in enumerate(json.loads(path.read_text())["cells"]):
        bad = sorted({repr(ch) for ch in "".join(cell["source"]) if ord(ch) < 32 and ch not in "\n\t"})
        assert not bad, f"{path.name} cell {index}: control characters {bad}"


def test_the_first_cell_and_reading_data_or_a_model_load_only_what_they_need_and_stay_quiet() -> None:
    # The first cell (setup_notebook) of every lesson imports neither transformers nor datasets (seconds, which
    # lessons 00 and 01 never need), yet both are quiet once a later cell imports them. A lesson's first cells, a
    # benchmark's settings check and its "no data" message import curiolib.data and curiolib.finetune;
    # transformers' Trainer helpers bring peft (seconds), which only training needs (curiolib.finetune.loop).
    # One process for the three checks: each start imports torch.
    code = ("import sys\nfrom curiolib.course.notebook import setup_notebook\nsetup_notebook(verbose=False)\n"
            "assert not {'transformers', 'datasets'} & set(sys.modules), 'setup_notebook imported them'\n"
            "import curiolib.data\nassert 'curiolib.finetune' not in sys.modules, 'curiolib.data'\n"
            "import datasets, transformers\n"
            "quiet = (transformers.logging.get_verbosity(), transformers.logging.is_progress_bar_enabled(),\n"
            "         datasets.logging.get_verbosity(), datasets.is_progress_bar_enabled())\n"
            "assert quiet == (40, False, 40, False), f'not quiet once imported: {quiet}'\n"
            "import curiolib.finetune\n"
            "print(sorted(m for m in ('peft', 'transformers.trainer_utils', 'transformers.trainer_pt_utils') "
            "if m in sys.modules))")
    # What setup_notebook sets is not already set for it.
    env = {name: value for name, value in os.environ.items() if name not in {
        "TRANSFORMERS_VERBOSITY", "DATASETS_VERBOSITY", "HF_DATASETS_DISABLE_PROGRESS_BARS",
        "HF_HUB_DISABLE_PROGRESS_BARS"}}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr[-2000:]


def test_setup_notebook_quiets_transformers_and_datasets_already_imported(monkeypatch) -> None:
    import logging
    import warnings

    import datasets
    import huggingface_hub
    import transformers

    from curiolib.course.notebook import quiet

    for name in ("TRANSFORMERS_VERBOSITY", "DATASETS_VERBOSITY", "HF_DATASETS_DISABLE_PROGRESS_BARS",
                 "HF_HUB_DISABLE_PROGRESS_BARS", "TOKENIZERS_PARALLELISM"):
        monkeypatch.delenv(name, raising=False)  # quiet sets them; monkeypatch puts them back as they were
    # What quiet changes in this process, put back afterwards: the worker's other tests keep their settings.
    loggers = {name: logging.getLogger(name).level
               for name in ("transformers", "datasets", "accelerate", "huggingface_hub", "torch.distributed")}
    verbosity = (transformers.logging.get_verbosity(), datasets.logging.get_verbosity())
    bars = (transformers.logging.is_progress_bar_enabled(), datasets.is_progress_bar_enabled(),
            not huggingface_hub.utils.are_progress_bars_disabled())
    transformers.logging.set_verbosity_info()
    datasets.logging.set_verbosity_info()
    transformers.logging.enable_progress_bar()
    datasets.enable_progress_bars()
    try:
        with warnings.catch_warnings():  # quiet's warning filters stay in here
            quiet()
        assert (transformers.logging.get_verbosity(), transformers.logging.is_progress_bar_enabled(),
                datasets.logging.get_verbosity(), datasets.is_progress_bar_enabled()) == (40, False, 40, False)
    finally:
        transformers.logging.set_verbosity(verbosity[0])
        datasets.logging.set_verbosity(verbosity[1])
        for enabled, on, off in zip(bars, (transformers.logging.enable_progress_bar, datasets.enable_progress_bars,
                                           huggingface_hub.utils.enable_progress_bars),
                                    (transformers.logging.disable_progress_bar, datasets.disable_progress_bars,
                                     huggingface_hub.utils.disable_progress_bars)):
            (on if enabled else off)()
        for name, level in loggers.items():
            logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize(("need", "said"), [("1e6", "need about 1e+06 GB under"), ("ample", "not 'ample'")])
@pytest.mark.parametrize("workers", [[], ["-n", "1", "--dist", "loadgroup"]], ids=["one process", "xdist"])
def test_a_run_with_slow_tests_is_refused_before_any_test_when_the_temporary_folder_is_too_small(
        need: str, said: str, workers: list[str], tmp_path: Path) -> None:
    # A full run writes gigabytes of checkpoints; without the check a full disk shows minutes in, as a lesson's
    # "No space left on device". test_sweep's slow test would pass here: only the check can stop it.
    # A developer's own PYTEST_ADDOPTS="-m 'not slow'" would deselect the slow test whose refusal is checked.
    # Under xdist (`make test`) the workers check, and the controller stops the run (tests/conftest.py).
    env = {**{k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}, "CURIOLIB_TEST_SCRATCH_GB": need}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *workers, "--basetemp",
                           str(tmp_path / "scratch"), str(PROJECT_ROOT / "tests" / "test_sweep.py")],
                          capture_output=True, text=True, env=env, cwd=PROJECT_ROOT)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-2000:] + done.stderr[-2000:]
    assert said in done.stdout + done.stderr and "passed" not in done.stdout


def test_the_code_uses_nothing_newer_than_the_python_it_claims() -> None:
    # vermin reads the standard library's and the syntax's versions, which ruff does not; it follows
    # `if sys.version_info >= ...` guards and `# novermin` comments on lines inside a guard it cannot see.
    claimed = Requirement(f"python{PYPROJECT['project']['requires-python']}").specifier
    target = min(f"3.{minor}" for minor in range(8, 20) if f"3.{minor}" in claimed)
    folders = [str(PROJECT_ROOT / name) for name in ("curiolib", "benchmarks", "scripts", "tests")]
    done = subprocess.run([sys.executable, "-c", "import sys; from vermin import main; sys.argv[0] = 'vermin'; "
                           "sys.exit(main())", f"--target={target}-", "--violations", "--no-tips", *folders],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Target versions not met" not in done.stdout, done.stdout + done.stderr


def _path_without_npm(folder: Path) -> str:
    """A PATH with make and a shell but no npm: a fresh teacher's laptop."""
    folder.mkdir()
    for tool in ("make", "bash", "sh", "env"):
        found = shutil.which(tool)
        assert found, f"{tool} is needed to run the Makefile"
        (folder / tool).symlink_to(found)
    return str(folder)


@pytest.mark.parametrize("ci", ["", "true"])
def test_make_test_without_npm_skips_the_decks_and_ci_refuses(tmp_path: Path, ci: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "MAKEFLAGS", "MAKELEVEL"}}
    env["PATH"] = _path_without_npm(tmp_path / "bin")
    if ci:
        env["CI"] = ci
    # `deck-assets` is the step of `make test` that needs npm; -C runs it on this checkout, which it does not change.
    done = subprocess.run(["make", "-s", "-C", str(PROJECT_ROOT), "deck-assets"], capture_output=True, text=True,
                          env=env, timeout=60)
    if ci:
        assert done.returncode != 0 and "npm is not installed, and CI=true" in done.stderr, done.stdout + done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert "npm not found: the static-deck tests will be skipped" in done.stdout
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert re.search(r"^test: lint deck-assets$", makefile, re.M), "make test must go through the npm check"


@pytest.mark.parametrize("path", COMMITTED, ids=[p.stem for p in COMMITTED])
def test_the_teachers_time_line_is_the_catalogs_measured_run(path: Path) -> None:
    # One source for a lesson's time: the catalog. `python scripts/measure_lessons.py --teacher-notes` writes it here.
    lesson = find_lesson(path.stem)
    nb = nbformat.read(path, as_version=4)
    notes = [cell.source for cell in nb.cells if cell.source.startswith("## For teachers")]
    assert len(notes) == 1
    times = [line for line in notes[0].splitlines() if line.startswith("- **Time.**")]
    assert times == [teacher_time_line(lesson)]
    assert lesson.timing is not None, f"{lesson.stem} has no measured run in catalog.TIMINGS"


def test_the_readmes_first_screen_is_for_a_teacher() -> None:
    # What a teacher reads before scrolling: what it is, the two commands with what they need and take, where
    # to start; the maintainers' material (suite timing, disk, version tables) lives in CONTRIBUTING.md.
    front = README[:README.index("## The lessons")]
    assert len(front.splitlines()) <= 32, len(front.splitlines())
    for needed in ("make run", "make test", "Python 3.10", "00_getting_started", "Colab", "GPU", "CONTRIBUTING.md"):
        assert needed in front, needed
    for maintainers in ("CPU seconds", "pytest", "SCRATCH_GB", "13.8 GB", ".venv-min"):
        assert maintainers not in front, maintainers
    # The time it states for `make run`'s lessons is the catalog's measured total, not a number typed twice.
    total = sum(lesson.timing.seconds for lesson in available_lessons() if lesson.timing)
    assert f"runs all nine lessons (about {round(total / 60)} min" in front
    assert len(available_lessons()) == 9


def test_the_readme_says_how_many_students_a_server_holds_from_the_catalog() -> None:
    from curiolib.classroom.catalog import class_capacity

    # The README wraps its lines; the sentence is the catalog's, not a number typed twice.
    assert class_capacity(64) in " ".join(README.split()), class_capacity(64)
    assert all(lesson.timing.peak_gb < 2.0 for lesson in available_lessons()), "the README says each fits 2 GB"
    with pytest.raises(ValueError, match="server_gb"):
        class_capacity(1.5)
