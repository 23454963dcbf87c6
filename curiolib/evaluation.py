"""Looking at a classifier's results: the confusion matrix and its most confident mistakes."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix


def plot_confusion_matrix(labels: np.ndarray, predictions: np.ndarray, label_names: list[str], *, ax=None,
                          title: str = "Confusion matrix"):
    """Seaborn heatmap of counts, true labels down the side and predictions along the top."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    matrix = confusion_matrix(labels, predictions, labels=list(range(len(label_names))))
    if ax is None:
        _, ax = plt.subplots(figsize=(1.4 * len(label_names) + 1.5, 1.2 * len(label_names) + 1))
    sns.heatmap(matrix, annot=True, fmt="d", cmap="Blues", cbar=False, xticklabels=label_names,
                yticklabels=label_names, ax=ax)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return ax


def most_confident_mistakes(texts: list[str], labels: np.ndarray, probabilities: np.ndarray,
                            label_names: list[str], k: int = 10) -> pd.DataFrame:
    """The k wrong predictions the model was surest of: often label noise, sarcasm or negation."""
    probabilities = np.asarray(probabilities)
    labels = np.asarray(labels)
    if len(texts) != len(labels) or len(labels) != len(probabilities):
        raise ValueError(f"texts, labels and probabilities must have the same length, got "
                         f"{len(texts)}, {len(labels)}, {len(probabilities)}")
    predicted = probabilities.argmax(-1)
    wrong = np.flatnonzero(predicted != labels)
    order = wrong[np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")][:k]
    return pd.DataFrame({
        "text": [texts[i] for i in order],
        "true": [label_names[labels[i]] for i in order],
        "predicted": [label_names[predicted[i]] for i in order],
        "confidence": probabilities[order, predicted[order]].round(3),
    })
