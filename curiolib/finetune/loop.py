"""One readable fine-tuning loop on top of accelerate, shared by sentiment (sequence) and NER (token) tasks.

Read `train` top to bottom: data → optimizer and schedule → (resume) → epochs of `training_step`
(accumulate, clip, step), then evaluate, checkpoint, stop early. `LoopState` is everything a resume needs;
`Checkpoints` writes and reads it. The task-specific parts (collator, metrics) come in as arguments.

On a GPU (Colab: Runtime → Change runtime type → GPU) the same code runs on CUDA with no change; add
``mixed_precision="fp16"`` for speed. Several processes: ``accelerate launch --num_processes N script.py``.
"""
from __future__ import annotations

import contextlib
import errno
import inspect
import json
import math
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from accelerate import Accelerator
from datasets import Dataset
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_model, save_model
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .._files import claim_output_dir, previous_folder, replace_folder
from .._validation import check_choice, check_int, check_number
from .memory import release_memory, return_freed_memory

Metrics = Callable[[np.ndarray, np.ndarray], dict[str, float]]
LossFunction = Callable[[torch.nn.Module, dict], torch.Tensor]
STATE_FILE = "trainer_state.json"
# The other files of a checkpoint: accelerate's model and optimizer, and this loop's own, none of them a pickle.
MODEL_FILE, OPTIMIZER_FILE, SCALER_FILE = "model.safetensors", "optimizer.bin", "scaler.pt"
SCHEDULER_FILE, AVERAGE_FILE = "scheduler.json", "average.safetensors"
_LOAD_KWARGS = "load_kwargs" in inspect.signature(Accelerator.load_state).parameters  # new in 2025 (PR 3540)


@dataclass
class TrainingConfig:
    """Every knob of the loop; invalid values raise ValueError when the config is made, before any work."""

    output_dir: str = "checkpoints/run"
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1  # share of all optimizer steps spent warming up, in [0, 1]
    grad_accum_steps: int = 1
    # The most tokens (rows × padded length) one forward pass takes; a longer batch goes through in parts, its
    # gradient the same (`split_batch`). None: the whole batch at once. Bounds memory on a small server.
    max_tokens: int | None = None
    max_grad_norm: float | None = 1.0
    eval_every: int | str = "epoch"  # "epoch": after each epoch; "end": once, after training; N: every N steps
    eval_batch_size: int = 128
    checkpoint_every: int | None = None  # optimizer steps between checkpoints; None: at each evaluation
    metric_for_best: str = "accuracy"
    greater_is_better: bool = True
    patience: int | None = None  # evaluations without improvement before stopping; None: never stop early
    load_best_at_end: bool = True
    # Finish with the uniform mean of the weights at every evaluation (checkpoint averaging): a final model
    # that no validation score chose (on SST-2 it scored like the last step's weights: benchmarks/README.md).
    average_checkpoints: bool = False
    save_checkpoints: bool = True  # False: nothing on disk, for callers that keep their own state (and no resume)
    seed: int = 0
    mixed_precision: str = "no"
    group_by_length: bool = True
    max_steps: int | None = None  # cap on optimizer steps; the schedule is sized to it
    time_budget_s: float | None = None  # stop (and checkpoint) once training has run this long
    log_every: int = 10
    show_progress: bool = True

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs, low=1)
        check_int("batch_size", self.batch_size, low=1)
        check_number("learning_rate", self.learning_rate, low=0, low_inclusive=False)
        check_number("weight_decay", self.weight_decay, low=0)
        check_number("warmup_ratio", self.warmup_ratio, low=0, high=1)
        check_int("grad_accum_steps", self.grad_accum_steps, low=1)
        if self.max_tokens is not None:
            check_int("max_tokens", self.max_tokens, low=1)
        if self.max_grad_norm is not None:
            check_number("max_grad_norm", self.max_grad_norm, low=0, low_inclusive=False)
        if isinstance(self.eval_every, str):
            check_choice("eval_every", self.eval_every, ["epoch", "end"])
        else:
            check_int("eval_every", self.eval_every, low=1)
        for name in ("checkpoint_every", "patience", "max_steps"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), low=1)
        check_int("eval_batch_size", self.eval_batch_size, low=1)
        check_int("seed", self.seed, low=0)
        check_int("log_every", self.log_every, low=1)
        check_choice("mixed_precision", self.mixed_precision, ["no", "fp16", "bf16"])
        if self.load_best_at_end and not self.save_checkpoints:
            raise ValueError("load_best_at_end=True needs save_checkpoints=True (the best weights are read from disk)")
        if self.load_best_at_end and self.average_checkpoints:
            raise ValueError("average_checkpoints=True needs load_best_at_end=False: the run ends with one of the two")
        if self.time_budget_s is not None:
            check_number("time_budget_s", self.time_budget_s, low=0, low_inclusive=False)


@dataclass
class TrainResult:
    """What a run produced: its history table, best and final scores, speed, and where its checkpoints are."""

    history: pd.DataFrame
    final_metrics: dict[str, float]
    best_metric: float | None
    best_step: int | None
    steps: int
    train_examples_per_s: float
    train_seconds: float
    stopped_early: bool
    checkpoint_dir: Path
    config: dict = field(default_factory=dict)


def _parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    from transformers.trainer_pt_utils import get_parameter_names  # when training starts (see train)

    # Weight decay pulls weights towards 0: right for matrices, wrong for biases and LayerNorm scales.
    decayed = {name for name in get_parameter_names(model, [torch.nn.LayerNorm]) if "bias" not in name}
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    return [{"params": [p for n, p in named if n in decayed], "weight_decay": weight_decay},
            {"params": [p for n, p in named if n not in decayed], "weight_decay": 0.0}]


def _train_loader(dataset: Dataset, collator, config: TrainingConfig, generator: torch.Generator) -> DataLoader:
    if config.group_by_length:
        from transformers.trainer_pt_utils import LengthGroupedSampler  # when training starts (see train)

        # Similar lengths share a batch, so dynamic padding adds few [PAD] tokens; order stays random.
        lengths = [len(ids) for ids in dataset["input_ids"]]
        sampler = LengthGroupedSampler(config.batch_size, lengths=lengths, generator=generator)
    else:
        sampler = torch.utils.data.RandomSampler(dataset, generator=generator)
    # The loader's own generator keeps it from drawing on the global RNG (which resume restores exactly).
    return DataLoader(dataset, batch_size=config.batch_size, sampler=sampler, collate_fn=collator,
                      generator=torch.Generator().manual_seed(config.seed))


def _pad_and_concatenate(parts: list[np.ndarray], fill: float) -> np.ndarray:
    if parts[0].ndim == 1:
        return np.concatenate(parts)
    width = max(part.shape[1] for part in parts)  # token tasks: batches differ in length
    padded = [np.pad(p, [(0, 0), (0, width - p.shape[1])] + [(0, 0)] * (p.ndim - 2), constant_values=fill)
              for p in parts]
    return np.concatenate(padded)


@torch.no_grad()
def predict(model: torch.nn.Module, dataset: Dataset, collator, *, batch_size: int = 128,
            accelerator: Accelerator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels for a tokenized dataset (token tasks padded to one length, labels with −100)."""
    accelerator = accelerator or Accelerator(cpu=not torch.cuda.is_available())
    loader = accelerator.prepare(DataLoader(dataset, batch_size=batch_size, collate_fn=collator))
    model.eval()
    all_logits, all_labels = [], []
    for batch in loader:
        logits = model(**batch).logits
        labels = batch["labels"]
        if logits.ndim == 3:  # other processes may have padded to another length
            logits = accelerator.pad_across_processes(logits, dim=1)
            labels = accelerator.pad_across_processes(labels, dim=1, pad_index=-100)
        logits, labels = accelerator.gather_for_metrics((logits, labels))
        all_logits.append(logits.float().cpu().numpy())
        all_labels.append(labels.cpu().numpy())
    return _pad_and_concatenate(all_logits, 0.0), _pad_and_concatenate(all_labels, -100)


def evaluate(model: torch.nn.Module, dataset: Dataset, collator, compute_metrics: Metrics, *,
             batch_size: int = 128, accelerator: Accelerator | None = None) -> dict[str, float]:
    """The metrics of ``compute_metrics`` on a tokenized dataset."""
    logits, labels = predict(model, dataset, collator, batch_size=batch_size, accelerator=accelerator)
    return compute_metrics(logits, labels)


@dataclass
class LoopState:
    """Where a run is (step, epoch, batches into the epoch) and what it has seen: all a resume needs to go on."""

    step: int = 0
    epoch: int = 0
    batches_done: int = 0
    history: list[dict] = field(default_factory=list)
    best_metric: float | None = None
    best_step: int | None = None
    evals_without_improvement: int = 0
    train_seconds: float = 0.0
    examples_seen: int = 0
    recent_losses: list[float] = field(default_factory=list)  # the logged running loss resumes too

    def running_loss(self) -> float:
        """The mean loss of the last ``log_every`` optimizer steps' micro-batches."""
        return float(np.mean(self.recent_losses))

    def out_of_time(self, config: TrainingConfig) -> bool:
        """True once training has run for ``config.time_budget_s`` seconds."""
        return config.time_budget_s is not None and self.train_seconds >= config.time_budget_s

    def patience_spent(self, config: TrainingConfig) -> bool:
        """True once ``config.patience`` evaluations in a row have not improved on the best."""
        return config.patience is not None and self.evals_without_improvement >= config.patience

    def log_evaluation(self, metrics: dict[str, float], row: dict, config: TrainingConfig) -> bool:
        """Add an evaluation row; True when it is the best score so far."""
        self.history.append(row | {f"eval_{name}": value for name, value in metrics.items()})
        value, best = metrics[config.metric_for_best], self.best_metric
        if best is None or (value > best if config.greater_is_better else value < best):
            self.best_metric, self.best_step, self.evals_without_improvement = value, self.step, 0
            return True
        self.evals_without_improvement += 1
        return False


def _said(value: object) -> str:
    return "not set" if value is None else str(value)


def _rng_file(process: int) -> str:
    return f"rng_state_{process}.json"


def _rng_state(accelerator: Accelerator) -> dict:
    """Every random state this process draws on, as JSON data: accelerate's own file of them is a pickle."""
    numpy_state = np.random.get_state()
    state = {"python": random.getstate(), "numpy": [numpy_state[0], numpy_state[1].tolist(), *numpy_state[2:]],
             "torch": torch.get_rng_state().tolist(), "accelerator_step": accelerator.step}
    if torch.cuda.is_available():
        state["cuda"] = [device.tolist() for device in torch.cuda.get_rng_state_all()]
    return state


def _set_rng_state(state: dict, accelerator: Accelerator) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    if torch.cuda.is_available() and "cuda" in state:
        torch.cuda.set_rng_state_all([torch.tensor(device, dtype=torch.uint8) for device in state["cuda"]])
    accelerator.step = int(state["accelerator_step"])  # where it is in accumulating micro-batches


def _write_failure(exc: Exception) -> tuple[int | None, str] | None:
    """(errno, what happened) when ``exc`` is a failed write (a full disk above all); None for any other error."""
    said = (str(exc).splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, OSError):
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        return exc.errno, "the disk is full" if full else exc.strerror or said
    if isinstance(exc, SafetensorError) and "I/O error" in said:
        return (errno.ENOSPC, "the disk is full") if "os error 28" in said else (None, said)
    # torch's zip writer says only where it stopped ("unexpected pos"), never why: a full disk, nearly always.
    if isinstance(exc, RuntimeError) and any(mark in said for mark in ("inline_container", "PytorchStreamWriter")):
        return errno.ENOSPC, f"the disk is full or failing (torch: {said})"
    return None


class Checkpoints:
    """``last/`` (model, optimizer, schedule, RNG and loop state, and the running mean of the weights when
    averaging, for resuming) and ``best/`` (a loadable model).

    ``fingerprint`` (data size, batch and accumulation, epochs) is saved with ``last/``: resuming a run with
    other data or other batches would silently train on a different order, so it is refused.

    What resume reads, since a checkpoint may come from a stranger: the weights (and the running mean) as
    safetensors, the optimizer's state with ``torch.load(weights_only=True)`` (tensors and plain data only), the
    schedule, RNG and loop state as JSON. A folder holding any ``.pkl`` is refused unread: accelerate unpickles
    the objects registered with it with ``weights_only=False``, so this loop registers none and writes no pickle.
    """

    def __init__(self, accelerator: Accelerator, config: TrainingConfig, tokenizer=None,
                 fingerprint: dict | None = None, scheduler=None, average: AveragedModel | None = None) -> None:
        self.accelerator, self.enabled, self.tokenizer = accelerator, config.save_checkpoints, tokenizer
        self.last, self.best = Path(config.output_dir) / "last", Path(config.output_dir) / "best"
        self.previous = previous_folder(self.last)  # last.previous, kept while the new last/ moves into place
        self.fingerprint = fingerprint or {}
        # Saved as plain data by this class, not registered with accelerate (which pickles them).
        self.scheduler, self.average = scheduler, average

    def resume(self) -> LoopState:
        """The saved state, with model, optimizer, schedule and every RNG restored; a new state if none is saved."""
        folder = next((f for f in (self.last, self.previous) if f.is_dir()), None)
        if folder is None:
            self.accelerator.print(f"resume: no checkpoint in {self.last}: training from the beginning")
            return LoopState()
        if not (folder / STATE_FILE).is_file():
            raise _damaged(folder, STATE_FILE, "missing")
        try:
            saved = json.loads((folder / STATE_FILE).read_text())
            fingerprint = saved.pop("fingerprint", self.fingerprint)
            state = LoopState(**saved)
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError, AttributeError) as exc:
            raise _damaged(folder, STATE_FILE, str(exc)) from None
        pairs = {k: (fingerprint.get(k), self.fingerprint.get(k)) for k in self.fingerprint.keys() | fingerprint.keys()}
        changed = {k: (old, new) for k, (old, new) in sorted(pairs.items()) if old != new}
        if changed:
            listed = ", ".join(f"{k} {_said(old)} then, {_said(new)} now" for k, (old, new) in changed.items())
            raise ValueError(f"resume: {folder} was saved by a run with other settings ({listed}); resume with "
                             "the same data and batches, or train with resume=False")
        own = self._check_files(folder)
        # The optimizer's state is tensors and plain data; _check_files has read it so, whatever accelerate's version.
        safely = {"load_kwargs": {"weights_only": True}} if _LOAD_KWARGS else {}
        try:
            self.accelerator.load_state(str(folder), **safely)
        except Exception as exc:  # whatever a file that does not fit the model or optimizer makes accelerate raise
            raise _damaged(folder, None, _first_line(exc)) from None
        for name, restore in ((SCHEDULER_FILE, lambda saved: self.scheduler.load_state_dict(saved)),
                              (AVERAGE_FILE, lambda path: load_model(self.average, path)),
                              (_rng_file(self.accelerator.process_index),
                               lambda saved: _set_rng_state(saved, self.accelerator))):
            if name in own:
                try:
                    restore(own[name])
                except Exception as exc:  # a JSON file may hold anything
                    raise _damaged(folder, name, _first_line(exc)) from None
        self.accelerator.print(f"resumed from {folder} at step {state.step}")
        return state

    def _check_files(self, folder: Path) -> dict:
        """Refuse pickles and missing or truncated files before anything is loaded; this loop's own states, read."""
        pickles = sorted(path.name for path in folder.glob("*.pkl"))
        if pickles:
            raise ValueError(f"resume: {folder} holds {', '.join(pickles)}: pickles resume never loads, since "
                             "loading one can run any code (checkpoints saved by earlier versions of curiolib hold "
                             "them, and so may a folder someone hands you); train with resume=False or another "
                             "output_dir")
        names = [MODEL_FILE, OPTIMIZER_FILE, _rng_file(self.accelerator.process_index)]
        names += [SCHEDULER_FILE] * (self.scheduler is not None) + [AVERAGE_FILE] * (self.average is not None)
        names += [SCALER_FILE] * (self.accelerator.scaler is not None)
        own = {}
        for name in names:
            path = folder / name
            if not path.is_file():
                raise _damaged(folder, name, "missing")
            try:
                if name.endswith(".safetensors"):
                    with safe_open(str(path), "pt"):  # reads the header, which must cover the whole file
                        pass
                    own[name] = str(path)
                elif name.endswith(".json"):
                    own[name] = json.loads(path.read_text())
                    if name == SCHEDULER_FILE and set(own[name]) != set(self.scheduler.state_dict()):
                        raise ValueError("it is not this schedule's state")
                else:
                    # Unpickled as accelerate will, but never with weights_only=False (which runs a stranger's
                    # code); mmap: the tensors are not read.
                    torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            except Exception as exc:  # torch.load, safetensors and JSON each fail in many ways
                raise _damaged(folder, name, _first_line(exc)) from None
        return own

    def _saved_step(self) -> int | None:
        try:
            return int(json.loads((self.last / STATE_FILE).read_text())["step"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _write_error(self, what: str, folder: Path, exc: Exception) -> Exception:
        """One line for a failed write: where, why, and that resume goes on from the last whole checkpoint."""
        failure = _write_failure(exc)
        if failure is None:
            return exc
        code, reason = failure
        step = self._saved_step()
        then = (f"train(..., resume=True) continues from the checkpoint of step {step} in {self.last}, which is "
                "kept whole" if step is not None else "train again: no checkpoint was saved before this one")
        fix = "free some space on that disk" if code in (errno.ENOSPC, errno.EDQUOT) else "fix that"
        message = f"saving {what} to {folder} failed: {reason}; {fix}, then {then}"
        return OSError(code, message) if code is not None else OSError(message)

    def save_last(self, state: LoopState) -> None:
        """Write to a temporary folder, then swap: an interruption at any point leaves a whole checkpoint."""
        if not self.enabled:
            return
        partial = self.last.with_name(self.last.name + ".partial")
        main = self.accelerator.is_main_process
        try:
            self._write_last(partial, state)
        except Exception as exc:  # a failed write becomes one line; any other error goes on as it was
            if main:
                shutil.rmtree(partial, ignore_errors=True)  # its half-written files would only fill the disk more
            error = self._write_error("the checkpoint", partial, exc)
            if error is exc:
                raise
            raise error from None
        self.accelerator.wait_for_everyone()

    def _write_last(self, partial: Path, state: LoopState) -> None:
        accelerator, main = self.accelerator, self.accelerator.is_main_process
        if main:
            shutil.rmtree(partial, ignore_errors=True)  # what an interrupted save left
        accelerator.wait_for_everyone()
        process = accelerator.process_index
        random_states = _rng_state(accelerator)
        accelerator.save_state(str(partial))
        # accelerate's RNG pickle goes: resume refuses any pickle, and restores these from JSON instead.
        (partial / f"random_states_{process}.pkl").unlink(missing_ok=True)
        (partial / _rng_file(process)).write_text(json.dumps(random_states))
        if main and self.scheduler is not None:
            (partial / SCHEDULER_FILE).write_text(json.dumps(self.scheduler.state_dict()))
        if main and self.average is not None:
            save_model(self.average, str(partial / AVERAGE_FILE))
        accelerator.wait_for_everyone()  # every process's files are in before the folder is declared whole
        if main:
            # The state file last: a folder holding it is complete.
            (partial / STATE_FILE).write_text(json.dumps(asdict(state) | {"fingerprint": self.fingerprint}))
            replace_folder(partial, self.last, keep_previous=True)  # the old one stays readable as last.previous

    def save_best(self, model: torch.nn.Module) -> None:
        """The best model so far, with its tokenizer beside it so the folder loads on its own."""
        if not self.enabled:
            return
        main = self.accelerator.is_main_process
        partial = self.best.with_name(self.best.name + ".partial")
        try:
            if main:
                shutil.rmtree(partial, ignore_errors=True)
            self.accelerator.wait_for_everyone()
            # Written aside and swapped in, as last/ is: a failed save keeps the previous best whole.
            self.accelerator.unwrap_model(model).save_pretrained(partial, is_main_process=main)
            if self.tokenizer is not None and main:
                self.tokenizer.save_pretrained(partial)
            self.accelerator.wait_for_everyone()  # save_pretrained touches the folder on every process
            if main:
                replace_folder(partial, self.best, keep_previous=True)  # best.previous until the new one is in
        except Exception as exc:
            if main:
                shutil.rmtree(partial, ignore_errors=True)
            error = self._write_error("the best model", partial, exc)
            if error is exc:
                raise
            raise error from None
        self.accelerator.wait_for_everyone()

    def restore_best(self, model: torch.nn.Module) -> None:
        """Load the best weights back into ``model``."""
        model = self.accelerator.unwrap_model(model)
        previous = previous_folder(self.best)  # best.previous, only while a new best/ moves into place
        best = previous if not self.best.is_dir() and previous.is_dir() else self.best
        if hasattr(model, "peft_config"):  # a peft model's folder holds only its adapter and head
            from peft.utils import set_peft_model_state_dict
            from safetensors.torch import load_file

            set_peft_model_state_dict(model, load_file(best / "adapter_model.safetensors"))
            return
        model.load_state_dict(type(model).from_pretrained(best).state_dict())


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def _damaged(folder: Path, name: str | None, reason: str) -> ValueError:
    """The one error for a checkpoint file that is missing or cannot be read (``name`` None: which one, unknown)."""
    if name is None:
        what = f"the model or optimizer state in {folder} does not load ({reason})"
    else:
        what = f"{folder / name} is missing" if reason == "missing" else f"{folder / name} is damaged ({reason})"
    return ValueError(f"resume: {what}, so the checkpoint in {folder} cannot be resumed; train with resume=False "
                      f"(or delete {folder}) to start over, or use another output_dir")


def check_before_training(model: torch.nn.Module, train_dataset: Dataset, eval_dataset: Dataset, collator,
                          compute_metrics: Metrics, config: TrainingConfig) -> None:
    """What would otherwise fail mid-run: a label id the model has no output for, an unknown metric name."""
    if len(train_dataset) == 0 or len(eval_dataset) == 0:
        raise ValueError("train_dataset and eval_dataset must each hold at least one example")
    num_labels = getattr(getattr(model, "config", None), "num_labels", None)
    for name, dataset in (("train_dataset", train_dataset), ("eval_dataset", eval_dataset)):
        if num_labels is None or "labels" not in dataset.column_names:
            continue
        labels = np.asarray([label for row in dataset["labels"] for label in np.ravel(row)])
        bad = labels[(labels != -100) & ((labels < 0) | (labels >= num_labels))]
        if bad.size:
            raise ValueError(f"{name} holds label id {int(bad[0])}, but the model has {num_labels} labels "
                             f"(ids 0 to {num_labels - 1}; -100 marks a token to ignore)")
    if config.average_checkpoints and hasattr(model, "peft_config"):
        # The mean of the A and B matrices is not the mean of the updates B·A they make: refuse, not mislead.
        raise ValueError("average_checkpoints=True is not supported for peft (LoRA) models: train the full model "
                         "or set average_checkpoints=False")
    from ..data.casing import uses_casing

    # Without case ids a cased model reads every word as "no cased letters": it trains, and learns nothing of
    # case. Eight sentences without a single cased letter are not what anyone trains on.
    sample = collator([train_dataset[i] for i in range(min(8, len(train_dataset)))]) if uses_casing(model) else {}
    if uses_casing(model) and not bool((sample.get("token_type_ids", torch.zeros(1)) != 0).any()):
        raise ValueError("the model has a case embedding (casing=True) but train_dataset carries no case ids: "
                         "tokenize it with tokenize_ner_dataset(..., casing=True)")
    # The metric names come from the metrics function itself, on two examples, before any training
    # (in eval mode, so no dropout draws on the random state the run is seeded with).
    batch = collator([eval_dataset[i] for i in range(min(2, len(eval_dataset)))])
    device, was_training = next(model.parameters()).device, model.training
    model.eval()
    with torch.no_grad():
        logits = model(**{key: value.to(device) for key, value in batch.items()}).logits
    model.train(was_training)
    names = sorted(compute_metrics(logits.float().cpu().numpy(), batch["labels"].cpu().numpy()))
    if config.metric_for_best not in names:
        raise ValueError(f"metric_for_best={config.metric_for_best!r} is not a metric compute_metrics returns; "
                         f"choose one of {names}")


def split_batch(batch: dict, max_tokens: int | None) -> list[tuple[dict, float]]:
    """``batch`` in slices of whole rows, each at most ``max_tokens`` tokens (rows × padded length, one row at
    least), with each slice's share of the batch's loss; the whole batch, share 1, when it fits or for None.

    The loss is a mean over the labelled positions (a row's label; a token's tag unless it is -100), so a
    slice's share is the part of them it holds, and the slices' weighted gradients add up to the batch's.
    """
    rows, length = batch["input_ids"].shape
    per_part = rows if max_tokens is None else max(1, max_tokens // length)
    if per_part >= rows:
        return [(batch, 1.0)]
    parts = [{key: value[start:start + per_part] for key, value in batch.items()} for start in range(0, rows, per_part)]
    counts = [int((part["labels"] != -100).sum()) if "labels" in part else len(part["input_ids"]) for part in parts]
    if not sum(counts):  # nothing labelled: the batch's loss is undefined either way
        return [(batch, 1.0)]
    return [(part, count / sum(counts)) for part, count in zip(parts, counts) if count]


def training_step(model: torch.nn.Module, batch: dict, optimizer: torch.optim.Optimizer,
                  accelerator: Accelerator, max_grad_norm: float | None,
                  compute_loss: LossFunction | None = None,
                  max_tokens: int | None = None) -> float:
    """One micro-batch: forward, backward, and on a step's last micro-batch, clip and step.

    Returns the micro-batch's loss. The loss is the model's own (cross-entropy on ``labels``)
    unless ``compute_loss(model, batch)`` is given, as distillation does
    (`curiolib.efficient.distill`). A micro-batch of more than ``max_tokens`` tokens goes
    forward and backward in parts (`split_batch`): the same gradient, a part's activations
    held at a time.
    """
    with accelerator.accumulate(model):
        parts, loss = split_batch(batch, max_tokens), 0.0
        for index, (part, share) in enumerate(parts):
            # Several processes exchange their gradients once, after the last part.
            last = index == len(parts) - 1
            with contextlib.nullcontext() if last else accelerator.no_sync(model):
                if compute_loss is None:
                    part_loss = model(**part).loss * share
                else:
                    part_loss = compute_loss(model, part) * share
                # Divided by grad_accum_steps: k equal micro-batches give their mean.
                accelerator.backward(part_loss)
            loss = loss + part_loss.detach()
        if accelerator.sync_gradients and max_grad_norm is not None:
            # The whole step's gradient, clipped once.
            accelerator.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()  # accelerate holds these two back until the step's last micro-batch
        optimizer.zero_grad()
    return accelerator.gather(loss).mean().item()


def warmup_steps(warmup_ratio: float, total_steps: int) -> int:
    """Optimizer steps `train` spends warming up: the share ``warmup_ratio`` of ``total_steps``, rounded."""
    return round(warmup_ratio * total_steps)


def _evaluation_due(config: TrainingConfig, step: int, end_of_epoch: bool) -> bool:
    if config.eval_every == "epoch":
        return end_of_epoch
    return config.eval_every != "end" and step % config.eval_every == 0


def train(model: torch.nn.Module, train_dataset: Dataset, eval_dataset: Dataset, *, collator,
          compute_metrics: Metrics, config: TrainingConfig, resume: bool = False,
          compute_loss: LossFunction | None = None) -> TrainResult:
    """Fine-tune ``model`` on tokenized datasets; ``resume=True`` goes on from a checkpoint.

    ``compute_loss(model, batch)`` replaces the model's own loss (see `training_step`).
    """
    # Imported when training starts: these transformers modules load the Trainer's helpers and
    # peft, which a process that only reads settings, data or a saved model never needs.
    from transformers import get_linear_schedule_with_warmup, set_seed

    check_before_training(model, train_dataset, eval_dataset, collator, compute_metrics, config)
    if config.save_checkpoints:
        claim_output_dir(config.output_dir)  # refuses someone else's folder before any training
    set_seed(config.seed)
    accelerator = Accelerator(gradient_accumulation_steps=config.grad_accum_steps,
                              mixed_precision=config.mixed_precision,
                              step_scheduler_with_optimizer=False,
                              cpu=not torch.cuda.is_available())

    # Data: a length-grouped, shuffled order that depends only on (seed, epoch), so a resumed
    # run repeats it.
    order = torch.Generator()
    train_loader = _train_loader(train_dataset, collator, config, order)

    # Optimizer and schedule: AdamW, linear warm-up then linear decay over every optimizer step.
    optimizer = torch.optim.AdamW(_parameter_groups(model, config.weight_decay),
                                  lr=config.learning_rate)
    model, optimizer, train_loader = accelerator.prepare(model, optimizer, train_loader)
    total_steps = math.ceil(len(train_loader) / config.grad_accum_steps) * config.epochs
    total_steps = min(total_steps, config.max_steps or total_steps)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, warmup_steps(config.warmup_ratio, total_steps), total_steps)
    # The running mean lives in the checkpoint too, so a resumed run averages the same weights.
    average = (AveragedModel(accelerator.unwrap_model(model)) if config.average_checkpoints
               else None)

    fingerprint = {"training examples": len(train_dataset), "batch_size": config.batch_size,
                   "grad_accum_steps": config.grad_accum_steps, "epochs": config.epochs,
                   "processes": accelerator.num_processes}
    # Only with averaging on, so that checkpoints saved before it existed resume as they did.
    if config.average_checkpoints:
        fingerprint["average_checkpoints"] = True
    checkpoints = Checkpoints(accelerator, config,
                              tokenizer=getattr(collator, "tokenizer", None),
                              fingerprint=fingerprint, scheduler=scheduler, average=average)
    state = checkpoints.resume() if resume else LoopState()
    progress = tqdm(total=total_steps, initial=state.step, desc="training",
                    disable=not (config.show_progress and accelerator.is_local_main_process))
    # A resumed run may already be at its end.
    done = (state.step >= total_steps or state.out_of_time(config)
            or state.patience_spent(config))
    while not done:
        order.manual_seed(config.seed + state.epoch)
        model.train()
        started = time.perf_counter()
        epoch_batches = accelerator.skip_first_batches(train_loader, state.batches_done)
        for batch in epoch_batches:
            loss = training_step(model, batch, optimizer, accelerator, config.max_grad_norm,
                                 compute_loss, config.max_tokens)
            state.recent_losses.append(loss)
            del state.recent_losses[:-config.log_every * config.grad_accum_steps]
            state.batches_done += 1
            state.examples_seen += len(batch["input_ids"]) * accelerator.num_processes
            if not accelerator.sync_gradients:
                continue  # more micro-batches to accumulate before this optimizer step
            scheduler.step()
            state.step += 1
            state.train_seconds += time.perf_counter() - started
            progress.update(1)
            progress.set_postfix(loss=f"{state.running_loss():.4f}")
            end_of_epoch = state.batches_done == len(train_loader)
            if end_of_epoch:
                state.epoch, state.batches_done = state.epoch + 1, 0
            last_step = (state.step >= total_steps or state.epoch >= config.epochs
                         or state.out_of_time(config))
            row = {"step": state.step, "train_loss": state.running_loss(),
                   "learning_rate": scheduler.get_last_lr()[0], "seconds": state.train_seconds}
            if last_step or _evaluation_due(config, state.step, end_of_epoch):
                if average is not None:
                    average.update_parameters(accelerator.unwrap_model(model))
                metrics = evaluate(model, eval_dataset, collator, compute_metrics,
                                   batch_size=config.eval_batch_size, accelerator=accelerator)
                epoch = state.epoch + state.batches_done / len(train_loader)
                row = {"step": state.step, "epoch": epoch} | row
                if state.log_evaluation(metrics, row, config):
                    checkpoints.save_best(model)
                checkpoints.save_last(state)
                # The evaluation's batches and the saves' buffers, freed as they went:
                # back to the system, not kept.
                return_freed_memory()
                model.train()
                done = last_step or state.patience_spent(config)
            else:
                if state.step % config.log_every == 0:
                    state.history.append(row)
                if config.checkpoint_every and state.step % config.checkpoint_every == 0:
                    # After the log row, so a resumed run's history has it.
                    checkpoints.save_last(state)
            started = time.perf_counter()  # evaluating and saving are not training time
            if done and not end_of_epoch:
                # Accelerate keeps the loader (and so the dataset) in its gradient state
                # until its iteration ends, for good before 1.x: a stop inside an epoch
                # ends it here (a TPU's loader has no end). At an epoch's end the loop runs
                # out by itself.
                getattr(epoch_batches, "end", lambda: None)()
                break
    progress.close()
    result = _finish(model, state, checkpoints, eval_dataset, collator, compute_metrics, config,
                     accelerator, average)
    # The optimizer's moments, the loader and the batches' activations are done with: their
    # memory goes back now, not when the caller's next cell happens to need it (glibc keeps a
    # freed heap until asked). In one process without a loss scaler none of them sits in a
    # reference cycle (tests/test_memory.py checks), so dropping the names frees them, and a
    # gc.collect would only walk every object of a lesson's kernel. fp16's scaler patches the
    # optimizer's step with a closure that refers back to it, and several processes wrap the
    # model: there, one collection.
    cycles = accelerator.scaler is not None or accelerator.num_processes > 1
    del optimizer, train_loader, scheduler, checkpoints, average, accelerator
    if cycles:
        release_memory()
    else:
        return_freed_memory()
    return result


def _finish(model, state: LoopState, checkpoints: Checkpoints, eval_dataset: Dataset, collator,
            compute_metrics: Metrics, config: TrainingConfig, accelerator: Accelerator,
            average: AveragedModel | None) -> TrainResult:
    # The best (or averaged) weights back, and their scores: from the history when the last row has them.
    restore: bool = config.load_best_at_end and state.best_step not in (None, state.step)
    if restore:
        checkpoints.restore_best(model)
    if average is not None:
        restore = True
        accelerator.unwrap_model(model).load_state_dict(average.module.state_dict())
    last_row = state.history[-1] if state.history else {}
    if not restore and "eval_" + config.metric_for_best in last_row and last_row["step"] == state.step:
        final = {name[5:]: value for name, value in last_row.items() if name.startswith("eval_")}
    else:
        final = evaluate(model, eval_dataset, collator, compute_metrics, batch_size=config.eval_batch_size,
                         accelerator=accelerator)
    seconds = state.train_seconds
    return TrainResult(history=pd.DataFrame(state.history), final_metrics=final, best_metric=state.best_metric,
                       best_step=state.best_step, steps=state.step, train_seconds=seconds,
                       train_examples_per_s=state.examples_seen / seconds if seconds else float("nan"),
                       stopped_early=state.patience_spent(config), checkpoint_dir=checkpoints.last,
                       config=asdict(config))
