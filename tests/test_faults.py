"""Fault injection: a run interrupted anywhere resumes to the same weights, and a bad resume says why.

Interruptions are deterministic (a collator or a patched writer raises KeyboardInterrupt at a known point),
never a timed signal, which lands at a different place on every busy machine.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
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


# A finished run with averaging (3 steps, evaluated at the end): its last/ holds every kind of file a checkpoint has.
SAVED = {"epochs": 1, "eval_every": "end", "average_checkpoints": True}


@pytest.fixture(scope="module")
def saved(tiny, tmp_path_factory) -> Path:
    """An output folder whose checkpoint the tests below damage, each in a copy of its own."""
    folder = tmp_path_factory.mktemp("saved")
    _run(tiny, folder, **SAVED)
    return folder


def test_a_checkpoint_holds_no_pickle_but_the_optimizers_state(saved) -> None:
    # The optimizer's state is read with weights_only=True; everything else is safetensors or JSON.
    assert sorted(path.name for path in (saved / "last").iterdir()) == [
        "average.safetensors", "model.safetensors", "optimizer.bin", "rng_state_0.json", "scheduler.json", STATE_FILE]


def _resume_problem(tiny, folder: Path, name: str) -> str | None:
    """What is wrong with how resuming ``folder`` treats its damaged file ``name``: None when it is refused as it
    should be, with a ValueError naming the folder and the file and saying what to do."""
    try:
        _run(tiny, folder, resume=True, **SAVED)
    except ValueError as exc:
        said = str(exc)
        if str(folder / "last") in said and name in said and "resume=False" in said:
            return None
        return f"{name}: the error does not name {folder / 'last'}, {name} and what to do: {said}"
    except Exception as exc:  # any other error is the finding
        return f"{name}: {type(exc).__name__}: {exc}"
    return f"{name}: resumed without a word"


@pytest.mark.parametrize("damage", ["truncated", "missing"])
def test_every_damaged_or_missing_file_of_a_checkpoint_is_a_value_error_naming_it(tiny, saved, tmp_path,
                                                                                  damage: str) -> None:
    names = sorted(path.name for path in (saved / "last").iterdir())
    assert {"model.safetensors", "optimizer.bin", STATE_FILE} <= set(names)
    problems = []
    for name in names:
        folder = tmp_path / name
        shutil.copytree(saved, folder)
        target = folder / "last" / name
        if damage == "truncated":
            target.write_bytes(target.read_bytes()[:target.stat().st_size // 2])
        else:
            target.unlink()
        problems.append(_resume_problem(tiny, folder, name))
    assert [problem for problem in problems if problem] == []


def _plant_code(path: Path, marker: Path) -> None:
    """A pickle (in torch's format, as every checkpoint file but the JSON ones) that makes ``marker`` when loaded
    without weights_only: a stand-in for the os.system call a stranger's checkpoint could make."""

    class Payload:
        def __reduce__(self):
            return os.mkdir, (str(marker),)

    torch.save(Payload(), path)


# Refused: the names accelerate loads (its pickles included), the model's fallback, and this loop's own files.
REFUSED = ["custom_checkpoint_0.pkl", "custom_checkpoint_1.pkl", "random_states_0.pkl", "optimizer.bin",
           "model.safetensors", "pytorch_model.bin", "scheduler.json", "average.safetensors", "rng_state_0.json"]
IGNORED = ["scheduler.bin", "scaler.pt"]  # what accelerate would read for a prepared scheduler, or fp16 on a GPU


@pytest.mark.parametrize("name", REFUSED + IGNORED)
def test_a_planted_pickle_in_a_checkpoint_is_refused_or_ignored_and_never_run(tiny, saved, tmp_path,
                                                                                name: str) -> None:
    folder, marker = tmp_path / "run", tmp_path / "code ran"
    shutil.copytree(saved, folder)
    if name == "pytorch_model.bin":  # what accelerate falls back to without the safetensors file
        (folder / "last" / "model.safetensors").unlink()
    _plant_code(folder / "last" / name, marker)
    if name in REFUSED:
        assert _resume_problem(tiny, folder, "model.safetensors" if name == "pytorch_model.bin" else name) is None
    else:
        _run(tiny, folder, resume=True, **SAVED)
    assert not marker.exists()


FULL = {"torch's writer": RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534"),
        "ENOSPC": OSError(errno.ENOSPC, "No space left on device")}


@pytest.mark.parametrize("writer, error", [("optimizer.bin", "torch's writer"), ("optimizer.bin", "ENOSPC"),
                                           (STATE_FILE, "ENOSPC"), ("best/", "ENOSPC")])
def test_a_full_disk_while_saving_is_one_line_and_resume_then_repeats_exactly(tiny, uninterrupted, tmp_path,
                                                                              monkeypatch, writer: str,
                                                                              error: str) -> None:
    from transformers import PreTrainedModel

    written = []

    def full_disk(real, target_at: int, nth: int, name: str | None = None):
        """``real``, failing as a full disk does at the ``nth`` write of ``writer``, after writing to it."""

        def write(*args, **kwargs):
            result = real(*args, **kwargs)
            if (name or Path(str(args[target_at])).name) == writer:
                written.append(args[target_at])
                if len(written) == nth:
                    raise FULL[error]
            return result

        return write

    # The step-3 checkpoint (or the first best model, at step 2) finds the disk full.
    monkeypatch.setattr(torch, "save", full_disk(torch.save, 1, 3))
    monkeypatch.setattr(Path, "write_text", full_disk(Path.write_text, 0, 3))
    monkeypatch.setattr(PreTrainedModel, "save_pretrained", full_disk(PreTrainedModel.save_pretrained, 1, 1, "best/"))
    with pytest.raises(OSError) as caught:
        _run(tiny, tmp_path)
    monkeypatch.undo()
    said = str(caught.value)
    assert "\n" not in said and str(tmp_path) in said and "space" in said and "resume=True" in said, said
    assert json.loads((tmp_path / "last" / STATE_FILE).read_text())["step"] == (1 if writer == "best/" else 2)
    assert sorted(path.name for path in tmp_path.iterdir() if "partial" in path.name) == []  # its space is freed
    result, model = _run(tiny, tmp_path, resume=True)
    assert_same_weights(model, uninterrupted[1])
    measured = ["step", "epoch", "train_loss", "learning_rate", "eval_accuracy"]
    assert result.history[measured].equals(uninterrupted[0].history[measured])


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
