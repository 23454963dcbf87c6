"""Scoring NER the way CoNLL does, on whole entities (seqeval), with token accuracy beside it to show why.

A prediction counts only if an entity's type *and* both its boundaries are right. Token accuracy counts
every word, and most words are O, so a model that tags nothing at all still scores high on it.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

from .data.alignment import IGNORE_INDEX


def word_level_tags(logits: np.ndarray, labels: np.ndarray, tag_names: list[str]) -> tuple[list[list[str]],
                                                                                            list[list[str]]]:
    """Gold and predicted tags, one per word: the positions whose label is not −100 (each word's first sub-token)."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    if logits.shape[:2] != labels.shape:
        raise ValueError(f"logits {logits.shape} and labels {labels.shape} must agree on (sentences, tokens)")
    predictions = logits.argmax(-1)
    gold, predicted = [], []
    for guess_row, label_row in zip(predictions, labels):
        keep = label_row != IGNORE_INDEX
        gold.append([tag_names[i] for i in label_row[keep]])
        predicted.append([tag_names[i] for i in guess_row[keep]])
    return gold, predicted


def dataset_tags(dataset) -> tuple[list[list[str]], list[list[str]]]:
    """(words, IOB2 tag strings) of every sentence of a `load_ner` split."""
    names = dataset.features["ner_tags"].feature.names
    rows = dataset.to_dict()
    return rows["tokens"], [[names[t] for t in tags] for tags in rows["ner_tags"]]


def _check_same_shape(gold: list[list[str]], predicted: list[list[str]]) -> None:
    if len(gold) != len(predicted) or any(len(g) != len(p) for g, p in zip(gold, predicted)):
        raise ValueError("gold and predicted must hold the same sentences with one tag per word each")


def entity_scores(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, float]:
    """Entity-level precision, recall and F1 (micro, as conlleval), F1 per type, and token accuracy."""
    _check_same_shape(gold, predicted)
    flat_gold = [tag for sentence in gold for tag in sentence]
    flat_predicted = [tag for sentence in predicted for tag in sentence]
    scores = {"precision": precision_score(gold, predicted, zero_division=0),
              "recall": recall_score(gold, predicted, zero_division=0),
              "f1": f1_score(gold, predicted, zero_division=0),
              "token_accuracy": float(np.mean([g == p for g, p in zip(flat_gold, flat_predicted)]))
              if flat_gold else float("nan")}
    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    scores |= {f"f1_{name}": row["f1-score"] for name, row in report.items() if not name.endswith(" avg")}
    return {name: float(value) for name, value in scores.items()}


def ner_metrics(tag_names: list[str]) -> Callable[[np.ndarray, np.ndarray], dict[str, float]]:
    """A ``compute_metrics`` for the training loop: entity-level scores from (logits, labels)."""
    if not tag_names or "O" not in tag_names:
        raise ValueError(f"tag_names must be the dataset's IOB2 tag names including 'O', got {tag_names!r}")
    return lambda logits, labels: entity_scores(*word_level_tags(logits, labels, tag_names))


def entity_report(gold: list[list[str]], predicted: list[list[str]]) -> pd.DataFrame:
    """Precision, recall, F1 and support per entity type, then the micro and macro averages (seqeval)."""
    _check_same_shape(gold, predicted)
    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    table = pd.DataFrame(report).T.rename(columns={"f1-score": "f1"})
    table = table.loc[[name for name in table.index if name != "weighted avg"]]
    table["support"] = table["support"].astype(int)
    return table[["precision", "recall", "f1", "support"]]
