"""Interactive widgets for the lessons: type a sentence, see what the model makes of it."""
from __future__ import annotations

import html
import unicodedata

from .inference import Prediction, classify

#: Above this many characters the widget reads only the start (the model sees at most max_length tokens).
MAX_WIDGET_CHARS = 5_000


def _share_non_latin(text: str) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    return sum("LATIN" not in unicodedata.name(ch, "") for ch in letters) / len(letters)


def explain_input(text: str, prediction: Prediction | None) -> list[str]:
    """Plain-language notes about input the model may handle badly (long, emoji, non-English, unknown tokens)."""
    notes = []
    if len(text) > MAX_WIDGET_CHARS:
        notes.append(f"Only the first {MAX_WIDGET_CHARS:,} of {len(text):,} characters were read.")
    if prediction is not None and prediction.truncated:
        notes.append(f"The model reads at most {len(prediction.tokens)} sub-word tokens; the rest was cut off.")
    if prediction is not None and "[UNK]" in prediction.tokens:
        notes.append("Some characters (emoji, rare scripts) are unknown to this vocabulary and became [UNK].")
    if _share_non_latin(text) > 0.3:
        notes.append("This model learned from English reviews: treat its answer on other languages with care.")
    return notes


def sentiment_html(text: str, model, tokenizer, *, max_length: int = 128) -> str:
    """HTML for one sentence: the label, a bar per label's probability, the sub-word tokens and any caveats."""
    if not text or not text.strip():
        return "<i>Type a sentence above to see what the model thinks.</i>"
    prediction = classify(text[:MAX_WIDGET_CHARS], model, tokenizer, max_length=max_length)[0]
    bars = "".join(
        f"<div style='margin:2px 0'><span style='display:inline-block;width:6em'>{html.escape(name)}</span>"
        f"<span style='display:inline-block;width:{200 * p:.0f}px;height:0.9em;"
        f"background:{'#2a9d8f' if name == prediction.label else '#bbb'}'></span> {p:.1%}</div>"
        for name, p in prediction.probabilities.items())
    shown = prediction.tokens if len(prediction.tokens) <= 60 else prediction.tokens[:60] + ["…"]
    tokens = " ".join(f"<code>{html.escape(token)}</code>" for token in shown)
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in explain_input(text, prediction))
    return (f"<b>{html.escape(prediction.label)}</b> ({prediction.confidence:.1%})"
            f"{bars}<div style='margin-top:4px'>sub-words: {tokens}</div>"
            + (f"<ul style='color:#a15c00'>{notes}</ul>" if notes else ""))


def sentiment_widget(model, tokenizer, *, example: str = "A charming, funny and heartfelt film.",
                     max_length: int = 128):
    """A text box wired to the classifier: the answer updates on every change, errors shown, never raised."""
    import ipywidgets as widgets

    box = widgets.Textarea(value=example, placeholder="Type a sentence…", layout=widgets.Layout(width="100%"))
    answer = widgets.HTML()

    def update(_change=None) -> None:
        try:
            answer.value = sentiment_html(box.value, model, tokenizer, max_length=max_length)
        except Exception as exc:  # a widget must never leave a traceback in the lesson
            answer.value = f"<span style='color:#b00'>Could not classify this text: {html.escape(str(exc))}</span>"

    box.observe(update, names="value")
    update()
    return widgets.VBox([box, answer])
