"""The columns and label names every loader returns, whatever the source."""
from __future__ import annotations

from datasets import ClassLabel, Features, Sequence, Value

SENTIMENT_LABELS = ["negative", "positive"]
#: The review sites of the embedded sentiment sentences (the Kotzias set), in the order lesson 08 learns them.
SITES = ["amazon", "imdb", "yelp"]
#: Entity types in the order tag lists are written: the CoNLL-2003 order, then any other type A–Z.
ENTITY_ORDER = ["PER", "ORG", "LOC", "MISC"]


def sentiment_features() -> Features:
    """`sentence` text and a `label` ClassLabel (negative, positive)."""
    return Features({"sentence": Value("string"), "label": ClassLabel(names=SENTIMENT_LABELS)})


def ner_features(tag_names: list[str]) -> Features:
    """`tokens` and `ner_tags`, a sequence of IOB2 ClassLabels named from the data."""
    return Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=tag_names))})


def order_tag_names(tags: set[str] | list[str]) -> list[str]:
    """O first, then B-/I- for each entity type (PER, ORG, LOC, MISC, then others alphabetically)."""
    types = {tag[2:] for tag in tags if tag != "O"}
    ordered = [t for t in ENTITY_ORDER if t in types] + sorted(types - set(ENTITY_ORDER))
    return ["O"] + [f"{prefix}-{t}" for t in ordered for prefix in ("B", "I")]
