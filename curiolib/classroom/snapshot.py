"""A widget's last state as static HTML, so a reader without a kernel (GitHub, nbviewer) sees what it showed.

A widget output in a saved notebook is only a reference (``model_id``) into the notebook's widget state; with
no kernel and no widget manager it renders as ``VBox(children=…)``, and a progress bar as its first frame,
"0%". After a run, `snapshot_widgets` replaces each reference by the HTML of its last state (sliders at their
values, the text typed, the figure drawn, the bar at 100%) and drops the widget state it no longer needs.
Re-running the cell brings the live widget back.
"""
from __future__ import annotations

import html
import re
from typing import Any

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
NOTE = "static snapshot of a widget: run the cell for the live one"
_SLIDERS = {"IntSlider", "FloatSlider", "FloatLogSlider", "IntRangeSlider", "FloatRangeSlider", "SelectionSlider"}
_CHOICES = {"Dropdown", "RadioButtons", "ToggleButtons", "Select", "SelectionSlider"}


def _model(states: dict, ref: str) -> tuple[str, dict]:
    entry = states.get(ref.removeprefix("IPY_MODEL_"), {})
    state = dict(entry.get("state", {}))
    for buffer in entry.get("buffers", []):  # binary values (an Image's bytes) are stored apart, base64
        state[buffer["path"][0]] = buffer["data"]
    return entry.get("model_name", "").removesuffix("Model"), state


def _value_text(kind: str, state: dict) -> str:
    if kind in _CHOICES:
        labels, index = state.get("_options_labels", []), state.get("index")
        return str(labels[index]) if isinstance(index, int) and index < len(labels) else ""
    value = state.get("value")
    if isinstance(value, float):
        return format(value, state.get("readout_format", ".3g"))
    if isinstance(value, list):
        return "–".join(format(v, state.get("readout_format", "g")) for v in value)
    return str(value)


def _progress_text(value: float, maximum: float, width: int = 10) -> str:
    filled = round(width * value / maximum) if maximum else 0
    return "█" * filled + " " * (width - filled)


def _caption_after(states: dict, children: list[str], index: int) -> str | None:
    """The text of a figure caption (`slider_plot`'s) right after child ``index``, or None."""
    from ..course.sliders import CAPTION_CLASS

    if index + 1 < len(children):
        kind, state = _model(states, children[index + 1])
        if kind == "HTML" and CAPTION_CLASS in state.get("value", ""):
            return html.unescape(_strip_tags(state["value"])).strip()
    return None


def render(states: dict, ref: str, alt: str | None = None) -> tuple[str, str]:
    """The (HTML, plain text) of one widget in ``states`` (a notebook's widget state), children included; ``alt``
    is an image's description (the caption under it)."""
    kind, state = _model(states, ref)
    label = html.escape(state.get("description", "") or "")
    if kind in ("VBox", "HBox", "Box", "GridBox"):
        # Read right with its styles partly or wholly stripped: JupyterLab's sanitiser (RISE shows the snapshot
        # through it) keeps `display` and margins but drops `flex-direction` and `gap`, and GitHub drops every
        # style. So a column is plain blocks (no flex, which turned it into one row), and a row's items are set
        # apart by their own margins (not the row's gap); with no styles at all each item is a line of its own.
        children = state.get("children", [])
        parts = [render(states, child, alt=_caption_after(states, children, index))
                 for index, child in enumerate(children)]
        if kind == "HBox":
            body = "".join(f"<div style='margin-right:1.5em'>{part}</div>" for part, _ in parts)
            return (f"<div style='display:flex;flex-direction:row;flex-wrap:wrap'>{body}</div>",
                    " ".join(text for _, text in parts if text))
        body = "".join(f"<div style='margin-bottom:6px'>{part}</div>" for part, _ in parts)
        return f"<div>{body}</div>", "\n".join(text for _, text in parts if text)
    if kind in ("HTML", "HTMLMath"):  # the widget shows this HTML itself
        value = state.get("value", "")
        return value, html.unescape(_strip_tags(value)).replace("\u2007", " ")
    if kind == "Label":
        return html.escape(state.get("value", "")), state.get("value", "")
    if kind in _SLIDERS or kind in _CHOICES or kind.endswith("Text") or kind == "Checkbox":
        value = _value_text(kind, state)
        return (f"<span>{label} <b>{html.escape(value)}</b></span>" if label else f"<b>{html.escape(value)}</b>",
                f"{state.get('description', '')} = {value}".strip(" ="))
    if kind == "Textarea":
        value = state.get("value", "")
        return (f"<pre style='border:1px solid #ccc;padding:4px;white-space:pre-wrap'>{html.escape(value)}</pre>",
                value)
    if kind in ("FloatProgress", "IntProgress"):
        value, maximum = float(state.get("value", 0)), float(state.get("max", 100))
        return (f"<progress value='{value:g}' max='{maximum:g}'></progress>",
                f"|{_progress_text(value, maximum)}|")
    if kind == "Button":
        return f"<button disabled>{label}</button>", f"[{state.get('description', '')}]"
    if kind == "Image":
        image_format = html.escape(state.get("format", "png"))
        text = alt or state.get("tooltip") or "a figure"
        return (f"<img src='data:image/{image_format};base64,{state.get('value', '')}' "
                f"alt='{html.escape(text, quote=True)}' style='max-width:100%'/>", "[figure]")
    if kind == "Output":
        parts = [_output_html(output) for output in state.get("outputs", [])]
        return "".join(part for part, _ in parts), "\n".join(text for _, text in parts if text)
    return f"<code>{html.escape(kind or 'widget')}</code>", ""


def _output_html(output: dict) -> tuple[str, str]:
    if output.get("output_type") == "stream":
        text = output.get("text", "")
        return f"<pre>{html.escape(text)}</pre>", text
    data = output.get("data", {})
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            return f"<img src='data:{mime};base64,{data[mime]}' style='max-width:100%'/>", "[figure]"
    if "text/html" in data:
        return _joined(data["text/html"]), _joined(data.get("text/plain", ""))
    text = _joined(data.get("text/plain", ""))
    return f"<pre>{html.escape(text)}</pre>", text


def _joined(value: str | list[str]) -> str:
    return "".join(value) if isinstance(value, list) else value


def _strip_tags(value: str) -> str:
    return re.sub(r"<[^>]+>", "", value)


def _is_progress_bar(states: dict, ref: str) -> bool:
    kind, state = _model(states, ref)
    return kind == "HBox" and any(_model(states, child)[0].endswith("Progress") for child in state.get("children", []))


def _tqdm_line(states: dict, ref: str) -> str:
    """A tqdm bar's last state in tqdm's own format: ``desc: 100%|██████████| 8/8 [00:01<00:00]``."""
    return "".join(render(states, child)[1] for child in _model(states, ref)[1].get("children", []))


def snapshot_widgets(nb: Any) -> int:
    """Replace every widget output of ``nb`` (an nbformat notebook) by its last state's HTML; how many."""
    states = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    replaced = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                continue
            body, text = render(states, view["model_id"]) if states else ("", "")
            if _is_progress_bar(states, view["model_id"]):
                # As tqdm prints it in a terminal, text only: the same line a re-run's output carries (nbval
                # compares the two), and nothing for a slide to wait on
                output["data"] = {"text/plain": _tqdm_line(states, view["model_id"])}
                replaced += 1
                continue
            if not body:  # no state saved (a run without widget state): say so rather than show a repr
                body, text = "<i>widget: run the cell to see it</i>", "(widget: run the cell to see it)"
            output["data"] = {"text/html": f"<div title='{NOTE}'>{body}</div>", "text/plain": text}
            replaced += 1
    nb.metadata.pop("widgets", None)
    return replaced
