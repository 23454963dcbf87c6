"""Memory a lesson holds: activations bounded by micro-batches, freed memory given back, smoke peaks checked."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from curiolib.data import load_sentiment
from curiolib.finetune.models import load_model_for_task

LABELS = ["negative", "positive"]


@pytest.fixture(scope="module")
def sentences() -> tuple[list[str], list[int]]:
    rows = load_sentiment("embedded", seed=0, verbose=False)["train"].select(range(8))
    return list(rows["sentence"]), list(rows["label"])


def test_the_padding_experiment_feeds_no_pass_more_than_max_tokens(sentences) -> None:
    from curiolib.efficient import compare_padding

    tokenizer, model = load_model_for_task("minilm", "sequence", LABELS, seed=0)
    passes: list[tuple[int, int]] = []
    # The timed copies are deep copies of this model: the hook goes with them.
    model.register_forward_pre_hook(lambda module, args, kwargs: passes.append(tuple(kwargs["input_ids"].shape)),
                                    with_kwargs=True)
    speed = compare_padding(model, tokenizer, *sentences, batch_size=4, max_length=64, repeats=1, max_tokens=128)
    assert passes, "the model was never called"
    assert max(rows * length for rows, length in passes) <= 128, passes
    assert (2, 64) in passes  # the padded-to-64 batches of 4, fed two rows at a time
    assert speed.padded_tokens_max_length == 8 * 64  # what the batches hold is unchanged
    with pytest.raises(ValueError, match="max_tokens"):
        compare_padding(model, tokenizer, *sentences, batch_size=4, max_tokens=0)


def test_gradients_accumulated_in_parts_are_the_whole_batchs(sentences) -> None:
    from curiolib.efficient.padding import backward_in_parts, micro_batches

    tokenizer, model = load_model_for_task("minilm", "sequence", LABELS, seed=0)
    model.eval()  # no dropout: the two ways must see the same network
    batch = dict(tokenizer(sentences[0][:5], padding=True, return_tensors="pt"))
    batch["labels"] = torch.tensor(sentences[1][:5])
    model(**batch).loss.backward()
    whole = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    parts = micro_batches(batch, 2 * batch["input_ids"].shape[1])
    assert [len(part["input_ids"]) for part in parts] == [2, 2, 1]  # unequal parts: the weighting matters
    backward_in_parts(model, parts)
    for name, grad in whole.items():
        torch.testing.assert_close(dict(model.named_parameters())[name].grad, grad, rtol=1e-4, atol=1e-6)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's heap and /proc: Linux only")
def test_release_memory_gives_the_freed_heap_back_to_the_system() -> None:
    # A fresh process: small blocks (below glibc's mmap threshold) come from the heap; keeping one in 64 of
    # them alive stops glibc from shrinking the heap by itself, as a kept tensor does in a lesson.
    script = """
from pathlib import Path
from curiolib.finetune.memory import release_memory
def rss():
    line = next(l for l in Path('/proc/self/status').read_text().splitlines() if l.startswith('VmRSS'))
    return int(line.split()[1]) * 1024
blocks = [bytearray(60_000) for _ in range(4000)]
kept = blocks[::64]
del blocks
before = rss()
release_memory()
print(before - rss())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) > 150e6  # of the 240 MB freed, nearly all goes back
