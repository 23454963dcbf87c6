"""Baselines that put a fine-tuned model's score in scale: TF-IDF + logistic regression, seen entities."""
from __future__ import annotations

from collections import defaultdict
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


def seen_entity_baseline(train_words: list[list[str]], train_tags: list[list[str]],
                         sentences: list[list[str]]) -> list[list[str]]:
    """CoNLL-2003's baseline: tag only entity phrases that had one type every time they were seen in training.

    Matching is exact (case included) and greedy, longest phrase first; everything else is O. Tjong Kim
    Sang and De Meulder (2003) report 59.6 F1 for it on the English test set.
    """
    from seqeval.metrics.sequence_labeling import get_entities

    if len(train_words) != len(train_tags) or not train_words:
        raise ValueError("train_words and train_tags must hold the same, non-empty list of sentences")
    types: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for words, tags in zip(train_words, train_tags):
        for kind, start, end in get_entities(list(tags)):
            types[tuple(words[start:end + 1])].add(kind)
    lexicon = {phrase: kinds.pop() for phrase, kinds in types.items() if len(kinds) == 1}
    longest = max(map(len, lexicon), default=0)
    tagged = []
    for words in sentences:
        tags, i = ["O"] * len(words), 0
        while i < len(words):
            for n in range(min(longest, len(words) - i), 0, -1):
                kind = lexicon.get(tuple(words[i:i + n]))
                if kind:
                    tags[i:i + n] = [f"B-{kind}"] + [f"I-{kind}"] * (n - 1)
                    i += n
                    break
            else:
                i += 1
        tagged.append(tags)
    return tagged
