"""Lesson 07: the growth model meets a real learner, in an experiment where E and R vary independently.

Every round a learner gets the same effort budget B. A share β buys new labelled examples at c units each
(exploration: E(t) = βB/c new examples, each trained on once when it arrives); the rest re-reads examples
already labelled, one unit per example-pass (reflection: R(t) = (1−β)B, drawn only from what was explored).
Runs differ in β and seed, so E and R are set by the design rather than moving together.

The learner is a logistic-regression head on the embedded encoder's frozen mean-pooled sentence vectors,
trained by SGD one example-pass at a time: one unit of effort is one gradient step on one example. It is
cheap enough to run every β on several seeds in a lesson. Knowledge I(t) is measured on the validation
split after every round (`EXPERIMENT_SCALES`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._validation import check_int, check_number

#: How knowledge is measured after each round; "log_likelihood" is the default (see `knowledge`).
EXPERIMENT_SCALES = ("log_likelihood", "accuracy")


def effort_schedule(beta: float, budget: float, cost: float, rounds: int) -> tuple[np.ndarray, np.ndarray]:
    """(new examples, re-read passes) per round: βB/c and (1−β)B, whole numbers whose running totals are exact.

    When βB/c is not a whole number the fractions carry over: after t rounds exactly ⌊t·βB/c⌋ examples have
    been bought, so no effort is lost to rounding and none is invented.
    """
    beta = check_number("beta", beta, low=0, high=1)
    budget = check_number("budget", budget, low=0, low_inclusive=False)
    cost = check_number("cost", cost, low=0, low_inclusive=False)
    rounds = check_int("rounds", rounds, low=1)
    t = np.arange(rounds + 1)
    # The small tolerance keeps 0.1·40/1 = 4.000000000000001 from flooring to 3 after many rounds.
    new = np.floor(t * beta * budget / cost + 1e-9)
    reread = np.floor(t * (1 - beta) * budget + 1e-9)
    return np.diff(new).astype(int), np.diff(reread).astype(int)


@dataclass
class ProbeLearner:
    """Softmax regression on fixed features, trained one example-pass (one unit of effort) at a time."""

    num_labels: int
    num_features: int
    learning_rate: float = 0.05

    def __post_init__(self) -> None:
        # Zero weights: every run starts from the same knowledge, log(1/k) on the log-likelihood scale.
        self.weights = np.zeros((self.num_features, self.num_labels))
        self.bias = np.zeros(self.num_labels)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Predicted label probabilities for each row of ``features``."""
        logits = features @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def step(self, x: np.ndarray, label: int) -> None:
        """One SGD step on the cross-entropy of one example."""
        error = self.probabilities(x[None])[0]
        error[label] -= 1.0
        self.weights -= self.learning_rate * np.outer(x, error)
        self.bias -= self.learning_rate * error


def knowledge(learner: ProbeLearner, features: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The learner's knowledge on held-out data, on each of `EXPERIMENT_SCALES`.

    The mean log-likelihood of the true labels is the default scale because its per-round changes add up
    (it is a sum over examples of log-probabilities) and it moves with every step, where accuracy moves in
    jumps of 1/n; the lesson checks that its conclusions hold on accuracy too.
    """
    probabilities = learner.probabilities(features)
    true = probabilities[np.arange(len(labels)), labels]
    return {"log_likelihood": float(np.log(np.clip(true, 1e-12, None)).mean()),
            "accuracy": float((probabilities.argmax(axis=1) == labels).mean())}


def run_effort_split(pool_features: np.ndarray, pool_labels: np.ndarray,
                     eval_features: np.ndarray, eval_labels: np.ndarray, *, beta: float,
                     budget: float, cost: float, rounds: int, seed: int = 0,
                     learning_rate: float = 0.05, log_rereads: bool = False) -> pd.DataFrame:
    """A learner's run: each round, βB/c new labels (trained on at once), then (1−β)B re-reads.

    Re-reads are drawn uniformly from the examples explored so far (none before the first is
    bought: that effort is spent on nothing). One row per round, round 0 the untrained learner.
    With ``log_rereads`` the rows also hold the pool indices bought and re-read, for checking
    the design.
    """
    pool_labels, eval_labels = np.asarray(pool_labels), np.asarray(eval_labels)
    if len(pool_features) != len(pool_labels) or len(eval_features) != len(eval_labels):
        raise ValueError("features and labels must have one row per example "
                         "(pool and evaluation alike)")
    new, reread = effort_schedule(beta, budget, cost, rounds)
    if new.sum() > len(pool_features):
        raise ValueError(f"the design buys {new.sum():,} labels but the pool holds "
                         f"{len(pool_features):,}: lower budget or rounds, or raise cost")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pool_features))  # the order in which this run would buy labels
    num_labels = int(max(pool_labels.max(), eval_labels.max())) + 1
    learner = ProbeLearner(num_labels, pool_features.shape[1], learning_rate)
    start = {"round": 0, "new": 0, "reread": 0, "labelled": 0}
    rows = [start | knowledge(learner, eval_features, eval_labels)]
    labelled = 0
    for t in range(rounds):
        bought = order[labelled:labelled + new[t]]
        for i in bought:  # each new label is trained on once, as it arrives
            learner.step(pool_features[i], pool_labels[i])
        labelled += new[t]
        chosen = (order[rng.integers(0, labelled, size=reread[t])] if labelled
                  else np.array([], dtype=int))
        for i in chosen:
            learner.step(pool_features[i], pool_labels[i])
        row = {"round": t + 1, "new": int(new[t]), "reread": int(len(chosen)),
               "labelled": labelled}
        if log_rereads:
            row |= {"bought_ids": bought.tolist(), "reread_ids": chosen.tolist()}
        rows.append(row | knowledge(learner, eval_features, eval_labels))
    return pd.DataFrame(rows).assign(beta=beta, seed=seed, cost=cost, budget=budget)


def run_effort_experiment(pool_features: np.ndarray, pool_labels: np.ndarray, eval_features: np.ndarray,
                          eval_labels: np.ndarray, *, betas: list[float], seeds: list[int], budget: float,
                          cost: float, rounds: int, learning_rate: float = 0.05) -> pd.DataFrame:
    """`run_effort_split` for every β and seed: the learning curves the growth model is fitted to."""
    if not betas or not seeds:
        raise ValueError(f"betas and seeds must each hold at least one value, got {betas!r} and {seeds!r}")
    return pd.concat([run_effort_split(pool_features, pool_labels, eval_features, eval_labels, beta=beta,
                                       budget=budget, cost=cost, rounds=rounds, seed=seed,
                                       learning_rate=learning_rate)
                      for beta in betas for seed in seeds], ignore_index=True)


@dataclass(frozen=True)
class EffortData:
    """The learner's inputs: frozen sentence vectors of a label pool and of the evaluation split."""

    pool_features: np.ndarray
    pool_labels: np.ndarray
    eval_features: np.ndarray
    eval_labels: np.ndarray
    evaluated: str  # the split knowledge is measured on


def effort_data(data, *, model_name: str = "minilm", pool_size: int | None = None, max_length: int = 128,
                seed: int = 0) -> EffortData:
    """Mean-pooled frozen vectors of ``data``'s train split (the label pool) and validation split, standardised.

    The scaling uses the pool's own mean and spread (no labels involved), so every feature moves SGD alike.
    ``pool_size`` keeps that many training sentences, chosen at random with ``seed``.
    """
    from ..finetune.models import load_model_for_task
    from ..tasks.sentiment import sentence_vectors

    pool = data["train"]
    if pool_size is not None:
        pool_size = check_int("pool_size", pool_size, low=2)
        pool = pool.shuffle(seed=seed).select(range(min(pool_size, len(pool))))
    label_names = data["train"].features["label"].names
    tokenizer, model = load_model_for_task(model_name, "sequence", label_names, seed=seed)
    mean = "mean of the token vectors"
    pool_x = sentence_vectors(model, tokenizer, list(pool["sentence"]), max_length=max_length)[mean]
    eval_x = sentence_vectors(model, tokenizer, list(data["validation"]["sentence"]), max_length=max_length)[mean]
    centre, spread = pool_x.mean(axis=0), pool_x.std(axis=0) + 1e-8
    return EffortData((pool_x - centre) / spread, np.asarray(pool["label"]), (eval_x - centre) / spread,
                      np.asarray(data["validation"]["label"]), "validation")
