"""Figures a back row can read and a screen reader can describe (#39): sizes, line styles, alt text."""
from __future__ import annotations

import base64
import html
import re
import struct

import matplotlib
import nbformat
import pytest

from curiolib._figures import (LINE_STYLES, MAX_FIGURE_PIXELS, describe, description, figure_html,
                               projector_style)
from curiolib.classroom.catalog import LESSONS
from curiolib.classroom.snapshot import NOTE

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

IMAGE_IN_HTML = re.compile(r"""<img\b[^>]*src=["']data:image/png;base64,([A-Za-z0-9+/=]+)["'][^>]*>""")


def _width(png_base64: str) -> int:
    head = base64.b64decode(png_base64[:64] + "=" * (-len(png_base64[:64]) % 4))
    return struct.unpack(">I", head[16:20])[0]


def _committed_outputs():
    for lesson in LESSONS:
        nb = nbformat.read(lesson.path, as_version=4)
        for index, cell in enumerate(nb.cells):
            for output in cell.get("outputs", []):
                yield lesson.stem, index, cell, output


def _joined(value) -> str:
    return "".join(value) if isinstance(value, list) else value


def test_every_committed_figure_fits_jupyterlabs_output_width_at_a_projectors_resolution() -> None:
    # JupyterLab gives an output 813 px in a 1280-px window (file browser open); a wider image is shrunk, text too.
    too_wide = []
    for stem, index, _, output in _committed_outputs():
        data = output.get("data", {})
        images = ([_joined(data["image/png"])] if "image/png" in data else []) \
            + IMAGE_IN_HTML.findall(_joined(data.get("text/html", "")))
        too_wide += [(stem, index, _width(image)) for image in images if _width(image) > MAX_FIGURE_PIXELS]
    assert not too_wide, f"(lesson, cell, width px) wider than {MAX_FIGURE_PIXELS}: {too_wide}"


def test_every_committed_figure_carries_a_description_readers_and_screen_readers_are_shown() -> None:
    missing = []
    for stem, index, _, output in _committed_outputs():
        data = output.get("data", {})
        page = _joined(data.get("text/html", ""))
        if "image/png" in data:
            alts = re.findall(r'<img\b[^>]*\balt="([^"]*)"', page)
            if not alts or len(html.unescape(alts[0]).split()) < 4:
                missing.append((stem, index, "figure"))
        for tag in re.findall(r"<img\b[^>]*>", page) if NOTE in page else []:
            alt = re.search(r"""\balt=['"]([^'"]*)['"]""", tag)
            if alt is None or len(html.unescape(alt.group(1)).split()) < 4:
                missing.append((stem, index, "widget"))
    assert not missing, f"(lesson, cell, kind) with no description: {missing}"


def test_every_committed_widget_snapshot_cell_is_left_out_of_nbvals_comparison() -> None:
    # A re-run shows the live widget where the file holds its snapshot: nbval must not compare the two.
    untagged = sorted({(stem, index) for stem, index, cell, output in _committed_outputs()
                       if NOTE in _joined(output.get("data", {}).get("text/html", ""))
                       and "nbval-ignore-output" not in cell.metadata.get("tags", [])})
    assert not untagged, f"(lesson, cell) showing a widget snapshot without the nbval-ignore-output tag: {untagged}"


def test_the_projector_style_tells_lines_apart_by_style_as_well_as_by_colour() -> None:
    with matplotlib.rc_context():
        projector_style()
        fig, ax = plt.subplots()
        lines = [ax.plot([0, 1], [i, i])[0] for i in range(len(LINE_STYLES))]
        # an explicit colour (as the lessons' fits pass) still takes the next line style
        coloured = [ax.plot([0, 1], [i, i], color="C0")[0] for i in range(3)]
        plt.close(fig)
        assert matplotlib.rcParams["legend.fontsize"] >= 10 and matplotlib.rcParams["font.size"] >= 11
    assert len({line.get_linestyle() for line in lines[:4]}) == 4  # solid, dashed, dash-dot, dotted
    assert len({line.get_color() for line in lines}) == len(lines)
    assert len({line.get_linestyle() for line in coloured}) == 3


def test_a_figure_is_shown_as_an_image_with_its_description_or_one_made_from_its_labels() -> None:
    fig, (left, right) = plt.subplots(1, 2)
    left.plot([0, 1], [0, 1], label="AdamW")
    left.set(title="loss", xlabel="step", ylabel="MSE")
    describe(right, "A heatmap of counts, true label down the side.")
    assert description(fig) == ("loss: MSE against step, one line each for AdamW. "
                                "A heatmap of counts, true label down the side.")
    describe(fig, "Two panels: the loss and the confusion matrix.")
    page = figure_html(fig)
    plt.close(fig)
    assert 'alt="Two panels: the loss and the confusion matrix."' in page
    assert _width(IMAGE_IN_HTML.search(page).group(1)) > 100
    with pytest.raises(ValueError, match="text"):
        describe(fig, "   ")


def test_the_ner_highlighter_writes_entity_types_large_enough_for_a_projector() -> None:
    from curiolib.course.widgets import highlight_entities_html
    from curiolib.finetune.inference import Entity

    page = highlight_entities_html("Angela Merkel visited Berlin.", [Entity("Angela Merkel", "PER", 0.99, 0, 13)])
    sizes = [float(size) for size in re.findall(r"font-size:\s*([\d.]+)em", page)]
    assert "PER" in page and all(size >= 0.9 for size in sizes)


def test_say_wraps_at_spaces_keeps_short_lines_and_indents_a_continuation(capsys) -> None:
    from curiolib import TEXT_WIDTH, say

    say("short line\n  " + "word " * 40 + "\n" + "x" * (TEXT_WIDTH + 5))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "short line" and lines[-1] == "x" * (TEXT_WIDTH + 5)  # one word is never cut
    wrapped = lines[1:-1]
    assert len(wrapped) == 3 and all(len(line) <= TEXT_WIDTH for line in wrapped)
    assert wrapped[0].startswith("  word") and all(line.startswith("    word") for line in wrapped[1:])
    assert " ".join(line.strip() for line in wrapped) == ("word " * 40).strip()


def test_every_printed_line_of_a_committed_lesson_fits_the_output_width() -> None:
    # JupyterLab breaks a longer line mid-word ("(tw/o)", "data onl/y"); a DataFrame shown as HTML is not text.
    from curiolib import TEXT_WIDTH
    from curiolib.course.source import CODE_WIDTH

    long = []
    for stem, index, _, output in _committed_outputs():
        data = output.get("data", {})
        width = TEXT_WIDTH
        if output.get("output_type") == "stream":
            text = _joined(output.get("text", ""))
        elif 'class="highlight"' in _joined(data.get("text/html", "")):  # show_source's code block
            text, width = _joined(data.get("text/plain", "")), CODE_WIDTH
        elif "text/html" in data or "image/png" in data:
            continue
        else:
            text = _joined(data.get("text/plain", ""))
        long += [(stem, index, len(line), width) for line in text.split("\n") if len(line) > width]
    assert not long, f"(lesson, cell, characters, the most allowed) of lines too long: {long}"


def test_every_function_a_lesson_shows_has_source_lines_within_the_code_width() -> None:
    # From the library's source, so that a long line is caught before the lessons are re-executed.
    import inspect

    import curiolib
    from curiolib.course.source import CODE_WIDTH

    shown = set()
    for lesson in LESSONS:
        for cell in nbformat.read(lesson.path, as_version=4).cells:  # markdown too: "`show_source(train)`"
            shown |= set(re.findall(r"show_source\((\w+)\)", cell.source))
    assert {"training_step", "align_labels_with_tokens", "run_effort_split", "train"} <= shown
    long = []
    for name in sorted(shown):
        lines, start = inspect.getsourcelines(inspect.unwrap(getattr(curiolib, name)))
        long += [(name, start + i, len(line.rstrip("\n"))) for i, line in enumerate(lines)
                 if len(line.rstrip("\n")) > CODE_WIDTH]
    assert not long, f"(function, line, characters) longer than {CODE_WIDTH}: {long}"
