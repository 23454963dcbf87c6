"""Loaders, readers, bad data, and sub-word label alignment."""
from __future__ import annotations

import gzip
import re
import sys
import time
from pathlib import Path

import pytest
from datasets import ClassLabel

from curiolib.data import (IGNORE_INDEX, align_labels_with_tokens, b_to_i_map, load_ner, load_sentiment, parse_conll,
                           read_conll, read_text_classification, tokenize_and_align_labels, validate_iob2)
from curiolib.data.loaders import EMBEDDED_DIR

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = PROJECT_ROOT / "curiolib"


def test_embedded_sentiment_has_fixed_balanced_splits(capsys) -> None:
    splits = load_sentiment()
    assert list(splits) == ["train", "validation", "test"]
    assert {name: len(split) for name, split in splits.items()} == {"train": 2386, "validation": 298, "test": 298}
    assert splits["train"].features["label"] == ClassLabel(names=["negative", "positive"])
    assert sum(splits["test"]["label"]) == 149  # stratified
    assert "sentiment: embedded" in capsys.readouterr().out
    assert load_sentiment(verbose=False)["test"]["sentence"] == splits["test"]["sentence"]  # fixed, not reshuffled


def test_embedded_ner_has_its_own_tag_names() -> None:
    splits = load_ner(verbose=False)
    names = splits["train"].features["ner_tags"].feature.names
    assert names == ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
    assert {name: len(split) for name, split in splits.items()} == {"train": 3278, "validation": 400, "test": 400}
    for row in splits["validation"]:
        validate_iob2([names[t] for t in row["ner_tags"]])
        assert len(row["tokens"]) == len(row["ner_tags"])


def test_sst2_from_the_data_folder_has_the_embedded_features(data_dir: Path, capsys) -> None:
    sst2 = load_sentiment("sst2")
    out = capsys.readouterr().out
    assert "sentiment: sst2 from" in out and "train 67,349, validation 872 (no test split" in out
    assert {name: len(split) for name, split in sst2.items()} == {"train": 67349, "validation": 872}
    assert sst2["train"].features == load_sentiment(verbose=False)["train"].features


def test_conll2003_from_the_data_folder_has_nine_tags_and_the_embedded_columns(data_dir: Path) -> None:
    conll = load_ner("conll2003", verbose=False)
    assert {name: len(split) for name, split in conll.items()} == {"train": 14041, "validation": 3250, "test": 3453}
    names = conll["train"].features["ner_tags"].feature.names
    assert names == ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    embedded = load_ner(verbose=False)["train"].features
    assert set(conll["train"].features) == set(embedded)
    assert type(conll["train"].features["ner_tags"]) is type(embedded["ner_tags"])


@pytest.mark.parametrize("loader, name", [(load_sentiment, "sst2"), (load_ner, "conll2003")])
def test_standard_set_without_data_fails_fast_and_names_curiolib_data(monkeypatch, loader, name) -> None:
    monkeypatch.delenv("CURIOLIB_DATA", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError, match=rf"CURIOLIB_DATA.*{name}/"):
        loader(name, verbose=False)
    assert time.perf_counter() - start < 5


def test_unknown_source_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="source must be one of 'embedded', 'sst2'"):
        load_sentiment("imdb")
    with pytest.raises(ValueError, match="validation_fraction must be in"):
        load_sentiment("embedded", validation_fraction=1.5)


# Both sides are compared as bare lower-case words: SST-2 is tokenised ("does n't", "film .") and the
# shipped text is not ("doesn't", "film."), so punctuation is dropped and "n't" split off the same way.
_WORD = re.compile(r"[^\W_]+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("n't", " n't"))


def _package_text(folder: Path) -> str:
    """Every file under ``folder`` (gzip files decompressed) as one string of normalised words."""
    parts = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            parts.append(" ".join(_words(raw.decode("utf-8", "ignore"))))
    return " " + " | ".join(parts) + " "


def _leaked(sentences: list[str], haystack: str, min_words: int) -> list[str]:
    """The sentences of at least ``min_words`` words that appear whole inside ``haystack``."""
    words = haystack.split()
    index = {tuple(words[i:i + min_words]) for i in range(len(words) - min_words + 1)}  # a fast pre-filter
    found = []
    for sentence in sentences:
        w = _words(sentence)
        if len(w) >= min_words and all(tuple(w[i:i + min_words]) in index for i in range(len(w) - min_words + 1)):
            if f" {' '.join(w)} " in haystack:
                found.append(sentence)
    return found


def test_no_sst2_or_conll2003_sentence_is_inside_the_package(data_dir: Path) -> None:
    haystack = _package_text(PACKAGE_DIR)
    assert "kotzias" in haystack and " the food was delicioso " in haystack  # licences and gzip data were read
    sst2 = [s for split in load_sentiment("sst2", verbose=False).values() for s in split["sentence"]]
    conll = [" ".join(t) for split in load_ner("conll2003", verbose=False).values() for t in split["tokens"]]
    assert len(sst2) == 68_221 and len(conll) == 20_744
    # Thresholds, measured: no CoNLL-2003 sentence of 5+ words coincides with anything shipped. SST-2's train
    # split also holds sub-sentence phrases, and 30 of them (5 to 7 words) are everyday phrases that the
    # review sentences share by chance ("a complete waste of time", "here leaves a lot to be desired");
    # none has 8 words or more, so from 8 words on a match counts as a leak.
    leaked = _leaked(conll, haystack, 5) + _leaked(sst2, haystack, 8)
    assert not leaked, f"{len(leaked)} benchmark sentences found inside curiolib/, e.g. {leaked[:3]}"


def test_the_leak_check_finds_a_planted_benchmark_sentence(data_dir: Path) -> None:
    # The check above must be able to fail: plant one SST-2 sentence, written the untokenised way, in memory.
    sentence = next(s for s in load_sentiment("sst2", verbose=False)["validation"]["sentence"]
                    if "n't" in s and len(s.split()) >= 12)
    untokenised = sentence.replace(" n't", "n't").replace(" 's", "'s").replace(" ,", ",").replace(" .", ".")
    haystack = _package_text(PACKAGE_DIR)
    assert _leaked([sentence], haystack, 8) == []
    planted = haystack + " ".join(_words(f"A review said: {untokenised.capitalize()}")) + " "
    assert _leaked([sentence], planted, 8) == [sentence]


def test_csv_jsonl_and_tsv_readers_give_the_same_dataset(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text('text,stars\n"Great, really",positive\nAwful,negative\n')
    (tmp_path / "a.jsonl").write_text('{"text": "Great, really", "stars": 1}\n{"text": "Awful", "stars": 0}\n')
    (tmp_path / "a.tsv").write_text("text\tstars\nGreat, really\t1\nAwful\t0\n")
    read = [read_text_classification(tmp_path / f"a.{ext}", text_column="text", label_column="stars")
            for ext in ("csv", "jsonl", "tsv")]
    assert read[0].to_dict() == read[1].to_dict() == read[2].to_dict() == {
        "sentence": ["Great, really", "Awful"], "label": [1, 0]}


def test_own_file_gets_a_validation_split_carved_with_a_seed(tmp_path: Path) -> None:
    lines = [f"sentence number {i} is {'good' if i % 2 else 'bad'}\t{i % 2}" for i in range(40)]
    (tmp_path / "mine.tsv").write_text("sentence\tlabel\n" + "\n".join(lines) + "\n")
    first = load_sentiment(tmp_path / "mine.tsv", seed=1, verbose=False)
    again = load_sentiment(tmp_path / "mine.tsv", seed=1, verbose=False)
    other = load_sentiment(tmp_path / "mine.tsv", seed=2, verbose=False)
    assert list(first) == ["train", "validation"] and len(first["validation"]) == 4
    assert first["validation"]["sentence"] == again["validation"]["sentence"]
    assert first["validation"]["sentence"] != other["validation"]["sentence"]
    assert first["train"].features == load_sentiment(verbose=False)["train"].features  # same as embedded
    assert sorted(first["validation"]["label"]) == [0, 0, 1, 1]  # carved stratified by label


def test_own_conll_folder_with_columns_chosen_by_the_caller(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "train.conll").write_text("-DOCSTART- O\n\n# a comment\n1\tAnna\tB-PER\n2\tsings\tO\n\n"
                                        "1\tin\tO\n2\tOslo\tB-LOC\n\n")
    (folder / "dev.conll").write_text("1\tBob\tB-PER\n2\tSmith\tI-PER\n\n")
    splits = load_ner(folder, token_column=1, tag_column=2, verbose=False)
    assert list(splits) == ["train", "validation"]
    assert splits["train"]["tokens"] == [["Anna", "sings"], ["in", "Oslo"]]
    names = splits["train"].features["ner_tags"].feature.names
    assert names == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    assert splits["validation"].features == splits["train"].features


@pytest.mark.parametrize("content, match", [
    ("sentence\tlabel\nfine\t1\nbroken line with\ttoo\tmany\n", r"bad\.tsv:3: expected 2 columns, found 3"),
    ("", "is empty"),
    ("words\tlabel\nfine\t1\n", "column 'sentence' not found; the columns are \\['words', 'label'\\]"),
    ("sentence\tlabel\nfine\tmaybe\n", r"bad\.tsv:2: label 'maybe' is not one of"),
])
def test_bad_text_files_say_what_was_expected(tmp_path: Path, content: str, match: str) -> None:
    (tmp_path / "bad.tsv").write_text(content)
    with pytest.raises(ValueError, match=match):
        read_text_classification(tmp_path / "bad.tsv")


def test_own_conll_file_alone_gets_a_validation_split_carved_with_a_seed(tmp_path: Path) -> None:
    names = ["Anna", "Bob", "Carl", "Dora", "Eve", "Finn", "Gus", "Hal", "Ida", "Jan"]
    (tmp_path / "tagged.txt").write_text("".join(f"{n} B-PER\nsings O\n\n" for n in names))
    first = load_ner(tmp_path / "tagged.txt", seed=3, validation_fraction=0.2, verbose=False)
    again = load_ner(tmp_path / "tagged.txt", seed=3, validation_fraction=0.2, verbose=False)
    assert {name: len(split) for name, split in first.items()} == {"train": 8, "validation": 2}
    assert first["validation"]["tokens"] == again["validation"]["tokens"]
    assert first["validation"].features == first["train"].features


def test_malformed_jsonl_line_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"sentence": "fine", "label": 1}\n{"sentence": "oops", "label": \n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: not valid JSON"):
        read_text_classification(tmp_path / "bad.jsonl")


def test_bad_conll_files_say_where(tmp_path: Path) -> None:
    (tmp_path / "short.txt").write_text("EU B-ORG\nrejects\n\n")
    with pytest.raises(ValueError, match=r"short\.txt:2: 1 columns where the file's token lines have 2"):
        read_conll(tmp_path / "short.txt", token_column=0, tag_column=1)
    (tmp_path / "iob.txt").write_text("the O\nBig I-ORG\nApple I-ORG\n\n")
    with pytest.raises(ValueError, match=r"iob\.txt:1: 'I-ORG' at token 1 follows 'O'"):
        read_conll(tmp_path / "iob.txt")
    fixed = read_conll(tmp_path / "iob.txt", fix_iob=True)
    names = fixed.features["ner_tags"].feature.names
    assert [names[t] for t in fixed[0]["ner_tags"]] == ["O", "B-ORG", "I-ORG"]
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(ValueError, match="is empty"):
        read_conll(tmp_path / "empty.txt")


def test_label_map_must_include_every_tag_present(tmp_path: Path) -> None:
    (tmp_path / "m.txt").write_text("Paris B-LOC\nHilton B-MISC\n\n")
    with pytest.raises(ValueError, match=r"tags \['B-MISC'\] are not in the label map"):
        read_conll(tmp_path / "m.txt", tag_names=["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])


def test_alignment_gives_the_first_sub_token_the_word_label(tokenizer) -> None:
    words = ["Hüttenberger", "visited", "Tampa", "Bay"]
    tags = [1, 0, 5, 6]  # B-PER O B-LOC I-LOC
    encoding = tokenizer(words, is_split_into_words=True)
    word_ids = encoding.word_ids()
    assert word_ids.count(0) > 1, "the test needs a word that splits into several sub-tokens"
    labels = align_labels_with_tokens(tags, word_ids)
    assert labels[0] == labels[-1] == IGNORE_INDEX  # [CLS], [SEP]
    firsts = [i for i, w in enumerate(word_ids) if w is not None and (i == 0 or word_ids[i - 1] != w)]
    assert [labels[i] for i in firsts] == tags
    assert all(labels[i] == IGNORE_INDEX for i, w in enumerate(word_ids) if w is not None and i not in firsts)


def test_label_all_tokens_turns_b_into_i_on_later_sub_tokens(tokenizer) -> None:
    names = ["O", "B-PER", "I-PER"]
    encoding = tokenizer(["Hüttenberger", "sang"], is_split_into_words=True)
    labels = align_labels_with_tokens([1, 0], encoding.word_ids(), label_all_tokens=True, b_to_i=b_to_i_map(names))
    pieces = [label for label, w in zip(labels, encoding.word_ids()) if w == 0]
    assert pieces[0] == 1 and set(pieces[1:]) == {2}


def test_the_tutorial_mistake_of_indexing_labels_by_token_misaligns(tokenizer) -> None:
    words, tags = ["Hüttenberger", "lives", "in", "Oslo"], [1, 0, 0, 5]
    encoding = tokenizer(words, is_split_into_words=True)
    # The usual tutorial pads the word tags to the token count and reads them by token position:
    naive = (tags + [0] * len(encoding["input_ids"]))[: len(encoding["input_ids"])]
    oslo = encoding.word_ids().index(3)
    assert naive[oslo] != 5, "the naive labels put Oslo's B-LOC on the wrong token"
    assert align_labels_with_tokens(tags, encoding.word_ids())[oslo] == 5
    with pytest.raises(ValueError, match="one label per word, not per sub-token"):
        align_labels_with_tokens(tags[:2], encoding.word_ids())


def test_tokenize_and_align_labels_works_with_dataset_map(tokenizer) -> None:
    splits = load_ner(verbose=False)
    names = splits["train"].features["ner_tags"].feature.names
    encoded = splits["validation"].select(range(20)).map(
        tokenize_and_align_labels, batched=True, fn_kwargs={"tokenizer": tokenizer, "tag_names": names})
    for row, source in zip(encoded, splits["validation"].select(range(20))):
        kept = [label for label in row["labels"] if label != IGNORE_INDEX]
        assert kept == source["ner_tags"][: len(kept)] and len(row["labels"]) == len(row["input_ids"])


def test_label_all_tokens_in_the_batched_helper_needs_the_tag_names(tokenizer) -> None:
    batch = {"tokens": [["Hüttenberger", "sang"]], "ner_tags": [[1, 0]]}
    with pytest.raises(ValueError, match="label_all_tokens=True needs tag_names"):
        tokenize_and_align_labels(batch, tokenizer, label_all_tokens=True)
    encoded = tokenize_and_align_labels(batch, tokenizer, label_all_tokens=True, tag_names=["O", "B-PER", "I-PER"])
    assert IGNORE_INDEX not in encoded["labels"][0][1:-1] and 2 in encoded["labels"][0]


def test_the_shipped_data_is_exactly_what_the_build_script_makes(data_dir: Path, tmp_path: Path) -> None:
    sys.path.insert(0, str(PROJECT_ROOT / "scripts"))  # a maintainer's script, not part of the package
    try:
        from build_embedded import build
    finally:
        sys.path.remove(str(PROJECT_ROOT / "scripts"))

    if not (data_dir / "sentiment_sentences").is_dir() or not (data_dir / "uner_english_ewt").is_dir():
        pytest.skip("the redistributable sets (sentiment_sentences/, uner_english_ewt/) are not in CURIOLIB_DATA")
    rows = build(data_dir, tmp_path)
    for name in ("sentiment.jsonl.gz", "ner.jsonl.gz", "LICENSE-uner-english-ewt.txt"):
        assert (tmp_path / name).read_bytes() == (EMBEDDED_DIR / name).read_bytes(), f"{name} differs: rebuild it"
    assert len(rows["sentiment"]) == 2982 and len(rows["ner"]) == 4078


def test_embedded_files_carry_their_licences() -> None:
    assert (EMBEDDED_DIR / "LICENSE-sentiment-sentences.txt").read_text().count("CC BY 4.0")
    assert "ShareAlike" in (EMBEDDED_DIR / "LICENSE-uner-english-ewt.txt").read_text()
    assert "build_embedded" in (EMBEDDED_DIR / "README.md").read_text()


def test_quotes_in_a_tsv_file_are_text_and_two_lines_stay_two_examples(tmp_path: Path) -> None:
    (tmp_path / "reviews.tsv").write_text('sentence\tlabel\n"Great movie\t1\nthe "acting was bad\t0\n')
    data = read_text_classification(tmp_path / "reviews.tsv")
    assert data["sentence"] == ['"Great movie', 'the "acting was bad'] and data["label"] == [1, 0]


def test_a_csv_quote_left_open_is_an_error_naming_its_lines_not_a_merge(tmp_path: Path) -> None:
    (tmp_path / "open.csv").write_text('sentence,label\nfine,1\n"Great movie,1\nthe acting was bad",0\nok,1\n')
    with pytest.raises(ValueError, match=r"open\.csv:3-4: one quoted field runs over lines 3 to 4.*quotechar=None"):
        read_text_classification(tmp_path / "open.csv")
    (tmp_path / "stray.csv").write_text('sentence,label\nfine,1\nbad,0\n"never closed,1\nok,1\nfine,0\n')
    with pytest.raises(ValueError, match=r"stray\.csv:4"):
        read_text_classification(tmp_path / "stray.csv")
    (tmp_path / "half.csv").write_text('sentence,label\nfine,1\n"Great" movie,1\n')
    with pytest.raises(ValueError, match=r"half\.csv:3: .*quoted whole"):
        read_text_classification(tmp_path / "half.csv")
    plain = read_text_classification(tmp_path / "open.csv", quotechar=None)
    assert len(plain) == 4 and plain["sentence"][1:3] == ['"Great movie', 'the acting was bad"']


def test_a_tab_separated_conll_token_keeps_its_space_and_a_hashtag_token_is_not_a_comment(tmp_path: Path) -> None:
    (tmp_path / "t.conll").write_text("# sent_id = 1\n#hashtag\tO\nNew York\tB-LOC\nrocks\tO\n\nHi\tO\n#fun\tO\n\n")
    sentences = parse_conll(tmp_path / "t.conll")
    assert sentences == [(["#hashtag", "New York", "rocks"], ["O", "B-LOC", "O"]), (["Hi", "#fun"], ["O", "O"])]


def test_a_conll_line_of_only_a_tab_or_with_one_column_is_an_error_naming_the_line(tmp_path: Path) -> None:
    (tmp_path / "tab.conll").write_text("Anna\tB-PER\n\t\nsings\tO\n\n")
    with pytest.raises(ValueError, match=r"tab\.conll:2: a line of only whitespace"):
        parse_conll(tmp_path / "tab.conll")
    (tmp_path / "one.conll").write_text("Anna\nsings\n\n")
    with pytest.raises(ValueError, match=r"one\.conll:1: expected a token column \(0\) and a tag column \(-1\)"):
        parse_conll(tmp_path / "one.conll")


def test_excels_utf8_bom_is_read_and_another_encoding_is_named(tmp_path: Path) -> None:
    (tmp_path / "excel.csv").write_bytes("sentence,label\nfine,1\n".encode("utf-8-sig"))
    assert read_text_classification(tmp_path / "excel.csv")["sentence"] == ["fine"]
    (tmp_path / "latin.csv").write_bytes("sentence,label\ncaf\xe9 au lait,1\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin\.csv is not utf-8 text.*encoding="):
        read_text_classification(tmp_path / "latin.csv")
    assert read_text_classification(tmp_path / "latin.csv", encoding="latin-1")["sentence"] == ["café au lait"]
    (tmp_path / "wide.conll").write_bytes("Anna\tB-PER\n\n".encode("utf-16"))
    with pytest.raises(ValueError, match=r"wide\.conll is not utf-8 text"):
        parse_conll(tmp_path / "wide.conll")


def test_a_header_only_file_and_a_file_too_small_to_split_say_so(tmp_path: Path) -> None:
    (tmp_path / "header.csv").write_text("sentence,label\n")
    with pytest.raises(ValueError, match="holds a header but no examples"):
        read_text_classification(tmp_path / "header.csv")
    (tmp_path / "few.csv").write_text("sentence,label\n" + "".join(f"s{i},{i % 2}\n" for i in range(5)))
    with pytest.raises(ValueError, match="5 examples are too few to carve a validation split"):
        load_sentiment(tmp_path / "few.csv", verbose=False)


def test_load_sentiment_reads_a_headerless_file_with_its_own_label_names(tmp_path: Path) -> None:
    # The Kotzias sentence files: text<TAB>0/1, no header.
    (tmp_path / "amazon_cells_labelled.txt").write_text("".join(f"review {i}\t{i % 2}\n" for i in range(40)))
    data = load_sentiment(tmp_path / "amazon_cells_labelled.txt", header=False, text_column=0, label_column=1,
                          label_names=["bad", "good"], verbose=False)
    assert data["train"].features["label"].names == ["bad", "good"]
    assert len(data["train"]) + len(data["validation"]) == 40


def test_load_ner_passes_the_delimiter_and_comment_prefix_on(tmp_path: Path) -> None:
    (tmp_path / "semi.txt").write_text("% a comment\nAnna;B-PER\nsings;O\n\n" * 12)
    data = load_ner(tmp_path / "semi.txt", delimiter=";", comment_prefix="%", verbose=False)
    assert data["train"][0]["tokens"] == ["Anna", "sings"]


# --------------------------------------------------------------------------- issue 37: readers that trusted too much

def test_digit_label_names_are_read_as_names_never_as_indices(tmp_path: Path) -> None:
    # Star ratings: "0" is neither name; read as an index it became "5", the first name.
    (tmp_path / "stars.csv").write_text("sentence,label\ngreat,5\nawful,1\nmeh,0\n")
    with pytest.raises(ValueError, match=r"stars\.csv:4: label '0' is not one of \['5', '1'\].*names are numbers"):
        read_text_classification(tmp_path / "stars.csv", label_names=["5", "1"])
    (tmp_path / "stars.jsonl").write_text('{"sentence": "great", "label": 5}\n{"sentence": "awful", "label": "1"}\n')
    data = read_text_classification(tmp_path / "stars.jsonl", label_names=["5", "1"])
    assert data["label"] == [0, 1]  # by name: 5 is the first name, 1 the second
    assert read_text_classification(tmp_path / "stars.csv", label_names=["5", "1", "0"])["label"] == [0, 1, 2]
    # Word names keep their numbers as a shorthand.
    (tmp_path / "words.csv").write_text("sentence,label\ngreat,1\nawful,negative\n")
    assert read_text_classification(tmp_path / "words.csv")["label"] == [1, 0]


@pytest.mark.parametrize("label", ["²", "١", "１", "-0"])
def test_a_label_of_other_digits_is_an_error_naming_the_line_not_an_index(tmp_path: Path, label: str) -> None:
    # int() reads Arabic-Indic and full-width digits, and "²".isdigit() is true but int("²") fails.
    (tmp_path / "digits.csv").write_text(f"sentence,label\ngood,1\nbad,{label}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"digits\.csv:3: label '{label}' is not one of"):
        read_text_classification(tmp_path / "digits.csv")


@pytest.mark.parametrize("value, kind", [('["good", "film"]', "a list"), ('{"text": "good"}', "an object"),
                                         ("0", "a number"), ("1.5", "a number"), ("true", "true"),
                                         ("null", "null")])
def test_a_jsonl_text_that_is_not_a_string_names_the_type_found(tmp_path: Path, value: str, kind: str) -> None:
    (tmp_path / "bad.jsonl").write_text(f'{{"sentence": "fine", "label": 1}}\n{{"sentence": {value}, "label": 0}}\n')
    with pytest.raises(ValueError, match=rf"bad\.jsonl:2: field 'sentence' holds {kind}"):
        read_text_classification(tmp_path / "bad.jsonl")


@pytest.mark.parametrize("value, kind", [('["positive"]', "a list"), ("null", "null"), ("true", "true"),
                                         ("1.0", "a number with a fraction")])
def test_a_jsonl_label_of_the_wrong_type_names_it(tmp_path: Path, value: str, kind: str) -> None:
    (tmp_path / "bad.jsonl").write_text(f'{{"sentence": "fine", "label": 1}}\n{{"sentence": "ok", "label": {value}}}\n')
    with pytest.raises(ValueError, match=rf"bad\.jsonl:2: field 'label' holds {kind}"):
        read_text_classification(tmp_path / "bad.jsonl")


def test_a_jsonl_line_without_a_field_says_so(tmp_path: Path) -> None:
    (tmp_path / "gap.jsonl").write_text('{"sentence": "fine", "label": 1}\n{"label": 0}\n')
    with pytest.raises(ValueError, match=r"gap\.jsonl:2: no field 'sentence'; this line's fields are \['label'\]"):
        read_text_classification(tmp_path / "gap.jsonl")
    (tmp_path / "gap.jsonl").write_text('{"sentence": "fine", "label": 1}\n{"sentence": "ok"}\n')
    with pytest.raises(ValueError, match=r"gap\.jsonl:2: no field 'label'"):
        read_text_classification(tmp_path / "gap.jsonl")


@pytest.mark.parametrize("loader, names", [
    (load_sentiment, ("train.csv", "train.tsv")), (load_sentiment, ("dev.tsv", "validation.tsv")),
    (load_sentiment, ("test.jsonl", "TEST.csv")), (load_sentiment, ("dev.csv", "valid.csv")),
    (load_ner, ("train.txt", "train.conll")), (load_ner, ("dev.iob2", "validation.txt"))])
def test_two_files_for_one_split_are_an_error_naming_both(tmp_path: Path, loader, names: tuple[str, str]) -> None:
    # Every file is readable: before the fix, one of the two was read and the other ignored without a word.
    examples = [(f"sentence {i}", i % 2) for i in range(20)]
    contents = {".csv": "sentence,label\n" + "".join(f"{s},{y}\n" for s, y in examples),
                ".tsv": "sentence\tlabel\n" + "".join(f"{s}\t{y}\n" for s, y in examples),
                ".jsonl": "".join(f'{{"sentence": "{s}", "label": {y}}}\n' for s, y in examples)}
    for name in ("train" + Path(names[0]).suffix, *names):
        suffix = Path(name).suffix.lower()
        (tmp_path / name).write_text(contents.get(suffix, "Anna B-PER\nsings O\n\n" * 10))
    with pytest.raises(ValueError, match="are both (train|validation|test) files") as info:
        loader(tmp_path, verbose=False)
    assert names[0] in str(info.value) and names[1] in str(info.value)


@pytest.mark.parametrize("token", ["\u200b", "\u00ad", "\u200e", "\ufeff", "\u2060", "\u0301", "\ufe0f", "\x7f",
                                   "\ue000", "\u00a0", "\u3000", "\u2028", "\ufffd", "\u200b\u200c\u200d"])
def test_a_conll_token_the_tokenizer_drops_is_an_error_naming_its_line(tmp_path: Path, token: str) -> None:
    (tmp_path / "zw.conll").write_text(f"Anna\tB-PER\nmet\tO\n{token}\tB-PER\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"zw\.conll:3: token .* has no visible character"):
        parse_conll(tmp_path / "zw.conll")
    (tmp_path / "zw.txt").write_text(f"Anna B-PER\n{token} O\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"zw\.txt:2: "):  # a token, or for U+FEFF a line of one column
        parse_conll(tmp_path / "zw.txt")


def test_the_characters_the_reader_rejects_give_no_sub_word_and_the_others_do(tokenizer) -> None:
    import unicodedata

    from curiolib.data.readers import INVISIBLE_CATEGORIES, invisible

    def kept(words: list[str]) -> list[bool]:
        encoded = tokenizer([["a", w, "b"] for w in words], is_split_into_words=True)
        return [1 in encoded.word_ids(i) for i in range(len(words))]

    rejected = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000
                and unicodedata.category(chr(c)) in INVISIBLE_CATEGORIES - {"Co"}]
    rejected += [chr(c) for c in range(0xE000, 0xF900, 61)] + [chr(c) for c in range(0xF0000, 0x110000, 997)]
    rejected.append("\ufffd")
    assert len(rejected) > 2000 and all(invisible(c) for c in rejected)
    # The tokenizer's Unicode tables are older than Python's: it keeps only characters that Unicode 3.2 did not
    # have in that category (new since, or moved into it), e.g. U+1885, a letter then and a mark now.
    surprises = [c for c, k in zip(rejected, kept(rejected)) if k and unicodedata.ucd_3_2_0.category(c) ==
                 unicodedata.category(c)]
    assert surprises == []
    common = ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u00ad", "\ufeff", "\u2060", "\u061c", "\u0301",
              "\ufe0f", "\U000e0041", "\x00", "\x1b", "\x7f", "\x85", "\u00a0", "\u2009", "\u3000", "\u2028",
              "\u2029", "\ue000", "\ufffd", "\u0300\u0301"]
    assert all(invisible(c) for c in common) and not any(kept(common))
    visible = ["a", "É", "7", "-", "(", "'", "€", "😀", "中", "ा", "\u20dd", "é", "x\u200b", "\u200bAnna",
               "Ω", "ß", "ﬁ", "٣", "\u0378"]
    assert not any(invisible(w) for w in visible) and all(kept(visible))


def test_alignment_refuses_a_word_that_makes_no_sub_word_naming_the_sentence(tokenizer) -> None:
    # The reader refuses such tokens; a Dataset built another way is checked when its labels are aligned.
    batch = {"tokens": [["Anna", "met", "Bob"], ["Anna", "met", "\u200b", "today"]],
             "ner_tags": [[1, 0, 1], [1, 0, 1, 0]]}
    with pytest.raises(ValueError, match=r"sentence 'Anna met \\u200b today': word 3 '\\u200b' gives no sub-token"):
        tokenize_and_align_labels(batch, tokenizer)
    long = {"tokens": [["word"] * 50 + ["\u200b"]], "ner_tags": [[0] * 50 + [1]]}
    encoded = tokenize_and_align_labels(long, tokenizer, max_length=16)  # truncation drops the tail: not an error
    assert len(encoded["input_ids"][0]) == 16


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"])
def test_only_newlines_end_a_line_not_the_other_characters_python_splits_on(tmp_path: Path, separator: str) -> None:
    # str.splitlines() also breaks at these; json.dumps(ensure_ascii=False) writes them raw inside a string.
    import json

    rows = [{"sentence": f"Loved it.{separator}Would buy again", "label": 1}, {"sentence": "Broke", "label": 0}]
    (tmp_path / "raw.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                        encoding="utf-8")
    data = read_text_classification(tmp_path / "raw.jsonl")
    assert data["sentence"] == [rows[0]["sentence"], "Broke"]
    (tmp_path / "raw.tsv").write_text(f"sentence\tlabel\nLoved it.{separator}Great\t1\nBroke\t0\nfine\tmaybe\n",
                                      encoding="utf-8")
    with pytest.raises(ValueError, match=r"raw\.tsv:4: label 'maybe'"):  # the editor's line number, not one more
        read_text_classification(tmp_path / "raw.tsv")
    (tmp_path / "raw.conll").write_text(f"Anna\tB-PER\nsings\tO{separator}\nwell\tO\n\n", encoding="utf-8")
    assert parse_conll(tmp_path / "raw.conll") == [(["Anna", "sings", "well"], ["B-PER", "O", "O"])]


@pytest.mark.parametrize("header, column", [("sentence,label,label", "label"), ("sentence,label,sentence", "sentence"),
                                            ("sentence,label,Label ", "label")])
def test_a_column_named_twice_is_an_error_not_the_last_one_wins(tmp_path: Path, header: str, column: str) -> None:
    (tmp_path / "twice.csv").write_text(f"{header}\ngood,1,0\n")
    with pytest.raises(ValueError, match=rf"twice\.csv:1: .*{column!r}.* twice"):
        read_text_classification(tmp_path / "twice.csv")
    (tmp_path / "twice.jsonl").write_text(f'{{"sentence": "a", "label": 1}}\n{{"{column}": "x", "sentence": "b", '
                                          f'"label": 0, "{column}": 1}}\n')
    with pytest.raises(ValueError, match=rf"twice\.jsonl:2: field {column!r} appears twice"):
        read_text_classification(tmp_path / "twice.jsonl")


def test_a_tag_with_a_stray_space_or_another_case_is_not_a_new_entity_type(tmp_path: Path) -> None:
    # An editor's trailing space made "PER " a second entity type beside "PER", without a word.
    (tmp_path / "space.conll").write_text("Anna\tB-PER \nsings\tO\n\nBob\tB-PER\nsings\tO\n\n")
    assert parse_conll(tmp_path / "space.conll") == [(["Anna", "sings"], ["B-PER", "O"]),
                                                      (["Bob", "sings"], ["B-PER", "O"])]
    (tmp_path / "o.conll").write_text("Anna\tB-PER\nsings\tO \n\n")
    assert parse_conll(tmp_path / "o.conll") == [(["Anna", "sings"], ["B-PER", "O"])]
    (tmp_path / "case.txt").write_text("Anna B-PER\nsings O\n\nBob B-per\n\n")
    with pytest.raises(ValueError, match=r"case\.txt:4: entity type 'per' \(in 'B-per'\) differs from 'PER' "
                                         r"\(line 1\) only in case"):
        parse_conll(tmp_path / "case.txt")
    (tmp_path / "zw.conll").write_text("Anna\tB-PER\nBob\tB-\u200bPER\n\n")
    with pytest.raises(ValueError, match=r"zw\.conll:2: tag 'B-\\u200bPER'"):
        parse_conll(tmp_path / "zw.conll")
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "train.txt").write_text("Anna B-PER\nsings O\n\n" * 10)
    (folder / "dev.txt").write_text("Bob B-Per\nsings O\n\n")
    with pytest.raises(ValueError, match=r"dev\.txt:1: entity type 'Per'.*'PER' \(.*train\.txt:1\)"):
        load_ner(folder, verbose=False)


def test_a_docstart_line_ends_the_sentence_before_it(tmp_path: Path) -> None:
    (tmp_path / "docs.txt").write_text("-DOCSTART- -X- O\n\nAnna B-PER\nsings O\n-DOCSTART- -X- O\nBob B-PER\n\n")
    assert parse_conll(tmp_path / "docs.txt") == [(["Anna", "sings"], ["B-PER", "O"]), (["Bob"], ["B-PER"])]


def test_a_nul_byte_or_undecodable_byte_is_an_error_naming_the_line(tmp_path: Path) -> None:
    (tmp_path / "nul.tsv").write_text("sentence\tlabel\ngood\t1\ngo\x00od\t1\n")
    with pytest.raises(ValueError, match=r"nul\.tsv:3: a NUL character.*utf-16"):
        read_text_classification(tmp_path / "nul.tsv")
    # UTF-16 without a byte-order mark decodes as UTF-8 into NULs between the letters.
    (tmp_path / "wide.tsv").write_bytes("good\t1\nbad\t0\n".encode("utf-16-le"))
    with pytest.raises(ValueError, match=r"wide\.tsv:1: a NUL character"):
        read_text_classification(tmp_path / "wide.tsv", header=False, text_column=0, label_column=1)
    (tmp_path / "cp1252.csv").write_bytes("sentence,label\ngood,1\n\u201cgreat\u201d film,1\n".encode("cp1252"))
    with pytest.raises(ValueError, match=r"cp1252\.csv is not utf-8 text \(line 3, byte 0x93\).*cp1252"):
        read_text_classification(tmp_path / "cp1252.csv")
    (tmp_path / "wide.conll").write_bytes("Anna\tB-PER\n\n".encode("utf-16"))
    with pytest.raises(ValueError, match=r"wide\.conll is not utf-8 text \(line 1.*encoding='utf-16'"):
        parse_conll(tmp_path / "wide.conll")


def test_a_text_of_only_invisible_characters_is_empty(tmp_path: Path) -> None:
    (tmp_path / "blank.csv").write_text("sentence,label\ngood,1\n\u200b\u200b,0\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"blank\.csv:3: empty text in column 'sentence' \(only invisible"):
        read_text_classification(tmp_path / "blank.csv")


@pytest.mark.parametrize("names", [["good", "good"], "positive", ["a", 1], []])
def test_label_names_must_be_distinct_strings(tmp_path: Path, names) -> None:
    (tmp_path / "ok.csv").write_text("sentence,label\ngood,1\n")
    with pytest.raises(ValueError, match="label_names must be"):
        read_text_classification(tmp_path / "ok.csv", label_names=names)
