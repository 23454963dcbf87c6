"""What a practitioner with few labels tries first: the peers every active-learning strategy must beat.

Two plain recipes, on the same labelled sets as the loop's runs, so each comparison is paired:
- **fine-tuned from scratch on random labels**: the loop's own "random" strategy with ``training="scratch"``
  (each round retrains the pretrained model on every label so far), nothing to add here;
- **frozen embeddings + logistic regression** (`frozen_embedding_peer`): the embedded model is a sentence
  embedder, so a linear classifier on its mean-pooled vectors is the cheapest strong recipe there is.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
from datasets import DatasetDict
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..tasks.sentiment import sentence_vectors
from .loop import ActiveLearningRun

MEAN_VECTOR = "mean of the token vectors"  # how all-MiniLM-L6-v2 was trained to embed a sentence


def frozen_embedding_peer(model, tokenizer, data: DatasetDict, runs: list[ActiveLearningRun], *,
                          max_length: int = 64) -> list[ActiveLearningRun]:
    """Logistic regression on the frozen encoder's mean vectors, fitted on each run's labels after every round.

    ``model`` is the pretrained model the runs started from (its encoder is only read). Returns one run per
    run given, with the same rounds and labels and the peer's validation accuracy, so that
    `plot_learning_curves` and `labels_to_target_table` read it like a strategy (E and R are NaN: the peer
    neither explores nor re-reads; ``seconds`` is each round's fit, the sentence vectors are computed once).
    """
    if not runs:
        raise ValueError("runs must hold at least one active-learning run whose labels the peer reuses")
    needed = sorted({index for run in runs for batch in run.queried for index in batch})
    pool = sentence_vectors(model, tokenizer, data["train"].select(needed)["sentence"],
                            max_length=max_length)[MEAN_VECTOR]
    row_of = {index: row for row, index in enumerate(needed)}
    pool_labels = np.asarray(data["train"].select(needed)["label"])
    validation = sentence_vectors(model, tokenizer, data["validation"]["sentence"], max_length=max_length)[MEAN_VECTOR]
    validation_labels = np.asarray(data["validation"]["label"])
    peers = []
    for run in runs:
        labelled: list[int] = []
        rows = [{"round": 0, "labels": 0, "accuracy": float("nan"), "seconds": 0.0}]
        for round_number, batch in enumerate(run.queried, start=1):
            start = time.perf_counter()
            labelled += [row_of[index] for index in batch]
            y = pool_labels[labelled]
            if len(np.unique(y)) < 2:  # one class seen so far: the classifier can only say that class
                accuracy = float(np.mean(validation_labels == y[0]))
            else:
                probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=run.config.seed))
                accuracy = float(probe.fit(pool[labelled], y).score(validation, validation_labels))
            rows.append({"round": round_number, "labels": len(labelled), "accuracy": accuracy,
                         "seconds": time.perf_counter() - start})  # the fit; the encoding is shared, done once
        history = pd.DataFrame(rows).assign(E=np.nan, R=np.nan)
        peers.append(ActiveLearningRun(config=run.config, history=history, queried=run.queried))
    return peers
