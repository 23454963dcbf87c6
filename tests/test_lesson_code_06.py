"""Lesson 06's own code (#42): each cell that writes an idea out is run here, in this process, on a tiny model.

Unchanged, its claim against the library prints True; with one line broken, False. The cells come from the
committed notebook (`lesson_cell`), so a test fails when the lesson's code and the library part ways.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from _checks import lesson_cell, run_cell

from curiolib import add_lora, distillation_loss, lora_config, say
from curiolib.finetune.models import load_model_for_task

LABELS = ["negative", "positive"]
SENTENCES = ["a fine film", "dull and far too long", "I loved every minute of it", "not worth the ticket",
             "the cast is wonderful", "it never comes alive", "a small, warm surprise", "badly written"]


def _joined(printed: str) -> str:
    """What a cell printed, on one line: `say` wraps long claims."""
    return " ".join(printed.split())


@pytest.fixture(scope="module")
def tiny(small_model):
    """(tokenizer, classifier): the 2-layer, 64-wide BERT of conftest with a new two-label head.

    Its biases start at zero and its head's weights near it; given values, a layer that drops its bias is caught,
    and the logits differ enough between teacher and student for a KL term far from float32's rounding.
    """
    tokenizer, model = load_model_for_task(small_model, "sequence", LABELS, seed=0)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(".bias"):
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.1)
        model.classifier.weight.copy_(torch.randn(model.classifier.weight.shape, generator=generator))
    return tokenizer, model


def _lora(tiny, replace: tuple[str, str] | None = None) -> str:
    tokenizer, model = tiny
    namespace = {"add_lora": add_lora, "lora_config": lora_config, "say": say, "model": model,
                 "tokenizer": tokenizer, "data": {"train": {"sentence": SENTENCES}}}
    run_cell(lesson_cell("06", "class LoRALinear"), namespace, replace=replace)
    return _joined(run_cell(lesson_cell("06", "same output as peft's lora.Linear"), namespace))


def test_the_lora_layer_written_out_gives_peft_s_output(tiny) -> None:
    printed = _lora(tiny)
    assert "lora.Linear on 8 sentences (within 1e-4): True; the adapter changed it: True" in printed


@pytest.mark.parametrize("broken", [("self.scale = alpha / r", "self.scale = 1 / r"),
                                    ("x @ self.W.T + self.b + ", "x @ self.W.T + ")],
                         ids=["scale", "bias"])
def test_a_broken_lora_layer_is_caught(tiny, broken: tuple[str, str]) -> None:
    assert "(within 1e-4): False" in _lora(tiny, broken)


def _int8(tiny, replace: tuple[str, str] | None = None) -> str:
    namespace = {"torch": torch, "say": say, "results": {"full": SimpleNamespace(model=tiny[1])}}
    printed = run_cell(lesson_cell("06", "W_back = codes.float() * scale"), namespace, replace=replace)
    return _joined(printed + run_cell(lesson_cell("06", "torch's int8 weight"), namespace))


def test_int8_by_hand_gives_torch_s_weights(tiny) -> None:
    assert "the same scale True, the same codes True, the same weights multiplied back True" in _int8(tiny)


@pytest.mark.parametrize("broken", [("W.abs().max() / 127.5", "W.abs().max() / 127"),
                                    ("torch.round(W * (1 / scale))", "torch.floor(W * (1 / scale))")],
                         ids=["scale", "rounding"])
def test_broken_int8_is_caught(tiny, broken: tuple[str, str]) -> None:
    assert "the same codes False" in _int8(tiny, broken)


def _distillation(tiny, replace: tuple[str, str] | None = None) -> str:
    tokenizer, model = tiny
    namespace = {"torch": torch, "say": say, "distillation_loss": distillation_loss, "tokenizer": tokenizer,
                 "results": {"full": SimpleNamespace(model=model)},
                 "validation": {"sentence": SENTENCES, "label": [1, 0, 1, 0, 1, 0, 1, 0]}}
    run_cell(lesson_cell("06", "def soft_target_loss"), namespace, replace=replace)
    return _joined(run_cell(lesson_cell("06", "same loss as distillation_loss"), namespace))


def test_the_distillation_loss_written_out_is_the_library_s(tiny) -> None:
    assert "α = 0, 0.5, 1 (rtol 1e-5, atol 1e-6): True" in _distillation(tiny)


@pytest.mark.parametrize("broken", [("(1 - alpha) * T ** 2 * kl", "(1 - alpha) * kl"),
                                    (".sum(dim=-1).mean()", ".mean()")],
                         ids=["no T squared", "KL averaged over classes"])
def test_a_broken_distillation_loss_is_caught(tiny, broken: tuple[str, str]) -> None:
    assert "(rtol 1e-5, atol 1e-6): False" in _distillation(tiny, broken)


def test_a_method_result_keeps_the_loops_history_epoch_by_epoch(small_model, tmp_path) -> None:
    # Exercise 1's answer reads section 3's runs epoch by epoch from it, without training again.
    from datasets import DatasetDict

    from curiolib import FineTuneSettings, fine_tune_head, load_sentiment

    sentiment = load_sentiment(verbose=False)
    data = DatasetDict(train=sentiment["train"].select(range(16)), validation=sentiment["validation"].select(range(8)))
    settings = FineTuneSettings(model_name=small_model, epochs=2, batch_size=8, max_length=32, show_progress=False,
                                output_dir=tmp_path)
    result = fine_tune_head(data, settings)
    by_epoch = result.history.dropna(subset=["eval_accuracy"])
    assert by_epoch["epoch"].tolist() == [1.0, 2.0] and by_epoch["train_loss"].notna().all()
    assert result.validation_accuracy in by_epoch["eval_accuracy"].tolist()
