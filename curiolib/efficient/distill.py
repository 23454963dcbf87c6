"""Distillation: a shallower student copied from a fine-tuned teacher, then trained on the teacher's soft targets.

The student starts as the teacher with some encoder layers dropped (`student_from_teacher`: every other
layer by default, as DistilBERT was initialised), so it begins close to the teacher instead of from
scratch. It then learns from a mix of the gold labels and the teacher's probabilities softened by a
temperature T (Hinton et al. 2015): ``α·CE(labels) + (1−α)·T²·KL(teacher_T ‖ student_T)``. The T² keeps the
soft term's gradient on the same scale whatever T is. `distillation_objective` hands that loss to
`curiolib.train` as ``compute_loss``, so distillation runs through the same loop, checkpoints and resume as
fine-tuning.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from .._validation import check_number


def _encoder_layers(model: torch.nn.Module) -> torch.nn.ModuleList:
    base = getattr(model, model.base_model_prefix, model)
    layers = getattr(getattr(base, "encoder", None), "layer", None)
    if not isinstance(layers, torch.nn.ModuleList):
        raise ValueError(f"{type(model).__name__} has no encoder.layer list to take layers from (BERT-like "
                         "models have one)")
    return layers


def student_from_teacher(teacher: torch.nn.Module, layers: Sequence[int] | None = None) -> torch.nn.Module:
    """A copy of ``teacher`` keeping only encoder ``layers`` (default: every other one, 0, 2, 4 of six)."""
    total = len(_encoder_layers(teacher))
    layers = list(range(0, total, 2)) if layers is None else [int(i) for i in layers]
    if not layers or sorted(set(layers)) != layers or layers[0] < 0 or layers[-1] >= total:
        raise ValueError(f"layers must be distinct increasing indices into the teacher's {total} layers "
                         f"(0 to {total - 1}), got {layers}")
    student = copy.deepcopy(teacher).requires_grad_(True)  # all of it trains, even if parts of the teacher were frozen
    kept = _encoder_layers(student)
    student_base = getattr(student, student.base_model_prefix, student)
    student_base.encoder.layer = torch.nn.ModuleList(kept[i] for i in layers)
    student.config.num_hidden_layers = len(layers)
    student.config.distilled_from_layers = layers  # saved in config.json: where each layer came from
    return student


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                      labels: torch.Tensor, *, temperature: float = 2.0,
                      alpha: float = 0.5) -> torch.Tensor:
    """The blend ``alpha`` × CE(labels) + (1 − ``alpha``) × T² × KL(teacher ‖ student)."""
    hard = F.cross_entropy(student_logits, labels)
    soft = F.kl_div(F.log_softmax(student_logits / temperature, dim=-1),
                    F.log_softmax(teacher_logits / temperature, dim=-1),
                    reduction="batchmean", log_target=True)
    return alpha * hard + (1 - alpha) * temperature ** 2 * soft


def distillation_objective(teacher: torch.nn.Module, *, temperature: float = 2.0,
                           alpha: float = 0.5) -> Callable[[torch.nn.Module, dict], torch.Tensor]:
    """A ``compute_loss(student, batch)`` for `curiolib.train`: `distillation_loss` against the teacher.

    The teacher is put in eval mode (no dropout: its targets are the same each time a sentence comes back)
    and only ever run under ``torch.no_grad``, so training the student never changes it.
    """
    check_number("temperature", temperature, low=0, low_inclusive=False)
    check_number("alpha", alpha, low=0, high=1)
    teacher.eval()

    def compute_loss(student: torch.nn.Module, batch: dict) -> torch.Tensor:
        inputs = {name: value for name, value in batch.items() if name != "labels"}
        with torch.no_grad():
            teacher_logits = teacher.to(batch["labels"].device)(**inputs).logits
        return distillation_loss(student(**inputs).logits, teacher_logits, batch["labels"],
                                 temperature=temperature, alpha=alpha)

    return compute_loss
