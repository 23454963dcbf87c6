"""Predictions on raw text with a fine-tuned classifier: the widget, the notebooks and the benchmarks use it."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ._validation import check_int, check_text


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
