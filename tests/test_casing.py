"""The learned case embedding: per-word case ids aligned to sub-words, in training and on raw text, kept through
save/load and ONNX, and actually used by the model."""
from __future__ import annotations

import pytest
import torch
from datasets import Dataset
from transformers import DataCollatorForTokenClassification

from curiolib.data import load_ner, tokenize_ner_dataset
from curiolib.data.casing import CASES, add_casing, case_ids_for_text, case_ids_for_words, uses_casing, word_case
from curiolib.efficient import OnnxClassifier, export_onnx
from curiolib.finetune.inference import _pipeline, find_entities
from curiolib.finetune.loop import TrainingConfig, predict, train
from curiolib.finetune.models import load_model_for_task
from curiolib.tasks.ner import ner_metrics

TAGS = ["O", "B-ORG", "I-ORG"]


@pytest.fixture(scope="module")
def ner_data():
    return load_ner(verbose=False)


def _table(model) -> torch.nn.Embedding:
    return model.bert.embeddings.token_type_embeddings


@pytest.mark.parametrize("word, case", [
    ("obama", "lower"), ("Obama", "Title"), ("NATO", "UPPER"), ("iPhone", "mixed"), ("McDonald", "mixed"),
    ("(AP)", "UPPER"), ("U.S.", "UPPER"), ("I", "Title"), ("1996", "no cased letters"), (",", "no cased letters"),
    ("ÉCOLE", "UPPER"), ("Zürich", "Title"), ("東京", "no cased letters"), ("don't", "lower"),
])
def test_each_word_gets_its_case_class(word: str, case: str) -> None:
    assert CASES[word_case(word)] == case


def test_every_sub_token_carries_its_words_case_in_training_and_on_raw_text(ner_data, tokenizer) -> None:
    sentences = ner_data["validation"].select(range(60))
    encoded = tokenize_ner_dataset(sentences, tokenizer, casing=True)
    split_words, seen = 0, set()
    for source, row in zip(sentences, encoded):
        words = source["tokens"]
        word_ids = tokenizer(words, is_split_into_words=True, truncation=True, max_length=256).word_ids()
        offsets = tokenizer(words, is_split_into_words=True, truncation=True, max_length=256,
                            return_offsets_mapping=True)["offset_mapping"]
        expected = [0 if w is None or not any(c.isalpha() for c in words[w][a:b]) else word_case(words[w])
                    for w, (a, b) in zip(word_ids, offsets)]
        assert row["token_type_ids"] == expected
        seen |= set(expected)
        split_words += sum(1 for i in range(1, len(word_ids)) if word_ids[i] is not None
                           and word_ids[i] == word_ids[i - 1])
        # The same words as raw text, as find_entities sees them: the same case on every sub-token.
        text = " ".join(words)
        raw = tokenizer(text, return_offsets_mapping=True, truncation=True, max_length=256)
        if raw["input_ids"] == row["input_ids"]:
            assert case_ids_for_text(text, raw["offset_mapping"]) == expected
    assert split_words > 10 and {1, 2, 3} <= seen, "the sample must hold split words and several cases"
    plain = tokenize_ner_dataset(sentences, tokenizer)
    assert all(set(ids) == {0} for ids in plain["token_type_ids"]), "without casing every token type stays 0"


def test_raw_text_with_glued_clitics_and_punctuation_gets_the_ids_of_the_split_words(tokenizer) -> None:
    # Treebanks split "NATO's" into "NATO" "'s"; raw text does not.
    words = ["NATO", "'s", "chief", "said", "U.S.", "officials", "know", "O'Neill", "(AP)", "."]
    text = "NATO's chief said U.S. officials know O'Neill (AP)."
    split = tokenizer(words, is_split_into_words=True, return_offsets_mapping=True)
    from_words = case_ids_for_words(words, split.word_ids(), split["offset_mapping"])
    glued = tokenizer(text, return_offsets_mapping=True)
    from_text = case_ids_for_text(text, glued["offset_mapping"])
    assert glued["input_ids"] == split["input_ids"] and from_text == from_words
    tokens = tokenizer.convert_ids_to_tokens(split["input_ids"])
    upper, lower, title, mixed = (CASES.index(c) for c in ("UPPER", "lower", "Title", "mixed"))
    assert list(zip(tokens, from_words))[1:4] == [("nato", upper), ("'", 0), ("s", lower)]
    assert dict(zip(tokens, from_words))["neill"] == mixed and dict(zip(tokens, from_words))["ap"] == upper
    assert (tokens[6:10], from_words[6:10]) == (["u", ".", "s", "."], [upper, 0, upper, 0])
    assert title not in from_words[1:4]
    dont = tokenizer("DON'T", return_offsets_mapping=True)  # "DO" "N'T" in a treebank: both UPPER
    assert case_ids_for_text("DON'T", dont["offset_mapping"]) == [0, upper, 0, upper, 0]


def test_a_widened_model_starts_exactly_as_the_pretrained_one(tokenizer) -> None:
    _, plain = load_model_for_task("minilm", "ner", TAGS, seed=0)
    _, cased = load_model_for_task("minilm", "ner", TAGS, seed=0, casing=True)
    assert uses_casing(cased) and not uses_casing(plain) and _table(cased).num_embeddings == len(CASES)
    inputs = tokenizer(["Angela Merkel met NATO in Paris."], return_tensors="pt")
    ids = torch.tensor([case_ids_for_text("Angela Merkel met NATO in Paris.",
                                          tokenizer("Angela Merkel met NATO in Paris.",
                                                    return_offsets_mapping=True)["offset_mapping"])])
    assert set(ids[0].tolist()) == {0, 1, 2, 3}
    with torch.no_grad():
        before = plain(**inputs).logits
        after = cased(**(inputs | {"token_type_ids": ids})).logits
    assert torch.allclose(before, after, atol=1e-6)


def _recording(model) -> list[list[int]]:
    seen: list[list[int]] = []
    _table(model).register_forward_hook(lambda module, args, output: seen.extend(args[0].tolist()))
    return seen


def test_find_entities_feeds_each_words_case_also_across_windows(tokenizer) -> None:
    tokenizer, model = load_model_for_task("minilm", "ner", TAGS, seed=0, casing=True)
    seen = _recording(model)
    find_entities("Angela met NATO in paris.", model, tokenizer)
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("Angela met NATO in paris.")["input_ids"])
    assert list(zip(tokens, seen[0])) == [("[CLS]", 0), ("angela", 2), ("met", 1), ("nato", 3), ("in", 1),
                                          ("paris", 1), (".", 0), ("[SEP]", 0)]
    seen.clear()
    long_text = "Paris met NATO there . " * 200  # about 1,000 tokens: read in overlapping windows
    find_entities(long_text, model, tokenizer)
    assert len(seen) >= 2
    # The pipeline's windows, as it cuts them: each sub-token's id must be its word's case.
    expected = {"paris": 2, "met": 1, "nato": 3, "there": 1}
    windows = tokenizer(long_text, return_overflowing_tokens=True, stride=64, truncation=True, padding=True,
                        max_length=tokenizer.model_max_length)["input_ids"]
    assert len(windows) == len(seen)
    for ids, window in zip(windows, seen):
        assert [expected.get(name, 0) for name in tokenizer.convert_ids_to_tokens(ids)] == window


def test_a_cased_model_keeps_its_case_table_through_save_load_and_onnx(tokenizer, tmp_path) -> None:
    tokenizer, model = load_model_for_task("minilm", "ner", TAGS, seed=0, casing=True)
    torch.manual_seed(1)
    with torch.no_grad():  # as if trained: rows that differ, so a lost or misfed table shows
        _table(model).weight.add_(torch.randn_like(_table(model).weight) * 0.5)
    texts = ["Angela Merkel met NATO in Paris.", "the apple of Apple"]
    found = find_entities(texts, model, tokenizer)
    model.save_pretrained(tmp_path / "cased")
    tokenizer.save_pretrained(tmp_path / "cased")
    again_tokenizer, again = load_model_for_task(str(tmp_path / "cased"), "ner", TAGS)  # casing from config.json
    assert uses_casing(again) and torch.equal(_table(again).weight, _table(model).weight)
    assert find_entities(texts, again, again_tokenizer) == found

    words = Dataset.from_dict({"tokens": [t.split() for t in texts], "ner_tags": [[0] * len(t.split()) for t in texts]})
    batch = DataCollatorForTokenClassification(tokenizer)(list(tokenize_ner_dataset(words, tokenizer, casing=True)))
    batch.pop("labels")
    onnx = OnnxClassifier(export_onnx(model, tokenizer, tmp_path / "cased.onnx"), model.config.id2label)
    with torch.no_grad():
        reference = model(**batch).logits
        zeros = model(**(batch | {"token_type_ids": torch.zeros_like(batch["token_type_ids"])})).logits
    assert torch.allclose(onnx(**batch).logits, reference, atol=1e-4)
    assert not torch.allclose(zeros, reference, atol=1e-2), "the case ids must change the logits"


def test_the_highlighter_shows_what_a_cased_model_finds(tokenizer) -> None:
    from curiolib.course.widgets import entities_html

    tokenizer, model = load_model_for_task("minilm", "ner", TAGS, seed=0, casing=True)
    torch.manual_seed(2)
    with torch.no_grad():  # rows that differ, so a widget that dropped the case ids would answer otherwise
        _table(model).weight.add_(torch.randn_like(_table(model).weight) * 0.5)
    text = "NATO's chief met Angela Merkel in paris."
    shown, found = entities_html(text, model, tokenizer), find_entities(text, model, tokenizer)[0]
    assert found, "an untrained head still tags something: the check below must have entities to look for"
    for entity in found:
        assert f"{entity.start}–{entity.end}" in shown
    assert "Could not tag" not in shown


def test_casing_is_refused_where_it_cannot_work(ner_data, tokenizer, tmp_path) -> None:
    from transformers import DistilBertConfig, DistilBertForTokenClassification

    names = ner_data["train"].features["ner_tags"].feature.names
    _, cased = load_model_for_task("minilm", "ner", names, casing=True)
    plain_ids = tokenize_ner_dataset(ner_data["train"].select(range(8)), tokenizer)  # casing forgotten
    with pytest.raises(ValueError, match="carries no case ids"):
        train(cased, plain_ids, plain_ids, collator=DataCollatorForTokenClassification(tokenizer),
              compute_metrics=ner_metrics(names), config=TrainingConfig(output_dir=str(tmp_path / "x")))
    with pytest.raises(TypeError, match="pass strings"):  # pre-split words: offsets per word, not into a text
        _pipeline(cased, tokenizer, 64)(["Angela", "Merkel"], is_split_into_words=True)

    with pytest.raises(ValueError, match="casing=True is for NER"):
        load_model_for_task("minilm", "sentiment", ["negative", "positive"], casing=True)
    with pytest.raises(ValueError, match="casing must be one of"):
        load_model_for_task("minilm", "ner", TAGS, casing="yes")
    tiny = DistilBertForTokenClassification(DistilBertConfig(vocab_size=50, dim=32, n_layers=1, n_heads=2,
                                                             hidden_dim=64, num_labels=3))
    with pytest.raises(ValueError, match="no token-type embeddings|has none"):
        add_casing(tiny)


@pytest.mark.slow
def test_only_the_cased_model_can_learn_what_only_capitals_tell(tokenizer, small_model, tmp_path) -> None:
    # "apple pie" / "Apple pie": the same sub-words, told apart by case alone. What reaches the model is the
    # point, not what it knew before: the small model, widened as the embedded one is, shows it in a tenth the time.
    sentences = [["apple", "pie"], ["Apple", "pie"]] * 16
    tags = [[0, 0] if s[0] == "apple" else [1, 0] for s in sentences]
    data = Dataset.from_dict({"tokens": sentences, "ner_tags": tags})
    first = {}
    for casing in (False, True):
        _, model = load_model_for_task(small_model, "ner", TAGS, seed=0, casing=casing)
        encoded = tokenize_ner_dataset(data, tokenizer, casing=casing)
        config = TrainingConfig(output_dir=str(tmp_path / str(casing)), epochs=10, batch_size=8, learning_rate=1e-3,
                                show_progress=False, seed=0, metric_for_best="token_accuracy",
                                save_checkpoints=False, load_best_at_end=False)  # 10 epochs, no 90 MB saves
        collator = DataCollatorForTokenClassification(tokenizer)
        train(model, encoded, encoded.select(range(2)), collator=collator, compute_metrics=ner_metrics(TAGS),
              config=config)
        logits, _ = predict(model, encoded.select(range(2)), collator)
        first[casing] = logits[:, 1].argmax(-1).tolist()  # the tag of "apple" / "Apple"
    assert first[True] == [0, 1], "with casing the model must tell Apple from apple"
    assert first[False][0] == first[False][1], "without casing the two inputs are identical"
