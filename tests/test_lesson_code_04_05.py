"""Lessons 04 and 05's own code (#42), run from the committed notebooks in this process: entity spans from IOB2
tags and entity-level scores from spans (against seqeval), and entropy, farthest-first and explore_exploit
selection (against `select`). Each cell's printed claims say True as the lesson has it, and the claim a broken
line concerns says False."""
from __future__ import annotations

import re

import numpy as np
import pytest

from _checks import claims, lesson_cell, run_cell

SPANS = "def entity_spans("
SCORES = "right = len(true & found)"
SEQEVAL = "same entities as seqeval's get_entities"
CHOOSERS = "def farthest_first_picks("
SELECT = "same entropies as curiolib's entropy"



# --------------------------------------------------------------------------- lesson 04

@pytest.fixture(scope="module")
def tagged() -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
    """(words, gold, predicted) for 80 embedded test sentences; predicted is gold with a fifth of its tags redrawn,
    so it holds what a tagger's output can: I- after O, I- of one type after another, entities cut or merged."""
    from curiolib.data import load_ner

    test = load_ner("embedded", verbose=False)["test"].select(range(80))
    names = test.features["ner_tags"].feature.names
    words, gold = test["tokens"], [[names[i] for i in sentence] for sentence in test["ner_tags"]]
    rng = np.random.default_rng(0)
    predicted = [[names[rng.integers(len(names))] if rng.random() < 0.2 else tag for tag in sentence]
                 for sentence in gold]
    pairs = [(a, b) for sentence in predicted for a, b in zip(["O", *sentence], sentence)]
    assert any(a == "O" and b.startswith("I-") for a, b in pairs), "no I- after O to read"
    assert any(a.startswith("I-") and b.startswith("I-") and a[2:] != b[2:] for a, b in pairs), "no type switch"
    return words, gold, predicted


def run_04(tagged, replace: dict[str, tuple[str, str]] | None = None) -> tuple[str, dict[str, bool]]:
    """Section 1's spans cell, then section 5's scores and its check against seqeval: (all printed, the claims)."""
    from curiolib import say

    words, gold, predicted = tagged
    example = next(i for i, sentence in enumerate(gold) if "B-" in "".join(sentence))  # one with an entity
    namespace = {"say": say, "example": example, "words": [words[example]], "tags": [gold[example]],
                 # section 4's model and its predictions on the test split, as the tags they give
                 "predict": lambda *args: (None, None), "word_level_tags": lambda *args: (gold, predicted),
                 "model": None, "test_set": None, "collator": None, "tag_names": None}
    printed = "".join(run_cell(lesson_cell("04", anchor), namespace, replace=(replace or {}).get(anchor))
                      for anchor in (SPANS, SCORES, SEQEVAL))
    return printed, claims(printed)


def test_lesson_04_spans_and_entity_scores_are_seqevals(tagged) -> None:
    printed, found = run_04(tagged)
    assert found == {"same entities as seqeval's get_entities, sentence by sentence": True,
                     "same entity precision, recall and F1 as seqeval (within 1e-12)": True}
    # Section 1's example of a tagger's output: a stray I-PER starts a PER entity, I-ORG after B-LOC an ORG one.
    assert "reads as [('PER', 1, 2), ('LOC', 3, 3), ('ORG', 4, 4)]" in " ".join(printed.split())
    assert re.search(r"training sentence \d+'s entities: \[\('", printed)  # the example's, named by their words
    assert re.search(r"\d+ gold entities, \d+ predicted, \d+ of them right", printed)


@pytest.mark.parametrize(("broken", "spans_agree"), [
    ((SPANS, ("kind = tag[2:]", "kind = tag")), False),
    ((SPANS, ("or tags[i - 1][2:] != kind:", 'or tags[i - 1] == "O":')), False),
    ((SCORES, ("recall = right / len(true) if true else 0.0", "recall = right / len(found) if found else 0.0")),
     True),
    ((SCORES, ("f1 = 2 * precision * recall / (precision + recall)", "f1 = (precision + recall) / 2")), True),
    ((SCORES, ("true = {(k, *span) for k,", "true = {(0, *span) for k,")), True),
], ids=["B-/I- kept in the type", "I- of another type continues", "recall over predicted",
        "F1 as the arithmetic mean", "sentences not told apart"])
def test_lesson_04_a_broken_line_makes_its_claim_false(tagged, broken: tuple[str, tuple[str, str]],
                                                       spans_agree: bool) -> None:
    anchor, change = broken
    _, found = run_04(tagged, replace={anchor: change})
    assert found == {"same entities as seqeval's get_entities, sentence by sentence": spans_agree,
                     "same entity precision, recall and F1 as seqeval (within 1e-12)": False}


# --------------------------------------------------------------------------- lesson 05

def run_05(replace: tuple[str, str] | None = None, *, diversity_share: float = 0.5) -> dict[str, bool]:
    """The by-hand round's choosers and their check against `select`, on a made-up pool of 80 candidates."""
    from curiolib import entropy, say, select

    rng = np.random.default_rng(0)
    # float32, as embed_and_score returns them: rows that sum to 1 only within rounding.
    probabilities = rng.dirichlet([0.7, 0.7], size=80).astype(np.float32)
    embeddings = rng.normal(size=(80, 16)).astype(np.float32)
    embeddings[40], probabilities[40] = embeddings[3], probabilities[3]  # a sentence twice in the pool: ties
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    labelled = rng.normal(size=(6, 16)).astype(np.float32)
    namespace = {"np": np, "say": say, "select": select, "entropy": entropy, "k": 12,
                 "diversity_share": diversity_share, "probabilities": probabilities, "embeddings": embeddings,
                 "labelled_embeddings": labelled / np.linalg.norm(labelled, axis=1, keepdims=True)}
    run_cell(lesson_cell("05", CHOOSERS), namespace, replace=replace)
    return claims(run_cell(lesson_cell("05", SELECT), namespace))


def expected_05(diversity_share: float = 0.5, **wrong: bool) -> dict[str, bool]:
    names = {"entropies": "same entropies as curiolib's entropy (within 1e-12)",
             "entropy": "entropy: the same 12 candidates, in the same order, as select",
             "farthest": "farthest-first (s = 1): the same 12 candidates, in the same order, as select",
             "mix": f"explore_exploit (s = {diversity_share}): the same 12 candidates, in the same order, as select"}
    return {text: not wrong.get(key, False) for key, text in names.items()}


@pytest.mark.parametrize("diversity_share", [0.5, 0.0, 1.0])
def test_lesson_05_the_choosers_pick_what_select_picks(diversity_share: float) -> None:
    assert run_05(diversity_share=diversity_share) == expected_05(diversity_share)


@pytest.mark.parametrize(("broken", "wrong"), [
    (('by_entropy = np.argsort(-h, kind="stable")', 'by_entropy = np.argsort(h, kind="stable")'),
     {"entropy": True, "mix": True}),
    (("h = -(p * np.log(", "h = -(p * np.log2("), {"entropies": True}),
    (("p = p / p.sum(axis=1, keepdims=True)", "p = p"), {"entropies": True}),
    (("nearest = np.minimum(nearest, distance_to(points[picks[-1]]))", "nearest[picks[-1]] = -np.inf"),
     {"farthest": True, "mix": True}),
    (("explore = round(diversity_share * k)", "explore = round(diversity_share * k) + 1"), {"mix": True}),
], ids=["least uncertain first", "entropy in bits", "rows not rescaled", "no spreading out", "one too many explored"])
def test_lesson_05_a_broken_line_makes_its_claim_false(broken: tuple[str, str], wrong: dict[str, bool]) -> None:
    assert run_05(broken) == expected_05(**wrong)
