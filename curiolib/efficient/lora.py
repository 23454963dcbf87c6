"""LoRA through peft: each chosen weight W becomes W + (α/r)·B·A, with only A (r×in), B (out×r) and the head trained.

`add_lora` wraps a model from `models.load_model_for_task`; the training loop takes the wrapped model
unchanged. `merge_lora` folds B·A back into W for inference (no extra matrix products), and
`save_adapter`/`load_adapter` keep the adapter alone: a few MB instead of the whole model, tied to the base
model it was trained on by a fingerprint that `load_adapter` checks.
"""
from __future__ import annotations

import copy
import hashlib
import json
import warnings
from pathlib import Path

import torch

from .._validation import check_choice, check_int, check_number

#: BERT's attention projections, the LoRA paper's choice (W_q and W_v).
DEFAULT_TARGETS = ("query", "value")
#: Every Linear layer of a BERT encoder (and its pooler), as the LoRA paper's later practice and QLoRA do;
#: the classification head is trained in full either way.
ALL_LINEAR = ("query", "key", "value", "dense")
FINGERPRINT_FILE = "curiolib_base_model.json"


def _peft_task(task: str):
    from peft import TaskType

    from ..finetune.models import TASK_ALIASES, TASKS

    task = TASK_ALIASES.get(task, task)
    check_choice("task", task, list(TASKS) + list(TASK_ALIASES))
    return TaskType.SEQ_CLS if task == "sequence" else TaskType.TOKEN_CLS


def lora_config(task: str, *, r: int = 8, alpha: float = 16, dropout: float = 0.1,
                target_modules: tuple[str, ...] = DEFAULT_TARGETS):
    """A peft `LoraConfig` for sequence ("sentiment") or token ("ner") classification.

    The classification head stays fully trainable.
    """
    from peft import LoraConfig

    check_int("r", r, low=1)
    check_number("alpha", alpha, low=0, low_inclusive=False)
    check_number("dropout", dropout, low=0, high=1, high_inclusive=False)
    if not target_modules or not all(isinstance(name, str) and name for name in target_modules):
        raise ValueError("target_modules must name at least one module "
                         f"(e.g. {DEFAULT_TARGETS}), got {target_modules!r}")
    # The task type makes peft keep the new head ("classifier") fully trainable and saved.
    return LoraConfig(task_type=_peft_task(task), r=r, lora_alpha=alpha, lora_dropout=dropout,
                      target_modules=list(target_modules))


def _targeted_linears(model: torch.nn.Module, target_modules: tuple[str, ...]) -> list[torch.nn.Linear]:
    return [module for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and name.split(".")[-1] in target_modules]


def lora_parameter_count(model: torch.nn.Module, r: int, target_modules: tuple[str, ...] = DEFAULT_TARGETS,
                         head: str = "classifier") -> int:
    """The trainable parameters LoRA adds, by the formula: r·(in + out) per targeted matrix, plus the head."""
    check_int("r", r, low=1)
    linears = _targeted_linears(model, target_modules)
    if not linears:
        raise ValueError(f"no Linear layer of the model is named one of {target_modules}")
    head_size = sum(p.numel() for p in getattr(model, head).parameters())
    return sum(r * (layer.in_features + layer.out_features) for layer in linears) + head_size


def add_lora(model: torch.nn.Module, task: str, *, r: int = 8, alpha: float = 16, dropout: float = 0.1,
             target_modules: tuple[str, ...] = DEFAULT_TARGETS):
    """A copy of ``model`` wrapped with LoRA adapters (peft): base weights frozen, adapters and head train.

    ``model`` itself is left as it was (peft would otherwise insert the adapters into it in place).
    """
    from peft import get_peft_model

    if hasattr(model, "peft_config"):
        raise ValueError("this model already has LoRA adapters: add_lora wraps a plain model (load a fresh one, "
                         "or fold these adapters in first with merge_lora)")
    config = lora_config(task, r=r, alpha=alpha, dropout=dropout, target_modules=target_modules)
    if not _targeted_linears(model, target_modules):
        raise ValueError(f"no Linear layer of the model is named one of {target_modules}; BERT's are "
                         "'query', 'key', 'value' and 'dense'")
    fingerprint = base_fingerprint(model)  # of the pretrained weights, before training touches anything
    with warnings.catch_warnings():
        # peft reads transformers' deprecated `is_gradient_checkpointing`; the warning is theirs, not the user's.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        wrapped = get_peft_model(copy.deepcopy(model), config)
    wrapped.curiolib_base_fingerprint = fingerprint
    return wrapped


def freeze_encoder(model: torch.nn.Module, head: str = "classifier") -> torch.nn.Module:
    """Train the head only: every encoder weight frozen (the cheapest fine-tuning, and the weakest)."""
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name.startswith(head + ".")
    return model


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total): total is the pretrained model's size, the same with or without LoRA adapters."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    # peft adds lora_A/lora_B and a trainable copy of the head ("modules_to_save"); neither is the model's size.
    total = sum(p.numel() for name, p in model.named_parameters()
                if "lora_" not in name and "modules_to_save" not in name)
    return trainable, total


def merge_lora(model) -> torch.nn.Module:
    """A plain transformers model with B·A added into W: same outputs, no adapter overhead (the input is kept)."""
    return copy.deepcopy(model).merge_and_unload()


def base_fingerprint(model: torch.nn.Module) -> dict:
    """What identifies a base model: its architecture sizes and a hash of its word embeddings."""
    config = model.config
    embeddings = model.get_input_embeddings().weight.detach().float().cpu().numpy()
    return {"model_type": config.model_type, "hidden_size": config.hidden_size,
            "num_hidden_layers": config.num_hidden_layers, "vocab_size": config.vocab_size,
            "embeddings_sha256": hashlib.sha256(embeddings.tobytes()).hexdigest()[:16]}


def save_adapter(model, directory: str | Path) -> Path:
    """Save the adapter and head alone (peft's `save_pretrained`), with the base model's fingerprint."""
    directory = Path(directory)
    model.save_pretrained(directory)
    fingerprint = getattr(model, "curiolib_base_fingerprint", None) or base_fingerprint(model.get_base_model())
    (directory / FINGERPRINT_FILE).write_text(json.dumps(fingerprint, indent=2))
    return directory


def load_adapter(base_model: torch.nn.Module, directory: str | Path):
    """Put a saved adapter back on ``base_model``; a different base model raises ValueError saying which."""
    from peft import PeftModel

    directory = Path(directory)
    if not (directory / "adapter_config.json").exists():
        raise FileNotFoundError(f"{directory} holds no adapter (adapter_config.json); save one with save_adapter")
    saved = directory / FINGERPRINT_FILE
    if saved.exists():
        expected, found = json.loads(saved.read_text()), base_fingerprint(base_model)
        differ = [key for key in expected if expected[key] != found.get(key)]
        if differ:
            raise ValueError(f"the adapter in {directory} was trained on another base model: "
                             + ", ".join(f"{k} {expected[k]} (saved) vs {found.get(k)} (given)" for k in differ)
                             + ". Load it onto the base model it was trained from.")
    return PeftModel.from_pretrained(base_model, directory)


