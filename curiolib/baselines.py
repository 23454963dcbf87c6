"""Baselines that put a fine-tuned model's score in scale: TF-IDF + logistic regression for sentiment."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import Pipeline, make_pipeline


@dataclass
class BaselineResult:
    """A fitted baseline and its scores on the evaluation texts."""

    pipeline: Pipeline
    accuracy: float
    f1: float
    predictions: np.ndarray


def tfidf_baseline(train_texts: list[str], train_labels: list[int], eval_texts: list[str],
                   eval_labels: list[int], *, seed: int = 0) -> BaselineResult:
    """Fit TF-IDF (words and bigrams) + logistic regression on train, score it on the evaluation split."""
    if not train_texts or not eval_texts:
        raise ValueError("train_texts and eval_texts must each hold at least one text")
    pipeline = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
                             LogisticRegression(C=10.0, max_iter=2000, random_state=seed))
    pipeline.fit(train_texts, train_labels)
    predictions = pipeline.predict(eval_texts)
    return BaselineResult(pipeline=pipeline, accuracy=float(accuracy_score(eval_labels, predictions)),
                          f1=float(f1_score(eval_labels, predictions, average="macro")), predictions=predictions)
