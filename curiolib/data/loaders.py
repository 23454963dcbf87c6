"""`load_sentiment` and `load_ner`: one DatasetDict shape whatever the source (embedded, standard set, own files)."""
from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features

from .features import SENTIMENT_LABELS, SITES, sentiment_features
from .._text import say
from .._validation import check_choice
from .hub import hub_reachable
from .readers import TEXT_SUFFIXES, parse_conll_file, ner_dataset, read_text_classification

EMBEDDED_DIR = Path(__file__).resolve().parent / "embedded"
DATA_ENV = "CURIOLIB_DATA"
SPLIT_ALIASES = {"train": "train", "validation": "validation", "valid": "validation", "val": "validation",
                 "dev": "validation", "test": "test"}
LAYOUTS = {
    "sst2": "sst2/train.tsv and sst2/validation.tsv (tab-separated, header 'sentence<TAB>label')",
    "conll2003": "conll2003/train.txt, validation.txt and test.txt (token POS chunk NER per line)",
}
HUB_IDS = {"sst2": "stanfordnlp/sst2", "conll2003": "eriktks/conll2003"}
# eriktks/conll2003's main branch is a loading script, which datasets >= 4 refuses; the hub's own parquet
# export of it lives on this revision. stanfordnlp/sst2 is parquet on main.
HUB_REVISIONS = {"conll2003": "refs/convert/parquet"}
SST2_NO_TEST = " (no test split: GLUE keeps its test labels private, so validation is the reported split)"
DESCRIPTIONS = {"sentiment": "embedded (Sentiment Labelled Sentences, Kotzias et al. 2015, CC BY 4.0)",
                "ner": "embedded (Universal NER English-EWT, Mayhew et al. 2024, CC BY-SA 4.0)"}
KINDS_OF_TEXT = {("sentiment", "embedded"): "English reviews", ("sentiment", "sst2"): "English film reviews",
                 ("ner", "embedded"): "English web text", ("ner", "conll2003"): "English news"}


def kind_of_text(task: str, source: str | Path) -> str:
    """What a named data source holds, in words ("English news"), for notes on what a model learned from."""
    check_choice("task", task, ["sentiment", "ner"])
    return KINDS_OF_TEXT.get((task, str(source)), "the training data you gave it")


def resolve_data_dir(data_dir: str | Path | None = None) -> Path | None:
    """The folder holding the standard sets: ``data_dir`` if given, else $CURIOLIB_DATA, else None."""
    chosen = data_dir or os.environ.get(DATA_ENV)
    return Path(chosen).expanduser() if chosen else None


def _say(task: str, source: str, splits: DatasetDict, verbose: bool, note: str = "") -> DatasetDict:
    if verbose:
        counts = ", ".join(f"{name} {len(split):,}" for name, split in splits.items())
        say(f"{task}: {source} — {counts}{note}")
    return splits


def _with_validation(dataset: Dataset | DatasetDict, seed: int, fraction: float, stratify: str | None) -> DatasetDict:
    """Splits as given; a lone train split gets a validation split carved off with ``seed``."""
    splits = dataset if isinstance(dataset, DatasetDict) else DatasetDict(train=dataset)
    if "validation" not in splits:
        try:
            carved = splits["train"].train_test_split(test_size=fraction, seed=seed, stratify_by_column=stratify)
        except ValueError as exc:  # too few examples for a validation share holding every class
            raise ValueError(f"{len(splits['train'])} examples are too few to carve a validation split of "
                             f"{fraction:.0%} from ({exc}); bring more examples, raise validation_fraction, or "
                             "give a folder with train and validation files") from None
        splits["train"], splits["validation"] = carved["train"], carved["test"]
    order = [name for name in ("train", "validation", "test") if name in splits]
    return DatasetDict({name: splits[name] for name in order})


def _check_split_args(seed: int, validation_fraction: float) -> None:
    from .._validation import check_int, check_number

    check_int("seed", seed, low=0)
    check_number("validation_fraction", validation_fraction, low=0, high=1, low_inclusive=False,
                 high_inclusive=False)


def _split_files(directory: Path, suffixes: set[str]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(directory.iterdir()):
        split = SPLIT_ALIASES.get(path.stem.lower())
        if split and path.suffix.lower() in suffixes:
            if split in found:  # train.csv and train.tsv, dev.tsv and validation.tsv: which one is meant?
                raise ValueError(f"{directory}: {found[split].name} and {path.name} are both {split} files; keep "
                                 "one (move or rename the other), so that it is clear which to read")
            found[split] = path
    if "train" not in found:
        raise ValueError(f"{directory}: expected a train file (train{'/'.join(sorted(suffixes))}), and optionally "
                         f"validation/dev and test files; found {[p.name for p in directory.iterdir()]}")
    return {split: found[split] for split in ("train", "validation", "test") if split in found}


def _read_embedded(name: str) -> list[dict]:
    path = EMBEDDED_DIR / f"{name}.jsonl.gz"
    if not path.exists():
        raise FileNotFoundError(f"the embedded {name} data is missing from the installed package ({path}); "
                                "reinstall curiolib, or rebuild it in a clone: `python scripts/build_embedded.py`")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _standard_set_missing(name: str, data_dir: Path | None) -> FileNotFoundError:
    where = f"{data_dir} has no {name}/ folder" if data_dir else f"${DATA_ENV} is not set and no data_dir was given"
    return FileNotFoundError(
        f"{name} is not available: {where}, and the hub cannot be reached (offline). Set {DATA_ENV} to a folder "
        f"holding {LAYOUTS[name]}, or pass data_dir=..., or go online to download {HUB_IDS[name]}.")


def _from_hub(name: str, data_dir: Path | None):
    if not hub_reachable():
        raise _standard_set_missing(name, data_dir)
    from datasets import load_dataset

    return load_dataset(HUB_IDS[name], revision=HUB_REVISIONS.get(name))


def load_sentiment(source: str | Path = "embedded", *, data_dir: str | Path | None = None, seed: int = 0,
                   validation_fraction: float = 0.1, text_column: str | int = "sentence",
                   label_column: str | int = "label", label_names: list[str] | None = None, header: bool = True,
                   delimiter: str | None = None, quotechar: str | None | bool = True, encoding: str = "utf-8",
                   verbose: bool = True, with_site: bool = False) -> DatasetDict:
    """Sentiment sentences as a DatasetDict with `sentence` and `label` (negative, positive).

    ``source``: "embedded" (the default, shipped with the package: 2,400 / 300 / 300 review sentences),
    "sst2" (GLUE SST-2 from ``data_dir``/$CURIOLIB_DATA or the hub; train and validation only, as GLUE's
    test labels are not public), or a path to a CSV/TSV/JSONL file or a folder of train/validation/test files.
    For your own files, the columns, label names, header, delimiter, quoting and encoding go to
    `read_text_classification` (e.g. the Kotzias sentence files: ``header=False, text_column=0,
    label_column=1``). ``with_site=True`` (embedded only) adds a `site` column, a ClassLabel of `SITES`: the review
    site each sentence comes from (lesson 08 learns them one after another).
    """
    _check_split_args(seed, validation_fraction)
    check_choice("with_site", with_site, (False, True))
    if with_site and source != "embedded":
        raise ValueError(f"with_site=True needs source='embedded' (only the embedded sentences carry their site); "
                         f"got source={source!r}")
    features = sentiment_features()
    if source == "embedded":
        rows = _read_embedded("sentiment")
        if with_site:
            features = Features({**features, "site": ClassLabel(names=SITES)})
        splits = DatasetDict({
            split: Dataset.from_dict({"sentence": [r["sentence"] for r in rows if r["split"] == split],
                                      "label": [SENTIMENT_LABELS.index(r["label"]) for r in rows
                                                if r["split"] == split]}
                                     | ({"site": [SITES.index(r["site"]) for r in rows if r["split"] == split]}
                                        if with_site else {}), features=features)
            for split in ("train", "validation", "test")})
        return _say("sentiment", DESCRIPTIONS["sentiment"], splits, verbose)
    if source == "sst2":
        root = resolve_data_dir(data_dir)
        if root and (root / "sst2").is_dir():
            splits = DatasetDict({split: read_text_classification(path)
                                  for split, path in _split_files(root / "sst2", {".tsv"}).items()})
            return _say("sentiment", f"sst2 from {root / 'sst2'}", splits, verbose, SST2_NO_TEST)
        hub = _from_hub("sst2", root)
        splits = DatasetDict({split: hub[split].select_columns(["sentence", "label"]).cast(features)
                              for split in ("train", "validation")})
        return _say("sentiment", f"sst2 from the hub ({HUB_IDS['sst2']})", splits, verbose, SST2_NO_TEST)
    path = _as_path("source", source, ["embedded", "sst2"])
    read = lambda file: read_text_classification(  # noqa: E731
        file, text_column=text_column, label_column=label_column, label_names=label_names, header=header,
        delimiter=delimiter, quotechar=quotechar, encoding=encoding)
    if path.is_dir():
        dataset = DatasetDict({split: read(file)
                               for split, file in _split_files(path, set(TEXT_SUFFIXES)).items()})
    else:
        dataset = read(path)
    return _say("sentiment", str(path), _with_validation(dataset, seed, validation_fraction, "label"), verbose)


def load_ner(source: str | Path = "embedded", *, data_dir: str | Path | None = None, seed: int = 0,
             validation_fraction: float = 0.1, token_column: int = 0, tag_column: int = -1,
             delimiter: str | None = None, comment_prefix: str | None = "#", fix_iob: bool = False,
             encoding: str = "utf-8", verbose: bool = True) -> DatasetDict:
    """Sentences tagged for entities as a DatasetDict with `tokens` and IOB2 `ner_tags` named from the data.

    ``source``: "embedded" (the default: Universal NER English-EWT, PER/ORG/LOC, 3,278 / 400 / 400),
    "conll2003" (from ``data_dir``/$CURIOLIB_DATA or the hub: PER/ORG/LOC/MISC), or a path to a CoNLL-style
    column file or a folder of train/validation(dev)/test files (columns, delimiter, comment prefix and
    encoding go to `parse_conll`).
    """
    _check_split_args(seed, validation_fraction)
    if source == "embedded":
        rows = _read_embedded("ner")
        sentences = {split: [(r["tokens"], r["tags"]) for r in rows if r["split"] == split]
                     for split in ("train", "validation", "test")}
        return _say("ner", DESCRIPTIONS["ner"], _ner_splits(sentences), verbose)
    if source == "conll2003":
        root = resolve_data_dir(data_dir)
        if root and (root / "conll2003").is_dir():
            files = _split_files(root / "conll2003", {".txt"})
            types: dict = {}
            sentences = {split: parse_conll_file(file, token_column=0, tag_column=-1, delimiter=None,
                                                 comment_prefix="#", fix_iob=False, encoding="utf-8", types=types)
                         for split, file in files.items()}
            return _say("ner", f"conll2003 from {root / 'conll2003'}", _ner_splits(sentences), verbose)
        hub = _from_hub("conll2003", root)
        names = hub["train"].features["ner_tags"].feature.names
        sentences = {split: [(row["tokens"], [names[t] for t in row["ner_tags"]]) for row in hub[split]]
                     for split in ("train", "validation", "test")}
        return _say("ner", f"conll2003 from the hub ({HUB_IDS['conll2003']})", _ner_splits(sentences), verbose)
    path = _as_path("source", source, ["embedded", "conll2003"])
    types: dict = {}  # one spelling of each entity type across the files: "PER" in train, "Per" in dev is an error
    parse = lambda file: parse_conll_file(file, token_column=token_column, tag_column=tag_column,  # noqa: E731
                                      delimiter=delimiter, comment_prefix=comment_prefix, fix_iob=fix_iob,
                                      encoding=encoding, types=types)
    files = _split_files(path, {".txt", ".conll", ".iob2", ".tsv"}) if path.is_dir() else {"train": path}
    splits = _ner_splits({split: parse(file) for split, file in files.items()})
    return _say("ner", str(path), _with_validation(splits, seed, validation_fraction, None), verbose)


def _ner_splits(sentences: dict[str, list[tuple[list[str], list[str]]]]) -> DatasetDict:
    # One label map for all splits, so a tag seen only in test still has its place.
    from .features import order_tag_names

    names = order_tag_names({tag for split in sentences.values() for _, tags in split for tag in tags})
    return DatasetDict({split: ner_dataset(rows, names) for split, rows in sentences.items()})


def _as_path(name: str, source: str | Path, named: list[str]) -> Path:
    path = Path(source).expanduser()
    if not path.exists():
        raise ValueError(f"{name} must be one of {', '.join(repr(n) for n in named)} or a path to a file or "
                         f"folder of your own data; got {str(source)!r}, which is neither")
    return path
