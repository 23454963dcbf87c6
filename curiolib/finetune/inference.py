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


def _as_texts(texts: object) -> list[str]:
    """``texts`` as a list of non-blank strings: one string, or a list or tuple of them."""
    if isinstance(texts, str):
        texts = [texts]
    elif isinstance(texts, (bytes, bytearray)):
        raise TypeError("texts must be a string or a list of strings, got bytes: decode them first, "
                        "e.g. data.decode('utf-8')")
    elif not isinstance(texts, (list, tuple)):
        raise TypeError(f"texts must be a string or a list of strings, got {type(texts).__name__}")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{index}] must be a string, got {type(text).__name__}")
        check_text(f"texts[{index}]", text)
    return list(texts)


def _check_model(model: object, task: str, function: str, other: str) -> None:
    # A swapped argument or the other lesson's model fails here in words, not deep inside a forward pass.
    if not callable(model) or not hasattr(model, "config"):
        raise TypeError(f"{function} needs a fine-tuned model as its second argument, got {type(model).__name__}"
                        " (the order is texts, model, tokenizer)")
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    kind = type(base).__name__
    wrong = {"sequence": "ForTokenClassification", "token": "ForSequenceClassification"}[task]
    if kind.endswith(wrong):
        raise ValueError(f"{function} needs a {task} classifier, got a {kind}: use {other} for this model")


@torch.no_grad()
def classify(texts: str | list[str], model: torch.nn.Module, tokenizer, *, max_length: int = 128,
             batch_size: int = 32, sort_by_length: bool = True) -> list[Prediction]:
    """Classify one or more texts, answers in input order; an empty text raises ValueError, a long one is truncated.

    With ``sort_by_length`` the texts are batched shortest first, so each batch pads to similar lengths and
    no short sentence waits on a long one; the answers come back in the order given.
    """
    texts = _as_texts(texts)
    _check_model(model, "sequence", "classify", "find_entities")
    max_length = check_int("max_length", max_length, low=8, high=getattr(tokenizer, "model_max_length", 512))
    batch_size = check_int("batch_size", batch_size, low=1)
    model.eval()
    device = next(model.parameters()).device
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    full_lengths = [len(ids) for ids in tokenizer(texts, truncation=False)["input_ids"]] if texts else []
    order = sorted(range(len(texts)), key=full_lengths.__getitem__) if sort_by_length else list(range(len(texts)))
    predictions: list[Prediction | None] = [None] * len(texts)
    for start in range(0, len(texts), batch_size):
        rows = order[start:start + batch_size]
        encoded = tokenizer([texts[i] for i in rows], truncation=True, max_length=max_length, padding=True,
                            return_tensors="pt", return_overflowing_tokens=False)
        lengths = encoded["attention_mask"].sum(-1)  # the tokens before the padding ("length" counts the padding)
        probabilities = model(**encoded.to(device)).logits.softmax(-1).cpu()
        for row, index in enumerate(rows):
            ids = encoded["input_ids"][row][: int(lengths[row])].tolist()
            best = int(probabilities[row].argmax())
            predictions[index] = Prediction(
                text=texts[index], label=names[best],
                probabilities={name: float(p) for name, p in zip(names, probabilities[row])},
                tokens=tokenizer.convert_ids_to_tokens(ids), truncated=full_lengths[index] > max_length)
    return predictions


@dataclass(frozen=True)
class Entity:
    """One entity found in a text: its words, type, mean tag probability and character span [start, end)."""

    text: str
    type: str
    score: float
    start: int
    end: int


def _cased_pipeline_class():
    from transformers import TokenClassificationPipeline

    from ..data.casing import case_ids_for_text

    class CasedTokenClassificationPipeline(TokenClassificationPipeline):
        """The token-classification pipeline, feeding each sub-token's word case as its token type."""

        def preprocess(self, sentence, offset_mapping=None, **params):
            if not isinstance(sentence, str):  # pre-split words carry offsets per word, not into one text
                raise TypeError("a cased model's entities are found in raw text: pass strings to find_entities")
            text = sentence
            for inputs in super().preprocess(sentence, offset_mapping, **params):
                # Every window of a long text carries offsets into the whole text, so one lookup serves all.
                inputs["token_type_ids"] = torch.tensor([case_ids_for_text(text, inputs["offset_mapping"][0].tolist())])
                yield inputs

    return CasedTokenClassificationPipeline


def _pipeline(model: torch.nn.Module, tokenizer, stride: int):
    from ..data.casing import uses_casing

    # Keyed on casing too: a model widened by add_casing after a first call must not keep a plain pipeline.
    return _cached_pipeline(model, tokenizer, stride, uses_casing(model))


@lru_cache(maxsize=4)
def _cached_pipeline(model: torch.nn.Module, tokenizer, stride: int, cased: bool):
    from transformers import pipeline

    extra = {"pipeline_class": _cased_pipeline_class()} if cased else {}
    return pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="first",
                    stride=stride, device=next(model.parameters()).device, **extra)


@torch.no_grad()
def find_entities(texts: str | list[str], model: torch.nn.Module, tokenizer, *,
                  stride: int = 64) -> list[list[Entity]]:
    """The entities of each text; an empty text raises ValueError, a long one is read in windows of 512 tokens."""
    texts = _as_texts(texts)
    _check_model(model, "token", "find_entities", "classify")
    check_int("stride", stride, low=0, high=tokenizer.model_max_length // 2)
    if not texts:
        return []  # as classify([]) does
    model.eval()
    found = _pipeline(model, tokenizer, stride)(texts)
    return [[Entity(text=text[item["start"]:item["end"]], type=item["entity_group"], score=float(item["score"]),
                    start=int(item["start"]), end=int(item["end"])) for item in items]
            for text, items in zip(texts, found)]
