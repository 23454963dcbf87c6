"""Text to model inputs: sentences for classification, and word-level NER tags aligned to sub-words.

The alignment is the step the usual tutorials get wrong; `align_labels_by_position` keeps their habit, and
`align_labels_as_essay` the source essays' own (001 and 002 §5.2), for the lesson to show failing.
"""
from __future__ import annotations

from collections.abc import Sequence

from datasets import Dataset

IGNORE_INDEX = -100  # the label PyTorch's cross-entropy skips


def align_labels_with_tokens(word_labels: Sequence[int], word_ids: Sequence[int | None], *,
                             label_all_tokens: bool = False,
                             b_to_i: Sequence[int] | None = None) -> list[int]:
    """One label per sub-token from one label per word, by the fast tokenizer's ``word_ids()``.

    Special tokens ([CLS], [SEP], padding; word id None) get -100. The first sub-token of a word
    keeps the word's label; the others get -100, or with ``label_all_tokens`` the word's label,
    turned from B-X into I-X through ``b_to_i`` (a map from each label id to its I- id), so no
    entity seems to start twice.
    """
    known = [w for w in word_ids if w is not None]
    if known and max(known) >= len(word_labels):
        raise ValueError(f"word_labels has {len(word_labels)} labels but the tokens come from "
                         f"{max(known) + 1} words: give one label per word, not per sub-token")
    if label_all_tokens and b_to_i is None:
        raise ValueError("label_all_tokens=True needs b_to_i, "
                         "the map from each B- label id to its I- id")
    labels, previous = [], None
    for word in word_ids:
        if word is None:
            labels.append(IGNORE_INDEX)
        elif word != previous:
            labels.append(int(word_labels[word]))
        else:
            labels.append(int(b_to_i[word_labels[word]]) if label_all_tokens
                          else IGNORE_INDEX)
        previous = word
    return labels


def align_labels_by_position(word_labels: Sequence[int], n_tokens: int) -> list[int]:
    """The usual tutorial's bug, kept for the lesson: word labels laid on sub-tokens by position.

    [CLS] gets -100, then label i goes to token i+1 whatever word that token belongs to: as soon as a word
    splits into several sub-tokens, every later label lands on the wrong token, and the labels of the last
    words fall off the end. Use `align_labels_with_tokens` for real work.
    """
    body = [int(label) for label in word_labels][: max(n_tokens - 2, 0)]
    return [IGNORE_INDEX] + body + [IGNORE_INDEX] * (n_tokens - 1 - len(body))


def align_labels_as_essay(word_labels: Sequence[int], n_tokens: int, *, outside: int) -> list[int]:
    """Essay 001 §5.2's alignment, kept for lesson 04: word i's label on token i, ``outside`` (O) on the rest.

    The essay encodes ``[tag2id[tag] for tag in tags]`` and pads it with ``tag2id['O']`` to the input's length:
    [CLS] (token 0) gets word 0's label, every label sits on an earlier word's sub-token, and [SEP], padding
    and the last sub-tokens are trained as O; nothing is -100. Labels past ``n_tokens`` are cut, as truncation
    cuts the input. Use `align_labels_with_tokens` for real work.
    """
    if isinstance(outside, bool) or not isinstance(outside, int) or outside < 0:
        raise ValueError(f"outside must be the O tag's id, an int >= 0, got {outside!r}")
    body = [int(label) for label in word_labels][:max(n_tokens, 0)]
    return body + [outside] * (n_tokens - len(body))


def b_to_i_map(tag_names: Sequence[str]) -> list[int]:
    """For each tag id, the id to use on a word's later sub-tokens: B-X → I-X, everything else unchanged."""
    index = {name: i for i, name in enumerate(tag_names)}
    return [index.get("I-" + name[2:], i) if name.startswith("B-") else i for i, name in enumerate(tag_names)]


ALIGNMENTS = ("word_ids", "position", "essay")


def _check_every_word_has_a_sub_token(words: Sequence[str], word_ids: Sequence[int | None], truncated: bool) -> None:
    # A word of only zero-width or control characters gives no sub-token: its label, an entity's B- tag perhaps,
    # would vanish from training and from the scores without a word. Truncation drops the last words: not this.
    present = {w for w in word_ids if w is not None}
    last = max(present, default=-1) if truncated else len(words) - 1
    missing = [w for w in range(last + 1) if w not in present]
    if missing:
        sentence = " ".join(words)
        shown = repr(sentence[:80] + ("..." if len(sentence) > 80 else ""))
        raise ValueError(f"the sentence {shown}: word {missing[0] + 1} {words[missing[0]]!r} gives no sub-token "
                         "with this tokenizer (it holds only characters the tokenizer drops: zero-width, control, "
                         "combining marks), so its tag would silently drop out of training and scoring; remove or "
                         "fix the word (read_conll refuses such tokens)")


def tokenize_and_align_labels(batch: dict, tokenizer, *, max_length: int = 128, label_all_tokens: bool = False,
                              tag_names: Sequence[str] | None = None, alignment: str = "word_ids",
                              casing: bool = False) -> dict:
    """For `Dataset.map(batched=True)`: tokenize pre-split words and align `ner_tags` to the sub-tokens.

    ``alignment="position"`` reproduces the tutorial bug (`align_labels_by_position`) for the lesson, and
    ``alignment="essay"`` essay 001 §5.2's (`align_labels_as_essay`, which needs ``tag_names`` for its O).
    ``casing=True`` sets ``token_type_ids`` to each sub-token's word case (`casing.case_ids_for_words`).
    """
    from .._validation import check_choice

    check_choice("alignment", alignment, ALIGNMENTS)
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("align labels with a fast tokenizer: word_ids() needs one (AutoTokenizer gives it)")
    if label_all_tokens and tag_names is None:
        raise ValueError("label_all_tokens=True needs tag_names (the ClassLabel names) to turn B- into I- tags")
    if alignment == "essay" and "O" not in (tag_names or ()):
        raise ValueError(f"alignment='essay' pads the labels with the tag 'O': tag_names must include it, got "
                         f"{tag_names!r}")
    encoded = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length,
                        return_offsets_mapping=casing)
    for i, words in enumerate(batch["tokens"]):
        _check_every_word_has_a_sub_token(words, encoded.word_ids(i), len(encoded["input_ids"][i]) >= max_length)
    b_to_i = b_to_i_map(tag_names) if label_all_tokens else None
    if casing:
        from .casing import case_ids_for_words

        offsets = encoded.pop("offset_mapping")  # into each word: what the case rule reads, not a model input
        encoded["token_type_ids"] = [case_ids_for_words(words, encoded.word_ids(i), offsets[i])
                                     for i, words in enumerate(batch["tokens"])]
    if alignment == "position":
        encoded["labels"] = [align_labels_by_position(tags, len(ids))
                             for tags, ids in zip(batch["ner_tags"], encoded["input_ids"])]
        return encoded
    if alignment == "essay":
        outside = list(tag_names).index("O")
        encoded["labels"] = [align_labels_as_essay(tags, len(ids), outside=outside)
                             for tags, ids in zip(batch["ner_tags"], encoded["input_ids"])]
        return encoded
    encoded["labels"] = [
        align_labels_with_tokens(tags, encoded.word_ids(i), label_all_tokens=label_all_tokens, b_to_i=b_to_i)
        for i, tags in enumerate(batch["ner_tags"])]
    return encoded


def tokenize_ner_dataset(dataset, tokenizer, *, max_length: int = 256, alignment: str = "word_ids",
                         casing: bool = False):
    """A tagged-words Dataset made ready for the training loop: input ids, mask, token types and aligned `labels`.

    ``max_length`` is generous because a truncated sentence loses its last words' tags from training and
    from the scores alike; batches are padded per batch, so short sentences pay nothing for it. With
    ``casing=True`` the token types carry each word's case class, for a model widened by `add_casing`.
    ``alignment="essay"`` lays the labels on as essay 001 §5.2 does (`align_labels_as_essay`): for lesson 04's
    demonstration, padded with O by ``DataCollatorForTokenClassification(..., label_pad_token_id=<O's id>)``.
    """
    from .._validation import check_choice, check_int

    check_int("max_length", max_length, low=8, high=tokenizer.model_max_length)
    check_choice("alignment", alignment, ALIGNMENTS)
    tag_names = dataset.features["ner_tags"].feature.names if alignment == "essay" else None
    encoded = dataset.map(tokenize_and_align_labels, batched=True, remove_columns=dataset.column_names,
                          fn_kwargs={"tokenizer": tokenizer, "max_length": max_length, "alignment": alignment,
                                     "casing": bool(casing), "tag_names": tag_names})
    return encoded


def tokenize_sentences(dataset: Dataset, tokenizer, *, text_column: str = "sentence", label_column: str = "label",
                       max_length: int = 128) -> Dataset:
    """Tokenize without padding (the collator pads each batch) and keep only what the model takes."""
    from .._validation import check_int

    check_int("max_length", max_length, low=8, high=tokenizer.model_max_length)
    encoded = dataset.map(lambda batch: tokenizer(batch[text_column], truncation=True, max_length=max_length),
                          batched=True)
    encoded = encoded.rename_column(label_column, "labels")
    keep = {"input_ids", "attention_mask", "token_type_ids", "labels"}
    return encoded.remove_columns([c for c in encoded.column_names if c not in keep])
