"""ONNX files a user or a stranger hands over: never replaced unasked, refused when damaged, labels kept with the model.

A saved 2-layer, 64-wide BERT (`small_model`) exports in well under a second: every check holds for any classifier.
"""
from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
import torch

from curiolib.efficient import OnnxClassifier, export_onnx, quantize_onnx
from curiolib.finetune.inference import classify
from curiolib.finetune.models import load_model_for_task

LABELS = ["negative", "positive"]
TAGS = ["O", "B-PER", "I-PER"]
TEXTS = ["a fine film", "dull and far too long", "it was fine"]


@pytest.fixture(scope="module")
def classifier(small_model: str):
    """(tokenizer, a sequence classifier with labels negative, positive)."""
    return load_model_for_task(small_model, "sequence", LABELS, seed=0)


@pytest.fixture(scope="module")
def exported(classifier, tmp_path_factory) -> Path:
    """The classifier exported once; tests that change files copy it first."""
    tokenizer, model = classifier
    return export_onnx(model, tokenizer, tmp_path_factory.mktemp("exported") / "model.onnx")


def _copy(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes())
    return target


def _without_labels(source: Path, target: Path) -> Path:
    """The model as another tool would export it: no labels in its metadata."""
    model = onnx.load(str(source))
    del model.metadata_props[:]
    onnx.save(model, str(target))
    return target


def _logits(model, tokenizer) -> torch.Tensor:
    with torch.no_grad():
        return model(**tokenizer(TEXTS, padding=True, return_tensors="pt")).logits


# --------------------------------------------------------------------------- item 1: the user's file stays

def test_export_refuses_to_replace_a_file_it_did_not_write(classifier, tmp_path) -> None:
    tokenizer, model = classifier
    theirs = tmp_path / "user_model.onnx"
    theirs.write_text("my own model, trained for a week")
    with pytest.raises(FileExistsError, match=r"path=.*user_model\.onnx.* overwrite=True") as error:
        export_onnx(model, tokenizer, theirs)
    assert "\n" not in str(error.value)
    assert theirs.read_text() == "my own model, trained for a week"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["user_model.onnx"]  # no partial file left behind


def test_export_replaces_a_file_only_when_asked_even_one_it_wrote(classifier, exported, tmp_path) -> None:
    tokenizer, model = classifier
    theirs = tmp_path / "user_model.onnx"
    theirs.write_text("not needed any more")
    export_onnx(model, tokenizer, theirs, overwrite=True)
    assert torch.allclose(_logits(OnnxClassifier(theirs, model.config.id2label), tokenizer),
                          _logits(model, tokenizer), atol=1e-4)
    # An export of curiolib's, copied in by a colleague or made earlier of another model, is the user's file now.
    again = _copy(exported, tmp_path / "again.onnx")
    with pytest.raises(FileExistsError, match="again.onnx"):
        export_onnx(model, tokenizer, again)
    foreign = _without_labels(exported, tmp_path / "foreign.onnx")
    with pytest.raises(FileExistsError, match="foreign.onnx"):
        export_onnx(model, tokenizer, foreign)


def test_an_export_that_fails_leaves_the_previous_file_whole(classifier, exported, tmp_path, monkeypatch) -> None:
    tokenizer, model = classifier
    target = _copy(exported, tmp_path / "model.onnx")
    before = target.read_bytes()

    def half_written(model, args, f, *rest, **kwargs):
        if hasattr(f, "write"):
            f.write(b"half a model")
        else:
            Path(f).write_bytes(b"half a model")
        raise RuntimeError("the exporter died half way")

    monkeypatch.setattr(torch.onnx, "export", half_written)
    with pytest.raises(RuntimeError, match="half way"):
        export_onnx(model, tokenizer, target, overwrite=True)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


# --------------------------------------------------------------------------- item 2: a folder is not a file

def test_export_to_a_folder_is_refused_before_any_work(classifier, tmp_path, monkeypatch) -> None:
    tokenizer, model = classifier
    calls = []
    monkeypatch.setattr(torch.onnx, "export", lambda *args, **kwargs: calls.append(args))
    with pytest.raises(ValueError, match=r"path=.* is a folder") as error:
        export_onnx(model, tokenizer, tmp_path)
    assert "\n" not in str(error.value) and not calls
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    with pytest.raises(ValueError, match=r"path=.*notes\.txt.* is a file, not a folder"):
        export_onnx(model, tokenizer, tmp_path / "notes.txt" / "model.onnx")
    assert not calls and (tmp_path / "notes.txt").read_text() == "a file, not a folder"


# --------------------------------------------------------------------------- item 3: what is not an ONNX model

def _not_a_model(kind: str, exported: Path, folder: Path) -> Path:
    path = folder / ("d.csv" if kind == "csv" else f"{kind}.onnx")
    data = exported.read_bytes()
    contents = {"csv": b"sentence,label\na fine film,1\n", "empty": b"", "truncated": data[: len(data) // 2],
                "tail cut": data[:-7], "text": "ein schöner Film\n".encode("utf-16")}
    if kind == "folder":
        path.mkdir()
    elif kind != "missing":
        path.write_bytes(contents[kind])
    return path


@pytest.mark.parametrize("kind", ["csv", "empty", "truncated", "tail cut", "text", "missing", "folder"])
def test_quantize_onnx_says_a_file_is_not_an_onnx_model_in_one_line(kind, exported, tmp_path) -> None:
    path = _not_a_model(kind, exported, tmp_path)
    with pytest.raises(ValueError, match=rf"path=.*{path.name}.*(is not an ONNX model|names no file)") as error:
        quantize_onnx(path, tmp_path / "out.int8.onnx")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "out.int8.onnx").exists() and not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize("kind", ["csv", "empty", "truncated", "tail cut", "text", "missing", "folder"])
def test_onnx_classifier_says_a_file_is_not_an_onnx_model_in_one_line(kind, exported, tmp_path) -> None:
    path = _not_a_model(kind, exported, tmp_path)
    with pytest.raises(ValueError, match=rf"path=.*{path.name}.*(is not an ONNX model|names no file)") as error:
        OnnxClassifier(path, dict(enumerate(LABELS)))
    assert "\n" not in str(error.value)


# --------------------------------------------------------------------------- item 4: labels travel with the model

def test_the_exported_file_stores_its_labels_and_the_classifier_reads_them(classifier, exported, tmp_path) -> None:
    tokenizer, model = classifier
    stored = {entry.key: entry.value for entry in onnx.load(str(exported)).metadata_props}
    assert json.loads(stored["id2label"]) == {"0": "negative", "1": "positive"}
    onnx_model = OnnxClassifier(exported)  # no labels given: the file's own
    assert onnx_model.config.id2label == {0: "negative", 1: "positive"} and onnx_model.config.num_labels == 2
    assert [p.label for p in classify(TEXTS, onnx_model, tokenizer)] == [p.label for p in classify(TEXTS, model,
                                                                                                   tokenizer)]
    # quantize_onnx carries them into the int8 file.
    int8 = OnnxClassifier(quantize_onnx(exported, tmp_path / "model.int8.onnx"))
    assert int8.config.id2label == {0: "negative", 1: "positive"}


@pytest.mark.parametrize("quantized", [False, True])
def test_labels_in_another_order_than_the_exported_ones_are_refused(quantized, exported, tmp_path) -> None:
    path = quantize_onnx(exported, tmp_path / "model.int8.onnx") if quantized else exported
    with pytest.raises(ValueError, match=r"id2label=.*'positive'.*'negative'.* stored .*'negative'.*'positive'"):
        OnnxClassifier(path, {0: "positive", 1: "negative"})
    OnnxClassifier(path, {0: "negative", 1: "positive"})  # the same labels are fine
    OnnxClassifier(path, {"0": "negative", "1": "positive"})  # as a JSON config spells them, too


@pytest.mark.parametrize("stored", [True, False])
def test_a_label_count_other_than_the_models_outputs_is_refused(stored, exported, tmp_path) -> None:
    path = exported if stored else _without_labels(exported, tmp_path / "foreign.onnx")
    with pytest.raises(ValueError, match=r"id2label names 3 labels.* 2 logits"):
        OnnxClassifier(path, {0: "negative", 1: "neutral", 2: "positive"})
    with pytest.raises(ValueError, match=r"id2label names 1 label.* 2 logits"):
        OnnxClassifier(path, {0: "negative"})


def test_a_file_without_stored_labels_works_with_given_ones_and_asks_for_them_otherwise(classifier, exported,
                                                                                       tmp_path) -> None:
    tokenizer, model = classifier
    foreign = _without_labels(exported, tmp_path / "foreign.onnx")
    given = OnnxClassifier(foreign, {0: "negative", 1: "positive"})
    assert torch.allclose(_logits(given, tokenizer), _logits(model, tokenizer), atol=1e-4)
    with pytest.raises(ValueError, match=r"foreign\.onnx stores no labels: pass id2label"):
        OnnxClassifier(foreign)
    with pytest.raises(ValueError, match=r"id2label keys must be the logits' indices 0\.\.1"):
        OnnxClassifier(foreign, {1: "negative", 2: "positive"})


def test_a_token_classifier_keeps_its_tags_too(small_model, tmp_path) -> None:
    tokenizer, model = load_model_for_task(small_model, "token", TAGS, seed=0)
    path = export_onnx(model, tokenizer, tmp_path / "ner.onnx")
    assert OnnxClassifier(path).config.id2label == dict(enumerate(TAGS))
    with pytest.raises(ValueError, match=r"id2label=.* stored"):
        OnnxClassifier(path, dict(enumerate(["O", "I-PER", "B-PER"])))
    with pytest.raises(ValueError, match=r"id2label names 2 labels.* 3 logits"):
        OnnxClassifier(path, dict(enumerate(TAGS[:2])))
