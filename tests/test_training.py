"""The training loop: it learns, repeats itself with a seed, resumes exactly, and scales to 2 processes."""
from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import DataCollatorWithPadding

from curiolib.data import load_sentiment, tokenize_sentences
from curiolib.finetune.loop import TrainingConfig, TrainResult, evaluate, predict, train
from curiolib.finetune.models import load_model_for_task
from curiolib.maths import linear_warmup_schedule, warmup_steps
from curiolib.tasks.sentiment import classification_metrics


def schedule_peak(rates: np.ndarray) -> int:
    """The step at which a warm-up schedule reaches its full rate."""
    return int(np.argmax(rates))


@pytest.fixture(scope="module")
def tiny(tokenizer, small_model: str):
    """48 training and 32 validation sentences of the embedded set, tokenized, and the small model's folder."""
    data = load_sentiment(verbose=False)
    return (tokenizer, tokenize_sentences(data["train"].select(range(48)), tokenizer),
            tokenize_sentences(data["validation"].select(range(32)), tokenizer), small_model)


def _train(tiny, tmp_path: Path, *, collator=None, resume: bool = False, model_name: str | None = None,
           **overrides) -> tuple[TrainResult, torch.nn.Module]:
    # The small model unless a test needs one that learns from 48 sentences: the embedded model.
    tokenizer, train_set, eval_set, small_model = tiny
    _, model = load_model_for_task(model_name or small_model, "sequence", ["negative", "positive"])
    settings = {"output_dir": str(tmp_path), "epochs": 2, "batch_size": 8, "learning_rate": 1e-4,
                "eval_every": 4, "checkpoint_every": 2, "show_progress": False, "seed": 0} | overrides
    result = train(model, train_set, eval_set, collator=collator or DataCollatorWithPadding(tokenizer),
                   compute_metrics=classification_metrics, config=TrainingConfig(**settings), resume=resume)
    return result, model


def _run(tiny, tmp_path: Path, **kwargs) -> TrainResult:
    return _train(tiny, tmp_path, **kwargs)[0]


@pytest.mark.slow
def test_loss_falls_on_a_tiny_set_under_the_schedule_lesson_02_plots(tiny, tmp_path) -> None:
    # 1.5 warm-up steps: int() would warm up for 1, round() for 2; lesson 02's plot must be what train does.
    result = _run(tiny, tmp_path, model_name="minilm", epochs=4, learning_rate=2e-4, log_every=1,
                  eval_every="epoch", warmup_ratio=1.5 / 24)
    losses = result.history["train_loss"].dropna().to_numpy()
    assert losses[-1] < 0.8 * losses[0], losses
    assert result.steps == 4 * 6 and result.train_examples_per_s > 0
    assert warmup_steps(1.5 / 24, 24) == 2 and schedule_peak(linear_warmup_schedule(24, 1.5 / 24)) == 2
    # The rate logged after step s is the one step s + 1 runs with: the schedule's entry s.
    schedule = linear_warmup_schedule(24, 1.5 / 24, learning_rate=2e-4)
    logged = result.history.set_index("step")["learning_rate"]
    assert np.allclose(logged.to_numpy()[:-1], schedule[logged.index[:-1]], rtol=1e-9, atol=0)


@pytest.mark.slow
def test_evaluating_only_at_the_end_evaluates_once(tiny, tmp_path) -> None:
    result = _run(tiny, tmp_path, eval_every="end", checkpoint_every=None, save_checkpoints=False,
                  load_best_at_end=False)
    evaluations = result.history.dropna(subset=["eval_accuracy"])
    assert list(evaluations["step"]) == [result.steps] == [12]


@pytest.mark.slow
def test_same_seed_repeats_exactly_and_another_seed_differs(tiny, tmp_path) -> None:
    first = _run(tiny, tmp_path / "a", epochs=1)  # 6 steps: evaluations at 4 and 6, a checkpoint at 2
    again = _run(tiny, tmp_path / "b", epochs=1)
    other = _run(tiny, tmp_path / "c", epochs=1, seed=1)
    columns = ["step", "train_loss", "eval_accuracy"]
    assert first.history[columns].equals(again.history[columns])
    assert first.final_metrics == again.final_metrics
    assert not first.history["train_loss"].equals(other.history["train_loss"])


# Interrupting and resuming (bit-identical weights, at several points) is tests/test_faults.py's subject.


@pytest.mark.slow
def test_resuming_a_run_that_ran_out_of_time_trains_no_further(tiny, tmp_path) -> None:
    # A budget smaller than one step: the run stops (and checkpoints) after its first optimizer step.
    first = _run(tiny, tmp_path, time_budget_s=1e-9, load_best_at_end=False)
    again = _run(tiny, tmp_path, time_budget_s=1e-9, load_best_at_end=False, resume=True)
    assert first.steps == again.steps == 1
    assert again.final_metrics == first.final_metrics and len(again.history) == len(first.history)


@pytest.mark.slow
def test_saved_best_model_predicts_like_the_trained_one(tiny, tmp_path) -> None:
    tokenizer, _, eval_set, _ = tiny
    result, trained = _train(tiny, tmp_path, eval_every="epoch", epochs=1)
    _, reloaded = load_model_for_task(str(tmp_path / "best"), "sequence", ["negative", "positive"])
    collator = DataCollatorWithPadding(tokenizer)
    assert evaluate(reloaded, eval_set, collator, classification_metrics) == pytest.approx(result.final_metrics)
    # The logits too: a small random model's scores could match with other weights, its logits could not.
    assert np.allclose(predict(reloaded, eval_set, collator)[0], predict(trained, eval_set, collator)[0], atol=1e-6)


@pytest.mark.slow
def test_averaged_checkpoints_end_as_the_mean_of_the_evaluated_weights(tiny, tmp_path, monkeypatch) -> None:
    import curiolib.finetune.loop as loop

    seen, real = [], loop.evaluate

    def evaluate_and_keep(model, *args, **kwargs):
        seen.append({name: value.detach().clone() for name, value in model.named_parameters()})
        return real(model, *args, **kwargs)

    monkeypatch.setattr(loop, "evaluate", evaluate_and_keep)
    result = _run(tiny, tmp_path, epochs=1, average_checkpoints=True, load_best_at_end=False)  # evaluated at 4, 6
    *snapshots, final = seen  # the last evaluation is _finish's, of the averaged weights
    assert len(snapshots) == 2 and list(result.history.dropna(subset=["eval_accuracy"])["step"]) == [4, 6]
    for name, value in final.items():
        assert torch.allclose(value, (snapshots[0][name] + snapshots[1][name]) / 2, atol=1e-6), name
    assert any(not torch.equal(value, snapshots[1][name]) for name, value in final.items())


def test_averaging_a_lora_model_is_refused_before_training(tiny, tmp_path) -> None:
    from curiolib.efficient import add_lora

    tokenizer, train_set, eval_set, small_model = tiny
    _, model = load_model_for_task(small_model, "sequence", ["negative", "positive"])
    config = TrainingConfig(output_dir=str(tmp_path / "run"), average_checkpoints=True, load_best_at_end=False,
                            show_progress=False)
    with pytest.raises(ValueError, match="average_checkpoints=True is not supported for peft"):
        train(add_lora(model, "sequence", r=2), train_set, eval_set, collator=DataCollatorWithPadding(tokenizer),
              compute_metrics=classification_metrics, config=config)
    assert not (tmp_path / "run").exists()  # refused before any work


@pytest.mark.parametrize("overrides, match", [
    ({"epochs": 0}, "epochs must be an integer >= 1"),
    ({"learning_rate": 0}, "learning_rate must be > 0"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1"),
    ({"warmup_ratio": 1.5}, r"warmup_ratio must be in \[0, 1\]"),
    ({"mixed_precision": "fp8"}, "mixed_precision must be one of 'no', 'fp16', 'bf16'"),
    ({"eval_every": "never"}, "eval_every must be one of 'epoch', 'end'"),
    ({"eval_every": 0}, "eval_every must be an integer >= 1"),
    ({"average_checkpoints": True}, "average_checkpoints=True needs load_best_at_end=False"),
])
def test_bad_config_names_the_parameter(overrides, match) -> None:
    with pytest.raises(ValueError, match=match):
        TrainingConfig(**overrides)


@pytest.mark.slow
def test_two_processes_under_accelerate_launch_split_the_data_and_stay_in_step(small_model, tmp_path,
                                                                             monkeypatch) -> None:
    script = Path(__file__).with_name("_ddp_train.py")
    env = os.environ | {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    # Same effective batch: 2 processes × 8 against 1 × 16. `--multi_gpu` is accelerate's torchrun launcher;
    # with no GPU the processes join a gloo group (DistributedType.MULTI_CPU).
    out = tmp_path / "p2.json"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", str(script),
               str(tmp_path / "run2"), "8", str(out), small_model]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = {2: json.loads(out.read_text())}
    # Gradients are averaged across the processes at every step, so the two replicas end bit for bit alike.
    replicas = [(tmp_path / f"p2.json.rank{rank}").read_text() for rank in (0, 1)]
    assert replicas[0] == replicas[1], "the two processes' weights drifted apart"
    # The one-process run is the same script in this process: what `accelerate launch` of one process does.
    monkeypatch.setattr(sys, "argv", [str(script), str(tmp_path / "run1"), "16", str(tmp_path / "p1.json"),
                                      small_model])
    runpy.run_path(str(script), run_name="__main__")
    runs[1] = json.loads((tmp_path / "p1.json").read_text())
    assert runs[1]["steps"] == runs[2]["steps"] == 12  # each process took half of every batch of 16
    # The logged loss is the processes' mean, not their sum: a loose check, since the small model learns little in
    # 12 steps (both stay near ln 2) and data order and dropout differ between the two set-ups.
    assert abs(runs[1]["final_train_loss"] - runs[2]["final_train_loss"]) < 0.1, runs
    assert (tmp_path / "p1.json.rank0").read_text() != replicas[0]  # the digests do tell weights apart


def test_the_notebooks_light_seeder_draws_what_transformers_set_seed_draws() -> None:
    import random

    import torch
    from transformers import set_seed

    from curiolib import seed_everything

    def draws() -> tuple:
        return random.random(), np.random.rand(), torch.rand(1).item()

    seed_everything(3)
    ours = draws()
    set_seed(3)
    assert draws() == ours
