"""The type-a-sentence widget answers any input without a traceback; classify validates its input."""
from __future__ import annotations

import pytest

from curiolib.course.widgets import explain_input, sentiment_html, sentiment_widget
from curiolib.finetune.inference import classify
from curiolib.finetune.models import load_model_for_task


@pytest.fixture(scope="module")
def classifier():
    """An (untrained) embedded classifier: the widget's behaviour does not depend on training."""
    return load_model_for_task("minilm", "sequence", ["negative", "positive"])


@pytest.mark.parametrize("text, expected", [
    ("", "Type a sentence"),
    ("   \n ", "Type a sentence"),
    ("A wonderful, warm film.", "sub-words"),
    ("great plot, dull acting. " * 420, "characters were read"),  # 10,500 characters
    ("😍😍😍 🎬", "[UNK]"),
    ("この映画は最高でした", "other languages"),
    ("<script>alert('x')</script>", "&lt;"),
])
def test_sentiment_html_answers_awkward_input(classifier, text: str, expected: str) -> None:
    tokenizer, model = classifier
    html = sentiment_html(text, model, tokenizer)
    assert expected in html
    assert "<script>" not in html


def test_widget_builds_and_updates_without_raising(classifier) -> None:
    tokenizer, model = classifier
    widget = sentiment_widget(model, tokenizer)
    box, answer = widget.children
    for text in ["", "x" * 10_000, "🙂", "Très bien !"]:
        box.value = text
        assert answer.value and "Traceback" not in answer.value


def test_classify_rejects_empty_text_and_reports_truncation(classifier) -> None:
    tokenizer, model = classifier
    with pytest.raises(ValueError, match=r"texts\[1\] must be a non-empty string"):
        classify(["fine", ""], model, tokenizer)
    long = classify("word " * 1000, model, tokenizer, max_length=64)[0]
    assert long.truncated and len(long.tokens) == 64
    assert sum(long.probabilities.values()) == pytest.approx(1.0)
    assert explain_input("ok", long)  # says the text was cut


def test_batched_and_single_predictions_agree(classifier) -> None:
    tokenizer, model = classifier
    texts = ["short", "a somewhat longer sentence about a film", "ok"]
    batched = classify(texts, model, tokenizer, batch_size=3)
    single = [classify(text, model, tokenizer)[0] for text in texts]
    for a, b in zip(batched, single):
        assert a.label == b.label and a.probabilities == pytest.approx(b.probabilities, abs=1e-5)
