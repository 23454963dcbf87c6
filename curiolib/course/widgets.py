"""Interactive widgets for the lessons: type a sentence, see what the model makes of it."""
from __future__ import annotations

import html
import unicodedata

from ..finetune.inference import Entity, Prediction, classify, find_entities

#: Above this many characters the widget reads only the start (the model sees at most max_length tokens).
MAX_WIDGET_CHARS = 5_000


def _share_non_latin(text: str) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    return sum("LATIN" not in unicodedata.name(ch, "") for ch in letters) / len(letters)


def explain_input(text: str, prediction: Prediction | None, trained_on: str = "English reviews") -> list[str]:
    """Plain-language notes about input the model may handle badly (long, emoji, non-English, unknown tokens)."""
    notes = []
    if len(text) > MAX_WIDGET_CHARS:
        notes.append(f"Only the first {MAX_WIDGET_CHARS:,} of {len(text):,} characters were read.")
    if prediction is not None and prediction.truncated:
        notes.append(f"The model reads at most {len(prediction.tokens)} sub-word tokens; the rest was cut off.")
    if prediction is not None and "[UNK]" in prediction.tokens:
        notes.append("Some characters (emoji, rare scripts) are unknown to this vocabulary and became [UNK].")
    if _share_non_latin(text) > 0.3:
        notes.append(f"This model learned from {trained_on}: treat its answer on other languages with care.")
    return notes


def sentiment_html(text: str, model, tokenizer, *, max_length: int = 128, trained_on: str = "English reviews") -> str:
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
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in explain_input(text, prediction, trained_on))
    return (f"<b>{html.escape(prediction.label)}</b> ({prediction.confidence:.1%})"
            f"{bars}<div style='margin-top:4px'>sub-words: {tokens}</div>"
            + (f"<ul style='color:#a15c00'>{notes}</ul>" if notes else ""))


def _text_widget(render, example: str, failure: str):
    """A text box whose answer (``render(text)`` → HTML) updates on every change; errors shown, never raised."""
    import ipywidgets as widgets

    # Not 100 %: that plus the widget's margin overflows the cell and adds a horizontal scrollbar.
    box = widgets.Textarea(value=example, placeholder="Type a sentence…", layout=widgets.Layout(width="97%"))
    answer = widgets.HTML()

    def update(_change=None) -> None:
        try:
            answer.value = render(box.value)
        except Exception as exc:  # a widget must never leave a traceback in the lesson
            answer.value = f"<span style='color:#b00'>{failure}: {html.escape(str(exc))}</span>"

    box.observe(update, names="value")
    update()
    return widgets.VBox([box, answer])


def sentiment_widget(model, tokenizer, *, example: str = "A charming, funny and heartfelt film.",
                     max_length: int = 128, trained_on: str = "English reviews"):
    """A text box wired to the classifier: label, probability bars and sub-words, updated as you type."""
    return _text_widget(lambda text: sentiment_html(text, model, tokenizer, max_length=max_length,
                                                    trained_on=trained_on), example,
                        "Could not classify this text")


#: Highlight colours of the CoNLL types; other types take the spare colours in turn.
ENTITY_COLOURS = {"PER": "#ffd6a5", "ORG": "#a0c4ff", "LOC": "#caffbf", "MISC": "#ffc6ff"}
SPARE_COLOURS = ("#fdffb6", "#9bf6ff", "#bdb2ff", "#ffadad")


def entity_colour(kind: str, known: list[str] | tuple[str, ...] = ()) -> str:
    """The highlight colour of an entity type (stable for the CoNLL types)."""
    if kind in ENTITY_COLOURS:
        return ENTITY_COLOURS[kind]
    others = sorted(set(known) - set(ENTITY_COLOURS) | {kind})
    return SPARE_COLOURS[others.index(kind) % len(SPARE_COLOURS)]


def highlight_entities_html(text: str, entities: list[Entity], types: list[str] | None = None) -> str:
    """The text with each entity marked in its type's colour (score on hover), then a legend of the types."""
    types = list(types or ENTITY_COLOURS)
    parts, position = [], 0
    for entity in sorted(entities, key=lambda e: e.start):
        if entity.start < position:
            continue  # overlapping windows of a long text can report an entity twice
        colour = entity_colour(entity.type, types)
        parts.append(html.escape(text[position:entity.start]))
        parts.append(f"<mark style='background:{colour};padding:0 2px;border-radius:3px' "
                     f"title='{html.escape(entity.type)} {entity.score:.0%}'>"
                     f"{html.escape(text[entity.start:entity.end])}"
                     # the type on the line at 0.9em, not a 0.7em subscript: readable from a projector's back row
                     f" <b style='font-size:0.9em'>{html.escape(entity.type)}</b></mark>")
        position = entity.end
    parts.append(html.escape(text[position:]))
    legend = " ".join(f"<mark style='background:{entity_colour(kind, types)};padding:0 4px'>{html.escape(kind)}</mark>"
                      for kind in dict.fromkeys(types + [e.type for e in entities]))
    return f"<div style='line-height:1.9'>{''.join(parts)}</div><div style='margin-top:4px'>types: {legend}</div>"


def entities_html(text: str, model, tokenizer, *, trained_on: str = "English text") -> str:
    """HTML for the NER widget: the highlighted text, a table of the entities and any caveats."""
    if not text or not text.strip():
        return "<i>Type a sentence above to see the names, organisations and places the model finds.</i>"
    shown = text[:MAX_WIDGET_CHARS]
    entities = find_entities(shown, model, tokenizer)[0]
    types = [label[2:] for label in model.config.id2label.values() if label[:2] in ("B-", "I-")]
    found = "".join(f"<li>{html.escape(e.text)} — {html.escape(e.type)}, {e.score:.0%}, characters "
                    f"{e.start}–{e.end}</li>" for e in entities[:50])
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in explain_input(text, None, trained_on))
    if any(token == tokenizer.unk_token for token in tokenizer.tokenize(shown[:2000])):
        notes += ("<li>Some characters (emoji, rare scripts) are unknown to this vocabulary and became "
                  "[UNK].</li>")
    return (highlight_entities_html(shown, entities, list(dict.fromkeys(types)))
            + (f"<ul>{found}</ul>" if entities else "<p>No entities found.</p>")
            + (f"<ul style='color:#a15c00'>{notes}</ul>" if notes else ""))


def ner_widget(model, tokenizer, *, example: str = "Angela Merkel met Tim Cook at the Apple office in Berlin.",
               trained_on: str = "English text"):
    """A text box wired to the NER model: entities highlighted inline by type, updated as you type."""
    return _text_widget(lambda text: entities_html(text, model, tokenizer, trained_on=trained_on), example,
                        "Could not tag this text")
