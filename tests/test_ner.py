"""NER end to end: alignment on real sentences, entity-level scores checked by hand, errors, baseline, entities."""
from __future__ import annotations

import html
import re

import numpy as np
import pytest
from transformers import DataCollatorForTokenClassification

from curiolib.course.widgets import MAX_WIDGET_CHARS, entities_html, ner_widget
from curiolib.data import IGNORE_INDEX, align_labels_by_position, load_ner, tokenize_ner_dataset
from curiolib.finetune.inference import find_entities
from curiolib.finetune.loop import TrainingConfig, predict, train
from curiolib.finetune.models import load_model_for_task
from curiolib.tasks.ner import (dataset_tags, entity_outcomes, entity_report, entity_scores, ner_metrics, outcome_table,
                               paired_f1_bootstrap,
                                seen_entity_baseline, word_level_tags, worst_tagged_sentences)

GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
PREDICTED = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "B-PER"]]


@pytest.fixture(scope="module")
def ner_data():
    return load_ner(verbose=False)


@pytest.fixture(scope="module")
def tagger(ner_data):
    """An (untrained) embedded token classifier with the embedded data's tags."""
    return load_model_for_task("minilm", "ner", ner_data["train"].features["ner_tags"].feature.names)


def test_every_words_first_sub_token_carries_its_tag_on_real_sentences(ner_data, tokenizer) -> None:
    sentences = ner_data["validation"].select(range(60))
    encoded = tokenize_ner_dataset(sentences, tokenizer)
    split_words = 0
    for source, row in zip(sentences, encoded):
        word_ids = tokenizer(source["tokens"], is_split_into_words=True, truncation=True,
                             max_length=256).word_ids()
        firsts = [i for i, w in enumerate(word_ids) if w is not None and (i == 0 or word_ids[i - 1] != w)]
        assert [row["labels"][i] for i in firsts] == source["ner_tags"]
        assert all(row["labels"][i] == IGNORE_INDEX for i in range(len(word_ids)) if i not in firsts)
        split_words += len([w for w in word_ids if w is not None]) - len(firsts)
    assert split_words > 10, "the sample must contain words that split into several sub-tokens"


def test_decoded_predictions_give_back_one_tag_per_word(ner_data, tokenizer) -> None:
    sentences = ner_data["test"].select(range(40))
    names = sentences.features["ner_tags"].feature.names
    encoded = tokenize_ner_dataset(sentences, tokenizer)
    _, model = load_model_for_task("minilm", "ner", names)
    logits, labels = predict(model, encoded, DataCollatorForTokenClassification(tokenizer), batch_size=16)
    gold, predicted = word_level_tags(logits, labels, names)
    words, tags = dataset_tags(sentences)
    assert gold == tags
    assert [len(p) for p in predicted] == [len(w) for w in words]
    # Logits that put all weight on the gold label decode to exactly the gold tags.
    perfect = np.eye(len(names))[np.where(labels == IGNORE_INDEX, 0, labels)]
    assert word_level_tags(perfect, labels, names)[1] == tags


def test_the_positional_bug_puts_tags_on_the_wrong_sub_tokens(tokenizer) -> None:
    words, tags = ["Hüttenberger", "lives", "in", "Oslo"], [1, 0, 0, 5]
    encoding = tokenizer(words, is_split_into_words=True)
    naive = align_labels_by_position(tags, len(encoding["input_ids"]))
    oslo = encoding.word_ids().index(3)
    assert len(naive) == len(encoding["input_ids"]) and naive[0] == naive[-1] == IGNORE_INDEX
    assert naive[oslo] != 5 and 5 in naive  # the B-LOC lands inside "Hüttenberger"
    with pytest.raises(ValueError, match="alignment must be one of 'word_ids', 'position'"):
        tokenize_ner_dataset(load_ner(verbose=False)["test"].select(range(2)), tokenizer, alignment="shift")


def test_entity_scores_match_a_hand_computed_example() -> None:
    # Gold: PER, LOC, ORG. Predicted: PER (right), ORG where LOC was (wrong), ORG (right), PER (spurious).
    scores = entity_scores(GOLD, PREDICTED)
    assert scores["precision"] == pytest.approx(2 / 4)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 * (1 / 2) * (2 / 3) / (1 / 2 + 2 / 3))
    assert scores["f1_PER"] == pytest.approx(2 / 3) and scores["f1_ORG"] == pytest.approx(2 / 3)
    assert scores["f1_LOC"] == 0.0
    assert scores["token_accuracy"] == pytest.approx(4 / 6)
    report = entity_report(GOLD, PREDICTED)
    assert report.loc["LOC", "support"] == 1 and report.loc["micro avg", "f1"] == pytest.approx(scores["f1"])


def test_token_accuracy_flatters_a_model_that_tags_nothing(ner_data) -> None:
    _, gold = dataset_tags(ner_data["validation"])
    nothing = entity_scores(gold, [["O"] * len(sentence) for sentence in gold])
    assert nothing["token_accuracy"] > 0.85 and nothing["f1"] == 0.0


def test_ner_metrics_reads_logits_and_labels() -> None:
    names = ["O", "B-PER", "I-PER"]
    labels = np.array([[IGNORE_INDEX, 1, IGNORE_INDEX, 2, 0, IGNORE_INDEX]])
    logits = np.eye(3)[[[0, 1, 1, 2, 1, 0]]]  # the B-PER guessed on a later sub-token must be ignored
    assert ner_metrics(names)(logits, labels) == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "token_accuracy": 2 / 3, "f1_PER": 2 / 3})
    with pytest.raises(ValueError, match="tag_names"):
        ner_metrics([])


def test_entity_outcomes_tell_type_errors_from_boundary_errors() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "O", "O"]]
    predicted = [["B-PER", "O", "O", "B-ORG", "O", "O", "O", "B-MISC"]]
    outcomes = entity_outcomes(gold, predicted)
    assert dict(zip(outcomes["gold"], outcomes["outcome"])) == {
        "PER": "wrong boundary", "LOC": "wrong type", "ORG": "missed", "none": "spurious"}
    assert outcomes.loc[outcomes["gold"] == "LOC", "predicted"].item() == "ORG"
    table = outcome_table(outcomes)
    assert table.loc["LOC", "wrong type"] == 1 and table.to_numpy().sum() == 4
    worst = worst_tagged_sentences([["Ann", "Lee", "in", "Oslo", "at", "IBM", "on", "Linux"]], gold, predicted)
    assert worst.loc[0, "errors"] == 6 and "Ann Lee (PER)" in worst.loc[0, "gold entities"]


def test_seen_entity_baseline_tags_only_unambiguous_phrases_longest_first() -> None:
    train_words = [["New", "York", "is", "big"], ["Jordan", "scored"], ["Jordan", "borders", "Israel"]]
    train_tags = [["B-LOC", "I-LOC", "O", "O"], ["B-PER", "O"], ["B-LOC", "O", "B-LOC"]]
    tagged = seen_entity_baseline(train_words, train_tags, [["Jordan", "flew", "to", "New", "York"], ["York"]])
    assert tagged == [["O", "O", "O", "B-LOC", "I-LOC"], ["O"]]  # "Jordan" was PER once and LOC once


@pytest.mark.slow
def test_a_tiny_token_classification_run_learns(ner_data, tokenizer, tmp_path) -> None:
    names = ner_data["train"].features["ner_tags"].feature.names
    _, model = load_model_for_task("minilm", "ner", names, seed=0)
    train_set = tokenize_ner_dataset(ner_data["train"].select(range(128)), tokenizer)
    eval_set = tokenize_ner_dataset(ner_data["validation"].select(range(32)), tokenizer)
    config = TrainingConfig(output_dir=str(tmp_path / "run"), epochs=2, batch_size=16, learning_rate=2e-4,
                            metric_for_best="f1", show_progress=False, log_every=2)
    result = train(model, train_set, eval_set, collator=DataCollatorForTokenClassification(tokenizer),
                   compute_metrics=ner_metrics(names), config=config)
    losses = result.history["train_loss"].dropna().to_numpy()
    assert losses[-1] < 0.6 * losses[0]
    assert {"f1", "precision", "recall", "token_accuracy"} <= set(result.final_metrics)


def test_entities_point_at_their_characters_and_survive_save_and_load(tagger, tmp_path) -> None:
    tokenizer, model = tagger
    texts = ["Angela Merkel met Tim Cook in Berlin on Monday.", "Flights from São Paulo to Zürich were late."]
    found = find_entities(texts, model, tokenizer)
    assert len(found) == 2
    for text, entities in zip(texts, found):
        for entity in entities:
            assert text[entity.start:entity.end] == entity.text and 0 <= entity.score <= 1
            assert entity.type in {"PER", "ORG", "LOC"}
    model.save_pretrained(tmp_path / "ner")
    tokenizer.save_pretrained(tmp_path / "ner")
    again_tokenizer, again = load_model_for_task(str(tmp_path / "ner"), "ner", ["O", "B-PER", "I-PER", "B-ORG",
                                                                                  "I-ORG", "B-LOC", "I-LOC"])
    assert find_entities(texts, again, again_tokenizer) == found
    with pytest.raises(ValueError, match=r"texts\[0\] must be a non-empty string"):
        find_entities("  ", model, tokenizer)


@pytest.mark.parametrize("text, expected", [
    ("", "Type a sentence"),
    ("Angela Merkel visited Paris.", "types:"),
    ("Paris and Berlin. " * 600, "characters were read"),  # 10,800 characters
    ("😍😍😍 🎬", "[UNK]"),
    ("この映画は最高でした", "other languages"),
    ("<script>alert('Obama')</script>", "&lt;"),
])
def test_entity_highlighter_answers_awkward_input(tagger, text: str, expected: str) -> None:
    tokenizer, model = tagger
    html = entities_html(text, model, tokenizer)
    assert expected in html and "<script>" not in html


def test_ner_widget_shows_the_entities_the_model_finds_as_the_text_changes(tagger) -> None:
    tokenizer, model = tagger
    box, answer = ner_widget(model, tokenizer).children
    for text in ["", "x" * 10_000, "🙂", "Très bien, Jean-Luc ! Angela Merkel visited Paris."]:
        box.value = text
        if not text.strip():
            assert "Type a sentence" in answer.value
            continue
        assert "Could not tag" not in answer.value
        entities = find_entities(text[:MAX_WIDGET_CHARS], model, tokenizer)[0]
        listed = re.findall(r"<li>(.*?) — (\w+), \d+%, characters (\d+)–(\d+)</li>", answer.value)
        assert listed == [(html.escape(e.text), e.type, str(e.start), str(e.end)) for e in entities[:50]]
        assert ("No entities found." in answer.value) == (not entities)


def test_paired_f1_bootstrap_gives_the_f1_difference_and_an_interval_around_it() -> None:
    gold = GOLD * 30
    better = paired_f1_bootstrap(gold, gold, PREDICTED * 30)
    perfect, other = entity_scores(gold, gold)["f1"], entity_scores(gold, PREDICTED * 30)["f1"]
    assert better["difference"] == pytest.approx(perfect - other)
    assert 0 < better["low"] <= better["difference"] <= better["high"]
    assert paired_f1_bootstrap(gold, gold, gold) == {"difference": 0.0, "low": 0.0, "high": 0.0}
    mixed = [GOLD[0], PREDICTED[1]] * 30  # right on half the sentences: a smaller gain than `better`
    assert 0 < paired_f1_bootstrap(gold, mixed, PREDICTED * 30)["difference"] < better["difference"]
    with pytest.raises(ValueError, match="samples"):
        paired_f1_bootstrap(gold, gold, gold, samples=5)


# Two sentence kinds and, for each, a right and a wrong prediction with their (right, predicted, gold) entity counts.
SENTENCES = [(GOLD[0], PREDICTED[0], (1, 2, 2)), (GOLD[1], PREDICTED[1], (1, 2, 1))]
RIGHT_COUNTS = [(2, 2, 2), (1, 1, 1)]


def _two_systems(sentences: int, seed: int) -> tuple[list, list, list, np.ndarray]:
    """Random sentences, system a right on 80 % of them and b on 60 %, and the (a, b) counts written out by hand."""
    rng = np.random.default_rng(seed)
    gold, a, b, counts = [], [], [], []
    for kind, a_right, b_right in zip(rng.integers(0, 2, sentences), rng.random(sentences) < 0.8,
                                      rng.random(sentences) < 0.6):
        truth, wrong, wrong_counts = SENTENCES[kind]
        gold.append(truth)
        a.append(truth if a_right else wrong)
        b.append(truth if b_right else wrong)
        counts.append((RIGHT_COUNTS[kind] if a_right else wrong_counts) + (RIGHT_COUNTS[kind] if b_right else
                                                                             wrong_counts))
    return gold, a, b, np.array(counts, dtype=float)


def test_paired_f1_bootstrap_recomputes_f1_from_summed_counts_not_a_mean_of_sentence_f1s() -> None:
    gold = [["B-PER"], ["B-LOC", "O", "B-ORG", "O", "B-PER"]]
    a = [["B-PER"], ["O"] * 5]  # right on the one-entity sentence, silent on the three-entity one
    b = [["O"], gold[1]]  # the reverse
    # Pooled: a = 2·1 / (1 + 4) = 0.4, b = 2·3 / (3 + 4) = 6/7; a mean of per-sentence F1s says 0.5 for both.
    result = paired_f1_bootstrap(gold, a, b, samples=100)
    assert result["difference"] == pytest.approx(0.4 - 6 / 7)
    assert result["difference"] == pytest.approx(entity_scores(gold, a)["f1"] - entity_scores(gold, b)["f1"])
    assert result["low"] <= result["difference"] <= result["high"]
    with pytest.raises(ValueError, match="at least 2 sentences"):
        paired_f1_bootstrap(gold[:1], a[:1], b[:1])


def test_paired_f1_bootstrap_agrees_with_a_percentile_bootstrap_written_out_with_other_draws() -> None:
    gold, a, b, counts = _two_systems(100, seed=0)
    result = paired_f1_bootstrap(gold, a, b, samples=10_000, seed=1)

    def f1(summed: np.ndarray) -> np.ndarray:
        return 2 * summed[..., 0] / (summed[..., 1] + summed[..., 2])

    draws = np.random.default_rng(123).integers(0, len(gold), size=(10_000, len(gold)))
    differences = f1(counts[draws, :3].sum(1)) - f1(counts[draws, 3:].sum(1))
    assert result["difference"] == pytest.approx(f1(counts[:, :3].sum(0)) - f1(counts[:, 3:].sum(0)))
    # Each 2.5 % quantile of 10,000 resamples is within about 0.002 of the true one: 0.01 is 5 standard errors.
    assert result["low"] == pytest.approx(np.percentile(differences, 2.5), abs=0.01)
    assert result["high"] == pytest.approx(np.percentile(differences, 97.5), abs=0.01)


def test_paired_f1_bootstrap_interval_is_centred_shrinks_with_more_sentences_and_repeats_with_its_seed() -> None:
    small, large = (paired_f1_bootstrap(*_two_systems(n, seed=2)[:3]) for n in (100, 400))
    for result in (small, large):
        below, above = result["difference"] - result["low"], result["high"] - result["difference"]
        assert below > 0 and above > 0 and abs(above - below) < 0.25 * (above + below)
    assert large["high"] - large["low"] < 0.7 * (small["high"] - small["low"])  # about half: 1/√4
    gold, a, b, _ = _two_systems(100, seed=2)
    assert paired_f1_bootstrap(gold, a, b, seed=5) == paired_f1_bootstrap(gold, a, b, seed=5)
    assert paired_f1_bootstrap(gold, a, b, seed=5) != paired_f1_bootstrap(gold, a, b, seed=6)
