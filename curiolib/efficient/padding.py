"""How fast training goes: the tutorial recipe (pad every sentence to 512) against dynamic padding."""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch
from transformers import DataCollatorWithPadding

from .._validation import check_int
from ..finetune.loop import split_batch
from ..finetune.memory import return_freed_memory


@dataclass(frozen=True)
class PaddingComparison:
    """Training speed of the same examples three ways: padded to max_length (the tutorials' habit), padded per
    batch in the order given, and padded per batch after grouping similar lengths (curiolib's loop)."""

    examples: int
    padded_tokens_max_length: int
    padded_tokens_dynamic: int  # per batch, length-grouped
    max_length_examples_per_s: float
    dynamic_examples_per_s: float  # per batch, length-grouped
    padded_tokens_unsorted: int = 0  # per batch, order given
    unsorted_examples_per_s: float = float("nan")

    @property
    def speedup(self) -> float:
        """Both effects together: length-grouped dynamic padding against padding to max_length."""
        return self.dynamic_examples_per_s / self.max_length_examples_per_s

    @property
    def padding_speedup(self) -> float:
        """Dynamic padding alone (order given) against padding to max_length."""
        return self.unsorted_examples_per_s / self.max_length_examples_per_s

    @property
    def grouping_speedup(self) -> float:
        """Length grouping alone, on top of dynamic padding."""
        return self.dynamic_examples_per_s / self.unsorted_examples_per_s


def _seconds_to_train(model: torch.nn.Module, batches: list[dict[str, torch.Tensor]], learning_rate: float,
                      max_tokens: int, repeats: int = 1) -> float:
    """The fastest of ``repeats`` timed passes over ``batches``, each from the same starting weights."""
    split = [split_batch(batch, max_tokens) for batch in batches]  # before the clock starts: views, no copies
    timings = []
    for _ in range(repeats):
        trained = copy.deepcopy(model).train()  # every recipe and every repeat starts from the same weights
        optimizer = torch.optim.AdamW(trained.parameters(), lr=learning_rate)

        def step(parts: list[tuple[dict, float]], trained=trained, optimizer=optimizer) -> None:
            for part, share in parts:  # the parts' weighted gradients add up to the whole batch's
                (trained(**part).loss * share).backward()
            optimizer.step()
            optimizer.zero_grad()

        step(split[0])  # the first step allocates memory and picks kernels: warm up, don't time it
        start = time.perf_counter()
        for parts in split:
            step(parts)
        timings.append(time.perf_counter() - start)
        del trained, optimizer, step  # before the next copy is made: one trained copy at a time
    # The fastest pass is the one least disturbed by whatever else the machine was doing.
    return min(timings)


def compare_padding(model: torch.nn.Module, tokenizer, sentences: list[str], labels: list[int], *,
                    batch_size: int = 32, max_length: int | None = None, learning_rate: float = 5e-5,
                    repeats: int = 3, max_tokens: int = 512) -> PaddingComparison:
    """Time training steps on the same sentences, the tutorial way and curiolib's way, in one run.

    The two per-batch recipes are quick and differ by less, so each is timed ``repeats`` times and the
    fastest pass kept; padding to 512 is slow enough to time once. Every recipe feeds the model at most
    ``max_tokens`` tokens (rows × padded length) at a time and adds up the parts' gradients (`split_batch`,
    as the training loop's ``max_tokens`` does): one optimizer step per batch, as before, while 32 sentences
    padded to 512 in one pass hold over 10 GB of activations for the backward pass (MiniLM), more than a
    class's server gives a student. The work per token is the same, but slices of one or two sentences keep a
    multi-core CPU's threads less busy than one huge pass: the 512 timing comes out somewhat slower, and the
    speed-ups somewhat larger, than on a machine with the memory for one pass. The token counts are exact.
    """
    batch_size = check_int("batch_size", batch_size, low=1)
    repeats = check_int("repeats", repeats, low=1)
    max_tokens = check_int("max_tokens", max_tokens, low=1)
    sentences, labels = list(sentences), [int(label) for label in labels]  # datasets may hand over columns
    if len(sentences) != len(labels) or len(sentences) < batch_size:
        raise ValueError(f"sentences and labels must have the same length, at least batch_size={batch_size}; "
                         f"got {len(sentences)} and {len(labels)}")
    # The tutorial habit: padding="max_length" with no max_length pads to the model's limit (512 here).
    padded = tokenizer(sentences, padding="max_length", truncation=True,
                         max_length=max_length or tokenizer.model_max_length, return_tensors="pt")
    max_length_batches = [
        {"input_ids": padded["input_ids"][i:i + batch_size],
         "attention_mask": padded["attention_mask"][i:i + batch_size],
         "labels": torch.tensor(labels[i:i + batch_size])}
        for i in range(0, len(sentences), batch_size)]

    encoded = tokenizer(sentences, truncation=True, max_length=tokenizer.model_max_length)
    collate = DataCollatorWithPadding(tokenizer, return_tensors="pt")

    def batches(order) -> list[dict[str, torch.Tensor]]:
        return [collate([{"input_ids": encoded["input_ids"][j], "attention_mask": encoded["attention_mask"][j],
                          "labels": labels[j]} for j in order[i:i + batch_size]])
                for i in range(0, len(sentences), batch_size)]

    unsorted_batches = batches(np.arange(len(sentences)))
    dynamic_batches = batches(np.argsort([len(ids) for ids in encoded["input_ids"]], kind="stable"))
    max_length_seconds = _seconds_to_train(model, max_length_batches, learning_rate, max_tokens)
    unsorted_seconds = _seconds_to_train(model, unsorted_batches, learning_rate, max_tokens, repeats)
    dynamic_seconds = _seconds_to_train(model, dynamic_batches, learning_rate, max_tokens, repeats)
    return_freed_memory()  # the heap the activations took goes back to the system, not kept at its peak
    return PaddingComparison(
        examples=len(sentences),
        padded_tokens_max_length=int(padded["input_ids"].numel()),
        padded_tokens_dynamic=int(sum(b["input_ids"].numel() for b in dynamic_batches)),
        max_length_examples_per_s=len(sentences) / max_length_seconds,
        dynamic_examples_per_s=len(sentences) / dynamic_seconds,
        padded_tokens_unsorted=int(sum(b["input_ids"].numel() for b in unsorted_batches)),
        unsorted_examples_per_s=len(sentences) / unsorted_seconds,
    )
