"""Lesson 03's own training loop (#42), run in this process from the committed notebook's cells.

The loop cell and the cell that checks it against `train` run on a tiny setting (the 2-layer test model, six
sentences in batches of two: three steps): unchanged, the check prints True; with one line of the loop broken, it
prints False. No lesson is executed.
"""
from __future__ import annotations

import numpy as np
import pytest
from _checks import lesson_cell, run_cell
from transformers import DataCollatorWithPadding

from curiolib import (TrainingConfig, classification_metrics, load_model_for_task, load_sentiment, say,
                      tokenize_sentences, train)

LOOP = "loop_losses.append(loss.item())"
CHECK = "as curiolib.train, bit for bit:"
CLAIM = "same per-step losses and validation accuracy as curiolib.train, bit for bit:"


@pytest.fixture(scope="module")
def sentences(tokenizer) -> tuple:
    """Six training and four validation sentences of the embedded set, tokenized."""
    data = load_sentiment(verbose=False)
    return (tokenize_sentences(data["train"].select(range(6)), tokenizer, max_length=32),
            tokenize_sentences(data["validation"].select(range(4)), tokenizer, max_length=32),
            data["train"].features["label"].names)


def _namespace(small_model: str, tokenizer, sentences: tuple) -> dict:
    """What the lesson's earlier cells define that the two cells read, at the tiny setting."""
    loop_set, validation_set, label_names = sentences
    return {"np": np, "say": say, "load_model_for_task": load_model_for_task, "TrainingConfig": TrainingConfig,
            "train": train, "classification_metrics": classification_metrics, "model_name": small_model,
            "label_names": label_names, "seed": 0, "learning_rate": 1e-3, "loop_set": loop_set,
            "loop_batch_size": 2, "validation_set": validation_set, "collator": DataCollatorWithPadding(tokenizer)}


def _claim(small_model: str, tokenizer, sentences: tuple, replace: tuple[str, str] | None = None) -> str:
    namespace = _namespace(small_model, tokenizer, sentences)
    # The cells free memory with gc.collect (release_memory): cheap here because conftest froze what collection
    # imported (pytest_collection_finish).
    run_cell(lesson_cell("03", LOOP), namespace, replace=replace)
    assert len(namespace["loop_losses"]) == 3  # six sentences in batches of two
    printed = run_cell(lesson_cell("03", CHECK), namespace)
    claims = [line for line in printed.splitlines() if line.startswith(CLAIM)]
    assert len(claims) == 1, printed
    return claims[0].removeprefix(CLAIM).strip()


def test_the_lessons_loop_gives_trains_losses_bit_for_bit(small_model, tokenizer, sentences) -> None:
    assert _claim(small_model, tokenizer, sentences) == "True"


@pytest.mark.parametrize("broken", [
    ("    scheduler.step()\n", ""),  # the learning rate never warms up or decays
    ("    generator=torch.Generator())", "    )"),  # the loader's seed drawn from dropout's generator
], ids=["no scheduler step", "no generator of the loader's own"])
def test_the_check_fails_when_a_line_of_the_loop_is_broken(small_model, tokenizer, sentences, broken) -> None:
    assert _claim(small_model, tokenizer, sentences, replace=broken) == "False"
