"""LoRA (peft), int8 quantisation and ONNX export: counts by formula, exact merges, round trips, agreement."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from accelerate import Accelerator
from _checks import assert_same_weights
from transformers import DataCollatorWithPadding

from curiolib.data import load_sentiment, tokenize_sentences
from curiolib.efficient import (ALL_LINEAR, OnnxClassifier, add_lora, agreement, count_parameters, export_onnx,
                                load_adapter, lora_parameter_count, merge_lora, model_size_mb, quantize_int8,
                                quantize_onnx, save_adapter)
from curiolib.finetune.inference import classify
from curiolib.finetune.loop import Checkpoints, TrainingConfig, train
from curiolib.finetune.models import load_model_for_task
from curiolib.tasks.sentiment import classification_metrics

LABELS = ["negative", "positive"]


def _logits(model, tokenizer, texts: list[str]) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(**tokenizer(texts, padding=True, return_tensors="pt")).logits


def _training_loss(model, dataset, collator) -> float:
    """The mean loss over a whole (small) dataset: steadier than one logged batch."""
    model.eval()
    batch = collator([dict(row) for row in dataset])
    with torch.no_grad():
        return model(**batch).loss.item()


def _randomise_lora(model) -> None:
    # LoRA starts with B = 0 (an exact no-op); give B values so merges and reloads are really tested.
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.05)


@pytest.fixture(scope="module")
def sentiment():
    return load_sentiment(verbose=False)


@pytest.fixture(scope="module")
def trained(sentiment, tmp_path_factory):
    """A classifier fine-tuned for one short epoch, so its labels mean something to agree on."""
    tokenizer, model = load_model_for_task("minilm", "sequence", LABELS, seed=0)
    train_set = tokenize_sentences(sentiment["train"].select(range(384)), tokenizer, max_length=64)
    eval_set = tokenize_sentences(sentiment["validation"].select(range(64)), tokenizer, max_length=64)
    config = TrainingConfig(output_dir=str(tmp_path_factory.mktemp("float")), epochs=1, batch_size=16,
                            learning_rate=1e-4, show_progress=False)
    train(model, train_set, eval_set, collator=DataCollatorWithPadding(tokenizer),
          compute_metrics=classification_metrics, config=config)
    return tokenizer, model.eval()


def test_lora_trainable_parameters_match_the_formula() -> None:
    _, model = load_model_for_task("minilm", "sequence", LABELS)
    total_before = sum(p.numel() for p in model.parameters())
    expected = lora_parameter_count(model, r=8)
    # 6 layers × (query + value) × r·(384 + 384), plus the 384×2 + 2 head.
    assert expected == 6 * 2 * 8 * (384 + 384) + 384 * 2 + 2
    trainable, total = count_parameters(add_lora(model, "sentiment", r=8))
    assert trainable == expected and trainable / total_before < 0.05
    # "total" is the pretrained model's size, with or without adapters: the share is of the same number.
    assert total == total_before
    # Every Linear layer: per layer query, key, value, attention output (384 → 384), intermediate
    # (384 → 1536) and output (1536 → 384), then the pooler (384 → 384); still under 5 % of the weights.
    every = lora_parameter_count(model, r=8, target_modules=ALL_LINEAR)
    per_layer = 4 * 8 * (384 + 384) + 2 * 8 * (384 + 1536)
    assert every == 6 * per_layer + 8 * (384 + 384) + 384 * 2 + 2
    trainable, _ = count_parameters(add_lora(model, "sentiment", r=8, target_modules=ALL_LINEAR))
    assert trainable == every and trainable / total_before < 0.05


def test_merged_adapter_gives_the_same_logits(tokenizer) -> None:
    _, model = load_model_for_task("minilm", "sequence", LABELS)
    lora = add_lora(model, "sequence", r=4)
    _randomise_lora(lora)
    texts = ["a quiet, lovely film", "the worst service I have ever had, truly"]
    unmerged = _logits(lora, tokenizer, texts)
    merged = merge_lora(lora)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    assert torch.allclose(_logits(merged, tokenizer, texts), unmerged, atol=1e-5)


def test_adapter_saves_alone_and_loads_back_only_onto_its_base(tokenizer, tmp_path) -> None:
    _, model = load_model_for_task("minilm", "sequence", LABELS, seed=0)
    lora = add_lora(model, "sequence", r=8)
    _randomise_lora(lora)
    texts = ["not bad at all", "dreadful"]
    before = _logits(lora, tokenizer, texts)
    folder = save_adapter(lora, tmp_path / "adapter")
    assert model_size_mb(folder) < 1.0  # the full model is about 90 MB
    _, fresh = load_model_for_task("minilm", "sequence", LABELS, seed=5)  # another random head: must be replaced
    assert torch.allclose(_logits(load_adapter(fresh, folder), tokenizer, texts), before, atol=1e-6)
    _, other = load_model_for_task("minilm", "sequence", LABELS, seed=0)
    with torch.no_grad():
        other.get_input_embeddings().weight.mul_(1.01)  # stands in for a different base model
    with pytest.raises(ValueError, match="trained on another base model"):
        load_adapter(other, folder)


@pytest.mark.slow
def test_training_loop_takes_a_peft_model_and_restores_its_best_adapter(sentiment, tmp_path, small_model) -> None:
    tokenizer, model = load_model_for_task(small_model, "sequence", LABELS, seed=0)
    lora = add_lora(model, "sequence", r=8)
    train_set = tokenize_sentences(sentiment["train"].select(range(128)), tokenizer, max_length=64)
    eval_set = tokenize_sentences(sentiment["validation"].select(range(32)), tokenizer, max_length=64)
    collator = DataCollatorWithPadding(tokenizer)
    loss_before = _training_loss(lora, train_set, collator)
    config = TrainingConfig(output_dir=str(tmp_path / "run"), epochs=3, batch_size=16, learning_rate=2e-3,
                            show_progress=False)
    result = train(lora, train_set, eval_set, collator=collator, compute_metrics=classification_metrics,
                   config=config)
    # LoRA starts as an exact no-op (B = 0): after training, B has moved and the loss on the data has fallen.
    assert all(p.abs().sum() > 0 for n, p in lora.named_parameters() if "lora_B" in n)
    assert _training_loss(lora, train_set, collator) < loss_before
    # train() ends holding the best evaluation's weights; spoil them, then read the best adapter back.
    best = {n: p.detach().clone() for n, p in lora.named_parameters() if p.requires_grad}
    _randomise_lora(lora)
    Checkpoints(Accelerator(cpu=True), config).restore_best(lora)
    assert all(torch.equal(best[n], p) for n, p in lora.named_parameters() if p.requires_grad)
    assert result.checkpoint_dir == tmp_path / "run" / "last"


def _quantized_weights(path) -> dict[str, np.ndarray]:
    """An int8 ONNX model's quantised weights by name."""
    import onnx
    from onnx import numpy_helper

    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer
               if t.name.endswith("_quantized")}
    assert weights, f"{path} holds no quantised weights"
    return weights


def _quantized_weight_range(path) -> int:
    """The largest magnitude among an int8 ONNX model's quantised weights."""
    return max(int(np.abs(w.astype(np.int32)).max()) for w in _quantized_weights(path).values())


@pytest.mark.slow
def test_int8_and_onnx_agree_with_the_float_model(trained, sentiment, tmp_path) -> None:
    tokenizer, model = trained
    texts = sentiment["validation"]["sentence"][:200]
    float_labels = [p.label for p in classify(texts, model, tokenizer)]
    int8 = quantize_int8(model)
    # Dynamic quantisation stores Linear weights in 1 byte instead of 4; the embeddings (half of MiniLM) stay float.
    linear_mb = sum(m.weight.numel() * 4 for m in model.modules() if isinstance(m, torch.nn.Linear)) / 1e6
    assert model_size_mb(int8) < model_size_mb(model) - 0.7 * linear_mb
    assert agreement(float_labels, [p.label for p in classify(texts, int8, tokenizer)]) >= 0.95
    onnx = OnnxClassifier(export_onnx(model, tokenizer, tmp_path / "model.onnx"), model.config.id2label)
    assert agreement(float_labels, [p.label for p in classify(texts, onnx, tokenizer)]) >= 0.99
    assert torch.allclose(_logits(onnx, tokenizer, texts[:8]), _logits(model, tokenizer, texts[:8]), atol=1e-4)
    # int8 weights per output channel in onnxruntime: the stated rate, 95 % of labels as PyTorch's int8.
    int8_onnx_path = quantize_onnx(tmp_path / "model.onnx")
    int8_onnx = OnnxClassifier(int8_onnx_path, model.config.id2label)
    assert agreement(float_labels, [p.label for p in classify(texts, int8_onnx, tokenizer)]) >= 0.95
    assert model_size_mb(int8_onnx_path) < model_size_mb(tmp_path / "model.onnx") - 0.7 * linear_mb
    # 7-bit weights by default (no saturation without VNNI); the full 8 bits when asked.
    assert _quantized_weight_range(int8_onnx_path) <= 64
    # The 36 encoder MatMuls are int8 (6 layers x query, key, value, attention output, FFN in and out); the
    # pooler and classifier stay float.
    assert len(_quantized_weights(int8_onnx_path)) == 36
    assert not [name for name in _quantized_weights(int8_onnx_path) if "pooler" in name or "classifier" in name]
    assert _quantized_weight_range(quantize_onnx(tmp_path / "model.onnx", tmp_path / "full.onnx",
                                                 reduce_range=False)) > 64
    kept = quantize_onnx(tmp_path / "model.onnx", tmp_path / "kept.onnx", keep_float=("layer.5/",))
    assert model_size_mb(int8_onnx_path) < model_size_mb(kept) < model_size_mb(tmp_path / "model.onnx")
    with pytest.raises(FileExistsError, match="overwrite=True"):  # the file beside the model is not replaced
        quantize_onnx(tmp_path / "model.onnx")
    assert quantize_onnx(tmp_path / "model.onnx", overwrite=True) == int8_onnx_path
    with pytest.raises(ValueError, match="keep_float names no node"):
        quantize_onnx(tmp_path / "model.onnx", tmp_path / "x.onnx", keep_float=("no-such-layer",))


def test_quantising_off_the_cpu_is_refused_clearly() -> None:
    _, model = load_model_for_task("minilm", "sequence", LABELS)
    with pytest.raises(ValueError, match="CPU only; the model is on meta"):
        quantize_int8(model.to("meta"))


@pytest.mark.parametrize("kwargs, match", [({"r": 0}, "r must be an integer >= 1"),
                                           ({"alpha": -1}, "alpha must be > 0"),
                                           ({"target_modules": ()}, "target_modules must name"),
                                           ({"target_modules": ("nothing",)}, "no Linear layer")])
def test_bad_lora_settings_name_the_parameter(kwargs: dict, match: str) -> None:
    _, model = load_model_for_task("minilm", "sequence", LABELS)
    with pytest.raises(ValueError, match=match):
        add_lora(model, "sequence", **kwargs)


def test_agreement_needs_equal_lists() -> None:
    assert agreement(["a", "b"], ["a", "c"]) == 0.5
    with pytest.raises(ValueError, match="equally long"):
        agreement(["a"], ["a", "b"])
    assert np.isclose(agreement(np.array([1, 1]), np.array([1, 1])), 1.0)


@pytest.mark.slow
def test_an_interrupted_lora_run_resumes_from_its_checkpoint_to_the_same_weights(sentiment, tmp_path, monkeypatch,
                                                                                small_model):
    from datasets import DatasetDict

    from curiolib.efficient import FineTuneSettings, fine_tune_lora
    from curiolib.finetune import loop

    data = DatasetDict(train=sentiment["train"].select(range(24)), validation=sentiment["validation"].select(range(8)))

    def settings(folder: str, **more) -> FineTuneSettings:
        return FineTuneSettings(model_name=small_model, epochs=1, batch_size=8, max_length=32, checkpoint_every=1,
                                show_progress=False, output_dir=tmp_path / folder, **more)

    whole = fine_tune_lora(data, settings("whole"), rank=4)
    real, calls = loop.training_step, []

    def interrupted_at_the_third_step(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # what Ctrl-C does, at a known step
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "training_step", interrupted_at_the_third_step)
    with pytest.raises(KeyboardInterrupt):
        fine_tune_lora(data, settings("cut"), rank=4)
    monkeypatch.setattr(loop, "training_step", real)
    resumed = fine_tune_lora(data, settings("cut", resume=True), rank=4)
    assert len(calls) == 3
    assert_same_weights(resumed.model, whole.model)
    assert resumed.validation_accuracy == whole.validation_accuracy


@pytest.mark.parametrize("method", ["full", "lora", "frozen encoder"])
def test_each_fine_tuner_refuses_a_folder_it_did_not_make_before_any_work(sentiment, tmp_path, method) -> None:
    from curiolib.efficient import FINE_TUNERS, FineTuneSettings

    folder = tmp_path / {"full": "full", "lora": "lora_r8", "frozen encoder": "frozen_encoder"}[method]
    folder.mkdir()
    (folder / "thesis.tex").write_text("a user's file")
    with pytest.raises(ValueError, match="did not write"):
        FINE_TUNERS[method](sentiment, FineTuneSettings(output_dir=tmp_path))
    assert (folder / "thesis.tex").read_text() == "a user's file"


def test_lora_refuses_a_rank_below_one_before_any_work(sentiment, tmp_path) -> None:
    from curiolib.efficient import FineTuneSettings, fine_tune_lora

    with pytest.raises(ValueError, match="rank"):
        fine_tune_lora(sentiment, FineTuneSettings(output_dir=tmp_path), rank=0)
    assert not any(tmp_path.iterdir())


def test_add_lora_leaves_the_model_it_was_given_alone_and_refuses_lora_twice_or_int8_of_lora() -> None:
    _, model = load_model_for_task("minilm", "sequence", LABELS, seed=0)
    before = {name for name, _ in model.named_modules()}
    wrapped = add_lora(model, "sequence", r=4)
    assert {name for name, _ in model.named_modules()} == before  # no adapters slipped into the original
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(ValueError, match="already has LoRA adapters"):
        add_lora(wrapped, "sequence", r=4)
    with pytest.raises(ValueError, match="merge_lora"):
        quantize_int8(wrapped)


def test_a_size_asked_of_a_missing_path_is_an_error_not_zero(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no file or folder"):
        model_size_mb(tmp_path / "typo")


def test_padding_and_length_grouping_are_timed_as_two_effects(sentiment) -> None:
    from curiolib.efficient import compare_padding

    tokenizer, model = load_model_for_task("minilm", "sequence", LABELS, seed=0)
    sample = sentiment["train"].select(range(8))
    speed = compare_padding(model, tokenizer, sample["sentence"], sample["label"], batch_size=4, max_length=64,
                            repeats=1)  # the counts and the product are checked, not the timings
    assert speed.padded_tokens_max_length == 8 * 64
    assert speed.padded_tokens_dynamic <= speed.padded_tokens_unsorted < speed.padded_tokens_max_length
    assert speed.speedup == pytest.approx(speed.padding_speedup * speed.grouping_speedup)
    with pytest.raises(ValueError, match="repeats"):
        compare_padding(model, tokenizer, sample["sentence"], sample["label"], batch_size=4, repeats=0)


def test_training_memory_is_counted_from_a_real_step_and_freezing_removes_what_it_should(sentiment) -> None:
    from curiolib.efficient import freeze_encoder, measure_training_memory

    tokenizer, model = load_model_for_task("minilm", "sequence", LABELS, seed=0)
    rows = sentiment["train"].select(range(8))
    texts, labels = list(rows["sentence"]), list(rows["label"])
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    full = measure_training_memory(model, tokenizer, texts, labels)
    assert all(torch.equal(p, before[name]) for name, p in model.named_parameters())  # a copy took the step
    stored = sum(p.numel() for p in model.parameters()) * 4 / 1e6
    assert full["weights"] == pytest.approx(stored) and full["gradients"] == pytest.approx(stored)
    assert full["AdamW moments"] == pytest.approx(2 * stored)
    lora_model = add_lora(model, "sequence", r=8)
    lora = measure_training_memory(lora_model, tokenizer, texts, labels)
    assert lora["weights"] == pytest.approx(sum(p.numel() for p in lora_model.parameters()) * 4 / 1e6)
    assert lora["gradients"] == pytest.approx(count_parameters(lora_model)[0] * 4 / 1e6)
    # Frozen matrices need no saved inputs for their own gradients; a frozen encoder needs no backward at all.
    assert 0 < lora["activations"] < full["activations"]
    head = measure_training_memory(freeze_encoder(model), tokenizer, texts, labels)
    assert head["activations"] < 0.01 * full["activations"] and head["gradients"] < 0.01
    with pytest.raises(ValueError, match="texts and labels"):
        measure_training_memory(model, tokenizer, texts, labels[:3])
