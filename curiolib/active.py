"""Pool-based active learning for sentence classification: the curiosity loop made concrete.

A round: fine-tune on the labelled set, score a sample of the unlabelled pool, query the next batch with a
strategy, reveal its (hidden) labels. Strategies (`STRATEGIES`):

- "random": uniform picks, the control every other strategy must beat;
- "least_confidence": the lowest top-class probability; "entropy": the most uncertain prediction;
- "explore_exploit": a share β of each batch picked for diversity (farthest-first in the model's sentence
  embedding space, away from everything already labelled), the rest by entropy: β is the growth model's
  exploration share made literal (β = 0 is "entropy", β = 1 pure exploration).

What keeps it cheap on a CPU: the model is **warm-started** (each round continues from the last round's
weights, so a round needs only a few passes); only a random sample of `candidates` pool sentences is scored
each round (scoring all of SST-2 would take minutes); one forward pass gives both the probabilities and the
embeddings. By default a round re-reads every label revealed so far, so its cost grows with the labels and
a run's with their square; `replay=N` trains each round on the new labels plus N earlier ones drawn at
random, which keeps a round's cost flat for runs of thousands of labels (the SST-2 benchmark). Embeddings
are not cached across rounds: the model changes every round, and so do they; scoring sorts sentences by
length so each batch pads little. After every round the model and the loop's state are saved, so an
interrupted run resumes at the last round boundary with the same picks and numbers.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from datasets import DatasetDict
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding

from ._validation import check_choice, check_int, check_number
from .growth import GrowthFit, fit
from .metrics import classification_metrics
from .training import TrainingConfig, tokenize_sentences, train

STRATEGIES = ("random", "least_confidence", "entropy", "explore_exploit")
SCORES = ("accuracy", "log_error")
STATE_FILE = "active_state.json"


# --------------------------------------------------------------------------- how each strategy picks

def least_confidence(probabilities: np.ndarray) -> np.ndarray:
    """1 − the top-class probability: largest for the examples nearest the decision boundary."""
    return 1.0 - np.asarray(probabilities).max(axis=1)


def entropy(probabilities: np.ndarray) -> np.ndarray:
    """Predictive entropy −Σ p log p (nats): largest where the model spreads its belief most evenly."""
    p = np.clip(np.asarray(probabilities, dtype=float), 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of a and of b, without an (n, m, d) intermediate."""
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.clip(squared, 0, None))


def farthest_first(candidates: np.ndarray, labelled: np.ndarray, k: int) -> np.ndarray:
    """Greedily pick k candidates, each the farthest (Euclidean) from the labelled set and the picks so far."""
    candidates = np.asarray(candidates, dtype=float)
    labelled = np.asarray(labelled, dtype=float).reshape(-1, candidates.shape[1])
    check_int("k", k, low=0, high=len(candidates))
    # With nothing labelled yet every distance is infinite, and argmax starts from the first candidate.
    distance = _distances(candidates, labelled).min(axis=1) if len(labelled) else np.full(len(candidates), np.inf)
    picks: list[int] = []
    for _ in range(k):
        best = int(np.argmax(distance))
        picks.append(best)
        distance = np.minimum(distance, _distances(candidates, candidates[best:best + 1])[:, 0])
        distance[picks] = -np.inf
    return np.array(picks, dtype=int)


def select(strategy: str, k: int, probabilities: np.ndarray, embeddings: np.ndarray | None = None,
           labelled_embeddings: np.ndarray | None = None, *, beta: float = 0.5,
           rng: np.random.Generator | None = None) -> np.ndarray:
    """Indices (into the candidates) of the k examples ``strategy`` asks about next."""
    check_choice("strategy", strategy, STRATEGIES)
    n = len(probabilities)
    check_int("k", k, low=1, high=n)
    check_number("beta", beta, low=0, high=1)
    if strategy == "random":
        return (rng or np.random.default_rng(0)).choice(n, size=k, replace=False)
    if strategy == "least_confidence":
        return np.argsort(-least_confidence(probabilities), kind="stable")[:k]
    if strategy == "entropy":
        return np.argsort(-entropy(probabilities), kind="stable")[:k]
    if embeddings is None:
        raise ValueError("strategy 'explore_exploit' needs the candidates' embeddings")
    explore = int(round(beta * k))
    labelled = np.empty((0, embeddings.shape[1])) if labelled_embeddings is None else labelled_embeddings
    explored = farthest_first(embeddings, labelled, explore) if explore else np.array([], dtype=int)
    rest = np.setdiff1d(np.arange(n), explored)
    exploited = rest[np.argsort(-entropy(probabilities[rest]), kind="stable")[: k - explore]]
    return np.concatenate([explored, exploited]).astype(int)


# --------------------------------------------------------------------------- the loop

@dataclass
class ActiveLearningConfig:
    """The loop's settings; invalid values raise ValueError when the config is made, before any work."""

    strategy: str = "entropy"
    seed_size: int = 32  # labelled at random before the first round
    batch_size: int = 32  # labels queried per round
    rounds: int = 6  # training rounds (the first on the seed set alone)
    candidates: int = 1000  # pool sentences scored per round (a random sample)
    beta: float = 0.5  # exploration share of "explore_exploit"
    epochs_per_round: int = 2  # passes over the round's training set in each round
    replay: int | None = None  # None: re-read every earlier label each round; N: the new ones plus N earlier
    train_batch_size: int = 16
    learning_rate: float = 1e-4
    max_length: int = 64
    seed: int = 0
    output_dir: str = "checkpoints/active"

    def __post_init__(self) -> None:
        check_choice("strategy", self.strategy, STRATEGIES)
        for name in ("seed_size", "batch_size", "rounds", "candidates", "epochs_per_round", "train_batch_size"):
            check_int(name, getattr(self, name), low=1)
        check_number("beta", self.beta, low=0, high=1)
        check_number("learning_rate", self.learning_rate, low=0, low_inclusive=False)
        check_int("max_length", self.max_length, low=8, high=512)
        check_int("seed", self.seed, low=0)
        if self.replay is not None:
            check_int("replay", self.replay, low=0)
        if self.candidates < self.batch_size:
            raise ValueError(f"candidates must be >= batch_size={self.batch_size} (the batch is picked from "
                             f"them), got {self.candidates}")

    def labels_needed(self) -> int:
        """Labels the whole run reveals: the seed set plus one batch per round after the first."""
        return self.seed_size + (self.rounds - 1) * self.batch_size


@dataclass
class ActiveLearningRun:
    """One run: a row per round (labels used, E, R, steps, validation accuracy, time) and what was queried."""

    config: ActiveLearningConfig
    history: pd.DataFrame
    queried: list[list[int]] = field(default_factory=list)  # pool indices revealed in each round


def _embed_and_score(model: torch.nn.Module, dataset, collator, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
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


def _validation_accuracy(model: torch.nn.Module, dataset, collator) -> float:
    probabilities, _ = _embed_and_score(model, dataset, collator, batch_size=128)
    return float(np.mean(probabilities.argmax(1) == np.asarray(dataset["labels"])))


def _save_round(output_dir: Path, model: torch.nn.Module, state: dict) -> None:
    """Model first, state last: a state file always points at a complete model."""
    staging = output_dir / "model.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    shutil.rmtree(output_dir / "model", ignore_errors=True)
    staging.rename(output_dir / "model")
    (output_dir / STATE_FILE).write_text(json.dumps(state))


def _round_training_set(earlier: list[int], new: list[int], replay: int | None,
                        rng: np.random.Generator) -> list[int]:
    """What a round trains on: every label so far, or the new ones plus ``replay`` earlier ones at random."""
    if replay is None or len(earlier) <= replay:
        return earlier + new
    # A sample of the old labels keeps them in view at a fixed cost, instead of training on the newest batch alone.
    return rng.choice(earlier, size=replay, replace=False).tolist() + new


def run_active_learning(model: torch.nn.Module, tokenizer, data: DatasetDict, config: ActiveLearningConfig, *,
                        resume: bool = False, show_progress: bool = False) -> ActiveLearningRun:
    """Run the loop on ``data["train"]`` (the pool, labels hidden until queried), scored on validation.

    ``model`` is warm-started round after round and ends trained on every label revealed. Each round
    records E = new examples trained on, R = extra passes over examples (re-reading old ones, all of them or
    ``config.replay``, and the later passes over new ones), the optimizer steps, the validation accuracy,
    and the mean entropy of the examples asked about against that of the candidates they were picked from;
    round 0 is the untrained model.
    """
    pool_size = len(data["train"])
    if config.labels_needed() > pool_size:
        raise ValueError(f"seed_size + (rounds − 1)·batch_size = {config.labels_needed()} labels, but the pool "
                         f"holds {pool_size}: lower rounds or batch_size (batch larger than the pool)")
    output_dir = Path(config.output_dir)
    collator = DataCollatorWithPadding(tokenizer)
    pool = tokenize_sentences(data["train"], tokenizer, max_length=config.max_length)
    validation = tokenize_sentences(data["validation"], tokenizer, max_length=config.max_length)
    rng = np.random.default_rng(config.seed)

    state_file = output_dir / STATE_FILE
    if resume and state_file.exists():
        state = json.loads(state_file.read_text())
        if state["config"] != asdict(config):
            raise ValueError(f"resume: {state_file} was written with other settings; use another output_dir")
        from safetensors.torch import load_file
        missing, unexpected = model.load_state_dict(load_file(output_dir / "model" / "model.safetensors"),
                                                    strict=False)
        if unexpected or any("position_ids" not in name for name in missing):
            raise ValueError(f"resume: the model saved in {output_dir / 'model'} does not fit the model given")
        rng.bit_generator.state = state["rng"]
    else:
        shutil.rmtree(output_dir, ignore_errors=True)
        output_dir.mkdir(parents=True)
        state = {"config": asdict(config), "labelled": [], "queried": [],
                 "history": [{"round": 0, "labels": 0, "E": 0, "R": 0, "steps": 0, "seconds": 0.0,
                              "accuracy": _validation_accuracy(model, validation, collator),
                              "asked_entropy": float("nan"), "candidate_entropy": float("nan")}]}

    for round_number in range(len(state["history"]), config.rounds + 1):
        start = time.perf_counter()
        labelled = state["labelled"]
        asked_entropy = candidate_entropy = float("nan")
        if round_number == 1:
            new = rng.choice(pool_size, size=config.seed_size, replace=False).tolist()
        else:
            unlabelled = np.setdiff1d(np.arange(pool_size), labelled)
            sample = rng.choice(unlabelled, size=min(config.candidates, len(unlabelled)), replace=False)
            probabilities, embeddings = _embed_and_score(model, pool.select(sample), collator)
            labelled_embeddings = None
            if config.strategy == "explore_exploit":
                # Distances to at most `candidates` labelled sentences: embedding thousands each round would
                # cost more than the round's training, and a sample that size places the labelled set well.
                reference = labelled if len(labelled) <= config.candidates else \
                    rng.choice(labelled, size=config.candidates, replace=False).tolist()
                _, labelled_embeddings = _embed_and_score(model, pool.select(reference), collator)
            picks = select(config.strategy, config.batch_size, probabilities, embeddings, labelled_embeddings,
                           beta=config.beta, rng=rng)
            new = sample[picks].tolist()
            uncertainty = entropy(probabilities)
            asked_entropy, candidate_entropy = float(uncertainty[picks].mean()), float(uncertainty.mean())
        trained_on = _round_training_set(labelled, new, config.replay, rng)
        labelled = labelled + new
        training = TrainingConfig(output_dir=str(output_dir / "round"), epochs=config.epochs_per_round,
                                  batch_size=config.train_batch_size, learning_rate=config.learning_rate,
                                  warmup_ratio=0.1, seed=config.seed + round_number, load_best_at_end=False,
                                  save_checkpoints=False,  # the loop saves its own state after each round
                                  eval_every=10**9, show_progress=show_progress)  # evaluate once, at the end
        result = train(model, pool.select(trained_on), validation, collator=collator,
                       compute_metrics=classification_metrics, config=training)
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


# --------------------------------------------------------------------------- reading the curves

def labels_to_reach(history: pd.DataFrame, target: float) -> float:
    """Labels used when validation accuracy first reaches ``target``; NaN if it never does."""
    check_number("target", target, low=0, high=1)
    reached = history[(history["round"] > 0) & (history["accuracy"] >= target)]
    return float(reached["labels"].iloc[0]) if len(reached) else float("nan")


def growth_score(accuracy: np.ndarray, score: str = "accuracy") -> np.ndarray:
    """Knowledge I from accuracy: the accuracy itself, or −log(1 − accuracy), which does not saturate at 1."""
    check_choice("score", score, SCORES)
    accuracy = np.asarray(accuracy, dtype=float)
    return accuracy if score == "accuracy" else -np.log(np.clip(1.0 - accuracy, 1e-6, None))


def check_rounds_for_growth_fit(rounds: int) -> int:
    """Raise ValueError unless a run of ``rounds`` rounds gives the growth fit enough points (rounds >= 3)."""
    rounds = check_int("rounds", rounds, low=1)
    if rounds < 3:  # two unknowns (αβ and α(1−β)): fewer than 3 increments leave nothing to check the fit on
        raise ValueError(f"rounds must be an integer >= 3 to fit the growth model (one increment per round), "
                         f"got {rounds}")
    return rounds


def fit_growth_to_run(history: pd.DataFrame, score: str = "accuracy", capacity: float | None = None) -> GrowthFit:
    """Fit I(t+1) = I(t) + α(βE + (1−β)R) to a run: I from accuracy, E new examples, R extra passes per round.

    With ``capacity=K`` the fitted model is the growth lesson's saturating one, ΔI = α(βE + (1−β)R)·(1 − I/K):
    dividing each increment by (1 − I/K) turns it back into the linear fit. E and R count hundreds of examples.
    """
    rows = history.sort_values("round")
    check_rounds_for_growth_fit(int(rows["round"].max()))
    E = rows["E"].to_numpy(dtype=float)[1:] / 100
    R = rows["R"].to_numpy(dtype=float)[1:] / 100
    I = growth_score(rows["accuracy"].to_numpy(), score)  # noqa: E741 - the growth model's symbol
    if capacity is not None:
        check_number("capacity", capacity, low=float(I.max()), low_inclusive=False)
        increments = np.diff(I) / (1 - I[:-1] / capacity)
        I = np.concatenate([[I[0]], I[0] + np.cumsum(increments)])  # noqa: E741
    return fit(I, E, R)


def predicted_curve(fitted: GrowthFit, I0: float, E: np.ndarray, R: np.ndarray,
                    capacity: float | None = None) -> np.ndarray:
    """The trajectory a fit draws from I0: linear, or slowed by (1 − I/K) when it was fitted with a capacity K."""
    if capacity is None:
        return fitted.predict(I0, E, R)
    I = [float(I0)]  # noqa: E741
    for e, r in zip(E, R):
        I.append(I[-1] + (fitted.a * e + fitted.b * r) * (1 - I[-1] / capacity))
    return np.array(I)


# --------------------------------------------------------------------------- several strategies and seeds

def compare_strategies(model_name: str, data: DatasetDict, strategies: list[str], seeds: list[int], *,
                       output_dir: str | Path = "checkpoints/05_active", **settings) -> dict[str, list[ActiveLearningRun]]:
    """Run every strategy with every seed from the same pretrained model; settings go to ActiveLearningConfig."""
    from .models import load_model_for_task

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
        runs[strategy].append(run_active_learning(model, tokenizer, data, config))
    return runs


def mean_curve(runs: list[ActiveLearningRun]) -> pd.DataFrame:
    """The seeds' histories averaged round by round (labels, E and R are the same for every seed)."""
    frames = pd.concat([run.history.assign(seed=run.config.seed) for run in runs])
    grouped = frames.groupby("round")
    curve = grouped[["labels", "E", "R", "accuracy"]].mean()
    return curve.assign(accuracy_min=grouped["accuracy"].min(), accuracy_max=grouped["accuracy"].max(),
                        seconds=grouped["seconds"].mean()).reset_index()


def labels_to_target_table(runs: dict[str, list[ActiveLearningRun]], targets: list[float]) -> pd.DataFrame:
    """For each strategy and target accuracy: mean and spread of the labels needed, and how many seeds got there."""
    rows = []
    for strategy, strategy_runs in runs.items():
        for target in targets:
            needed = np.array([labels_to_reach(run.history, target) for run in strategy_runs])
            reached = np.isfinite(needed)
            rows.append({"strategy": strategy, "target": target, "seeds reaching it": f"{reached.sum()}/{len(needed)}",
                         "labels (mean)": needed[reached].mean() if reached.any() else np.nan,
                         "labels (min–max)": f"{needed[reached].min():.0f}–{needed[reached].max():.0f}"
                         if reached.any() else "not reached"})
    return pd.DataFrame(rows).set_index(["strategy", "target"])


def growth_fit_table(runs: dict[str, list[ActiveLearningRun]], score: str = "accuracy",
                     capacity: float | None = None) -> pd.DataFrame:
    """The growth model fitted to each strategy's mean curve: α, β with standard errors, R², and the verdict."""
    rows = []
    for strategy, strategy_runs in runs.items():
        fitted = fit_growth_to_run(mean_curve(strategy_runs), score, capacity)
        rows.append({"strategy": strategy, "α": fitted.alpha, "α SE": fitted.alpha_se, "β": fitted.beta,
                     "β SE": fitted.beta_se, "R²": fitted.r_squared, "verdict": fitted.message})
    return pd.DataFrame(rows).set_index("strategy")


def _labels_or_never(labels: float) -> str:
    return "not reached within the run" if np.isnan(labels) else f"{labels:.0f} labels"


def summarise_against_random(runs: dict[str, list[ActiveLearningRun]], target: float) -> str:
    """One sentence per strategy: labels it needed to reach ``target`` against random sampling, on average."""
    if "random" not in runs:
        raise ValueError("runs must include the 'random' strategy to compare against")
    table = labels_to_target_table(runs, [target])["labels (mean)"].droplevel("target")
    baseline = table["random"]
    lines = []
    for strategy, needed in table.items():
        if strategy == "random":
            continue
        if np.isnan(needed) or np.isnan(baseline):
            lines.append(f"{strategy}: {_labels_or_never(needed)} to reach {target:g}; "
                         f"random: {_labels_or_never(baseline)} (mean over seeds)")
        else:
            change = (needed - baseline) / baseline
            verdict = "fewer" if change < 0 else "more" if change > 0 else "as many"
            lines.append(f"{strategy}: {needed:.0f} labels to reach {target:g} against {baseline:.0f} for random, "
                         f"{abs(change):.0%} {verdict} (mean over seeds)")
    return "\n".join(lines)


def query_uncertainty_table(runs: dict[str, list[ActiveLearningRun]]) -> pd.DataFrame:
    """Per round: mean entropy of the examples each strategy asked about, and of the candidates (seed mean)."""
    columns = ["asked_entropy", "candidate_entropy"]
    return pd.concat({strategy: pd.concat([run.history.set_index("round")[columns] for run in strategy_runs])
                      .groupby(level=0).mean() for strategy, strategy_runs in runs.items()}, axis=1)
