"""Metrics for the training loop: functions of (logits, labels) that return a dict of floats."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, precision_recall_fscore_support


def classification_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy, and precision, recall and F1 (binary for two classes, macro-averaged for more)."""
    predictions = np.asarray(logits).argmax(-1)
    labels = np.asarray(labels)
    average = "binary" if logits.shape[-1] == 2 else "macro"
    precision, recall, f1, _ = precision_recall_fscore_support(labels, predictions, average=average,
                                                               zero_division=0)
    return {"accuracy": float(accuracy_score(labels, predictions)), "precision": float(precision),
            "recall": float(recall), "f1": float(f1)}
