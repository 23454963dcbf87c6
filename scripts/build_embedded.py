"""Build the small datasets curiolib ships, from the redistributable sets in ../shared/data.

    python scripts/build_embedded.py [--source ../shared/data] [--out curiolib/data/embedded]

Sentiment: the 3,000 Sentiment Labelled Sentences (Kotzias et al. 2015, CC BY 4.0), duplicates removed,
split 80/10/10 stratified by site and label. NER: Universal NER English-EWT dev + test (Mayhew et al.
2024, CC BY-SA 4.0; the upstream train file was not available), shuffled and split into train and 400
validation / 400 test sentences. The seed is fixed, so the output is the same every time.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
from collections import Counter
from pathlib import Path

from sklearn.model_selection import train_test_split

from curiolib.data.loaders import EMBEDDED_DIR
from curiolib.data.readers import parse_conll

SEED = 20260101
SITES = {"amazon": "amazon_cells_labelled.txt", "imdb": "imdb_labelled.txt", "yelp": "yelp_labelled.txt"}
UNER_FILES = ["en_ewt-ud-dev.iob2", "en_ewt-ud-test.iob2"]
NER_HELD_OUT = 400


def read_sentiment_sentences(folder: Path) -> list[dict]:
    """All sentences with their site, dropping repeats and sentences labelled both ways."""
    rows: list[dict] = []
    for site, name in SITES.items():
        for number, line in enumerate((folder / name).read_text(encoding="utf-8").splitlines(), start=1):
            text, _, label = line.rpartition("\t")
            if label.strip() not in {"0", "1"} or not text.strip():
                raise ValueError(f"{folder / name}:{number}: expected 'sentence<TAB>0|1'")
            rows.append({"sentence": " ".join(text.split()), "label": ["negative", "positive"][int(label)],
                         "site": site})
    labels_of: dict[str, set[str]] = {}
    for row in rows:
        labels_of.setdefault(row["sentence"], set()).add(row["label"])
    seen: set[str] = set()
    unique = []
    for row in rows:
        if len(labels_of[row["sentence"]]) == 1 and row["sentence"] not in seen:
            seen.add(row["sentence"])
            unique.append(row)
    return unique


def split_sentiment(rows: list[dict]) -> list[dict]:
    """80/10/10 train/validation/test, stratified by site and label."""
    strata = [f"{r['site']}-{r['label']}" for r in rows]
    held_size = round(0.2 * len(rows))
    train, held, _, held_strata = train_test_split(rows, strata, test_size=held_size, stratify=strata,
                                                   random_state=SEED)
    validation, test = train_test_split(held, test_size=0.5, stratify=held_strata, random_state=SEED)
    return ([r | {"split": "train"} for r in train] + [r | {"split": "validation"} for r in validation]
            + [r | {"split": "test"} for r in test])


def split_ner(folder: Path) -> list[dict]:
    """UNER EWT dev + test sentences, shuffled, then train / validation / test."""
    sentences = [s for name in UNER_FILES
                 for s in parse_conll(folder / name, token_column=1, tag_column=2, delimiter="\t")]
    random.Random(SEED).shuffle(sentences)
    splits = (["validation"] * NER_HELD_OUT + ["test"] * NER_HELD_OUT
              + ["train"] * (len(sentences) - 2 * NER_HELD_OUT))
    return [{"split": split, "tokens": tokens, "tags": tags} for split, (tokens, tags) in zip(splits, sentences)]


def write_jsonl_gz(rows: list[dict], path: Path) -> None:
    """Write rows as gzip-compressed JSON lines, byte-for-byte the same on every build."""
    order = {"train": 0, "validation": 1, "test": 2}
    rows = sorted(rows, key=lambda r: order[r["split"]])  # stable: keeps the shuffled order inside a split
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as handle:
        for row in rows:
            handle.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))


def build(source: Path, out: Path = EMBEDDED_DIR) -> dict[str, list[dict]]:
    """Write sentiment.jsonl.gz, ner.jsonl.gz and the UNER licence into ``out``; return the rows written."""
    out.mkdir(parents=True, exist_ok=True)
    sentiment = split_sentiment(read_sentiment_sentences(source / "sentiment_sentences"))
    write_jsonl_gz(sentiment, out / "sentiment.jsonl.gz")
    ner = split_ner(source / "uner_english_ewt")
    write_jsonl_gz(ner, out / "ner.jsonl.gz")
    shutil.copyfile(source / "uner_english_ewt" / "LICENSE.txt", out / "LICENSE-uner-english-ewt.txt")
    return {"sentiment": sentiment, "ner": ner}


def default_source() -> Path:
    """$CURIOLIB_DATA if set, else ../shared/data beside the project checkout."""
    chosen = os.environ.get("CURIOLIB_DATA")
    return Path(chosen) if chosen else Path(__file__).resolve().parents[2] / "shared" / "data"


def main(argv: list[str] | None = None) -> None:
    """Rebuild curiolib/data/embedded from the shared data folder."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=default_source(),
                        help="folder holding sentiment_sentences/ and uner_english_ewt/ (default: $CURIOLIB_DATA "
                             "or ../shared/data)")
    parser.add_argument("--out", type=Path, default=EMBEDDED_DIR, help="where to write (default: the package)")
    args = parser.parse_args(argv)
    rows = build(args.source, args.out)
    for name, written in rows.items():
        print(name, dict(Counter(r["split"] for r in written)))
    print("sentiment labels by split:", dict(Counter((r["split"], r["label"]) for r in rows["sentiment"])))


if __name__ == "__main__":
    main()
