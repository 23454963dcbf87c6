"""Readers for files teachers bring: CSV/TSV/JSONL text classification and CoNLL-style column files."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from datasets import ClassLabel, Dataset

from .features import SENTIMENT_LABELS, ner_features, order_tag_names, sentiment_features

TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": "\t", ".jsonl": None, ".json": None}


def _check_file(path: Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such data file: {path}")
    if path.stat().st_size == 0 or not path.read_text(encoding="utf-8").strip():
        raise ValueError(f"{path} is empty: expected one example per line")
    return path


def _rows(path: Path, header: bool) -> list[tuple[int, dict]]:
    """(line number, row) pairs of a CSV/TSV/JSONL file; a malformed line raises with its number."""
    suffix = path.suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(TEXT_SUFFIXES)}")
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        if TEXT_SUFFIXES[suffix] is None:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise ValueError(f"{path}:{number}: expected a JSON object per line, got {type(row).__name__}")
                rows.append((number, row))
            return rows
        reader = csv.reader(handle, delimiter=TEXT_SUFFIXES[suffix], quoting=csv.QUOTE_MINIMAL)
        names = next(reader) if header else None
        width = len(names) if names else None
        for fields in reader:
            if not any(field.strip() for field in fields):
                continue
            width = width or len(fields)
            if len(fields) != width:
                raise ValueError(f"{path}:{reader.line_num}: expected {width} columns, found {len(fields)}")
            rows.append((reader.line_num, dict(zip(names or range(width), fields))))
    return rows


def _label_index(value: object, label_names: list[str], where: str) -> int:
    text = str(value).strip()
    if text in label_names:
        return label_names.index(text)
    if text.lstrip("-").isdigit() and 0 <= int(text) < len(label_names):
        return int(text)
    raise ValueError(f"{where}: label {text!r} is not one of {label_names} or their numbers "
                     f"0..{len(label_names) - 1}")


def read_text_classification(path: str | Path, *, text_column: str | int = "sentence",
                             label_column: str | int = "label", label_names: list[str] | None = None,
                             header: bool = True) -> Dataset:
    """A CSV, TSV or JSONL file of (text, label) rows as a Dataset with `sentence` and a ClassLabel `label`.

    Labels may be names or their numbers. Without ``label_names`` the sentiment names (negative,
    positive) are used. Files without a header name their columns by position (``header=False``).
    """
    path = _check_file(Path(path))
    label_names = list(label_names or SENTIMENT_LABELS)
    rows = _rows(path, header=header and path.suffix.lower() not in {".jsonl", ".json"})
    for column in (text_column, label_column):
        if column not in rows[0][1]:
            raise ValueError(f"{path}: column {column!r} not found; the columns are {list(rows[0][1])}")
    sentences, labels = [], []
    for number, row in rows:
        text = str(row.get(text_column) or "").strip()
        if not text:
            raise ValueError(f"{path}:{number}: empty text in column {text_column!r}")
        sentences.append(text)
        labels.append(_label_index(row.get(label_column), label_names, f"{path}:{number}"))
    features = sentiment_features()
    if label_names != SENTIMENT_LABELS:
        features["label"] = ClassLabel(names=label_names)
    return Dataset.from_dict({"sentence": sentences, "label": labels}, features=features)


def validate_iob2(tags: list[str], where: str = "sentence") -> None:
    """Raise ValueError unless ``tags`` is valid IOB2: every I-X follows a B-X or an I-X."""
    previous = "O"
    for position, tag in enumerate(tags):
        if tag != "O" and not (len(tag) > 2 and tag[:2] in ("B-", "I-")):
            raise ValueError(f"{where}: tag {tag!r} at token {position} is not IOB2 (O, B-TYPE or I-TYPE)")
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            raise ValueError(f"{where}: {tag!r} at token {position} follows {previous!r}; in IOB2 an entity "
                             f"starts with B-{tag[2:]} (pass fix_iob=True to turn such I- tags into B-)")
        previous = tag


def _fix_iob(tags: list[str]) -> list[str]:
    fixed, previous = [], "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        fixed.append(tag)
        previous = tag
    return fixed


def parse_conll(path: str | Path, *, token_column: int = 0, tag_column: int = -1, delimiter: str | None = None,
                comment_prefix: str | None = "#", fix_iob: bool = False) -> list[tuple[list[str], list[str]]]:
    """(tokens, tags) per sentence of a CoNLL-style column file, tags checked as IOB2 (see `read_conll`)."""
    path = _check_file(Path(path))
    sentences: list[tuple[int, list[str], list[str]]] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    needed = max(token_column, tag_column) + 1 if tag_column >= 0 else max(token_column + 1, -tag_column)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(list(handle) + ["\n"], start=1):
            line = line.rstrip("\n")
            if comment_prefix and line.startswith(comment_prefix):
                continue
            if not line.strip():
                if tokens:
                    sentences.append((start, tokens, tags))
                tokens, tags = [], []
                continue
            fields = line.split(delimiter)
            if fields[0] == "-DOCSTART-":
                continue
            if len(fields) < needed:
                raise ValueError(f"{path}:{number}: expected at least {needed} columns (token in column "
                                 f"{token_column}, tag in column {tag_column}), found {len(fields)}")
            if not tokens:
                start = number
            tokens.append(fields[token_column])
            tags.append(fields[tag_column])
    if not sentences:
        raise ValueError(f"{path} holds no sentences: expected token lines separated by blank lines")
    parsed = []
    for start, sentence_tokens, sentence_tags in sentences:
        if fix_iob:
            sentence_tags = _fix_iob(sentence_tags)
        validate_iob2(sentence_tags, where=f"{path}:{start}")
        parsed.append((sentence_tokens, sentence_tags))
    return parsed


def ner_dataset(sentences: list[tuple[list[str], list[str]]], tag_names: list[str] | None = None) -> Dataset:
    """A Dataset of `tokens` and ClassLabel `ner_tags` from (tokens, tag strings) pairs."""
    present = {tag for _, tags in sentences for tag in tags}
    names = tag_names or order_tag_names(present)
    unknown = present - set(names)
    if unknown:
        raise ValueError(f"tags {sorted(unknown)} are not in the label map {names}; a label map must "
                         "include every tag present in the data")
    index = {name: i for i, name in enumerate(names)}
    return Dataset.from_dict({"tokens": [tokens for tokens, _ in sentences],
                              "ner_tags": [[index[t] for t in tags] for _, tags in sentences]},
                             features=ner_features(names))


def read_conll(path: str | Path, *, token_column: int = 0, tag_column: int = -1, delimiter: str | None = None,
               comment_prefix: str | None = "#", fix_iob: bool = False,
               tag_names: list[str] | None = None) -> Dataset:
    """A CoNLL-style column file (one token a line, blank line between sentences) as `tokens`/`ner_tags`.

    Lines starting with ``comment_prefix`` and ``-DOCSTART-`` lines are skipped. Tags must be IOB2
    (checked per sentence); ``fix_iob=True`` repairs an I-X that starts an entity into B-X instead.
    """
    sentences = parse_conll(path, token_column=token_column, tag_column=tag_column, delimiter=delimiter,
                            comment_prefix=comment_prefix, fix_iob=fix_iob)
    return ner_dataset(sentences, tag_names)
