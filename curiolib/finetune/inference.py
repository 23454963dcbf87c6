"""Predictions on raw text: `classify` for a sentence classifier, `find_entities` for a token classifier.

Entities come through transformers' token-classification pipeline. It splits text into words and
sub-words, and its ``aggregation_strategy="first"`` gives each word the tag of its first sub-token: exactly
the position the model was trained on (the later sub-tokens had label −100). It then joins B-/I- words into
entities with character offsets into the original text, and with ``stride`` it reads texts longer than the
model's 512 tokens in overlapping windows.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from .._validation import check_int, check_text


@dataclass(frozen=True)
class Prediction:
    """One sentence's predicted label, the probability of every label, and how it was tokenised."""

    text: str
    label: str
    probabilities: dict[str, float]
    tokens: list[str]
    truncated: bool

    @property
    def confidence(self) -> float:
        return self.probabilities[self.label]


@torch.no_grad()
def classify(texts: str | list[str], model: torch.nn.Module, tokenizer, *, max_length: int = 128,
             batch_size: int = 32) -> list[Prediction]:
    """Classify one or more texts; an empty text raises ValueError, a long one is truncated (and says so)."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    for index, text in enumerate(texts):
        check_text(f"texts[{index}]", text)
    max_length = check_int("max_length", max_length, low=8, high=getattr(tokenizer, "model_max_length", 512))
    batch_size = check_int("batch_size", batch_size, low=1)
    model.eval()
    device = next(model.parameters()).device
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    predictions = []
    for start in range(0, len(texts), batch_size):
        chunk = texts[start:start + batch_size]
        encoded = tokenizer(chunk, truncation=True, max_length=max_length, padding=True, return_tensors="pt",
                            return_overflowing_tokens=False, return_length=True)
        full_lengths = [len(ids) for ids in tokenizer(chunk, truncation=False)["input_ids"]]
        lengths = encoded.pop("length")
        probabilities = model(**encoded.to(device)).logits.softmax(-1).cpu()
        for row, text in enumerate(chunk):
            ids = encoded["input_ids"][row][: int(lengths[row])].tolist()
            best = int(probabilities[row].argmax())
            predictions.append(Prediction(
                text=text, label=names[best],
                probabilities={name: float(p) for name, p in zip(names, probabilities[row])},
                tokens=tokenizer.convert_ids_to_tokens(ids), truncated=full_lengths[row] > max_length))
    return predictions


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
