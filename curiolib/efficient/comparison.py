"""Full fine-tuning, LoRA and a frozen encoder trained the same way, and served as float, int8 and ONNX.

One function per comparison, so lesson 06 and `benchmarks/efficient.py` measure exactly the same things.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from datasets import DatasetDict
from transformers import DataCollatorWithPadding

from .._files import claim_output_dir, remove_own
from .._validation import check_int
from ..data.tokenize import tokenize_sentences
from ..finetune.inference import classify
from ..finetune.loop import TrainingConfig, train
from ..finetune.memory import release_memory
from ..finetune.models import load_model_for_task
from ..tasks.sentiment import classification_metrics
from .lora import DEFAULT_TARGETS, add_lora, count_parameters, freeze_encoder, save_adapter
from .serving import OnnxClassifier, agreement, export_onnx, measure_latency, model_size_mb, quantize_int8

BYTES_PER_FLOAT = 4


@dataclass
class MethodResult:
    """One way of fine-tuning, trained on the shared split: its score, cost and what it saves to disk."""

    method: str
    rank: int | None
    validation_accuracy: float
    trainable_parameters: int
    total_parameters: int
    train_seconds: float
    train_examples_per_s: float
    saved_mb: float
    model: torch.nn.Module
    #: The loop's history (`TrainResult.history`): a row per logged step, with the validation scores at each
    #: evaluation, so a lesson can read how the accuracy and training loss moved epoch by epoch.
    history: pd.DataFrame | None = None
    learning_rate: float | None = None  # the rate it trained at (each method's usual one unless given)

    def row(self) -> dict:
        """The figures, without the model, for a table."""
        name = f"LoRA r={self.rank}" if self.method == "lora" else self.method
        return {"method": name, "validation accuracy": self.validation_accuracy,
                "trainable parameters": self.trainable_parameters,
                "trainable share": self.trainable_parameters / self.total_parameters,
                "train seconds": self.train_seconds, "train examples/s": self.train_examples_per_s,
                "saved MB": self.saved_mb}


def training_memory_mb(trainable: int, total: int) -> dict[str, float]:
    """Memory for weights, gradients and AdamW's two moment estimates, in MB of float32 (activations apart)."""
    return {"weights": total * BYTES_PER_FLOAT / 1e6, "gradients": trainable * BYTES_PER_FLOAT / 1e6,
            "AdamW moments": 2 * trainable * BYTES_PER_FLOAT / 1e6}


def measure_training_memory(model: torch.nn.Module, tokenizer, texts: list[str], labels: list[int], *,
                            max_length: int = 64) -> dict[str, float]:
    """MB held by one real AdamW step on these sentences, counted tensor by tensor (the model is not changed).

    Weights are every parameter the model stores (adapters included); activations are the tensors autograd
    saved for the backward pass, counted once per storage and apart from the weights.
    """
    import copy

    if not texts or len(texts) != len(labels):
        raise ValueError(f"texts and labels must be non-empty and of one length, got {len(texts)} and {len(labels)}")
    model = copy.deepcopy(model).train()
    batch = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    batch["labels"] = torch.as_tensor(labels)
    weights = {p.untyped_storage().data_ptr(): p.untyped_storage().nbytes() for p in model.parameters()}
    saved: dict[int, int] = {}

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in weights:  # a frozen weight saved for backward is no extra memory
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        loss = model(**batch).loss
    loss.backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    optimizer.step()
    moments = sum(value.nbytes for state in optimizer.state.values() for key, value in state.items()
                  if key in ("exp_avg", "exp_avg_sq"))
    gradients = sum(p.grad.nbytes for p in trainable if p.grad is not None)
    return {"weights": sum(weights.values()) / 1e6, "gradients": gradients / 1e6, "AdamW moments": moments / 1e6,
            "activations": sum(saved.values()) / 1e6}


@dataclass
class FineTuneSettings:
    """What every method of lesson 06 trains with: model, budget, loop knobs, where it writes.

    ``learning_rate`` None takes each method's usual rate: LoRA and a lone head learn from a
    small, fresh set of weights and want a larger step (1e-3) than full fine-tuning and
    distillation (1e-4). With ``resume`` training goes on from the method's last checkpoint in
    ``output_dir`` (saved every ``checkpoint_every`` steps); ``mixed_precision`` ("fp16",
    "bf16") goes to the loop, for a GPU, and so does ``max_tokens`` (a batch of more tokens
    trains in slices, the same gradient in less memory: `TrainingConfig`).
    """

    model_name: str = "minilm"
    epochs: int = 2
    batch_size: int = 32
    learning_rate: float | None = None
    max_length: int = 64
    seed: int = 0
    time_budget_s: float | None = None
    max_steps: int | None = None
    output_dir: str | Path = "checkpoints/efficient"
    show_progress: bool = True
    resume: bool = False
    checkpoint_every: int | None = None
    mixed_precision: str = "no"
    max_tokens: int | None = None


def fine_tune_full(data: DatasetDict, settings: FineTuneSettings | None = None) -> MethodResult:
    """Full fine-tuning: every weight of the pretrained model and its new head trained."""
    settings = settings or FineTuneSettings()
    tokenizer, model = _pretrained(data, settings)
    return _train_and_measure("full", "full", model, tokenizer, data, settings)


def fine_tune_lora(data: DatasetDict, settings: FineTuneSettings | None = None, *, rank: int = 8,
                   targets: tuple[str, ...] = DEFAULT_TARGETS, scale: float | None = None) -> MethodResult:
    """LoRA: the pretrained weights frozen, rank-``rank`` adapters on the ``targets`` layers (scale α = 2·rank)."""
    check_int("rank", rank, low=1)
    settings = settings or FineTuneSettings()
    tokenizer, model = _pretrained(data, settings, name=f"lora_r{rank}")
    model = add_lora(model, "sequence", r=rank, alpha=scale or 2 * rank, target_modules=tuple(targets))
    return _train_and_measure("lora", f"lora_r{rank}", model, tokenizer, data, settings, rank=rank)


def fine_tune_head(data: DatasetDict, settings: FineTuneSettings | None = None) -> MethodResult:
    """The head alone (a linear probe): the encoder frozen, only the new classification head trained."""
    settings = settings or FineTuneSettings()
    tokenizer, model = _pretrained(data, settings, name="frozen_encoder")
    return _train_and_measure("frozen encoder", "frozen_encoder", freeze_encoder(model), tokenizer, data, settings)


def fine_tune_distilled(data: DatasetDict, teacher: torch.nn.Module, settings: FineTuneSettings | None = None, *,
                        layers: list[int] | None = None, temperature: float = 2.0,
                        alpha: float = 0.5) -> MethodResult:
    """Distillation: a student cut from the fine-tuned ``teacher`` (its ``layers``, default every other one)
    learns from the teacher's soft targets at ``temperature`` and the labels, weighted ``alpha`` (`distill`)."""
    from ..finetune.models import load_tokenizer
    from .distill import distillation_objective, student_from_teacher

    settings = settings or FineTuneSettings()
    _claim(settings, "distilled")
    student = student_from_teacher(teacher, layers)
    loss = distillation_objective(teacher, temperature=temperature, alpha=alpha)
    return _train_and_measure("distilled", "distilled", student, load_tokenizer(settings.model_name), data, settings,
                              compute_loss=loss)


#: Each method of `METHODS` and the function that trains it (`benchmarks/efficient.py` runs them by name).
FINE_TUNERS = {"full": fine_tune_full, "lora": fine_tune_lora, "frozen encoder": fine_tune_head,
               "distilled": fine_tune_distilled}
METHODS = tuple(FINE_TUNERS)



def _claim(settings: FineTuneSettings, name: str) -> Path:
    folder = Path(settings.output_dir) / name
    claim_output_dir(folder)  # before any work: a folder of someone else's is refused, not cleared
    if not settings.resume:
        remove_own(folder, ["run", "model", "adapter"])
    return folder


def _pretrained(data: DatasetDict, settings: FineTuneSettings, name: str = "full"):
    _claim(settings, name)
    return load_model_for_task(settings.model_name, "sequence", data["train"].features["label"].names,
                               seed=settings.seed)


def _train_and_measure(method: str, name: str, model: torch.nn.Module, tokenizer, data: DatasetDict,
                       settings: FineTuneSettings, *, rank: int | None = None, compute_loss=None) -> MethodResult:
    """The shared part: tokenize, train with the loop, save (an adapter for LoRA), and report what it cost."""
    folder = Path(settings.output_dir) / name
    learning_rate = settings.learning_rate or (1e-4 if method in ("full", "distilled") else 1e-3)
    config = TrainingConfig(output_dir=str(folder / "run"), epochs=settings.epochs, batch_size=settings.batch_size,
                            learning_rate=learning_rate, warmup_ratio=0.06, seed=settings.seed,
                            time_budget_s=settings.time_budget_s, max_steps=settings.max_steps,
                            show_progress=settings.show_progress, checkpoint_every=settings.checkpoint_every,
                            mixed_precision=settings.mixed_precision, max_tokens=settings.max_tokens)
    trainable, total = count_parameters(model)
    train_set = tokenize_sentences(data["train"], tokenizer, max_length=settings.max_length)
    validation_set = tokenize_sentences(data["validation"], tokenizer, max_length=settings.max_length)
    result = train(model, train_set, validation_set, collator=DataCollatorWithPadding(tokenizer),
                   compute_metrics=classification_metrics, config=config, resume=settings.resume,
                   compute_loss=compute_loss)
    if method == "lora":
        saved = model_size_mb(save_adapter(model, folder / "adapter"))
    else:
        model.save_pretrained(folder / "model")
        tokenizer.save_pretrained(folder / "model")  # a saved model must load on its own
        saved = model_size_mb(folder / "model")
    return MethodResult(method, rank, result.final_metrics["accuracy"], trainable, total, result.train_seconds,
                        result.train_examples_per_s, saved, model, result.history, learning_rate)


def compare_serving(model: torch.nn.Module, tokenizer, texts: list[str], labels: list[int], *,
                    work_dir: str | Path = "checkpoints/efficient/serving", timed: int = 100,
                    keep_float: tuple[str, ...] = (), others: dict[str, torch.nn.Module] | None = None) -> pd.DataFrame:
    """Float, int8 and ONNX versions of one classifier (and ``others``, e.g. a distilled student), side by side.

    Every version classifies all ``texts`` in the same length-sorted batches of 64 (throughput), and the first
    ``timed`` one at a time (p50/p95 latency). Accuracy is paired with the float model's on the same texts:
    the change in points with its 95 % interval (`paired_accuracy_test`). ``keep_float`` goes to `quantize_onnx`.
    """
    from ..tasks.sentiment import paired_accuracy_test
    from .serving import quantize_onnx

    model = model.to("cpu").eval()
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    # The work dir is this comparison's own (claimed: another's is refused), so a rerun replaces both files.
    work_dir = claim_output_dir(work_dir, parameter="work_dir")
    onnx_path = export_onnx(model, tokenizer, work_dir / "model.onnx", overwrite=True)
    int8_path = quantize_onnx(onnx_path, work_dir / "model.int8.onnx", keep_float=keep_float, overwrite=True)
    threads = torch.get_num_threads()
    versions = {"float32 (PyTorch)": (model, model_size_mb(model)),
                "int8 dynamic (PyTorch)": (quantize_int8(model), None),
                "ONNX (onnxruntime)": (OnnxClassifier(onnx_path, model.config.id2label, threads=threads),
                                       model_size_mb(onnx_path)),
                "ONNX int8 per channel (onnxruntime)": (OnnxClassifier(int8_path, model.config.id2label,
                                                                       threads=threads), model_size_mb(int8_path))}
    versions |= {name: (other.to("cpu").eval(), model_size_mb(other)) for name, other in (others or {}).items()}
    rows, reference, reference_correct = [], None, None
    for name, (predictor, size) in versions.items():
        predicted = [p.label for p in classify(texts, predictor, tokenizer, batch_size=64)]
        correct = np.array([names.index(p) == y for p, y in zip(predicted, labels)])
        if reference is None:  # the float model, first: what every version is compared with
            reference, reference_correct = predicted, correct
        timing = measure_latency(lambda text, p=predictor: classify(text, p, tokenizer),
                                 lambda batch, p=predictor: classify(batch, p, tokenizer, batch_size=64),
                                 texts[:timed], batched=texts)
        paired = paired_accuracy_test(correct, reference_correct)
        rows.append({"version": name, "p50 ms": timing.p50_ms, "p95 ms": timing.p95_ms,
                     "sentences/s": timing.sentences_per_s,
                     "size MB": size if size is not None else model_size_mb(predictor),
                     "accuracy": float(correct.mean()), "agreement with float": agreement(reference, predicted),
                     "change vs float (points)": 100 * paired.difference, "change low": 100 * paired.low,
                     "change high": 100 * paired.high})
    del versions, predictor  # the int8 copy and the ONNX sessions: their memory goes back before the table does
    release_memory()
    return pd.DataFrame(rows).set_index("version")
