"""Capitals given back to an uncased model: a per-word case class fed through BERT's token-type embeddings.

An uncased tokenizer lower-cases "Apple" and "apple" to the same ids, so the model cannot see the strongest
clue to a name in English news. The classic fix of neural taggers is a case feature per word (lower, Title,
UPPER, mixed, no cased letters), embedded and added to the word embeddings. BERT already adds one learned
vector per token to its word embeddings, the token-type ("segment") embedding, which a single-sentence task
leaves at type 0 everywhere. `add_casing` widens that table to one row per case class, each starting as a
copy of row 0, so the model begins exactly as pretrained; the case classes then go in as ``token_type_ids``.
Because they travel as a standard input, a cased model survives `save_pretrained` / `from_pretrained` and
ONNX export unchanged; only the code that tokenizes must compute them (`tokenize_ner_dataset(casing=True)`,
`find_entities`). A word is what whitespace separates, in training (CoNLL words hold no spaces) and on raw text,
with the clitics treebanks split off ("'s", "n't") cut off in both; sub-tokens without cased letters get 0.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

#: The case classes, in the order of their ids (0 also marks [CLS], [SEP] and padding).
CASES = ("no cased letters", "lower", "Title", "UPPER", "mixed")
CONFIG_FLAG = "curiolib_casing"  # saved in config.json, so a reloaded model says it wants case ids


def word_case(word: str) -> int:
    """The case class id of one word, judged on its cased letters only ("(AP)" is UPPER, "U.S." too)."""
    letters = [c for c in word if c.islower() or c.isupper()]
    if not letters:
        return 0
    if all(c.islower() for c in letters):
        return 1
    if all(c.isupper() for c in letters):
        return 3 if len(letters) > 1 else 2  # a lone capital ("I", "A") begins a word like a Title
    if letters[0].isupper() and all(c.islower() for c in letters[1:]):
        return 2
    return 4


def _has_cased_letter(text: str) -> bool:
    return any(c.islower() or c.isupper() for c in text)


# The clitics news and web treebanks split off as words of their own ("NATO" "'s", "do" "n't"): raw text glues
# them on, so they are cut here too, or "NATO's" would read as one mixed-case word that training never had.
_CLITIC = re.compile(r"(?i)(?:n['’]t|['’](?:s|re|ve|ll|d|m))(?=[^\w]*$)")


def _case_by_char(chunk: str) -> list[int]:
    """The case id of the word each character of a whitespace-free ``chunk`` belongs to (clitics apart)."""
    clitic = _CLITIC.search(chunk)
    cut = clitic.start() if clitic and clitic.start() > 0 else len(chunk)
    return [word_case(chunk[:cut])] * cut + [word_case(chunk[cut:])] * (len(chunk) - cut)


def case_ids_for_words(words: Sequence[str], word_ids: Sequence[int | None],
                       offsets: Sequence[Sequence[int]]) -> list[int]:
    """One case id per sub-token of pre-split words, from ``word_ids`` and the offsets into each word.

    A sub-token gets its word's case, or 0 if its own characters hold no cased letter (the "." of "U.S.",
    a digit, [CLS], [SEP]): the rule `case_ids_for_text` applies to raw text, so both give the same ids.
    """
    by_char = [_case_by_char(word) for word in words]
    return [by_char[word][int(start)] if word is not None and _has_cased_letter(words[word][int(start):int(end)])
            else 0 for word, (start, end) in zip(word_ids, offsets)]


def case_ids_for_text(text: str, offsets: Sequence[Sequence[int]]) -> list[int]:
    """One case id per sub-token of raw text from its character offsets; words are what whitespace separates."""
    case_at = [0] * len(text)
    for match in re.finditer(r"\S+", text):
        case_at[match.start():match.end()] = _case_by_char(match.group())
    return [case_at[int(start)] if _has_cased_letter(text[int(start):int(end)]) else 0 for start, end in offsets]


def uses_casing(model) -> bool:
    """True for a model widened by `add_casing` (also once saved and reloaded)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return bool(getattr(getattr(base, "config", None), CONFIG_FLAG, False))


def _token_type_table(model):
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    embeddings = getattr(getattr(base, base.base_model_prefix, base), "embeddings", None)
    table = getattr(embeddings, "token_type_embeddings", None)
    if table is None:
        raise ValueError(f"casing needs a model with token-type embeddings (BERT, MiniLM); "
                         f"{type(base).__name__} has none: use casing=False, or a cased model")
    return base, embeddings, table


def add_casing(model):
    """Widen the token-type embeddings to one row per case class (each a copy of row 0); returns the model."""
    import torch

    base, embeddings, table = _token_type_table(model)
    if uses_casing(base):
        return model
    wider = torch.nn.Embedding(len(CASES), table.embedding_dim, device=table.weight.device, dtype=table.weight.dtype)
    with torch.no_grad():
        wider.weight.copy_(table.weight[0].expand(len(CASES), -1))
    embeddings.token_type_embeddings = wider
    # Some BERT versions keep a buffer of zero token types for inputs that bring none: it stays valid (row 0).
    base.config.type_vocab_size = len(CASES)
    setattr(base.config, CONFIG_FLAG, True)
    return model
