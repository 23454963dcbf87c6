"""Pool-based active learning for sentence classification: the curiosity loop made concrete.

A round: fine-tune on the labelled set, score a sample of the unlabelled pool, query the next batch with a
strategy (`strategies.py`), reveal its (hidden) labels.

How a round trains (``training``):
- "scratch" (the default): the pretrained model is fine-tuned afresh on every label so far, the plain
  recipe a practitioner would run on those labels. So the loop's "random" strategy *is* the peer that
  trains from scratch on random labels, and a chooser is compared with it on equal training. A run's cost
  grows with the sum of its labelled-set sizes: `label_schedule` (e.g. 100, 300, 500, 1000, ...) keeps the
  rounds few where the sets are large.
- "warm": each round continues from the last round's weights, on every label so far or, with
  ``replay=N``, on the new labels plus N earlier ones drawn at random (a round's cost stays flat). Cheaper,
  but on SST-2 it learned less from its labels than retraining does (the benchmark's README says by how much).

Only a random sample of `candidates` pool sentences is scored each round (scoring all of SST-2 would take
minutes); one forward pass gives both the probabilities and the embeddings, sorted by length so each batch
pads little. Embeddings are not cached across rounds: the model changes every round, and so do they. After
every round the model and the loop's state are saved, so an interrupted run resumes at the last round
boundary with the same picks and numbers.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from datasets import DatasetDict
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding

from .._files import claim_output_dir, remove_own, replace_folder, write_text_atomically
from .._validation import check_choice, check_int, check_number
from ..data.tokenize import tokenize_sentences
from ..finetune.loop import TrainingConfig, TrainResult, evaluate, train
from ..tasks.sentiment import classification_metrics
from .strategies import STRATEGIES, entropy, select

STATE_FILE = "active_state.json"
TRAINING = ("scratch", "warm")
#: Settings renamed since a saved run could have been written: old name -> new name. "beta" was explore_exploit's
#: share of each batch chosen for diversity, not the growth model's β (both halves of a batch are new labels).
RENAMED_SETTINGS = {"beta": "diversity_share"}


@dataclass
class ActiveLearningConfig:
    """The loop's settings; invalid values raise ValueError when the config is made, before any work."""

    strategy: str = "entropy"
    seed_size: int = 32  # labelled at random before the first round
    labels_per_round: int = 32  # labels queried in each round after the first
    rounds: int = 6  # training rounds (the first on the seed set alone)
    # Labelled-set size after each round, e.g. [100, 300, 500, 1000]: instead of the three settings above.
    label_schedule: list[int] | None = None
    candidates: int = 1000  # pool sentences scored per round (a random sample)
    diversity_share: float = 0.5  # s: the share of each "explore_exploit" batch chosen for diversity
    training: str = "scratch"  # "scratch": retrain the pretrained model on all labels; "warm": continue
    epochs_per_round: int = 2  # passes over the round's training set in each round
    replay: int | None = None  # "warm" only. None: re-read every earlier label each round; N: new + N earlier
    train_batch_size: int = 16
    learning_rate: float = 1e-4
    max_length: int = 64
    seed: int = 0
    output_dir: str = "checkpoints/active"

    def __post_init__(self) -> None:
        check_choice("strategy", self.strategy, STRATEGIES)
        check_choice("training", self.training, TRAINING)
        for name in ("seed_size", "labels_per_round", "rounds", "candidates", "epochs_per_round", "train_batch_size"):
            check_int(name, getattr(self, name), low=1)
        if self.label_schedule is not None:
            self.label_schedule = list(self.label_schedule)
            sizes = self.label_schedule
            if not sizes or any(not isinstance(n, int) or isinstance(n, bool) for n in sizes) or sizes[0] < 1 \
                    or any(b <= a for a, b in zip(sizes, sizes[1:])):
                raise ValueError(f"label_schedule must be increasing whole numbers of labels, at least 1, e.g. "
                                 f"[100, 300, 500]; got {sizes}")
            defaults = {f.name: f.default for f in fields(self)}
            clashing = [name for name in ("seed_size", "labels_per_round", "rounds")
                        if getattr(self, name) != defaults[name]]
            if clashing:
                raise ValueError(f"give label_schedule or {', '.join(clashing)}, not both: the schedule sets the "
                                 "seed set and every round's labels")
        check_number("diversity_share", self.diversity_share, low=0, high=1)
        check_number("learning_rate", self.learning_rate, low=0, low_inclusive=False)
        check_int("max_length", self.max_length, low=8, high=512)
        check_int("seed", self.seed, low=0)
        if self.replay is not None:
            check_int("replay", self.replay, low=0)
            if self.training != "warm":
                raise ValueError(f"replay applies to training='warm' only (training={self.training!r} retrains on "
                                 "every label each round): set replay=None or training='warm'")
        largest = max(np.diff(self.round_sizes()), default=0)
        if self.candidates < largest:
            raise ValueError(f"candidates must be >= the most labels a round asks for ({largest}: they are picked "
                             f"from the candidates), got {self.candidates}")

    def round_sizes(self) -> list[int]:
        """The labelled-set size after each round: the schedule, or the seed set plus one batch per round."""
        if self.label_schedule is not None:
            return list(self.label_schedule)
        return [self.seed_size + round_index * self.labels_per_round for round_index in range(self.rounds)]

    def labels_needed(self) -> int:
        """Labels the whole run reveals."""
        return self.round_sizes()[-1]


@dataclass
class ActiveLearningRun:
    """One run: a row per round (labels used, E, R, steps, validation accuracy, time) and what was queried."""

    config: ActiveLearningConfig
    history: pd.DataFrame
    queried: list[list[int]] = field(default_factory=list)  # pool indices revealed in each round


def embed_and_score(model: torch.nn.Module, dataset, collator, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities and unit-length sentence embeddings (mean of the last layer) in one pass."""
    model.eval()
    device = next(model.parameters()).device
    # Shortest first, so each batch pads to a length near its own: 2-3x faster on SST-2 than in pool order.
    order = np.argsort([len(ids) for ids in dataset["input_ids"]], kind="stable")
    probabilities, embeddings = [], []
    with torch.no_grad():
        for batch in DataLoader(dataset.select(order).remove_columns("labels"), batch_size=batch_size,
                                collate_fn=collator):
            batch = batch.to(device)
            out = model(**batch, output_hidden_states=True)
            mask = batch["attention_mask"].unsqueeze(-1).float()
            # Mean pooling is how all-MiniLM-L6-v2 was trained to embed sentences.
            pooled = (out.hidden_states[-1] * mask).sum(1) / mask.sum(1)
            probabilities.append(out.logits.softmax(-1).float().cpu().numpy())
            embeddings.append(torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy())
    unsort = np.argsort(order)
    return np.concatenate(probabilities)[unsort], np.concatenate(embeddings)[unsort]


def _save_round(output_dir: Path, model: torch.nn.Module, state: dict) -> None:
    """Model first, state last: a state file always points at a complete model."""
    staging = output_dir / "model.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    replace_folder(staging, output_dir / "model")  # the old model is deleted only once the new one is in place
    write_text_atomically(output_dir / STATE_FILE, json.dumps(state))


def round_training_set(earlier: list[int], new: list[int], replay: int | None,
                        rng: np.random.Generator) -> list[int]:
    """What a round trains on: every label so far, or the new ones plus ``replay`` earlier ones at random."""
    if replay is None or len(earlier) <= replay:
        return earlier + new
    # A sample of the old labels keeps them in view at a fixed cost, instead of training on the newest batch alone.
    return rng.choice(earlier, size=replay, replace=False).tolist() + new


def train_round(model: torch.nn.Module, train_set, validation, collator, config: ActiveLearningConfig, *,
                round_number: int, output_dir: str | Path, show_progress: bool = False) -> TrainResult:
    """One round's practice: ``config.epochs_per_round`` passes over ``train_set``, scored on ``validation`` once."""
    training = TrainingConfig(output_dir=str(output_dir), epochs=config.epochs_per_round,
                              batch_size=config.train_batch_size, learning_rate=config.learning_rate,
                              warmup_ratio=0.1, seed=config.seed + round_number, load_best_at_end=False,
                              save_checkpoints=False,  # the loop saves its own state after each round
                              eval_every="end", show_progress=show_progress)
    return train(model, train_set, validation, collator=collator, compute_metrics=classification_metrics,
                 config=training)


def run_active_learning(model: torch.nn.Module, tokenizer, data: DatasetDict, config: ActiveLearningConfig, *,
                        resume: bool = False, show_progress: bool = False) -> ActiveLearningRun:
    """Run the loop on ``data["train"]`` (the pool, labels hidden until queried), scored on validation.

    ``model`` is the pretrained starting point; it ends trained on every label revealed (from scratch each
    round, or warm-started, as ``config.training`` says). Each round records E = new examples trained on,
    R = extra passes over examples (re-reading old ones and the later passes over new ones), the optimizer
    steps, the validation accuracy, and the mean entropy of the examples asked about against that of the
    candidates they were picked from; round 0 is the untrained model.
    """
    pool_size = len(data["train"])
    if config.labels_needed() > pool_size:
        raise ValueError(f"the run asks for {config.labels_needed()} labels in all, but the pool holds {pool_size}: "
                         "lower rounds, labels_per_round or label_schedule (more labels than the pool)")
    # A folder of someone else's is refused before any work; in our own only our files are replaced.
    output_dir = claim_output_dir(config.output_dir)
    collator = DataCollatorWithPadding(tokenizer)
    pool = tokenize_sentences(data["train"], tokenizer, max_length=config.max_length)
    validation = tokenize_sentences(data["validation"], tokenizer, max_length=config.max_length)
    rng = np.random.default_rng(config.seed)
    sizes = config.round_sizes()
    # "scratch" rounds restart from the weights given (read before a resume loads the saved round's).
    pretrained = {name: value.detach().clone() for name, value in model.state_dict().items()} \
        if config.training == "scratch" else None

    state_file = output_dir / STATE_FILE
    if resume and state_file.exists():
        state = json.loads(state_file.read_text())
        renamed = {old: new for old, new in RENAMED_SETTINGS.items() if old in state["config"]}
        if renamed:  # the same setting under its old name: say so rather than "other settings"
            names = ", ".join(f"{old!r}, now {new!r}" for old, new in renamed.items())
            raise ValueError(f"resume: {state_file} names a setting by its old name ({names}): rename it in that "
                             "file to resume the run, or use another output_dir")
        if state["config"] != asdict(config):
            raise ValueError(f"resume: {state_file} was written with other settings; use another output_dir")
        from safetensors.torch import load_file
        missing, unexpected = model.load_state_dict(load_file(output_dir / "model" / "model.safetensors"),
                                                    strict=False)
        if unexpected or any("position_ids" not in name for name in missing):
            raise ValueError(f"resume: the model saved in {output_dir / 'model'} does not fit the model given")
        rng.bit_generator.state = state["rng"]
    else:
        if resume:  # most often a mistyped output_dir: say so rather than start over silently
            print(f"resume: no saved rounds in {output_dir}: starting from round 1")
        remove_own(output_dir, [STATE_FILE, "model", "model.tmp", "round"])
        state = {"config": asdict(config), "labelled": [], "queried": [],
                 "history": [{"round": 0, "labels": 0, "E": 0, "R": 0, "steps": 0, "seconds": 0.0,
                              "accuracy": evaluate(model, validation, collator, classification_metrics)["accuracy"],
                              "asked_entropy": float("nan"), "candidate_entropy": float("nan")}]}

    for round_number in range(len(state["history"]), len(sizes) + 1):
        start = time.perf_counter()
        labelled = state["labelled"]
        asked = sizes[round_number - 1] - len(labelled)
        asked_entropy = candidate_entropy = float("nan")
        if round_number == 1:
            new = rng.choice(pool_size, size=asked, replace=False).tolist()
        else:
            unlabelled = np.setdiff1d(np.arange(pool_size), labelled)
            sample = rng.choice(unlabelled, size=min(config.candidates, len(unlabelled)), replace=False)
            probabilities, embeddings = embed_and_score(model, pool.select(sample), collator)
            labelled_embeddings = None
            if config.strategy == "explore_exploit":
                # Distances to at most `candidates` labelled sentences: embedding thousands each round would
                # cost more than the round's training, and a sample that size places the labelled set well.
                reference = labelled if len(labelled) <= config.candidates else \
                    rng.choice(labelled, size=config.candidates, replace=False).tolist()
                _, labelled_embeddings = embed_and_score(model, pool.select(reference), collator)
            picks = select(config.strategy, asked, probabilities, embeddings, labelled_embeddings,
                           diversity_share=config.diversity_share, rng=rng)
            new = sample[picks].tolist()
            uncertainty = entropy(probabilities)
            asked_entropy, candidate_entropy = float(uncertainty[picks].mean()), float(uncertainty.mean())
        trained_on = round_training_set(labelled, new, config.replay, rng)
        labelled = labelled + new
        if pretrained is not None:
            model.load_state_dict(pretrained)
        result = train_round(model, pool.select(trained_on), validation, collator, config, round_number=round_number,
                             output_dir=output_dir / "round", show_progress=show_progress)
        passes = config.epochs_per_round * len(trained_on)
        state["history"].append({"round": round_number, "labels": len(labelled), "E": len(new),
                                 "R": passes - len(new), "steps": result.steps,
                                 "seconds": time.perf_counter() - start,
                                 "accuracy": result.final_metrics["accuracy"], "asked_entropy": asked_entropy,
                                 "candidate_entropy": candidate_entropy})
        state["labelled"], state["queried"] = labelled, state["queried"] + [new]
        state["rng"] = rng.bit_generator.state
        _save_round(output_dir, model, state)
    return ActiveLearningRun(config=config, history=pd.DataFrame(state["history"]), queried=state["queried"])


# --------------------------------------------------------------------------- several strategies and seeds

def compare_strategies(model_name: str, data: DatasetDict, strategies: list[str], seeds: list[int], *,
                       output_dir: str | Path = "checkpoints/active", resume: bool = False,
                       **settings) -> dict[str, list[ActiveLearningRun]]:
    """Run every strategy with every seed from the same pretrained model; settings go to ActiveLearningConfig.

    ``resume=True`` continues each run from its last saved round in ``output_dir`` (a finished run is read
    back without training), so an interrupted comparison picks up where it stopped.
    """
    from ..finetune.models import load_model_for_task

    renamed = {old: new for old, new in RENAMED_SETTINGS.items() if old in settings}
    if renamed:
        raise ValueError("compare_strategies: " + ", ".join(f"{old!r} is now called {new!r}"
                                                             for old, new in renamed.items()))
    for strategy in strategies:
        check_choice("strategies", strategy, STRATEGIES)
    if not seeds:
        raise ValueError("seeds must list at least one seed, e.g. [0, 1]")
    configs = {(strategy, seed): ActiveLearningConfig(strategy=strategy, seed=seed, **settings,
                                                      output_dir=str(Path(output_dir) / f"{strategy}_{seed}"))
               for strategy in strategies for seed in seeds}  # every setting checked before any training
    label_names = data["train"].features["label"].names
    runs: dict[str, list[ActiveLearningRun]] = {strategy: [] for strategy in strategies}
    for (strategy, seed), config in configs.items():
        tokenizer, model = load_model_for_task(model_name, "sequence", label_names, seed=seed)
        runs[strategy].append(run_active_learning(model, tokenizer, data, config, resume=resume))
    return runs


