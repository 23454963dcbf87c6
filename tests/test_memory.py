"""Memory a lesson holds: activations bounded by micro-batches, freed memory given back, smoke peaks checked."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import curiolib
from curiolib.data import load_sentiment
from curiolib.finetune.models import load_model_for_task

LABELS = ["negative", "positive"]


@pytest.fixture(scope="module")
def sentences() -> tuple[list[str], list[int]]:
    rows = load_sentiment("embedded", seed=0, verbose=False)["train"].select(range(8))
    return list(rows["sentence"]), list(rows["label"])


def test_the_padding_experiment_feeds_no_pass_more_than_max_tokens(sentences, small_model: str) -> None:
    from curiolib.efficient import compare_padding

    tokenizer, model = load_model_for_task(small_model, "sequence", LABELS, seed=0)
    passes: list[tuple[int, int]] = []
    # The timed copies are deep copies of this model: the hook goes with them.
    model.register_forward_pre_hook(lambda module, args, kwargs: passes.append(tuple(kwargs["input_ids"].shape)),
                                    with_kwargs=True)
    texts, labels = sentences[0][:4], sentences[1][:4]
    speed = compare_padding(model, tokenizer, texts, labels, batch_size=4, max_length=32, repeats=1, max_tokens=64)
    assert passes, "the model was never called"
    assert max(rows * length for rows, length in passes) <= 64, passes
    assert (2, 32) in passes  # the padded-to-32 batch of 4, fed two rows at a time
    assert speed.padded_tokens_max_length == 4 * 32  # what the batches hold is unchanged
    with pytest.raises(ValueError, match="max_tokens"):
        compare_padding(model, tokenizer, *sentences, batch_size=4, max_tokens=0)


@pytest.mark.parametrize("task", ["sequence", "token"])
def test_a_batch_split_by_max_tokens_gives_the_whole_batchs_gradient(sentences, small_model: str, task: str) -> None:
    from curiolib.finetune.loop import split_batch

    tokenizer, model = load_model_for_task(small_model, task, LABELS, seed=0)
    model.eval()  # no dropout: the two ways must see the same network
    batch = dict(tokenizer(sentences[0][:5], padding=True, return_tensors="pt"))
    if task == "sequence":
        batch["labels"] = torch.tensor(sentences[1][:5])
    else:  # a tag per token, padding ignored: the rows hold unequal numbers of labelled tokens
        batch["labels"] = torch.where(batch["attention_mask"] == 1, batch["input_ids"] % 2, -100)
    model(**batch).loss.backward()
    whole = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    length = batch["input_ids"].shape[1]
    assert split_batch(batch, 5 * length) == [(batch, 1.0)] and split_batch(batch, None) == [(batch, 1.0)]
    parts = split_batch(batch, 2 * length)
    assert [len(part["input_ids"]) for part, _ in parts] == [2, 2, 1]  # unequal parts: the weighting matters
    assert sum(share for _, share in parts) == pytest.approx(1.0)
    for part, share in parts:
        (model(**part).loss * share).backward()
    for name, grad in whole.items():
        torch.testing.assert_close(dict(model.named_parameters())[name].grad, grad, rtol=1e-4, atol=1e-6)


def test_training_with_max_tokens_feeds_no_pass_more_and_refuses_a_bad_value(tmp_path, small_model: str) -> None:
    from transformers import DataCollatorWithPadding

    from curiolib.data import tokenize_sentences
    from curiolib.finetune.loop import TrainingConfig, train
    from curiolib.tasks.sentiment import classification_metrics

    data = load_sentiment("embedded", seed=0, verbose=False)
    tokenizer, model = load_model_for_task(small_model, "sequence", LABELS, seed=0)
    train_set, validation_set = (tokenize_sentences(data[split].select(range(8)), tokenizer, max_length=32)
                                 for split in ("train", "validation"))
    passes: list[tuple[int, int]] = []
    model.register_forward_pre_hook(
        lambda module, args, kwargs: passes.append(tuple(kwargs["input_ids"].shape)) if module.training else None,
        with_kwargs=True)
    config = TrainingConfig(output_dir=str(tmp_path), epochs=1, batch_size=4, max_tokens=40, save_checkpoints=False,
                            load_best_at_end=False, show_progress=False)
    result = train(model, train_set, validation_set, collator=DataCollatorWithPadding(tokenizer),
                   compute_metrics=classification_metrics, config=config)
    assert result.steps == 2  # two batches of 4, one optimizer step each, however many parts
    assert passes and all(rows * length <= 40 or rows == 1 for rows, length in passes), passes
    assert len(passes) > 2  # the batches of 4 really went through in parts
    with pytest.raises(ValueError, match="max_tokens"):
        TrainingConfig(max_tokens=0)


@pytest.mark.parametrize("stop", [{}, {"max_steps": 3}], ids=["at an epoch's end", "inside an epoch"])
def test_a_training_run_leaves_nothing_of_its_own_alive_or_in_a_reference_cycle(tmp_path, small_model: str,
                                                                                 stop: dict) -> None:
    # `train` frees its optimizer, loaders and accelerator by dropping their names, without a gc.collect (which
    # walks every object of a lesson's kernel, twice a run with accelerate's free_memory): that holds only while
    # nothing it makes is kept alive or sits in a reference cycle, which only a later collection would free.
    # Accelerate before 1.x keeps a loader whose iteration did not end in its global state, with its dataset.
    import gc

    from accelerate import Accelerator
    from torch.optim import Optimizer
    from torch.optim.lr_scheduler import LRScheduler
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding

    from curiolib.data import tokenize_sentences
    from curiolib.finetune.loop import TrainingConfig, train
    from curiolib.tasks.sentiment import classification_metrics

    kinds = (Optimizer, LRScheduler, DataLoader, Accelerator)
    data = load_sentiment("embedded", seed=0, verbose=False)
    tokenizer, model = load_model_for_task(small_model, "sequence", LABELS, seed=0)
    train_set, validation_set = (tokenize_sentences(data[split].select(range(8)), tokenizer, max_length=32)
                                 for split in ("train", "validation"))
    # Checkpoints and the best weights read back: every object a run makes is made.
    config = TrainingConfig(output_dir=str(tmp_path / "run"), epochs=2, batch_size=4, eval_every="epoch",
                            show_progress=False, **stop)
    gc.collect()
    before = {id(thing) for thing in gc.get_objects() if isinstance(thing, kinds)}
    gc.disable()
    try:
        train(model, train_set, validation_set, collator=DataCollatorWithPadding(tokenizer),
              compute_metrics=classification_metrics, config=config)
        alive = [type(thing).__name__ for thing in gc.get_objects()
                 if isinstance(thing, kinds) and id(thing) not in before]
        gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection would free stays in gc.garbage to be looked at
        gc.collect()
        cyclic = sorted({type(thing).__name__ for thing in gc.garbage if isinstance(thing, (*kinds, torch.Tensor))})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert not alive, f"still alive after train returned: {alive}"
    assert not cyclic, f"in reference cycles after train returned (only a gc.collect would free them): {cyclic}"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's heap and /proc: Linux only")
@pytest.mark.parametrize("call", ["release_memory", "return_freed_memory"])
def test_release_memory_gives_the_freed_heap_back_to_the_system(call: str) -> None:
    # A fresh process: small blocks (below glibc's mmap threshold) come from the heap; keeping one in 64 of
    # them alive stops glibc from shrinking the heap by itself, as a kept tensor does in a lesson.
    # The module alone, not curiolib.finetune (which loads torch): a second, not five.
    script = """
import importlib.util, sys
from pathlib import Path
spec = importlib.util.spec_from_file_location("memory", sys.argv[1])
memory = importlib.util.module_from_spec(spec)
spec.loader.exec_module(memory)
def rss():
    line = next(l for l in Path('/proc/self/status').read_text().splitlines() if l.startswith('VmRSS'))
    return int(line.split()[1]) * 1024
blocks = [bytearray(60_000) for _ in range(4000)]
kept = blocks[::64]
del blocks
before = rss()
getattr(memory, sys.argv[2])()
print(before - rss())
"""
    module = Path(curiolib.__file__).with_name("finetune") / "memory.py"
    done = subprocess.run([sys.executable, "-c", script, str(module), call], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) > 150e6  # of the 240 MB freed, nearly all goes back


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's memory is read from /proc: Linux only")
def test_the_harness_meter_counts_the_marked_process_and_not_its_neighbour() -> None:
    import os

    from curiolib.classroom.memory import KernelMemory

    # Two children hold 300 MB each for a moment; only the one whose environment carries the marker counts.
    hold = "import time; block = bytearray(300_000_000); block[::4096] = b'x' * len(block[::4096]); time.sleep(1)"
    marked = subprocess.Popen([sys.executable, "-c", hold], env=os.environ | {"CURIOLIB_TEST_MARK": "run-1"})
    other = subprocess.Popen([sys.executable, "-c", hold], env=os.environ | {"CURIOLIB_TEST_MARK": "run-2"})
    with KernelMemory("CURIOLIB_TEST_MARK", "run-1", interval=0.1) as memory:
        marked.wait(timeout=60)
        other.wait(timeout=60)
    assert memory.peak_gb is not None
    assert 0.3 <= memory.peak_gb < 0.5  # one child's 300 MB and its interpreter, not both children's
    with KernelMemory("CURIOLIB_TEST_MARK", "no-such-run", interval=0.1) as nothing:
        subprocess.run([sys.executable, "-c", "pass"], env=os.environ | {"CURIOLIB_TEST_MARK": "run-1"}, check=True)
    assert nothing.peak_gb is None


def test_a_smoke_peak_above_its_lessons_allowance_is_named_with_its_numbers() -> None:
    from curiolib.classroom.catalog import SMOKE_PEAK_ALLOWANCE, SMOKE_PEAK_GB, smoke_memory_problem

    stem, recorded = "04_bert_ner", SMOKE_PEAK_GB["04_bert_ner"]
    factor, extra = SMOKE_PEAK_ALLOWANCE
    allowed = factor * recorded + extra
    assert smoke_memory_problem(stem, recorded) is None
    assert smoke_memory_problem(stem, allowed - 0.01) is None
    # A summary.json entry of a run that kept a model: its peak above the allowance.
    summary = {stem: {"ok": True, "peak_gb": round(allowed + 0.05, 2)}}
    problem = smoke_memory_problem(stem, summary[stem]["peak_gb"])
    assert problem is not None and stem in problem and f"{allowed:.2f} GB" in problem and f"{recorded:.2f}" in problem
    assert "measured no memory" in smoke_memory_problem(stem, None)
    assert "no recorded smoke peak" in smoke_memory_problem("99_no_such_lesson", 1.0)
