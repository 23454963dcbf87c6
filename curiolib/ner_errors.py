"""What an NER model gets wrong: each gold entity's outcome, which type is taken for which, the worst sentences."""
from __future__ import annotations

import pandas as pd
from seqeval.metrics.sequence_labeling import get_entities

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


def plot_entity_confusion(outcomes: pd.DataFrame, *, title: str = "Entity errors"):
    """Two panels: gold type against the overlapping predicted type ('none' = missed or spurious), and the
    errors of each gold type split into type, boundary and missed."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    types = sorted((set(outcomes["gold"]) | set(outcomes["predicted"])) - {NONE}) + [NONE]
    matrix = pd.crosstab(outcomes["gold"], outcomes["predicted"]).reindex(index=types, columns=types, fill_value=0)
    matrix.loc[NONE, NONE] = 0  # no entity on either side is not an event
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.6 * len(types) + 2.2))
    sns.heatmap(matrix, annot=True, fmt="d", cmap="Oranges", cbar=False, ax=left)
    left.set(xlabel="predicted type (overlapping span)", ylabel="gold type", title="which type is taken for which")
    errors = outcome_table(outcomes).drop(columns=["correct"], errors="ignore")
    errors.plot.barh(stacked=True, ax=right, colormap="tab10", width=0.7)
    right.set(xlabel="entities", ylabel="", title="errors by gold type")
    right.legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


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
