"""Each lesson's "On a Colab GPU" settings, run here as far as an offline CPU allows.

The data sources those settings name (SST-2, CoNLL-2003) are read from a CURIOLIB_DATA folder, through the
same readers: a temporary one holding the first few hundred sentences of each of the real files, so that a
lesson's evaluations over the whole validation and test splits stay small. The hub model they name cannot be
downloaded here, so it is checked up to the offline boundary (known to the registry, refused with a clear
message) and the lesson runs on the embedded model instead, on tiny sizes.
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

from curiolib import load_model_for_task
from curiolib.classroom.catalog import available_lessons
from curiolib.finetune.models import MODELS

COLAB = [lesson for lesson in available_lessons() if lesson.colab]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
TASK = {"03_bert_sentiment": ("sequence", ["negative", "positive"]),
        "04_bert_ner": ("token", ["O", "B-PER", "I-PER"]),
        "06_efficient_fine_tuning": ("sequence", ["negative", "positive"])}


def _colab_settings_in_text(path: Path) -> dict:
    """The `name = value` settings the "On a Colab GPU" section's first sentence gives, for its parameters."""
    nb = nbformat.read(path, as_version=4)
    heading = "## On a Colab GPU\n\n"
    sections = [cell.source.split(heading, 1)[1] for cell in nb.cells
                if cell.cell_type == "markdown" and (cell.source.startswith(heading) or f"\n{heading}" in cell.source)]
    if not sections:
        return {}
    parameters = papermill.inspect_notebook(str(path))
    # The first sentence under the heading; alternatives and exercises follow it.
    settings = re.split(r"(?<=[.;:])\s", sections[0].split("\n\n")[0])[0]
    return {name: ast.literal_eval(value) for name, value in re.findall(r"`(\w+) = ([^`]+)`", settings)
            if name in parameters}


@pytest.mark.parametrize("lesson", available_lessons(), ids=lambda lesson: lesson.stem[:2])
def test_the_catalog_holds_what_each_colab_section_says(lesson) -> None:
    # One copy of the settings runs in the test below; it must be the one the students read.
    assert _colab_settings_in_text(lesson.path) == lesson.colab


@pytest.mark.parametrize("lesson", [lesson for lesson in COLAB if "model_name" in lesson.colab],
                         ids=lambda lesson: lesson.stem[:2])
def test_the_colab_model_is_known_and_refused_offline_with_a_way_out(lesson, monkeypatch, tmp_path) -> None:
    from huggingface_hub import constants

    name = lesson.colab["model_name"]
    assert name in MODELS and MODELS[name].source.startswith("google-bert/")
    assert MODELS[name].cased == (lesson.stem == "04_bert_ner")  # NER is the lesson that asks for capitals
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))  # an empty cache, even where BERT is cached
    task, labels = TASK[lesson.stem]
    with pytest.raises(OSError, match=f"{name}.*not in the local cache. Use model_name='minilm'"):
        load_model_for_task(name, task, labels)


def _small_data(data_dir: Path, folder: Path) -> Path:
    """A CURIOLIB_DATA folder with the first sentences of each SST-2 and CoNLL-2003 file, in their own format."""
    for name, lines in (("train.tsv", 301), ("validation.tsv", 151)):  # the header line, then sentences
        (folder / "sst2").mkdir(exist_ok=True)
        text = (data_dir / "sst2" / name).read_text().splitlines(keepends=True)
        (folder / "sst2" / name).write_text("".join(text[:lines]))
    (folder / "conll2003").mkdir()
    for split in ("train", "validation", "test"):
        sentences = (data_dir / "conll2003" / f"{split}.txt").read_text().split("\n\n")
        (folder / "conll2003" / f"{split}.txt").write_text("\n\n".join(sentences[:200]) + "\n")
    return folder


def _run(lesson, data: Path, out: Path) -> tuple[subprocess.CompletedProcess, Path]:
    parameters = lesson.colab | lesson.smoke | ({"model_name": "minilm"} if "model_name" in lesson.colab else {})
    command = [sys.executable, "-m", "curiolib", "run", lesson.stem, "--output-dir", str(out), "--no-progress"]
    for name, value in parameters.items():
        command += ["-p", name, repr(value)]
    return subprocess.run(command, capture_output=True, text=True, timeout=1800,
                          env={**os.environ, **ONE_THREAD, "CURIOLIB_DATA": str(data)}), out


@pytest.fixture(scope="session")
def small_data(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`_small_data`, once in each process (data_dir: skipped with a message where CURIOLIB_DATA is missing)."""
    return _small_data(data_dir, tmp_path_factory.mktemp("curiolib_data"))


@pytest.mark.slow
@pytest.mark.parametrize("lesson", [pytest.param(lesson, id=lesson.stem[:2],
                                                 marks=pytest.mark.xdist_group(f"colab-{lesson.stem}"))
                                    for lesson in COLAB])  # a group each: conftest starts the longest first
def test_the_lesson_runs_on_its_colab_data_source(lesson, small_data: Path, tmp_path: Path) -> None:
    done, out = _run(lesson, small_data, tmp_path)
    summary = json.loads((out / "summary.json").read_text())[lesson.stem]
    assert done.returncode == 0 and summary["ok"], summary["error"] or done.stderr[-3000:]
    assert summary["parameters"]["data_source"] == lesson.colab["data_source"]
    executed = nbformat.read(out / lesson.filename, as_version=4)
    printed = "".join(output.get("text", "") for cell in executed.cells if cell.cell_type == "code"
                      for output in cell.get("outputs", []))
    # The loader says where the data came from: the CURIOLIB_DATA folder, not the embedded sample.
    assert f"{lesson.colab['data_source']} from {small_data}" in printed
