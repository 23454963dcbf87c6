"""NER as a task: entity-level scores (seqeval), the errors worth reading, and the seen-entity baseline.

A prediction counts only if an entity's type *and* both its boundaries are right. Token accuracy counts
every word, and most words are O, so a model that tags nothing at all still scores high on it.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np
import pandas as pd
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import get_entities

from .._figures import describe
from ..data.tokenize import IGNORE_INDEX


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


def tags_by_position(logits: np.ndarray, n_words: list[int], tag_names: list[str]) -> list[list[str]]:
    """Predicted tags read as essay 001 §5.2 reads them: word i's tag at position i ([CLS] holds word 0's).

    For a model trained with ``alignment="essay"``: sentence k's tags are the argmax at positions
    0..n_words[k]−1, whatever sub-token sits there.
    """
    predictions = np.asarray(logits).argmax(-1)
    if len(n_words) != len(predictions) or any(n < 0 or n > predictions.shape[1] for n in n_words):
        raise ValueError(f"n_words must give one word count per sentence ({len(predictions)}), each at most the "
                         f"{predictions.shape[1]} positions of the logits, got {len(n_words)} counts, largest "
                         f"{max(n_words, default=0)}")
    return [[tag_names[i] for i in row[:n]] for row, n in zip(predictions, n_words)]


def word_vectors(encoder, tokenizer, sentences: list[list[str]], *, batch_size: int = 32,
                 max_length: int = 128):
    """Each word's vector from a frozen encoder: the last hidden state of its first sub-token, all words stacked.

    ``encoder`` is a base model (``model.base_model`` of a token classifier); no gradient, eval mode. A word
    that truncation at ``max_length`` drops is an error, so row i of the result is always the i-th word.
    """
    import torch

    from .._validation import check_int

    check_int("batch_size", batch_size, low=1)
    check_int("max_length", max_length, low=8, high=tokenizer.model_max_length)
    encoder.eval()
    device = next(encoder.parameters()).device
    vectors = []
    with torch.no_grad():
        for start in range(0, len(sentences), batch_size):
            chunk = sentences[start:start + batch_size]
            batch = tokenizer(chunk, is_split_into_words=True, padding=True, truncation=True,
                              max_length=max_length, return_tensors="pt")
            hidden = encoder(**{k: v.to(device) for k, v in batch.items()}).last_hidden_state.cpu()
            for row, words in enumerate(chunk):
                first: dict[int, int] = {}
                for position, word in enumerate(batch.word_ids(row)):
                    if word is not None:
                        first.setdefault(word, position)
                if len(first) != len(words):
                    raise ValueError(f"sentence {start + row} has {len(words)} words but {len(first)} reach the "
                                     f"encoder: raise max_length (now {max_length})")
                vectors.append(hidden[row, [first[w] for w in range(len(words))]])
    if not vectors:
        raise ValueError("sentences must hold at least one sentence")
    return torch.cat(vectors)


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


def _entity_counts(gold: list[list[str]], predicted: list[list[str]]) -> np.ndarray:
    # Per sentence: entities right, predicted, gold. Micro F1 over any sample of sentences is 2·Σright / Σ(pred + gold).
    rows = []
    for g, p in zip(gold, predicted):
        truth, guess = set(_entities(g)), set(_entities(p))
        rows.append((len(truth & guess), len(guess), len(truth)))
    return np.asarray(rows, dtype=float).reshape(-1, 3)


def _f1_difference(right_a: np.ndarray, predicted_a: np.ndarray, right_b: np.ndarray, predicted_b: np.ndarray,
                   gold: np.ndarray, axis: int = -1) -> np.ndarray:
    # Micro F1 is a ratio of sums, 2·Σright / Σ(predicted + gold): sum the sentences' counts first, then divide.
    def f1(right: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        denominator = predicted.sum(axis) + gold.sum(axis)
        return np.divide(2 * right.sum(axis), denominator, out=np.zeros_like(denominator), where=denominator > 0)

    return f1(right_a, predicted_a) - f1(right_b, predicted_b)


def paired_f1_bootstrap(gold: list[list[str]], predicted_a: list[list[str]], predicted_b: list[list[str]], *,
                        samples: int = 2000, seed: int = 0) -> dict[str, float]:
    """Entity F1 of a minus b on the same sentences, with a 95 % bootstrap interval over sentences (paired).

    `scipy.stats.bootstrap` with ``paired=True``: each of ``samples`` resamples draws the same sentences for both
    models, so their shared luck (easy or hard sentences) cancels in the difference, and each resample's F1 is
    computed again from its sentences' summed entity counts. The interval is the percentile one, the middle 95 %
    of the resampled differences, not scipy's default BCa: it is the interval a lesson can state in one sentence,
    it is exactly 0 wide for two models that agree everywhere (BCa's correction is undefined there and gives NaN),
    and with a few hundred sentences the resampled differences are nearly symmetric, where BCa's corrections are
    small. The same ``seed`` gives the same interval.
    """
    from scipy.stats import bootstrap

    from .._validation import check_int

    check_int("samples", samples, low=100)
    _check_same_shape(gold, predicted_a)
    _check_same_shape(gold, predicted_b)
    if len(gold) < 2:
        raise ValueError(f"gold must hold at least 2 sentences to resample, got {len(gold)}")
    a, b = _entity_counts(gold, predicted_a), _entity_counts(gold, predicted_b)
    counts = (a[:, 0], a[:, 1], b[:, 0], b[:, 1], a[:, 2])  # right and predicted of a, then of b; gold
    result = bootstrap(counts, _f1_difference, n_resamples=samples, vectorized=True, paired=True,
                       confidence_level=0.95, method="percentile", rng=seed)
    interval = result.confidence_interval
    return {"difference": float(_f1_difference(*counts)), "low": float(interval.low), "high": float(interval.high)}


def entity_report(gold: list[list[str]], predicted: list[list[str]]) -> pd.DataFrame:
    """Precision, recall, F1 and support per entity type, then the micro and macro averages (seqeval)."""
    _check_same_shape(gold, predicted)
    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    table = pd.DataFrame(report).T.rename(columns={"f1-score": "f1"})
    table = table.loc[[name for name in table.index if name != "weighted avg"]]
    table["support"] = table["support"].astype(int)
    return table[["precision", "recall", "f1", "support"]]


def read_classification_report(text: str) -> pd.DataFrame:
    """A printed classification report (scikit-learn's or seqeval's layout) as a table: one row per line.

    Columns precision, recall, f1 and support; a row's name is everything before its last four fields
    ("micro avg", "B-LOC"). For checking a report someone printed, such as the one the source essays quote.
    """
    rows, names = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or fields == ["precision", "recall", "f1-score", "support"]:
            continue
        try:
            values = [float(f) for f in fields[-4:-1]] + [int(fields[-1])]
        except (ValueError, IndexError):
            values = []
        if len(fields) < 5 or len(values) != 4:
            raise ValueError(f"text line {number}: {line.strip()!r} is not 'name precision recall f1-score "
                             "support'")
        names.append(" ".join(fields[:-4]))
        rows.append(values)
    if not rows:
        raise ValueError("text holds no report rows")
    table = pd.DataFrame(rows, index=names, columns=["precision", "recall", "f1", "support"])
    table["support"] = table["support"].astype(int)
    return table


# --------------------------------------------------------------------------- errors

#: What can happen to a gold entity, from best to worst; a predicted entity that touches no gold one is spurious.
OUTCOMES = ("correct", "wrong type", "wrong boundary", "wrong type and boundary", "missed", "spurious")
NONE = "none"


def _entities(tags: list[str]) -> list[tuple[str, int, int]]:
    return [(kind, start, end) for kind, start, end in get_entities(list(tags))]  # end inclusive


def _outcome(entity: tuple[str, int, int], guesses: list[tuple[str, int, int]]) -> tuple[str, str]:
    kind, start, end = entity
    overlapping = [g for g in guesses if g[1] <= end and start <= g[2]]
    if entity in guesses:
        return "correct", kind
    same_span = [g for g in overlapping if (g[1], g[2]) == (start, end)]
    if same_span:
        return "wrong type", same_span[0][0]
    if any(g[0] == kind for g in overlapping):
        return "wrong boundary", kind
    if overlapping:
        return "wrong type and boundary", overlapping[0][0]
    return "missed", NONE


def entity_outcomes(gold: list[list[str]], predicted: list[list[str]]) -> pd.DataFrame:
    """One row per gold entity (and per spurious prediction): sentence, gold type, predicted type, outcome."""
    if len(gold) != len(predicted):
        raise ValueError(f"gold and predicted must hold the same sentences, got {len(gold)} and {len(predicted)}")
    rows = []
    for sentence, (gold_tags, predicted_tags) in enumerate(zip(gold, predicted)):
        truths, guesses = _entities(gold_tags), _entities(predicted_tags)
        for entity in truths:
            outcome, kind = _outcome(entity, guesses)
            rows.append({"sentence": sentence, "start": entity[1], "end": entity[2] + 1, "gold": entity[0],
                         "predicted": kind, "outcome": outcome})
        for kind, start, end in guesses:
            if not any(t[1] <= end and start <= t[2] for t in truths):
                rows.append({"sentence": sentence, "start": start, "end": end + 1, "gold": NONE,
                             "predicted": kind, "outcome": "spurious"})
    return pd.DataFrame(rows, columns=["sentence", "start", "end", "gold", "predicted", "outcome"])


def outcome_table(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Counts of each outcome per gold type: where the errors are type confusions and where boundaries."""
    table = pd.crosstab(outcomes["gold"], outcomes["outcome"])
    return table.reindex(columns=[o for o in OUTCOMES if o in table.columns], fill_value=0)


def plot_entity_confusion(outcomes: pd.DataFrame, *, title: str = "Entity errors", axes=None):
    """Two panels: gold type against the overlapping predicted type ('none' = missed or spurious), and the
    errors of each gold type split into type, boundary and missed."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    types = sorted((set(outcomes["gold"]) | set(outcomes["predicted"])) - {NONE}) + [NONE]
    matrix = pd.crosstab(outcomes["gold"], outcomes["predicted"]).reindex(index=types, columns=types, fill_value=0)
    matrix.loc[NONE, NONE] = 0  # no entity on either side is not an event
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(8, 0.6 * len(types) + 2.4))
    left, right = axes
    sns.heatmap(matrix, annot=True, fmt="d", cmap="Oranges", cbar=False, ax=left)
    left.set(xlabel="predicted type (overlapping span)", ylabel="gold type", title="which type is taken for which")
    errors = outcome_table(outcomes).drop(columns=["correct"], errors="ignore")
    errors.plot.barh(stacked=True, ax=right, colormap="tab10", width=0.7)
    right.set(xlabel="entities", ylabel="", title="errors by gold type")
    right.legend(loc="lower right")
    left.figure.suptitle(title)
    left.figure.tight_layout()
    describe(left.figure, f"{title}. Left: a heatmap of counts, gold entity type down the side against the type "
             "of the overlapping predicted span along the bottom ('none': missed or spurious). Right: each gold "
             f"type's errors as stacked bars of {', '.join(map(str, errors.columns))}.")
    return axes


def entity_changes(before: list[list[str]], after: list[list[str]]) -> list[int]:
    """The indices of the sentences whose entities (type and span) differ between two taggings of them."""
    if len(before) != len(after):
        raise ValueError(f"before and after must hold the same sentences, got {len(before)} and {len(after)}")
    return [i for i, (a, b) in enumerate(zip(before, after)) if set(_entities(a)) != set(_entities(b))]


def _spans(words: list[str], tags: list[str]) -> str:
    return "; ".join(f"{' '.join(words[start:end + 1])} ({kind})" for kind, start, end in _entities(tags)) or "—"


def worst_tagged_sentences(words: list[list[str]], gold: list[list[str]], predicted: list[list[str]],
                           k: int = 5) -> pd.DataFrame:
    """The k sentences with the most entity errors (gold entities not found exactly plus spurious or wrong ones)."""
    if not len(words) == len(gold) == len(predicted):
        raise ValueError("words, gold and predicted must hold the same sentences")
    errors = []
    for index, (gold_tags, predicted_tags) in enumerate(zip(gold, predicted)):
        truths, guesses = set(_entities(gold_tags)), set(_entities(predicted_tags))
        errors.append((len(truths ^ guesses), index))
    worst = [index for count, index in sorted(errors, key=lambda e: (-e[0], e[1]))[:k] if count]
    return pd.DataFrame({"sentence": [" ".join(words[i]) for i in worst],
                         "gold entities": [_spans(words[i], gold[i]) for i in worst],
                         "predicted entities": [_spans(words[i], predicted[i]) for i in worst],
                         "errors": [len(set(_entities(gold[i])) ^ set(_entities(predicted[i]))) for i in worst]})


# --------------------------------------------------------------------------- the baseline

def seen_entity_baseline(train_words: list[list[str]], train_tags: list[list[str]],
                         sentences: list[list[str]]) -> list[list[str]]:
    """CoNLL-2003's baseline: tag only entity phrases that had one type every time they were seen in training.

    Matching is exact (case included) and greedy, longest phrase first; everything else is O. Tjong Kim
    Sang and De Meulder (2003) report 59.6 F1 for it on the English test set.
    """
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
