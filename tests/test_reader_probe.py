"""A probe of the file readers with what spreadsheets, editors and scrapers really write (issue 37).

Each case is one file as some tool writes it, and either exactly what the reader gives or a ValueError that
names the file and the line. Fast: no model, no tokenizer.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import NamedTuple

import pytest

from curiolib.data import parse_conll, read_text_classification


class Refused(NamedTuple):
    """The reader must raise a ValueError naming the file and ``line``, and matching ``match``."""
    line: int
    match: str


def excel(text: str) -> bytes:
    """Excel's "CSV UTF-8": a byte-order mark and CRLF line ends."""
    return b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8")


def jsonl(*rows: dict, ensure_ascii: bool = True) -> str:
    return "".join(json.dumps(row, ensure_ascii=ensure_ascii) + "\n" for row in rows)


POS, NEG = "positive", "negative"
STARS = ["1", "2", "3", "4", "5"]


def text(case_id: str, content: str | bytes, expected: list[tuple[str, str]] | Refused, name: str = "data.csv",
         **kwargs) -> pytest.param:
    return pytest.param(name, content, kwargs, expected, id=case_id)


TEXT_CASES = [
    # Excel
    text("excel-csv-utf8-bom-crlf", excel("sentence,label\nGreat film,positive\nAwful,negative\n"),
         [("Great film", POS), ("Awful", NEG)]),
    text("excel-quoted-comma", excel('sentence,label\n"Great, really",1\n'), [("Great, really", POS)]),
    text("excel-doubled-quotes", excel('sentence,label\n"She said ""wow""",1\n'), [('She said "wow"', POS)]),
    text("excel-cell-with-alt-enter-line-break", excel('sentence,label\nfine,1\n"Great\nfilm",1\n'),
         Refused(3, "one quoted field runs over lines 3 to 4")),
    text("excel-windows-1252-smart-quotes-read-as-utf8",
         "sentence,label\nfine,1\n\u201cGreat\u201d film,1\n".replace("\n", "\r\n").encode("cp1252"),
         Refused(3, r"byte 0x93.*encoding='cp1252'")),
    text("excel-windows-1252-with-its-encoding",
         "sentence,label\n\u201cGreat\u201d film \u2013 really\u2026,1\n".encode("cp1252"),
         [("\u201cGreat\u201d film \u2013 really\u2026", POS)], encoding="cp1252"),
    text("excel-sep-line-names-the-delimiter", excel("sep=;\nsentence;label\nGreat, really;1\n"),
         [("Great, really", POS)]),
    text("excel-trailing-empty-columns", excel("sentence,label,,\nGreat,1,,\nAwful,0,,\n"),
         [("Great", POS), ("Awful", NEG)]),
    text("excel-blank-rows-as-commas", excel("sentence,label\nGreat,1\n,\n,\nAwful,0\n"),
         [("Great", POS), ("Awful", NEG)]),
    text("excel-number-formatted-label", "sentence,label\nGreat,1\nAwful,0.0\n", Refused(3, r"label '0\.0'")),
    text("excel-mac-lone-cr-line-ends", "sentence,label\rGreat,1\rAwful,0\r", [("Great", POS), ("Awful", NEG)]),
    text("excel-unicode-text-is-utf16", "sentence\tlabel\nGreat\t1\n".encode("utf-16"),
         Refused(1, "encoding='utf-16'"), name="data.txt"),
    text("excel-unicode-text-with-its-encoding", "sentence\tlabel\nGreat\t1\n".encode("utf-16"),
         [("Great", POS)], name="data.txt", encoding="utf-16"),
    text("utf16-without-bom-read-as-utf8", "sentence\tlabel\nGreat\t1\n".encode("utf-16-le"),
         Refused(1, "a NUL character"), name="data.tsv"),
    # Google Sheets, LibreOffice, Numbers
    text("google-sheets-csv-no-final-newline", "sentence,label\nGreat,positive\nAwful,negative",
         [("Great", POS), ("Awful", NEG)]),
    text("google-sheets-tsv-quotes-are-text", 'sentence\tlabel\r\nsaid "hi" twice\t1\r\n"odd\t0\r\n',
         [('said "hi" twice', POS), ('"odd', NEG)], name="data.tsv"),
    text("google-forms-columns", "Timestamp,Review,Sentiment\n2024/01/02 10:00:00,Great,positive\n",
         [("Great", POS)], text_column="Review", label_column="Sentiment"),
    text("libreoffice-semicolon-with-delimiter", "sentence;label\nGreat, really;1\n", [("Great, really", POS)],
         delimiter=";"),
    text("libreoffice-semicolon-without-delimiter", "sentence;label\nGreat;1\n",
         Refused(1, "column 'sentence' not found.*pass delimiter=';'")),
    text("libreoffice-quote-all-text-cells", '"sentence","label"\n"Great","1"\n', [("Great", POS)]),
    text("numbers-capitalised-header", "Sentence,Label\nGreat,Positive\n",
         Refused(2, r"label 'Positive' is not one of.*is it 'positive'\?")),
    text("capitalised-header-names", "Sentence,Label\nGreat,positive\n", [("Great", POS)]),
    text("header-with-spaces-after-commas", "sentence, label\nGreat, 1\n", [("Great", POS)]),
    text("header-with-label-and-Label", "sentence,label,Label\nGreat,1,0\n", Refused(1, "'label' appears twice")),
    text("header-with-a-column-twice", "sentence,label,label\nGreat,1,0\n", Refused(1, "'label' appears twice")),
    text("header-with-an-unused-column-twice", "id,sentence,label,note,note\n7,Great,1,a,b\n", [("Great", POS)]),
    text("pandas-to-csv-with-index", ",sentence,label\n0,Great,1\n1,Awful,0\n", [("Great", POS), ("Awful", NEG)]),
    text("label-with-stray-spaces", "sentence,label\nGreat, positive \n", [("Great", POS)]),
    text("label-with-a-zero-width-space", "sentence,label\nGreat,positive\u200b\n",
         Refused(2, r"label 'positive\\u200b'")),
    text("star-ratings-by-name", "sentence,label\nGreat,5\nAwful,1\n", [("Great", "5"), ("Awful", "1")],
         label_names=STARS),
    text("star-ratings-with-a-zero", "sentence,label\nGreat,5\nNone given,0\n",
         Refused(3, "the label names are numbers"), label_names=STARS),
    text("full-width-digit-label", "sentence,label\nGreat,\uff11\n", Refused(2, "label '\uff11'")),
    text("a-row-with-an-extra-cell", "sentence,label\nGreat,1,oops\n", Refused(2, "expected 2 columns, found 3")),
    text("a-row-missing-its-label", "sentence,label\nGreat,1\nAwful\n", Refused(3, "expected 2 columns, found 1")),
    text("tsv-text-holding-a-tab", "sentence\tlabel\nGreat\tfilm\t1\n", Refused(2, "expected 2 columns, found 3"),
         name="data.tsv"),
    text("empty-text-cell", "sentence,label\nGreat,1\n,0\n", Refused(3, "empty text")),
    text("zero-width-text-cell", "sentence,label\n\u200b\u2060,1\n", Refused(2, "only invisible characters")),
    text("nbsp-inside-the-text-is-kept", "sentence,label\nGreat\u00a0film\u00a0,1\n", [("Great\u00a0film", POS)]),
    text("scraped-line-separator-inside-text", "sentence\tlabel\nLoved it.\u2028Buy it.\t1\nAwful\t0\n",
         [("Loved it.\u2028Buy it.", POS), ("Awful", NEG)], name="data.tsv"),
    text("next-line-char-from-latin1-ellipsis", "sentence,label\nWell\x85 fine,1\nAwful,0\n".encode("latin-1"),
         [("Well\x85 fine", POS), ("Awful", NEG)], encoding="latin-1"),
    text("form-feed-inside-text", "sentence,label\nPage\x0cbreak,1\nAwful,x\n", Refused(3, "label 'x'")),
    text("nul-byte-in-a-cell", "sentence,label\nGreat,1\nAw\x00ful,0\n", Refused(3, "a NUL character")),
    text("latin1-file-read-as-utf8", "sentence,label\nfine,1\ncaf\xe9,1\n".encode("latin-1"),
         Refused(3, "byte 0xe9")),
    text("windows-text-mode-double-cr", "sentence,label\r\r\nGreat,1\r\r\nAwful,0\r\r\n",
         [("Great", POS), ("Awful", NEG)]),
    text("mixed-line-ends", "sentence,label\r\nGreat,1\nAwful,0\r\n", [("Great", POS), ("Awful", NEG)]),
    text("blank-trailing-lines", "sentence,label\nGreat,1\n\n\n\n", [("Great", POS)]),
    text("bom-of-a-second-file-joined-with-cat", "sentence,label\nGreat,1\n\ufeffsentence,label\nAwful,0\n",
         Refused(3, "label 'label'")),
    text("quote-left-open", 'sentence,label\n"Great,1\nAwful,0\n', Refused(2, "quoted whole and closed on its line")),
    text("headerless-kotzias-file", "Great\t1\nAwful\t0\n", [("Great", POS), ("Awful", NEG)], name="data.txt",
         header=False, text_column=0, label_column=1),
    # JSON Lines from scrapers and pandas
    text("pandas-to-json-lines", '{"sentence":"caf\\u00e9 \\/ bar","label":1}\n{"sentence":"Awful","label":0}\n',
         [("café / bar", POS), ("Awful", NEG)], name="data.jsonl"),
    text("json-dumps-unescaped-line-separator",
         jsonl({"sentence": "Loved it.\u2028Buy it.", "label": 1}, {"sentence": "x\x85y", "label": 0},
               ensure_ascii=False), [("Loved it.\u2028Buy it.", POS), ("x\x85y", NEG)], name="data.jsonl"),
    text("jsonl-with-bom-and-crlf", excel(jsonl({"sentence": "Great", "label": "positive"})), [("Great", POS)],
         name="data.jsonl"),
    text("jsonl-extra-fields", jsonl({"id": 3, "sentence": "Great", "label": 1, "source": "web"}),
         [("Great", POS)], name="data.jsonl"),
    text("jsonl-capitalised-key", jsonl({"Sentence": "Great", "Label": 1}), [("Great", POS)], name="data.jsonl"),
    text("jsonl-tokens-list-as-text", jsonl({"sentence": "Fine", "label": 1}, {"sentence": ["good", "film"],
                                                                               "label": 1}),
         Refused(2, "field 'sentence' holds a list"), name="data.jsonl"),
    text("jsonl-number-as-text", jsonl({"sentence": 0, "label": 1}), Refused(1, r"holds a number \(0\)"),
         name="data.jsonl"),
    text("jsonl-null-text", jsonl({"sentence": None, "label": 1}), Refused(1, "holds null"), name="data.jsonl"),
    text("jsonl-nested-object-as-text", jsonl({"sentence": {"en": "Great"}, "label": 1}),
         Refused(1, "holds an object"), name="data.jsonl"),
    text("jsonl-null-label", jsonl({"sentence": "Great", "label": None}), Refused(1, "field 'label' holds null"),
         name="data.jsonl"),
    text("jsonl-bool-label", jsonl({"sentence": "Great", "label": True}), Refused(1, "field 'label' holds true"),
         name="data.jsonl"),
    text("jsonl-float-label-from-pandas", jsonl({"sentence": "Great", "label": 1.0}),
         Refused(1, "a number with a fraction"), name="data.jsonl"),
    text("jsonl-nan-label", '{"sentence": "Great", "label": NaN}\n', Refused(1, "a number with a fraction"),
         name="data.jsonl"),
    text("jsonl-key-twice", '{"sentence": "Great", "label": 1, "sentence": "Awful"}\n',
         Refused(1, "field 'sentence' appears twice"), name="data.jsonl"),
    text("jsonl-missing-label", jsonl({"sentence": "Great", "label": 1}, {"sentence": "Awful"}),
         Refused(2, "no field 'label'"), name="data.jsonl"),
    text("json-array-not-lines", json.dumps([{"sentence": "Great", "label": 1}]), Refused(1, "got list"),
         name="data.json"),
    text("jsonl-truncated-download", '{"sentence": "Great", "label": 1}\n{"sentence": "Aw', Refused(2, "not valid"),
         name="data.jsonl"),
]


def conll(case_id: str, content: str | bytes, expected: list[tuple[list[str], list[str]]] | Refused,
          name: str = "data.conll", **kwargs) -> pytest.param:
    return pytest.param(name, content, kwargs, expected, id=case_id)


CONLL_CASES = [
    conll("conll2003-columns-and-docstart", "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n",
          [(["EU", "rejects"], ["B-ORG", "O"])], name="train.txt"),
    conll("windows-crlf", "Anna\tB-PER\r\nsings\tO\r\n\r\nBob\tB-PER\r\n", [(["Anna", "sings"], ["B-PER", "O"]),
                                                                          (["Bob"], ["B-PER"])]),
    conll("old-mac-lone-cr", "Anna B-PER\rsings O\r\rBob B-PER\r", [(["Anna", "sings"], ["B-PER", "O"]),
                                                                  (["Bob"], ["B-PER"])]),
    conll("utf8-bom", "\ufeffAnna\tB-PER\n\n", [(["Anna"], ["B-PER"])]),
    conll("files-joined-with-cat-keep-their-bom",
          "-DOCSTART- -X- O\n\nAnna B-PER\n\n\ufeff-DOCSTART- -X- O\n\nBob B-PER\n\n",
          [(["Anna"], ["B-PER"]), (["Bob"], ["B-PER"])]),
    conll("docstart-without-a-blank-line-before", "Anna B-PER\n-DOCSTART- -X- O\nBob B-PER\n\n",
          [(["Anna"], ["B-PER"]), (["Bob"], ["B-PER"])]),
    conll("tab-token-with-a-space", "New York\tB-LOC\nrocks\tO\n\n", [(["New York", "rocks"], ["B-LOC", "O"])]),
    conll("nbsp-inside-a-space-separated-token", "10\u00a0000 O\nfans O\n\n",
          [(["10\u00a0000", "fans"], ["O", "O"])]),
    conll("editor-trailing-space-after-a-b-tag", "Anna\tB-PER \nsings\tO\n\nBob\tB-PER\n\n",
          [(["Anna", "sings"], ["B-PER", "O"]), (["Bob"], ["B-PER"])]),
    conll("editor-trailing-spaces-after-o-tags", "Anna\tB-PER\nsings\tO  \n\n", [(["Anna", "sings"], ["B-PER", "O"])]),
    conll("space-file-trailing-spaces", "Anna B-PER  \nsings O \n\n", [(["Anna", "sings"], ["B-PER", "O"])]),
    conll("several-blank-lines-between-sentences", "Anna B-PER\n\n\n\nBob B-PER\n",
          [(["Anna"], ["B-PER"]), (["Bob"], ["B-PER"])]),
    conll("conllu-comments", "# sent_id = 1\n# text = Anna sings\nAnna\tB-PER\nsings\tO\n\n",
          [(["Anna", "sings"], ["B-PER", "O"])]),
    conll("hashtag-token", "I\tO\nlove\tO\n#NLP\tO\n\n", [(["I", "love", "#NLP"], ["O", "O", "O"])]),
    conll("emoji-token", "Anna\tB-PER\n\U0001F600\tO\n\n", [(["Anna", "\U0001F600"], ["B-PER", "O"])]),
    conll("decomposed-accent-token", "Jose\u0301\tB-PER\n\n", [(["Jose\u0301"], ["B-PER"])]),
    conll("token-with-a-trailing-zero-width-space", "Anna\u200b\tB-PER\n\n", [(["Anna\u200b"], ["B-PER"])]),
    conll("form-feed-page-break-at-a-line-end", "Anna\tB-PER\nsings\tO\x0c\nwell\tO\n\n",
          [(["Anna", "sings", "well"], ["B-PER", "O", "O"])]),
    conll("scraped-line-separator-at-a-line-end", "Anna B-PER\u2028\nBob B-PER\n\n",
          [(["Anna", "Bob"], ["B-PER", "B-PER"])]),
    conll("iob1-fixed-on-request", "the O\nBig I-ORG\nApple I-ORG\n\n",
          [(["the", "Big", "Apple"], ["O", "B-ORG", "I-ORG"])], fix_iob=True),
    conll("zero-width-space-token", "Anna\tB-PER\nmet\tO\n\u200b\tB-PER\n\n", Refused(3, "has no visible character")),
    conll("soft-hyphen-token", "Anna B-PER\n\u00ad B-PER\n\n", Refused(2, "U\\+00AD SOFT HYPHEN")),
    conll("left-to-right-mark-token", "\u200e\tB-LOC\n\n", Refused(1, "LEFT-TO-RIGHT MARK")),
    conll("byte-order-mark-token", "Anna\tB-PER\n\ufeff\ufeff\tO\n\n", Refused(2, "has no visible character")),
    conll("lone-combining-accent-token", "Anna\tB-PER\n\u0301\tO\n\n", Refused(2, "COMBINING ACUTE ACCENT")),
    conll("lone-variation-selector-token", "Anna\tB-PER\n\ufe0f\tO\n\n", Refused(2, "VARIATION SELECTOR-16")),
    conll("private-use-icon-token", "\ue000\tB-ORG\n\n", Refused(1, "has no visible character")),
    conll("delete-control-token", "Anna\tB-PER\n\x7f\tO\n\n", Refused(2, "has no visible character")),
    conll("replacement-character-token", "Anna\tB-PER\n\ufffd\tO\n\n", Refused(2, "REPLACEMENT CHARACTER")),
    conll("nbsp-only-token", "Anna B-PER\n\u00a0 O\n\n", Refused(2, "NO-BREAK SPACE")),
    conll("lowercase-type-beside-uppercase", "Anna B-PER\n\nBob B-per\n\n", Refused(3, "differ.*only in case")),
    conll("zero-width-space-inside-a-tag", "Anna\tB-PER\nBob\tB-\u200bPER\n\n", Refused(2, "entity type")),
    conll("i-tag-after-o", "the O\nBig I-ORG\n\n", Refused(1, "follows 'O'.*fix_iob=True")),
    conll("bioes-tags", "Anna S-PER\n\n", Refused(1, "is not IOB2")),
    conll("lowercase-prefix", "Anna b-PER\n\n", Refused(1, "is not IOB2")),
    conll("empty-entity-type", "Anna B-\n\n", Refused(1, "is not IOB2")),
    conll("an-extra-column-on-one-line", "Anna\tB-PER\nsings\tO\textra\n\n", Refused(2, "3 columns")),
    conll("a-trailing-tab", "Anna\tB-PER\nsings\tO\t\n\n", Refused(2, "3 columns")),
    conll("a-line-of-only-a-tab", "Anna\tB-PER\n\t\nsings\tO\n\n", Refused(2, "a line of only whitespace")),
    conll("token-without-tag", "Anna\nsings\n\n", Refused(1, "expected a token column")),
    conll("utf16-file", "Anna\tB-PER\n\n".encode("utf-16"), Refused(1, "encoding='utf-16'")),
    conll("nul-byte", "Anna\tB-PER\nsi\x00ngs\tO\n\n", Refused(2, "a NUL character")),
    conll("latin1-file", "Anna\tB-PER\nJos\xe9\tB-PER\n\n".encode("latin-1"), Refused(2, "byte 0xe9")),
]


def _assert_refused(path: Path, refused: Refused, read) -> None:
    with pytest.raises(ValueError) as info:
        read()
    message = str(info.value)
    at_line = rf"{re.escape(str(path))}(:{refused.line}[:-]| is not [\w-]+ text \(line {refused.line},)"
    assert re.search(at_line, message), f"the error should name {path.name}, line {refused.line}: {message}"
    assert re.search(refused.match, message), message


def _write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


@pytest.mark.parametrize("name, content, kwargs, expected", TEXT_CASES)
def test_text_classification_file(tmp_path: Path, name: str, content: str | bytes, kwargs: dict,
                                  expected: list[tuple[str, str]] | Refused) -> None:
    path = _write(tmp_path, name, content)
    if isinstance(expected, Refused):
        _assert_refused(path, expected, lambda: read_text_classification(path, **kwargs))
        return
    data = read_text_classification(path, **kwargs)
    names = data.features["label"].names
    assert list(zip(data["sentence"], [names[i] for i in data["label"]])) == expected


@pytest.mark.parametrize("name, content, kwargs, expected", CONLL_CASES)
def test_conll_file(tmp_path: Path, name: str, content: str | bytes, kwargs: dict,
                    expected: list[tuple[list[str], list[str]]] | Refused) -> None:
    path = _write(tmp_path, name, content)
    if isinstance(expected, Refused):
        _assert_refused(path, expected, lambda: parse_conll(path, **kwargs))
        return
    assert parse_conll(path, **kwargs) == expected


def test_the_probe_is_as_wide_as_promised() -> None:
    assert len(TEXT_CASES) + len(CONLL_CASES) >= 100
    assert len({case.id for case in TEXT_CASES + CONLL_CASES}) == len(TEXT_CASES) + len(CONLL_CASES)
