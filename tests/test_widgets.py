"""The type-a-sentence widget answers any input without a traceback; classify validates its input."""
from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser

import numpy as np
import pytest

from curiolib.course.widgets import MAX_WIDGET_CHARS, explain_input, sentiment_html, sentiment_widget
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


def test_widget_shows_the_models_prediction_as_the_text_changes(classifier) -> None:
    tokenizer, model = classifier
    box, answer = sentiment_widget(model, tokenizer).children
    for text in ["", "x" * 10_000, "🙂", "Très bien !"]:
        box.value = text
        if not text.strip():
            assert "Type a sentence" in answer.value
            continue
        expected = classify(text[:MAX_WIDGET_CHARS], model, tokenizer, max_length=128)[0]
        assert answer.value.startswith(f"<b>{expected.label}</b> ({expected.confidence:.1%})"), answer.value[:200]
        assert answer.value == sentiment_html(text, model, tokenizer)  # the sub-words and notes of this text


def test_widget_shows_an_error_in_the_lesson_instead_of_raising(classifier) -> None:
    tokenizer, _ = classifier
    box, answer = sentiment_widget(None, tokenizer).children  # no model: classify fails
    box.value = "A fine film."
    assert answer.value.startswith("<span style='color:#b00'>Could not classify this text:")


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


def test_length_sorted_batches_answer_in_the_order_given(classifier) -> None:
    tokenizer, model = classifier
    texts = ["a long, winding sentence about a film that never seems to end " * 3, "ok", "fine film", "no", "bad"]
    sorted_answers = classify(texts, model, tokenizer, batch_size=2)
    plain = classify(texts, model, tokenizer, batch_size=2, sort_by_length=False)
    assert [a.text for a in sorted_answers] == texts
    for a, b in zip(sorted_answers, plain):
        assert a.label == b.label and a.tokens == b.tokens
        assert a.probabilities == pytest.approx(b.probabilities, abs=1e-5)
    assert sorted_answers[1].tokens == plain[1].tokens == ["[CLS]", "ok", "[SEP]"], "no padding among the tokens"


def test_classify_says_what_it_needs_for_none_bytes_and_the_wrong_model(classifier) -> None:
    tokenizer, model = classifier
    with pytest.raises(TypeError, match="got NoneType"):
        classify(None, model, tokenizer)
    with pytest.raises(TypeError, match="got bytes: decode them first"):
        classify(b"a fine film", model, tokenizer)
    with pytest.raises(TypeError, match=r"texts\[1\] must be a string, got int"):
        classify(["fine", 3], model, tokenizer)
    with pytest.raises(TypeError, match="the order is texts, model, tokenizer"):
        classify("a fine film", tokenizer, model)
    _, tagger = load_model_for_task("minilm", "token", ["O", "B-PER", "I-PER"])
    with pytest.raises(ValueError, match="needs a sequence classifier.*use find_entities"):
        classify("a fine film", tagger, tokenizer)


def test_find_entities_and_classify_agree_on_an_empty_list_and_refuse_each_others_models(classifier) -> None:
    from curiolib.finetune.inference import find_entities

    tokenizer, model = classifier
    _, tagger = load_model_for_task("minilm", "token", ["O", "B-PER", "I-PER"])
    assert find_entities([], tagger, tokenizer) == classify([], model, tokenizer) == []
    with pytest.raises(ValueError, match="needs a token classifier.*use classify"):
        find_entities("Anna sings", model, tokenizer)


def test_the_tfidf_baseline_reports_the_f1_the_model_does() -> None:
    import numpy as np

    from curiolib.tasks.sentiment import classification_metrics, tfidf_baseline

    texts = ["good", "great", "fine film", "bad", "awful", "dull film", "good film", "bad plot"]
    labels = [1, 1, 1, 0, 0, 0, 1, 0]
    baseline = tfidf_baseline(texts, labels, ["good plot", "awful film", "great", "dull"], [1, 0, 0, 0])
    as_logits = np.eye(2)[baseline.predictions]
    assert baseline.metrics == classification_metrics(as_logits, np.array([1, 0, 0, 0]))
    assert baseline.f1 == baseline.metrics["f1"]


def test_the_wilson_interval_matches_a_worked_example_and_stays_inside_0_1() -> None:
    from curiolib import wilson_interval

    low, high = wilson_interval(274 / 298, 298)  # 274 of 298 right; by hand: 0.88296 to 0.94528
    assert (round(low, 4), round(high, 4)) == (0.883, 0.9453)
    assert wilson_interval(1.0, 10)[1] == pytest.approx(1.0) and wilson_interval(0.0, 10)[0] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        wilson_interval(0.5, 0)


def test_the_wilson_interval_refuses_a_confidence_outside_0_1() -> None:
    from curiolib import wilson_interval

    assert wilson_interval(0.9, 100, confidence=0.99)[0] < wilson_interval(0.9, 100)[0]
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(0.9, 100, confidence=95)


def test_the_note_on_other_languages_names_what_the_data_source_holds() -> None:
    from curiolib import explain_input, kind_of_text

    assert kind_of_text("ner", "conll2003") == "English news" and kind_of_text("ner", "embedded") == "English web text"
    assert kind_of_text("sentiment", "my_reviews.csv") == "the training data you gave it"
    notes = explain_input("東京でソニーの社長に会った", None, kind_of_text("ner", "conll2003"))
    assert "English news" in " ".join(notes)
    with pytest.raises(ValueError, match="task"):
        kind_of_text("sentiments", "embedded")


def test_a_mean_sentence_vector_counts_real_tokens_only_and_each_frozen_vector_is_probed() -> None:
    from curiolib.finetune.models import load_model_for_task
    from curiolib.tasks.sentiment import SENTENCE_VECTORS, compare_sentence_vectors, sentence_vectors

    tokenizer, model = load_model_for_task("minilm", "sequence", ["negative", "positive"], seed=0)
    short = "Meh."
    alone = sentence_vectors(model, tokenizer, [short])
    # Batched beside a long sentence, the short one is padded: its mean must not change.
    padded = sentence_vectors(model, tokenizer, [short, "The battery life is unbelievably good, " * 5])
    for name in SENTENCE_VECTORS:
        assert padded[name].shape == (2, 384)
        np.testing.assert_allclose(padded[name][0], alone[name][0], atol=1e-4)
    texts = ["great film", "awful film", "I loved it", "I hated it", "wonderful", "dreadful"]
    labels = [1, 0, 1, 0, 1, 0]
    splits = {"a": (texts, labels), "b": (texts[:2], labels[:2])}
    tables = compare_sentence_vectors(model, tokenizer, texts, labels, splits)
    assert list(tables) == ["a", "b"] and list(tables["a"].index) == list(SENTENCE_VECTORS)
    assert all(((table >= 0) & (table <= 1)).all().all() for table in tables.values())
    with pytest.raises(ValueError, match="at least one text"):
        compare_sentence_vectors(model, tokenizer, texts, labels, {"a": ([], [])})


def test_the_paired_test_looks_only_at_the_examples_where_the_two_disagree() -> None:
    from curiolib import paired_accuracy_test

    both = [True] * 90 + [False] * 10
    same = paired_accuracy_test(both, both)
    assert same.difference == 0 and same.p_value == 1.0
    a = [True] * 100
    b = [True] * 80 + [False] * 20  # a is right on 20 that b misses, b never the other way round
    result = paired_accuracy_test(a, b)
    assert (result.only_a_right, result.only_b_right) == (20, 0)
    assert result.difference == pytest.approx(0.2) and result.p_value == pytest.approx(2 * 0.5 ** 20)
    close = paired_accuracy_test([True, False] * 50, [False, True] * 50)  # 50 each way: no evidence at all
    assert close.p_value == pytest.approx(1.0)
    # The interval: 0.2 ± 1.96·sqrt(20 − 20²/100)/100; with 50 disagreements each way, 0 ± 1.96·sqrt(100)/100.
    assert (result.low, result.high) == pytest.approx((0.2 - 1.96 * 0.04, 0.2 + 1.96 * 0.04))
    assert (close.low, close.high) == pytest.approx((-0.196, 0.196)) and (same.low, same.high) == (0, 0)
    with pytest.raises(ValueError, match="one length"):
        paired_accuracy_test([True], [True, False])


# ---- a widget snapshot read where some or all of its styles are gone ------------------------------------------

#: Of the CSS properties a snapshot may use, those JupyterLab's sanitiser keeps (`allowedStyles` of
#: @jupyterlab/apputils, as bundled in jupyterlab-rise 0.43, which renders untrusted outputs through it):
#: `display` and the box model survive, `flex-direction`, `flex-wrap`, `gap` and `align-items` do not.
_SANITISER_KEEPS = {"display", "margin", "margin-top", "margin-right", "margin-bottom", "margin-left", "padding",
                    "padding-right", "max-width", "width", "border", "white-space", "vertical-align"}


class _Lines(HTMLParser):
    """The text lines of an HTML fragment under the two layout rules a snapshot relies on: a block (a <div>) is a
    line of its own, except inside a flex row, whose items share one line (apart where they have a margin or the
    row a gap, run together where not). ``keep`` says which style properties the renderer left in place."""

    _BLOCKS = {"div", "p", "pre", "table", "tr", "li"}
    _VOID = {"img", "br", "hr", "input", "wbr"}

    def __init__(self, keep: Callable[[str], bool]) -> None:
        super().__init__()
        self.keep, self.lines, self.open = keep, [""], []

    def _style(self, attrs: list) -> dict[str, str]:
        declarations = (part.split(":", 1) for part in (dict(attrs).get("style") or "").split(";") if ":" in part)
        return {name.strip(): value.strip() for name, value in declarations if self.keep(name.strip())}

    def _break(self) -> None:
        if self.lines[-1].strip():
            self.lines.append("")

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self._VOID:
            return
        style = self._style(attrs)
        parent = self.open[-1] if self.open else {}
        item = parent.get("row", False)  # an item of a flex row: beside its siblings
        inside = item or parent.get("inside", False)  # anywhere in a row: its blocks stack within one line's item
        block = tag in self._BLOCKS and not inside and not style.get("display", "").startswith("inline")
        if block:
            self._break()
        spaced = item and (parent.get("gap", False) or any(name.startswith(("margin", "padding")) for name in style))
        row = style.get("display") == "flex" and style.get("flex-direction", "row") == "row"
        if spaced:  # a margin (or the row's gap) sets the item apart from both neighbours
            self.lines[-1] += " "
        self.open.append({"tag": tag, "block": block, "spaced": spaced, "row": row, "gap": "gap" in style,
                          "inside": inside})

    def handle_endtag(self, tag: str) -> None:
        if tag in self._VOID or not self.open:
            return
        element = self.open.pop()
        assert element["tag"] == tag, f"<{element['tag']}> closed by </{tag}>"
        if element["block"]:
            self._break()
        elif element["spaced"]:
            self.lines[-1] += " "

    def handle_data(self, data: str) -> None:
        self.lines[-1] += data

    def text(self) -> list[str]:
        return [" ".join(line.split()) for line in self.lines if line.strip()]


def _laid_out(html: str, keep: Callable[[str], bool]) -> list[str]:
    parser = _Lines(keep)
    parser.feed(html)
    parser.close()
    return parser.text()


def test_a_snapshot_of_sliders_keeps_one_row_per_line_where_its_styles_are_stripped() -> None:
    # Lesson 01's explorer: two rows of three sliders over the figure. RISE renders the saved snapshot through
    # JupyterLab's sanitiser, which kept `display:flex` and dropped `flex-direction:column`: the column became one
    # row, "α 0.50β 0.50I0 0.00E 1.00R 2.00horizon 100". GitHub drops every style.
    from curiolib.classroom.snapshot import render

    states: dict = {}
    names = [("α", 0.5), ("β", 0.5), ("I0", 0.0), ("E", 1.0), ("R", 2.0)]
    sliders = [_widget(states, f"s{i}", "FloatSlider", description=name, value=value, readout_format=".2f")
               for i, (name, value) in enumerate(names)]
    sliders.append(_widget(states, "h", "IntSlider", description="horizon", value=100))
    rows = [_widget(states, "r1", "HBox", children=sliders[:3]), _widget(states, "r2", "HBox", children=sliders[3:])]
    image = _widget(states, "i", "Image", format="png", value="iVBOR")
    html, _ = render(states, _widget(states, "box", "VBox", children=[*rows, image]))
    assert "<img" in html
    two_rows = ["α 0.50 β 0.50 I0 0.00", "E 1.00 R 2.00 horizon 100"]
    assert _laid_out(html, keep=lambda name: True) == two_rows  # JupyterLab, trusted
    assert _laid_out(html, keep=_SANITISER_KEEPS.__contains__) == two_rows  # RISE's sanitiser
    each_alone = ["α 0.50", "β 0.50", "I0 0.00", "E 1.00", "R 2.00", "horizon 100"]
    assert _laid_out(html, keep=lambda name: False) == each_alone  # every style attribute removed


def test_the_layout_model_of_the_snapshot_test_runs_flex_items_together_only_without_a_gap() -> None:
    flex = "<div style='display:flex'><div>a</div><div>b</div></div><div>c</div>"
    assert _laid_out(flex, keep=lambda name: True) == ["ab", "c"]
    assert _laid_out(flex.replace("display:flex", "display:flex;gap:4px"), keep=lambda name: True) == ["a b", "c"]
    assert _laid_out(flex, keep=lambda name: False) == ["a", "b", "c"]
    column = "<div style='display:flex;flex-direction:column'><div>a</div><div>b</div></div>"
    assert _laid_out(column, keep=lambda name: True) == ["a", "b"]
    assert _laid_out(column, keep=_SANITISER_KEEPS.__contains__) == ["ab"]
    nested = "<div style='display:flex'><div><div>a</div><div>b</div></div><div style='margin:2px'>c</div></div>"
    assert _laid_out(nested, keep=lambda name: True) == ["ab c"]  # a row of two items: one line


def _widget(states: dict, model_id: str, model: str, **state) -> str:
    states[model_id] = {"model_name": f"{model}Model", "state": state}
    return f"IPY_MODEL_{model_id}"
