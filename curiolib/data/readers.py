"""Readers for files teachers bring: CSV/TSV/JSONL text classification and CoNLL-style column files."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from datasets import ClassLabel, Dataset

from .features import SENTIMENT_LABELS, ner_features, order_tag_names, sentiment_features

TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": "\t", ".jsonl": None, ".json": None}
#: Quotes mean quoting in a CSV file; in a TSV file they are usually part of the text ("the "acting"...).
QUOTED_BY_DEFAULT = {".csv"}


def _check_file(path: Path, encoding: str = "utf-8") -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such data file: {path}")
    if path.stat().st_size == 0 or not _read_text(path, encoding).strip():
        raise ValueError(f"{path} is empty: expected one example per line")
    return path


def _read_text(path: Path, encoding: str) -> str:
    # utf-8-sig reads the byte-order mark Excel puts before a "CSV UTF-8" file's header, instead of keeping it.
    chosen = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return path.read_text(encoding=chosen)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not {encoding} text (byte {exc.start} cannot be read): save it as UTF-8, or "
                         "pass encoding= with the file's encoding, e.g. encoding='latin-1' or 'utf-16'") from None
    except LookupError:
        raise ValueError(f"encoding must be a text encoding Python knows, e.g. 'utf-8' or 'latin-1'; "
                         f"got {encoding!r}") from None


def _rows(path: Path, header: bool, *, delimiter: str | None = None, quotechar: str | None | bool = True,
          encoding: str = "utf-8") -> list[tuple[int, dict]]:
    """(line number, row) pairs of a CSV/TSV/JSONL file; a malformed line raises with its number.

    ``quotechar=True`` means the file type's default: ``"`` quotes fields in a CSV file, and quotes are
    plain text in a TSV file. A row must fit on one line: a quote that runs on over several lines is an
    error naming them, never a silent merge.
    """
    suffix = path.suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(TEXT_SUFFIXES)}")
    lines = _read_text(path, encoding).splitlines(keepends=True)
    rows = []
    if TEXT_SUFFIXES[suffix] is None:
        for number, line in enumerate(lines, start=1):
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
    if quotechar is True:
        quotechar = '"' if suffix in QUOTED_BY_DEFAULT else None
    options = {"quotechar": quotechar, "quoting": csv.QUOTE_MINIMAL} if quotechar else {"quoting": csv.QUOTE_NONE}
    reader = csv.reader(lines, delimiter=delimiter or TEXT_SUFFIXES[suffix], strict=True, **options)
    names, width, first_line = None, None, 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ValueError(f"{path}:{first_line}: {exc}: a quoted field must be quoted whole and closed on its "
                             "line; pass quotechar=None if quotes are part of the text") from None
        if reader.line_num != first_line:
            raise ValueError(f"{path}:{first_line}-{reader.line_num}: one quoted field runs over lines "
                             f"{first_line} to {reader.line_num}; pass quotechar=None if quotes are part of the "
                             "text, or close the quote on its line")
        number, first_line = first_line, reader.line_num + 1
        if not any(field.strip() for field in fields):
            continue
        if header and names is None:
            names, width = fields, len(fields)
            continue
        width = width or len(fields)
        if len(fields) != width:
            raise ValueError(f"{path}:{number}: expected {width} columns, found {len(fields)}")
        rows.append((number, dict(zip(names or range(width), fields))))
    if not rows:
        raise ValueError(f"{path} holds a header but no examples" if names else f"{path} holds no examples")
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
                             header: bool = True, delimiter: str | None = None, quotechar: str | None | bool = True,
                             encoding: str = "utf-8") -> Dataset:
    """A CSV, TSV or JSONL file of (text, label) rows as a Dataset with `sentence` and a ClassLabel `label`.

    Labels may be names or their numbers. Without ``label_names`` the sentiment names (negative,
    positive) are used. Files without a header name their columns by position (``header=False``).
    ``delimiter`` defaults to the file type's (comma, tab); ``quotechar`` (default: ``"`` for CSV, none for
    TSV) is the character that quotes a field, ``None`` to read quotes as text.
    """
    path = _check_file(Path(path), encoding)
    label_names = list(label_names or SENTIMENT_LABELS)
    rows = _rows(path, header=header and path.suffix.lower() not in {".jsonl", ".json"}, delimiter=delimiter,
                 quotechar=quotechar, encoding=encoding)
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


def _token_line(fields: list[str], width: int | None, tag_column: int) -> bool:
    # "#hashtag<TAB>O" is a token; "# sent_id = 3" (CoNLL-U) is a comment: it does not end in a tag.
    if len(fields) < 2 or len(fields) != (width or len(fields)) or not -len(fields) <= tag_column < len(fields):
        return False
    tag = fields[tag_column]
    return tag == "O" or (len(tag) > 2 and tag[:2] in ("B-", "I-"))


def parse_conll(path: str | Path, *, token_column: int = 0, tag_column: int = -1, delimiter: str | None = None,
                comment_prefix: str | None = "#", fix_iob: bool = False,
                encoding: str = "utf-8") -> list[tuple[list[str], list[str]]]:
    """(tokens, tags) per sentence of a CoNLL-style column file, tags checked as IOB2 (see `read_conll`).

    ``delimiter=None`` splits on tabs when the file has them (so a token may hold a space, "New York"),
    else on whitespace. Every token line must have as many columns as the first. A line starting with
    ``comment_prefix`` is a comment only between sentences and when it does not end in a tag: a token
    such as ``#hashtag`` inside a sentence stays a token.
    """
    path = _check_file(Path(path), encoding)
    lines = _read_text(path, encoding).splitlines()
    if delimiter is None and any("\t" in line for line in lines):
        delimiter = "\t"
    sentences: list[tuple[int, list[str], list[str]]] = []
    tokens: list[str] = []
    tags: list[str] = []
    start, width = 0, None
    for number, line in enumerate(lines + [""], start=1):
        if not line:
            if tokens:
                sentences.append((start, tokens, tags))
            tokens, tags = [], []
            continue
        if not line.strip():
            raise ValueError(f"{path}:{number}: a line of only whitespace ({line!r}); a sentence ends with an "
                             "empty line, and a token line holds a token and its tag")
        fields = line.split(delimiter)
        if comment_prefix and line.startswith(comment_prefix) and not tokens and not _token_line(fields, width,
                                                                                                 tag_column):
            continue
        if line.split()[0] == "-DOCSTART-":
            continue
        width = width or len(fields)
        if len(fields) != width:
            raise ValueError(f"{path}:{number}: {len(fields)} columns where the file's token lines have {width} "
                             f"(split on {'tabs' if delimiter == chr(9) else repr(delimiter or 'whitespace')}; "
                             "pass delimiter= to choose)")
        if len(fields) < 2 or not -len(fields) <= tag_column < len(fields) or \
                token_column % len(fields) == tag_column % len(fields):
            raise ValueError(f"{path}:{number}: expected a token column ({token_column}) and a tag column "
                             f"({tag_column}), found {len(fields)} column(s): {line!r}")
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
               comment_prefix: str | None = "#", fix_iob: bool = False, tag_names: list[str] | None = None,
               encoding: str = "utf-8") -> Dataset:
    """A CoNLL-style column file (one token a line, blank line between sentences) as `tokens`/`ner_tags`.

    Lines starting with ``comment_prefix`` and ``-DOCSTART-`` lines are skipped. Tags must be IOB2
    (checked per sentence); ``fix_iob=True`` repairs an I-X that starts an entity into B-X instead.
    """
    sentences = parse_conll(path, token_column=token_column, tag_column=tag_column, delimiter=delimiter,
                            comment_prefix=comment_prefix, fix_iob=fix_iob, encoding=encoding)
    return ner_dataset(sentences, tag_names)
