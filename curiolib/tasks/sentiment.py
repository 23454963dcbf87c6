"""Sentiment as a task: the loop's metrics, the errors worth reading, and the TF-IDF baseline beside it."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support
from sklearn.pipeline import Pipeline, make_pipeline

from .._figures import describe
from ..finetune.memory import return_freed_memory


def classification_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy, and precision, recall and F1 (binary for two classes, macro-averaged for more)."""
    return prediction_metrics(labels, np.asarray(logits).argmax(-1), np.asarray(logits).shape[-1])


def prediction_metrics(labels, predictions, num_labels: int) -> dict[str, float]:
    """`classification_metrics` from predicted label ids: the same F1 for a model and for a baseline."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    average = "binary" if num_labels == 2 else "macro"
    precision, recall, f1, _ = precision_recall_fscore_support(labels, predictions, average=average,
                                                               zero_division=0)
    return {"accuracy": float(accuracy_score(labels, predictions)), "precision": float(precision),
            "recall": float(recall), "f1": float(f1)}


def wilson_interval(accuracy: float, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of an accuracy measured on ``n`` examples (scipy's `binomtest`)."""
    from scipy.stats import binomtest

    from .._validation import check_int, check_number

    accuracy, n = check_number("accuracy", accuracy, low=0, high=1), check_int("n", n, low=1)
    confidence = check_number("confidence", confidence, low=0, high=1, low_inclusive=False, high_inclusive=False)
    interval = binomtest(round(accuracy * n), n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


@dataclass(frozen=True)
class PairedComparison:
    """Two classifiers scored on the same examples: the accuracy difference and McNemar's exact test."""

    difference: float  # accuracy of a minus accuracy of b
    only_a_right: int  # examples a gets right and b wrong
    only_b_right: int
    p_value: float  # two-sided; small means the two accuracies differ by more than chance
    low: float = float("nan")  # 95 % interval of the difference, paired (normal approximation)
    high: float = float("nan")


def paired_accuracy_test(a_correct, b_correct) -> PairedComparison:
    """McNemar's exact test: on the examples where exactly one of the two is right, is either side more often?

    Scoring two models on the same sentences pairs them: the examples both get right or both get wrong say
    nothing about which is better, and the test looks only at the rest (a binomial test with p = ½).
    """
    from scipy.stats import binomtest

    a, b = np.asarray(a_correct, dtype=bool), np.asarray(b_correct, dtype=bool)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ValueError(f"a_correct and b_correct must be non-empty 1-D and of one length, got {a.shape} and "
                         f"{b.shape}")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    p_value = 1.0 if only_a + only_b == 0 else float(binomtest(only_a, only_a + only_b, 0.5).pvalue)
    n, difference = len(a), float(a.mean() - b.mean())
    # The paired standard error: only the discordant examples vary between the two classifiers.
    half = 1.96 * np.sqrt(max(only_a + only_b - (only_a - only_b) ** 2 / n, 0.0)) / n
    return PairedComparison(difference, only_a, only_b, p_value, difference - half, difference + half)


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
    describe(ax, f"{title}: a heatmap of counts, true label down the side and predicted label along the bottom; "
             f"{int(np.trace(matrix))} of {int(matrix.sum())} on the diagonal, where prediction and truth agree.")
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


@dataclass
class BaselineResult:
    """A fitted baseline and its scores on the evaluation texts."""

    pipeline: Pipeline
    accuracy: float
    f1: float  # as classification_metrics defines it (binary for two classes), so the two compare
    predictions: np.ndarray
    metrics: dict[str, float] = field(default_factory=dict)  # classification_metrics' keys


def tfidf_baseline(train_texts: list[str], train_labels: list[int], eval_texts: list[str],
                   eval_labels: list[int], *, seed: int = 0) -> BaselineResult:
    """Fit TF-IDF (words and bigrams) + logistic regression on train, score it on the evaluation split."""
    if not train_texts or not eval_texts:
        raise ValueError("train_texts and eval_texts must each hold at least one text")
    pipeline = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
                             LogisticRegression(C=10.0, max_iter=2000, random_state=seed))
    pipeline.fit(train_texts, train_labels)
    predictions = pipeline.predict(eval_texts)
    metrics = prediction_metrics(eval_labels, predictions, max(2, len(pipeline.classes_)))
    return BaselineResult(pipeline=pipeline, accuracy=metrics["accuracy"], f1=metrics["f1"], predictions=predictions,
                          metrics=metrics)


SENTENCE_VECTORS = ("[CLS] vector", "pooler output (what the head reads)", "mean of the token vectors")


def sentence_vectors(model, tokenizer, texts: list[str], *, max_length: int = 128,
                     batch_size: int = 64) -> dict[str, np.ndarray]:
    """A frozen encoder's three candidate sentence vectors for each text: [CLS], the pooler's, the token mean."""
    import torch

    encoder = model.base_model  # the BertModel under a classification head
    vectors: dict[str, list[np.ndarray]] = {name: [] for name in SENTENCE_VECTORS}
    encoder.eval()
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(list(texts[start:start + batch_size]), padding=True, truncation=True,
                              max_length=max_length, return_tensors="pt")
            out = encoder(**batch)
            mask = batch["attention_mask"].unsqueeze(-1).to(out.last_hidden_state.dtype)
            # Padding positions hold vectors too; the mean must count real tokens only.
            mean = (out.last_hidden_state * mask).sum(1) / mask.sum(1)
            for name, value in zip(SENTENCE_VECTORS, (out.last_hidden_state[:, 0], out.pooler_output, mean)):
                vectors[name].append(value.float().numpy())
    return {name: np.concatenate(parts) for name, parts in vectors.items()}


def compare_sentence_vectors(model, tokenizer, train_texts: list[str], train_labels: list[int],
                             eval_sets: dict[str, tuple[list[str], list[int]]], *, max_length: int = 128,
                             seed: int = 0) -> dict[str, pd.DataFrame]:
    """Logistic regression on each frozen sentence vector (`sentence_vectors`): which one already holds the task.

    One probe per vector, fitted on the training texts; ``eval_sets`` maps a split's name to its (texts,
    labels), and the result maps it to that split's table (one row per vector, the classification metrics).
    """
    from sklearn.preprocessing import StandardScaler

    if not train_texts or not eval_sets or not all(texts for texts, _ in eval_sets.values()):
        raise ValueError("train_texts and every split of eval_sets must each hold at least one text")
    train = sentence_vectors(model, tokenizer, train_texts, max_length=max_length)
    probes = {name: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
              .fit(train[name], train_labels) for name in SENTENCE_VECTORS}
    tables = {}
    for split, (texts, labels) in eval_sets.items():
        vectors = sentence_vectors(model, tokenizer, texts, max_length=max_length)
        tables[split] = pd.DataFrame([
            {"frozen sentence vector": name} | prediction_metrics(labels, probe.predict(vectors[name]),
                                                                   max(2, len(probe.classes_)))
            for name, probe in probes.items()]).set_index("frozen sentence vector")
    return_freed_memory()  # the batches' activations, freed, go back to the system rather than stay in the heap
    return tables
