"""Lesson 03 runs the source essays' sentiment code (essays 000, 003 and 004): what it shows, checked here.

The essays' code is read from the lesson itself (the strings it runs), so what the lesson quotes is what is
checked: that it is the essays' own code (where the essays are beside the project, ../shared/seeds), that it fails
the way the lesson says, and that the fix runs. The test that needs CoNLL-2003 skips without $CURIOLIB_DATA.
"""
from __future__ import annotations

import ast
import builtins
import json
import re
from functools import partial
from pathlib import Path

import pytest
import torch
from sklearn.metrics import classification_report
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from curiolib.data import load_ner, load_sentiment

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "notebooks" / "03_bert_sentiment.ipynb"
SEEDS = ROOT.parent / "shared" / "seeds"
ESSAY_FILES = {"000": "000_3bb0dd6e23d749f2.txt", "001": "001_944860e5250b028c.txt", "002": "002_7cf92d4dca8be49a.txt",
               "003": "003_4b9876dc8c8178b2.txt", "004": "004_f2162f2fa16df9f9.txt"}


def _cells(kind: str) -> list[str]:
    return ["".join(cell["source"]) for cell in json.loads(LESSON.read_text(encoding="utf-8"))["cells"]
            if cell["cell_type"] == kind]


def _tree(source: str) -> ast.Module:
    return ast.parse("\n".join(line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!"))
                               else line for line in source.splitlines()))


def lesson_constant(name: str):
    """The value of ``NAME = <literal>`` in the lesson's code cells (one assignment, at a cell's top level)."""
    found = [ast.literal_eval(node.value) for source in _cells("code") for node in _tree(source).body
             if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]]
    assert len(found) == 1, f"lesson 03 assigns {name} {len(found)} times, expected once"
    return found[0]


def lesson_class(name: str) -> str:
    """The source of the class ``name`` that a code cell of the lesson defines."""
    found = [ast.get_source_segment(source, node) for source in _cells("code") for node in _tree(source).body
             if isinstance(node, ast.ClassDef) and node.name == name]
    assert len(found) == 1, f"lesson 03 defines {name} {len(found)} times, expected once"
    return found[0]


def essay_code_lines(essay: str, section: str = "### 5.2", end: str = "### 5.3") -> set[str]:
    """Every line of an essay's section, stripped (skips without the essays beside the project)."""
    if not SEEDS.is_dir():
        pytest.skip(f"the source essays are not beside the project ({SEEDS}): nothing to compare the excerpts with")
    text = (SEEDS / ESSAY_FILES[essay]).read_text(encoding="utf-8")
    part = text[text.index(section):text.index(end, text.index(section))]
    return {line.strip() for line in part.splitlines() if line.strip()}


def free_names(source: str) -> set[str]:
    """Names the code reads that it never binds (import, def, class, assignment, parameter) and Python lacks."""
    tree = ast.parse(source)
    bound = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
            } - bound


def tiny_bert(kind: str, tokenizer):
    """A randomly initialised one-layer BERT classifier with two labels: the essays' classes, in a second."""
    from transformers import BertConfig, BertForSequenceClassification, BertForTokenClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=37, num_labels=2)
    return (BertForTokenClassification if kind == "token" else BertForSequenceClassification)(config)


# ------------------------------------------------------------------------------------------- the quotes
QUOTED = [("000", "§5.2 源代码详细实现"), ("004", "§5.2 源代码详细实现"), ("003", "§5.2 源代码详细实现"),
          ("000", "§5.4 运行结果展示"), ("004", "§9 附录：常见问题与解答")]


@pytest.mark.parametrize(("essay", "section"), QUOTED, ids=[f"{e} {s.split()[0]}" for e, s in QUOTED])
def test_lesson_03_quotes_the_essay_in_chinese_and_english_with_its_file_and_section(essay: str, section: str) -> None:
    attribution = f"— essay {essay} (`{ESSAY_FILES[essay]}`), {section}"
    cells = [cell for cell in _cells("markdown") if attribution in cell]
    assert cells, f"no markdown cell of lesson 03 ends a quote with {attribution!r}"
    for cell in cells:
        quoted = [line for line in cell.splitlines() if line.startswith(">")]
        assert any(re.search(r"[\u4e00-\u9fff]", line) for line in quoted), f"{attribution}: no Chinese blockquote"
        assert re.search(r'\n"[A-Z`][^"]{20,}"', cell), f"{attribution}: no English translation in quotes"


def test_lesson_03_says_the_changes_the_essays_code_needs_once_and_links_the_glossary() -> None:
    markdown = _cells("markdown")
    assert markdown[0].rstrip().endswith(
        "Terms from the source essays, in Chinese and English: [GLOSSARY.md](../GLOSSARY.md).")
    changes = [cell for cell in markdown if "`resolve_model(model_name)`" in cell and "`torch.optim.AdamW`" in cell
               and "`device`" in cell]
    assert len(changes) == 1


# ------------------------------------------------------------------------------------ the essays' own code
def test_the_code_lesson_03_runs_is_the_essays_own_line_for_line() -> None:
    excerpts = {"004": [lesson_constant("ESSAY_004_CODE"), lesson_constant("ESSAY_TRAIN_EPOCH"),
                        lesson_constant("ESSAY_004_LOOP")],
                "003": [lesson_constant("ESSAY_003_DATASET"), lesson_constant("ESSAY_003_EVALUATE"),
                        lesson_constant("ESSAY_TRAIN_EPOCH")],
                "000": [lesson_class("SentimentDataset"), lesson_constant("ESSAY_TRAIN_EPOCH"),
                        lesson_constant("ESSAY_IMPORTS")["000"]]}
    for essay, sources in excerpts.items():
        printed = essay_code_lines(essay)
        for source in sources:
            for line in source.splitlines():
                if "# CHANGED" in line or not line.strip():
                    continue
                line = line.split("  # essay 000")[0].strip()  # the lesson's note on the class line
                assert line in printed, f"lesson 03's excerpt of essay {essay} has a line the essay lacks: {line!r}"
    for essay, line in lesson_constant("ESSAY_IMPORTS").items():
        assert line in essay_code_lines(essay), (essay, line)
    report = lesson_constant("ESSAY_000_REPORT")
    assert report in essay_code_lines("000", "### 5.4", "## 6.")


def test_essay_004_uses_torch_tqdm_and_device_without_importing_or_defining_them() -> None:
    code = lesson_constant("ESSAY_004_CODE") + lesson_constant("ESSAY_TRAIN_EPOCH") + lesson_constant("ESSAY_004_LOOP")
    assert free_names(code) == {"torch", "tqdm", "device", "train_dataset"}
    assert free_names("import torch\nx = torch.ones(1)\ndef f(a):\n    return a + b") == {"b"}


def test_every_essays_adamw_import_fails_and_torchs_defaults_are_not_the_essays() -> None:
    import transformers

    if hasattr(transformers, "AdamW"):
        pytest.skip(f"transformers {transformers.__version__} still has AdamW (removed in 4.50)")
    imports = lesson_constant("ESSAY_IMPORTS")
    assert sorted(imports) == ["000", "001", "002", "003", "004"]
    for line in imports.values():
        with pytest.raises(ImportError, match="cannot import name 'AdamW' from 'transformers'"):
            exec(line, {})
    import inspect

    defaults = {name: p.default for name, p in inspect.signature(torch.optim.AdamW).parameters.items()}
    essays = lesson_constant("ESSAYS_ADAMW")
    assert all(defaults[name] != value for name, value in essays.items()), (defaults, essays)


def test_essay_000s_dataset_pads_every_sentence_to_the_tokenizers_limit(tokenizer) -> None:
    from transformers import BertTokenizer

    from curiolib import resolve_model

    namespace = {"Dataset": Dataset, "BertTokenizer": BertTokenizer, "torch": torch, "resolve_model": resolve_model,
                 "model_name": "minilm"}
    exec(lesson_class("SentimentDataset"), namespace)
    sentences = ["Meh.", "The battery life is unbelievably good, and the screen is bright."]
    dataset = namespace["SentimentDataset"](sentences, [0, 1])
    items = [dataset[i] for i in range(len(dataset))]
    assert [len(item["input_ids"]) for item in items] == [512, 512] == [tokenizer.model_max_length] * 2
    real = [len(ids) for ids in tokenizer(sentences)["input_ids"]]
    assert [int(item["attention_mask"].sum()) for item in items] == real


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")  # an untrained model, one class
def test_essay_003s_token_classifier_fails_on_sentence_labels_and_a_sequence_classifier_runs(tokenizer,
                                                                                           capsys) -> None:
    essay = {"Dataset": Dataset, "DataLoader": DataLoader, "torch": torch, "tqdm": partial(tqdm, disable=True),
             "classification_report": classification_report, "device": torch.device("cpu")}
    exec(lesson_constant("ESSAY_003_DATASET") + lesson_constant("ESSAY_TRAIN_EPOCH")
         + lesson_constant("ESSAY_003_EVALUATE"), essay)
    texts = load_sentiment(verbose=False)["train"][:8]
    dataset = essay["CreditRiskDataset"](texts["sentence"], texts["label"], tokenizer)
    model = tiny_bert("token", tokenizer)
    with pytest.raises(ValueError, match=r"Expected input batch_size \(1024\) to match target batch_size \(8\)"):
        essay["train_epoch"](model, dataset, 16, torch.optim.AdamW(model.parameters(), lr=2e-5))
    with pytest.raises(TypeError, match="object of type 'int' has no len()"):
        essay["evaluate"](model, dataset, 16)
    # The fix the lesson runs: a sequence classifier, argmax over dim=1, one prediction a text.
    exec(lesson_constant("ESSAY_003_EVALUATE").replace("argmax(dim=2)", "argmax(dim=1)")
         .replace("pred_tokens[:len(label_tokens)]", "pred_tokens"), essay)
    model = tiny_bert("sequence", tokenizer)
    loss = essay["train_epoch"](model, dataset, 16, torch.optim.AdamW(model.parameters(), lr=2e-5))
    assert loss > 0
    capsys.readouterr()
    essay["evaluate"](model, dataset, 16)
    assert capsys.readouterr().out.split()[-1] == "8"


# ------------------------------------------------------------------------------------------ CoNLL-2003
def _read_as_sentiment(path: Path, column: int):
    return load_sentiment(path, header=False, text_column=0, label_column=column, delimiter=" ", verbose=False)


def test_a_file_in_conll_layout_read_as_sentiment_fails_at_its_first_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "conll_layout.txt"
    path.write_text("Curiosity NN B-NP O\nlearns VBZ B-VP O\n\nCuriolib NNP B-NP B-ORG\nships VBZ B-VP O\n")
    for column, label in ((1, "NN"), (2, "B-NP"), (3, "O")):
        with pytest.raises(ValueError, match=rf"conll_layout\.txt:1: label '{label}' is not one of"):
            _read_as_sentiment(path, column)


def test_conll2003_has_no_sentence_label_for_essay_000s_sentiment_report(data_dir: Path) -> None:
    test = data_dir / "conll2003" / "test.txt"
    if not test.is_file():
        pytest.skip(f"no CoNLL-2003 test file in {data_dir}")
    rows = [line.split(" ") for line in test.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert {len(row) for row in rows} == {4}  # word, part of speech, chunk, entity tag: one word a line
    for column in (1, 2, 3):
        with pytest.raises(ValueError, match=r"conll2003/test\.txt:1: label '[^']+' is not one of \['negative'"):
            _read_as_sentiment(test, column)
    assert load_ner("conll2003", verbose=False)["test"].column_names == ["tokens", "ner_tags"]
