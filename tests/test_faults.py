"""Fault injection: a run interrupted anywhere resumes to the same weights, and a bad resume says why.

Interruptions are deterministic (a collator or a patched writer raises KeyboardInterrupt at a known point),
never a timed signal, which lands at a different place on every busy machine.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator
from _checks import assert_same_weights
from transformers import DataCollatorWithPadding

from curiolib.data import load_sentiment, tokenize_sentences
from curiolib.finetune.loop import STATE_FILE, TrainingConfig, train
from curiolib.finetune.models import load_model_for_task
from curiolib.tasks.sentiment import classification_metrics

pytestmark = pytest.mark.slow  # every test here trains
LABELS = ["negative", "positive"]


@pytest.fixture(scope="module")
def tiny(tokenizer, small_model: str):
    """24 training and 8 validation sentences of the embedded set, tokenized, and the small model's folder."""
    data = load_sentiment(verbose=False)
    return (tokenizer, tokenize_sentences(data["train"].select(range(24)), tokenizer, max_length=32),
            tokenize_sentences(data["validation"].select(range(8)), tokenizer, max_length=32), small_model)


def _interrupt_at(model: torch.nn.Module, forward: int) -> None:
    """Raise KeyboardInterrupt at the model's n-th training forward pass (evaluation runs in eval mode)."""
    count = []

    def hook(module, _inputs):
        if module.training:
            count.append(1)
            if len(count) == forward:
                raise KeyboardInterrupt

    model.register_forward_pre_hook(hook)


def _run(tiny, folder: Path, *, interrupt_at: int | None = None, resume: bool = False, train_set=None, **overrides):
    tokenizer, train_data, eval_set, model_folder = tiny
    _, model = load_model_for_task(model_folder, "sequence", LABELS, seed=0)
    if interrupt_at:
        _interrupt_at(model, interrupt_at)
    settings = {"output_dir": str(folder), "epochs": 2, "batch_size": 8, "learning_rate": 1e-4, "eval_every": 2,
                "checkpoint_every": 1, "load_best_at_end": False, "show_progress": False} | overrides
    result = train(model, train_data if train_set is None else train_set, eval_set,
                   collator=DataCollatorWithPadding(tokenizer), compute_metrics=classification_metrics,
                   config=TrainingConfig(**settings), resume=resume)
    return result, model


@pytest.fixture(scope="module")
def uninterrupted(tiny, tmp_path_factory):
    """The run every interrupted one must end like: 6 steps, 3 per epoch, evaluated every 2."""
    return _run(tiny, tmp_path_factory.mktemp("whole"))


# 3 steps an epoch, evaluated after steps 2, 4 and 6; a checkpoint after every step.
@pytest.mark.parametrize("forward", [1, 2, 3, 4, 6], ids=["at step 1", "after step 1", "after the step-2 evaluation",
                                                           "after the end of epoch 1", "at the last step"])
def test_interrupted_anywhere_then_resumed_gives_bit_identical_weights(tiny, uninterrupted, tmp_path,
                                                                       forward: int) -> None:
    with pytest.raises(KeyboardInterrupt):
        _run(tiny, tmp_path, interrupt_at=forward)
    result, model = _run(tiny, tmp_path, resume=True)
    assert_same_weights(model, uninterrupted[1])
    measured = ["step", "epoch", "train_loss", "learning_rate", "eval_accuracy"]  # not the seconds it took
    assert result.history[measured].equals(uninterrupted[0].history[measured])


def test_interrupted_run_with_averaged_checkpoints_resumes_to_the_same_average(tiny, tmp_path) -> None:
    # Interrupted after the step-2 evaluation: the running mean of the weights holds one snapshot by then.
    _, whole = _run(tiny, tmp_path / "whole", average_checkpoints=True)
    with pytest.raises(KeyboardInterrupt):
        _run(tiny, tmp_path / "cut", interrupt_at=3, average_checkpoints=True)
    _, resumed = _run(tiny, tmp_path / "cut", resume=True, average_checkpoints=True)
    assert_same_weights(resumed, whole)


def test_interrupted_in_the_middle_of_saving_a_checkpoint_resumes_from_the_one_before(tiny, uninterrupted, tmp_path,
                                                                                      monkeypatch) -> None:
    real, saves = Accelerator.save_state, []

    def save_then_interrupt(self, output_dir=None, **kwargs):
        saves.append(output_dir)
        result = real(self, output_dir, **kwargs)
        if len(saves) == 3:  # the step-3 checkpoint is half made: its files are written, the swap is not
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(Accelerator, "save_state", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        _run(tiny, tmp_path)
    monkeypatch.undo()
    assert json.loads((tmp_path / "last" / STATE_FILE).read_text())["step"] == 2
    result, model = _run(tiny, tmp_path, resume=True)
    assert_same_weights(model, uninterrupted[1])


def test_resume_with_no_checkpoint_says_it_starts_from_the_beginning(tiny, tmp_path, capsys) -> None:
    result, _ = _run(tiny, tmp_path / "typo", resume=True, epochs=1, eval_every="end")
    assert "no checkpoint" in capsys.readouterr().out and result.steps == 3


@pytest.mark.parametrize("before, change, match", [
    ({}, {"batch_size": 4}, "batch_size"), ({}, {"data": 16}, "training examples"),
    ({}, {"average_checkpoints": True}, "average_checkpoints not set then, True now"),
    ({"average_checkpoints": True}, {"average_checkpoints": False}, "average_checkpoints True then, not set now")])
def test_resume_with_other_data_batch_size_or_averaging_is_refused(tiny, tmp_path, before: dict, change: dict,
                                                                    match: str) -> None:
    _run(tiny, tmp_path, epochs=1, eval_every="end", **before)
    train_set = tiny[1].select(range(change.pop("data"))) if "data" in change else None
    with pytest.raises(ValueError, match=match):
        _run(tiny, tmp_path, resume=True, train_set=train_set, epochs=1, eval_every="end", **change)


@pytest.mark.parametrize("damage", ["truncated state", "missing weights"])
def test_a_damaged_checkpoint_is_one_error_naming_the_file(tiny, tmp_path, damage: str) -> None:
    _run(tiny, tmp_path, epochs=1, eval_every="end")
    if damage == "truncated state":
        state = tmp_path / "last" / STATE_FILE
        state.write_text(state.read_text()[:20])
        named = STATE_FILE
    else:
        (tmp_path / "last" / "model.safetensors").unlink()
        named = "last"
    with pytest.raises(ValueError, match=rf"{named}.*resume=False"):
        _run(tiny, tmp_path, resume=True, epochs=1, eval_every="end")


def test_an_unknown_metric_for_best_is_refused_before_training(tiny, tmp_path) -> None:
    with pytest.raises(ValueError, match=r"metric_for_best='acc'.*accuracy"):
        _run(tiny, tmp_path, metric_for_best="acc")
    assert not (tmp_path / "last").exists()


def test_a_label_id_beyond_the_models_labels_is_refused_before_training(tiny, tmp_path) -> None:
    from datasets import Value

    # A file read as plain integers (no ClassLabel feature to catch it) with one label too many.
    as_ints = tiny[1].cast_column("labels", Value("int64"))
    bad = as_ints.map(lambda row, i: {"labels": 2 if i == 5 else row["labels"]}, with_indices=True)
    with pytest.raises(ValueError, match="label id 2.*2 labels"):
        _run(tiny, tmp_path, train_set=bad)


def test_a_learning_rate_given_as_text_is_refused_when_the_config_is_made() -> None:
    with pytest.raises(ValueError, match="learning_rate must be a number"):
        TrainingConfig(learning_rate="5e-5")
