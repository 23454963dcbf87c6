"""Readers for files teachers bring: CSV/TSV/JSONL text classification and CoNLL-style column files."""
from __future__ import annotations

import csv
import json
import re
import unicodedata
from pathlib import Path

from datasets import ClassLabel, Dataset

from .features import SENTIMENT_LABELS, ner_features, order_tag_names, sentiment_features

TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": "\t", ".jsonl": None, ".json": None}
#: Quotes mean quoting in a CSV file; in a TSV file they are usually part of the text ("the "acting"...).
QUOTED_BY_DEFAULT = {".csv"}
#: The Unicode categories a BERT tokenizer drops (control, format, private use, surrogate, non-spacing marks and
#: separators), with U+FFFD: a token or a text made only of them gives no sub-word.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Mn", "Zs", "Zl", "Zp"})
# Only these end a line, as in an editor: str.splitlines() also breaks at U+2028, U+0085, form feeds and more,
# which json.dumps(ensure_ascii=False) writes raw inside a string and scraped text carries.
_LINE_END = re.compile(r"\r\n|\r|\n")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_OTHER_BREAKS = re.compile("[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_SEP_LINE = re.compile(r"sep=(.)\r?\n?\Z")  # Excel's hint naming the delimiter, before the header


def invisible(text: str) -> bool:
    """True when ``text`` holds no character a tokenizer keeps (see `INVISIBLE_CATEGORIES`), or nothing at all."""
    if text[:1].isalnum():  # a letter or digit first: the usual case, decided without a look-up per character
        return False
    return all(char == "\ufffd" or unicodedata.category(char) in INVISIBLE_CATEGORIES for char in text)


def _describe(text: str) -> str:
    chars = list(dict.fromkeys(text))
    named = ", ".join(f"U+{ord(c):04X} {unicodedata.name(c, unicodedata.category(c))}" for c in chars[:3])
    return named + (", ..." if len(chars) > 3 else "")


def _line_of(text: str, position: int) -> int:
    return len(_LINE_END.findall(text, 0, position)) + 1


def _split_lines(text: str) -> list[str]:
    """The lines of ``text`` with their endings: a line ends at LF, CRLF or CR only."""
    return _LINE.findall(text) if _OTHER_BREAKS.search(text) else text.splitlines(keepends=True)


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
    raw = path.read_bytes()
    try:
        text = raw.decode(chosen)
    except UnicodeDecodeError as exc:
        line = _line_of(raw[:exc.start].decode(chosen, errors="replace"), exc.start)
        if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            hint = "it starts with a UTF-16 byte-order mark: pass encoding='utf-16'"
        elif 0x80 <= raw[exc.start] <= 0x9f:
            hint = "this byte is a curly quote, dash or ellipsis in Windows' encoding: pass encoding='cp1252'"
        else:
            hint = "e.g. encoding='cp1252' (Excel's 'CSV' on Windows), 'latin-1' or 'utf-16'"
        raise ValueError(f"{path} is not {encoding} text (line {line}, byte 0x{raw[exc.start]:02x}): save it as "
                         f"UTF-8, or pass encoding= with the file's encoding; {hint}") from None
    except LookupError:
        raise ValueError(f"encoding must be a text encoding Python knows, e.g. 'utf-8' or 'latin-1'; "
                         f"got {encoding!r}") from None
    text = text.removeprefix("\ufeff")  # e.g. encoding='utf-16-le' keeps the byte-order mark as a character
    nul = text.find("\x00")
    if nul >= 0:
        raise ValueError(f"{path}:{_line_of(text, nul)}: a NUL character (byte 0) in the text: the file looks like "
                         "UTF-16 or not text at all; save it as UTF-8, or pass encoding='utf-16' if it is UTF-16")
    return text


def _fold(name: object) -> object:
    return name.strip().casefold() if isinstance(name, str) else name


def _check_named_once(names: list, columns: tuple, where: str, what: str) -> None:
    for column in columns:
        same = [name for name in names if _fold(name) == _fold(column)]
        if len(same) > 1:
            raise ValueError(f"{where}: {what} {column!r} appears twice ({', '.join(map(repr, same))}): rename or "
                             "remove one, so that it is clear which to read")


def _json_object(pairs: list[tuple[str, object]]) -> dict:
    # json keeps the last of two same-named fields without a word; keep the names to check.
    row = _Fields(pairs)
    row.names = [name for name, _ in pairs]
    return row


class _Fields(dict):
    names: list[str] = []


def _rows(path: Path, header: bool, *, delimiter: str | None = None, quotechar: str | None | bool = True,
          encoding: str = "utf-8", columns: tuple = ()) -> tuple[int, list[tuple[int, dict]]]:
    """The header's line number (else the first row's) and (line number, row) pairs of a CSV/TSV/JSONL file.

    A malformed line raises with its number. ``quotechar=True`` means the file type's default: ``"`` quotes
    fields in a CSV file, and quotes are plain text in a TSV file. A row must fit on one line: a quote that
    runs on over several lines is an error naming them, never a silent merge. A header or JSON line naming
    one of ``columns`` twice is an error.
    """
    suffix = path.suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(TEXT_SUFFIXES)}")
    lines = _split_lines(_read_text(path, encoding))
    rows = []
    if TEXT_SUFFIXES[suffix] is None:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line, object_pairs_hook=_json_object)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object per line, got {type(row).__name__}")
            _check_named_once(row.names, columns, f"{path}:{number}", "field")
            rows.append((number, dict(row)))
        return (rows[0][0] if rows else 1), rows
    sep = _SEP_LINE.match(lines[0]) if lines else None
    if sep:  # Excel's "sep=;" line: it names the delimiter and is not the header
        delimiter = delimiter or sep.group(1)
        lines[0] = "\n"
    if quotechar is True:
        quotechar = '"' if suffix in QUOTED_BY_DEFAULT else None
    options = {"quotechar": quotechar, "quoting": csv.QUOTE_MINIMAL} if quotechar else {"quoting": csv.QUOTE_NONE}
    reader = csv.reader(lines, delimiter=delimiter or TEXT_SUFFIXES[suffix], strict=True, **options)
    names, width, first_line, header_line = None, None, 1, None
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
            names = list(fields)
            while len(names) > 1 and not names[-1].strip():  # "sentence,label,,": a spreadsheet's empty columns
                names.pop()
            width, header_line = len(names), number
            _check_named_once(names, columns, f"{path}:{number}", "column")
            continue
        width = width or len(fields)
        if len(fields) > width and not any(field.strip() for field in fields[width:]):
            fields = fields[:width]  # empty cells after the last column: a trailing comma, or Excel's used range
        if len(fields) != width:
            raise ValueError(f"{path}:{number}: expected {width} columns, found {len(fields)}")
        rows.append((number, dict(zip(names or range(width), fields))))
    if not rows:
        raise ValueError(f"{path} holds a header but no examples" if names else f"{path} holds no examples")
    return header_line or rows[0][0], rows


def _json_kind(value: object) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, float):
        return f"a number with a fraction ({value!r})"
    if isinstance(value, int):
        return f"a number ({value})"
    shown = json.dumps(value, ensure_ascii=False)
    kind = "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else type(value).__name__
    return f"{kind} ({shown[:40]}{'...' if len(shown) > 40 else ''})"


def _is_number(text: str) -> bool:
    # ASCII digits only: int() also reads "١" and "１", and "²".isdigit() is true though int("²") fails.
    return text.isascii() and text.isdigit()


def _label_index(value: object, label_names: list[str], where: str, column: str | int = "label") -> int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{where}: field {column!r} holds {_json_kind(value)}; a label is one of {label_names} "
                         "or its number")
    text = str(value).strip()
    if text in label_names:
        return label_names.index(text)
    # Names such as "1".."5" (stars): a number is then a name, never a position, or "0" would read as "1".
    if any(_is_number(name) for name in label_names):
        raise ValueError(f"{where}: label {text!r} is not one of {label_names}: the label names are numbers, so a "
                         "label is read as a name, never as a position among them")
    if _is_number(text) and int(text) < len(label_names):
        return int(text)
    same = [name for name in label_names if name.casefold() == text.casefold()]
    hint = f" (names match exactly, case included: is it {same[0]!r}?)" if same else ""
    raise ValueError(f"{where}: label {text!r} is not one of {label_names} or their numbers "
                     f"0..{len(label_names) - 1}{hint}")


def _check_label_names(label_names: list[str] | None) -> list[str]:
    if label_names is None:
        return list(SENTIMENT_LABELS)
    names = [] if isinstance(label_names, str) else list(label_names)
    if len(names) < 2 or len(set(names)) < len(names) or \
            any(not isinstance(name, str) or not name.strip() or name != name.strip() for name in names):
        raise ValueError("label_names must be a list of at least two distinct, non-empty strings without spaces "
                         f"around them, e.g. ['negative', 'positive']; got {label_names!r}")
    return names


def _column_key(row: dict, column: str | int) -> object:
    """The row's name for ``column``: itself, else the one name equal to it but for case and spaces around it."""
    if column in row:
        return column
    same = [name for name in row if _fold(name) == _fold(column)]
    return same[0] if len(same) == 1 else None


def _column_missing(where: str, column: str | int, columns: list) -> ValueError:
    hint = ""
    if len(columns) == 1 and isinstance(columns[0], str):
        seen = [mark for mark in (";", "\t", ",", "|") if mark in columns[0]]
        if seen:
            hint = f"; the header is one column holding {seen[0]!r}: pass delimiter={seen[0]!r}"
    return ValueError(f"{where}: column {column!r} not found; the columns are {columns}{hint}")


def read_text_classification(path: str | Path, *, text_column: str | int = "sentence",
                             label_column: str | int = "label", label_names: list[str] | None = None,
                             header: bool = True, delimiter: str | None = None, quotechar: str | None | bool = True,
                             encoding: str = "utf-8") -> Dataset:
    """A CSV, TSV or JSONL file of (text, label) rows as a Dataset with `sentence` and a ClassLabel `label`.

    Labels may be names or their numbers; when any name is itself a number (stars "1".."5"), a label is read
    as a name only, never as a position. Without ``label_names`` the sentiment names (negative, positive)
    are used. Files without a header name their columns by position (``header=False``). A header name matches
    whatever its case and the spaces around it, when only one does; a column the reader reads named twice is
    an error, and empty cells after the last column (a trailing comma) are ignored. ``delimiter`` defaults
    to the file type's (comma, tab), or to what Excel's ``sep=;`` first line names; ``quotechar`` (default:
    ``"`` for CSV, none for TSV) is the character that quotes a field, ``None`` to read quotes as text.
    Lines end at LF, CRLF or CR only. A NUL or undecodable byte, a text of only invisible characters
    (zero-width, control), and a JSON text or label of the wrong type are errors naming the file and line.
    """
    path = _check_file(Path(path), encoding)
    label_names = _check_label_names(label_names)
    is_json = path.suffix.lower() in {".jsonl", ".json"}
    header_line, rows = _rows(path, header=header and not is_json, delimiter=delimiter, quotechar=quotechar,
                              encoding=encoding, columns=(text_column, label_column))
    keys = [_column_key(rows[0][1], column) for column in (text_column, label_column)]
    for column, key in zip((text_column, label_column), keys):
        if key is None:
            raise _column_missing(f"{path}:{header_line}", column, list(rows[0][1]))
    sentences, labels = [], []
    for number, row in rows:
        where = f"{path}:{number}"
        if is_json:  # each JSON line names its own fields
            keys = [_column_key(row, column) for column in (text_column, label_column)]
            for column, key in zip((text_column, label_column), keys):
                if key is None:
                    raise ValueError(f"{where}: no field {column!r}; this line's fields are {list(row)}")
        value = row[keys[0]]
        if not isinstance(value, str):
            raise ValueError(f"{where}: field {text_column!r} holds {_json_kind(value)}, not text; write the text "
                             "as a JSON string")
        text = value.strip()
        if not text:
            raise ValueError(f"{where}: empty text in column {text_column!r}")
        if invisible(text):
            raise ValueError(f"{where}: empty text in column {text_column!r} (only invisible characters: "
                             f"{_describe(text)})")
        sentences.append(text)
        labels.append(_label_index(row[keys[1]], label_names, where, label_column))
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
    tag = fields[tag_column].strip()
    return tag == "O" or (len(tag) > 2 and tag[:2] in ("B-", "I-"))


def _check_token(token: str, tag: str, path: Path, number: int, types: dict[str, tuple[str, Path, int]],
                 checked: set[str]) -> None:
    where = f"{path}:{number}"
    if invisible(token):
        raise ValueError(f"{where}: token {token!r} has no visible character ({_describe(token) or 'empty'}): a "
                         f"tokenizer drops it, so its tag {tag!r} would silently fall out of training and scoring; "
                         "delete the line or write the word")
    if tag in checked:
        return
    checked.add(tag)
    if len(tag) <= 2 or tag[:2] not in ("B-", "I-"):
        return
    kind = tag[2:]
    if not kind.isprintable() or " " in kind:
        raise ValueError(f"{where}: tag {tag!r} holds an invisible character or a space in its entity type: it "
                         "would be an entity type of its own; write the type in visible characters only")
    first = types.setdefault(kind.casefold(), (kind, path, number))
    if first[0] != kind:
        seen = f"line {first[2]}" if first[1] == path else f"{first[1]}:{first[2]}"
        raise ValueError(f"{where}: entity type {kind!r} (in {tag!r}) differs from {first[0]!r} ({seen}) only in "
                         "case: they would be two entity types; write one spelling throughout")


def parse_conll_file(path: str | Path, *, token_column: int, tag_column: int, delimiter: str | None,
                 comment_prefix: str | None, fix_iob: bool, encoding: str,
                 types: dict[str, tuple[str, Path, int]]) -> list[tuple[list[str], list[str]]]:
    """One CoNLL file's sentences as (tokens, tags) pairs, every surprise an error naming the file and line."""
    # ``types`` maps each entity type, case-folded, to its first spelling and line: shared across a folder's files.
    path = _check_file(Path(path), encoding)
    lines = [line.rstrip("\r\n") for line in _split_lines(_read_text(path, encoding))]
    if delimiter is None and any("\t" in line for line in lines):
        delimiter = "\t"
    sentences: list[tuple[int, list[str], list[str]]] = []
    tokens: list[str] = []
    tags: list[str] = []
    start, width, checked = 0, None, set()
    for number, line in enumerate(lines + [""], start=1):
        line = line.removeprefix("\ufeff")  # the byte-order mark of a file joined on with `cat`
        if not line or line.split()[:1] == ["-DOCSTART-"]:  # a document starts a sentence too
            if tokens:
                sentences.append((start, tokens, tags))
            tokens, tags = [], []
            continue
        if not line.strip():
            raise ValueError(f"{path}:{number}: a line of only whitespace ({line!r}); a sentence ends with an "
                             "empty line, and a token line holds a token and its tag")
        # Without tabs, runs of ASCII spaces part the columns: a no-break space belongs to its token ("10 000").
        fields = line.split(delimiter) if delimiter else line.rstrip().lstrip(" ").split(" ")
        if not delimiter and "" in fields:
            fields = [field for field in fields if field]
        if comment_prefix and line.startswith(comment_prefix) and not tokens and not _token_line(fields, width,
                                                                                                 tag_column):
            continue
        width = width or len(fields)
        if len(fields) != width:
            raise ValueError(f"{path}:{number}: {len(fields)} columns where the file's token lines have {width} "
                             f"(split on {'tabs' if delimiter == chr(9) else repr(delimiter or 'spaces')}; "
                             "pass delimiter= to choose)")
        if len(fields) < 2 or not -len(fields) <= tag_column < len(fields) or \
                token_column % len(fields) == tag_column % len(fields):
            raise ValueError(f"{path}:{number}: expected a token column ({token_column}) and a tag column "
                             f"({tag_column}), found {len(fields)} column(s): {line!r}")
        if not tokens:
            start = number
        tag = fields[tag_column].strip()  # "B-PER " in a tab-separated file is B-PER, not a type "PER "
        if tag not in checked or not fields[token_column][:1].isalnum():  # most tokens: a known tag, a letter first
            _check_token(fields[token_column], tag, path, number, types, checked)
        tokens.append(fields[token_column])
        tags.append(tag)
    if not sentences:
        raise ValueError(f"{path} holds no sentences: expected token lines separated by blank lines")
    parsed = []
    for start, sentence_tokens, sentence_tags in sentences:
        if fix_iob:
            sentence_tags = _fix_iob(sentence_tags)
        validate_iob2(sentence_tags, where=f"{path}:{start}")
        parsed.append((sentence_tokens, sentence_tags))
    return parsed


def parse_conll(path: str | Path, *, token_column: int = 0, tag_column: int = -1, delimiter: str | None = None,
                comment_prefix: str | None = "#", fix_iob: bool = False,
                encoding: str = "utf-8") -> list[tuple[list[str], list[str]]]:
    """(tokens, tags) per sentence of a CoNLL-style column file, tags checked as IOB2 (see `read_conll`).

    ``delimiter=None`` splits on tabs when the file has them (so a token may hold a space, "New York"),
    else on runs of spaces (a no-break space stays in its token). Every token line must have as many
    columns as the first. A line starting with ``comment_prefix`` is a comment only between sentences and
    when it does not end in a tag: a token such as ``#hashtag`` inside a sentence stays a token. A
    ``-DOCSTART-`` line ends the sentence before it; a byte-order mark starting a line (files joined with
    ``cat``) is dropped. Lines end at LF, CRLF or CR only. Spaces around a tag are dropped; a token with no
    visible character (zero-width, control, combining marks alone), and an entity type with an invisible
    character or written in two cases ("PER", "per"), are errors naming the file and line.
    """
    return parse_conll_file(path, token_column=token_column, tag_column=tag_column, delimiter=delimiter,
                        comment_prefix=comment_prefix, fix_iob=fix_iob, encoding=encoding, types={})


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
