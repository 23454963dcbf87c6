"""Entities in raw text from a fine-tuned token classifier, through transformers' token-classification pipeline.

The pipeline splits text into words and sub-words, and its ``aggregation_strategy="first"`` gives each word
the tag of its first sub-token: exactly the position the model was trained on (the later sub-tokens had
label −100). It then joins B-/I- words into entities with character offsets into the original text, and
with ``stride`` it reads texts longer than the model's 512 tokens in overlapping windows.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from ._validation import check_int, check_text


@dataclass(frozen=True)
class Entity:
    """One entity found in a text: its words, type, mean tag probability and character span [start, end)."""

    text: str
    type: str
    score: float
    start: int
    end: int


@lru_cache(maxsize=4)
def _pipeline(model: torch.nn.Module, tokenizer, stride: int):
    from transformers import pipeline

    return pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="first",
                    stride=stride, device=next(model.parameters()).device)


@torch.no_grad()
def find_entities(texts: str | list[str], model: torch.nn.Module, tokenizer, *,
                  stride: int = 64) -> list[list[Entity]]:
    """The entities of each text; an empty text raises ValueError, a long one is read in windows of 512 tokens."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    for index, text in enumerate(texts):
        check_text(f"texts[{index}]", text)
    check_int("stride", stride, low=0, high=tokenizer.model_max_length // 2)
    model.eval()
    found = _pipeline(model, tokenizer, stride)(texts)
    return [[Entity(text=text[item["start"]:item["end"]], type=item["entity_group"], score=float(item["score"]),
                    start=int(item["start"]), end=int(item["end"])) for item in items]
            for text, items in zip(texts, found)]
