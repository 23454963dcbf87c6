"""Slides: every lesson tagged by the rule, and a static deck that loads nothing from the network."""
from __future__ import annotations

import base64
import importlib.util
import json
import re
import shutil
import struct
import sys
from pathlib import Path

import nbformat
import pytest
from _checks import needs_deck_assets

from curiolib.__main__ import main
from curiolib.classroom import slides as rule
from curiolib.classroom.catalog import NOTEBOOK_DIR, PROJECT_ROOT, find_lesson
from curiolib.classroom.deck import ASSETS, build_deck, deck_name
from curiolib.classroom.slides import (LONG_CELL_LINES, RISE_SETTINGS, TEACHERS_HEADING, is_plumbing, is_setup_cell,
                                    slide_types)
from curiolib.classroom.snapshot import NOTE

COMMITTED = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.mark.parametrize("path", COMMITTED, ids=[p.stem for p in COMMITTED])
def test_every_cell_carries_the_slide_type_the_rule_gives(path: Path) -> None:
    # An edited lesson that was not re-tagged fails here; `curiolib tag-slides` re-tags it.
    nb = json.loads(path.read_text())
    found = [cell["metadata"].get("slideshow", {}).get("slide_type") for cell in nb["cells"]]
    expected = slide_types(nb)
    wrong = [(index, got, want) for index, (got, want) in enumerate(zip(found, expected)) if got != want]
    assert not wrong, f"{path.name}: (cell, slide type, rule's) {wrong}; run `curiolib tag-slides`"
    assert all(set(cell["metadata"]["slideshow"]) == {"slide_type"} for cell in nb["cells"])
    assert nb["metadata"].get("rise") == RISE_SETTINGS, "RISE's settings (scrolling slides) are missing"


@pytest.mark.parametrize("path", COMMITTED, ids=[p.stem for p in COMMITTED])
def test_parameters_and_setup_are_skipped_and_the_teachers_notes_are_speaker_notes(path: Path) -> None:
    cells = json.loads(path.read_text())["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert code[0]["metadata"]["tags"] == ["parameters"] and is_setup_cell("".join(code[1]["source"]))
    assert [cell["metadata"]["slideshow"]["slide_type"] for cell in code[:2]] == ["skip", "skip"]
    assert cells[0]["metadata"]["slideshow"]["slide_type"] == "slide"
    teachers = [cell for cell in cells if "".join(cell["source"]).startswith(TEACHERS_HEADING)]
    assert len(teachers) == 1, f"{path.name} needs one '{TEACHERS_HEADING}' cell"
    assert teachers[0]["metadata"]["slideshow"]["slide_type"] == "notes"
    text = "".join(teachers[0]["source"])
    for part in ("**Time.**", "**On a Colab GPU.**", "**Change live.**", "**Where students stumble.**"):
        assert part in text, f"{path.name}: the teachers' notes lack {part}"
    assert re.search(r"\d+ s\b", text), f"{path.name}: the teachers' notes give no measured time"


def _notebook(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=list(cells))


def test_the_rule_on_a_small_notebook() -> None:
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    figure = code("plt.plot(x)", outputs=[nbformat.v4.new_output("display_data", {"image/png": "iVBOR",
                                                                                  "text/plain": "<Figure>"})])
    widget = code("explorer()", outputs=[nbformat.v4.new_output("execute_result", {
        "text/html": f"<div title='{NOTE}'><span>α <b>0.5</b></span></div>", "text/plain": "α = 0.5"})])
    progress = code("train(model)", outputs=[nbformat.v4.new_output("display_data", {
        "text/html": f"<div title='{NOTE}'><progress value='1' max='1'></progress></div>", "text/plain": "|█|"})])
    parameters = code("seed = 0")
    parameters.metadata["tags"] = ["parameters"]
    nb = _notebook(
        md("# 99 · A lesson"), parameters, code("env = setup_notebook(seed=seed)"),
        md("## 1. A section"), code("import numpy as np\nfrom x import y"), code("x = np.arange(3)\nx"),
        figure, md("A paragraph after code."), md("More prose."), code("def helper():\n    return 1"),
        code("record('a', 1)\nrecord('b', 2)"), md("### A sub-section"), widget, progress,
        code("\n".join(f"line_{i} = {i}" for i in range(LONG_CELL_LINES + 1))),
        md("<details><summary>Answer</summary>\n\n42\n</details>"), md(f"{TEACHERS_HEADING}\n\n- **Time.** 3 s"),
        nbformat.v4.new_raw_cell("raw"))
    assert slide_types(nb) == ["slide", "skip", "skip", "slide", "skip", "-", "fragment", "subslide", "-", "-",
                               "skip", "subslide", "fragment", "-", "subslide", "-", "notes", "skip"]


def test_plumbing_is_only_imports_or_only_records() -> None:
    assert is_plumbing("import sys\n%matplotlib inline\nfrom a import (b,\n    c)")
    # A lesson's own code is often only definitions (a LoRA layer, an update rule): the class must see it.
    assert not is_plumbing("import numpy as np\n\n\ndef f(x):\n    return np.exp(x)\n\n\nclass A:\n    pass")
    assert is_plumbing('record("f1", scores["f1"])')
    assert not is_plumbing("import numpy as np\nx = np.arange(3)")
    assert not is_plumbing('record("f1", f1)\nprint(f1)')
    assert not is_plumbing("")
    assert not is_plumbing("this is not python (")


def test_tag_slides_check_passes_on_the_committed_lessons() -> None:
    assert main(["tag-slides", "--check"]) == 0


_LOADED = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']|"""
                     r"""\bimport\s+[\w{}\s,*]*\bfrom\s+["']([^"']+)["']|"""
                     r"""(?:"|')([^"']+\.js)(?:"|')""")


@pytest.fixture(scope="module")
def deck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Lesson 01's deck (MathJax on most slides), built once for the tests below."""
    return build_deck("01", tmp_path_factory.mktemp("slides"))


@needs_deck_assets
def test_the_deck_loads_every_script_and_style_from_local_files(deck: Path) -> None:
    html = deck.read_text()
    loaded = [next(group for group in match.groups() if group) for match in _LOADED.finditer(html)]
    # What the template loads: jQuery, require.js, MathJax, reveal's CSS, theme, script and notes plugin.
    local = [url for url in loaded if url.startswith(ASSETS + "/")]
    assert len(local) >= 7, loaded
    remote = [url for url in loaded if re.match(r"(https?:)?//", url)]
    assert not remote, f"the deck loads from the network: {remote}"
    for url in local:
        assert (deck.parent / url.split("?")[0]).is_file(), f"{url} is referenced but was not copied"
    for css in (deck.parent / ASSETS).rglob("*.css"):  # a theme that imports its fonts from Google fails offline
        assert not re.search(r"@import\s+url\(\s*['\"]?(https?:)?//", css.read_text()), css
    assert "$$I(t+1)" in html and "MathJax.Hub.Config" in html, "the formulas or MathJax's set-up are missing"
    # MathJax fetches its parts as it needs them: every part its loader and the deck's configs name must be there.
    mathjax = deck.parent / ASSETS / "mathjax"
    named = {part for name in ("MathJax.js", "config/TeX-AMS_CHTML-full.js", "config/Safe.js")
             for part in re.findall(r"\[MathJax\]/([\w/.-]+\.js)", (mathjax / name).read_text())}
    assert len(named) > 10 and not sorted(part for part in named if not (mathjax / part).is_file())
    assert '<aside class="notes">' in html and "For teachers" in html
    assert NOTE in html, "the widgets' static snapshots are missing"


@needs_deck_assets
def test_the_deck_refuses_a_file_it_did_not_write_unless_asked(tmp_path: Path) -> None:
    lesson = find_lesson("00")
    mine = tmp_path / deck_name(lesson)
    mine.write_text("a teacher's own notes")
    with pytest.raises(ValueError, match="not written by"):
        build_deck(lesson, tmp_path)
    assert mine.read_text() == "a teacher's own notes"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / ASSETS).mkdir()
    (tmp_path / "other" / ASSETS / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not written by"):
        build_deck(lesson, tmp_path / "other")
    assert (tmp_path / "other" / ASSETS / "keep.txt").read_text() == "mine"
    assert build_deck(lesson, tmp_path, overwrite=True) == mine and "reveal.js" in mine.read_text()
    assert build_deck(lesson, tmp_path) == mine  # its own deck it replaces without asking
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary files were left"


def _png(width: int, height: int) -> str:
    """A base64 PNG header of the given size: all the rule reads of a figure."""
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR"
                            + struct.pack(">II", width, height) + bytes(40)).decode()


def _slides_of(cells: list, types: list[str]) -> list[list]:
    """The cells each slide and sub-slide shows, in order (skipped cells and speaker notes left out)."""
    groups: list[list] = []
    for cell, slide_type in zip(cells, types):
        if slide_type in ("skip", "notes"):
            continue
        if slide_type in ("slide", "subslide") or not groups:
            groups.append([])
        groups[-1].append(cell)
    return groups


def test_a_long_section_is_split_into_sub_slides_that_fit() -> None:
    # Lesson 01's "Fitting" and "An optimal share" needed scrolling: a section's cells were all on one slide.
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    paragraph = " ".join(["The model is fitted by least squares and the residuals are checked."] * 6)
    figure = code("plt.plot(x)\nplt.show()", outputs=[nbformat.v4.new_output(
        "display_data", {"image/png": _png(1000, 420), "text/plain": "<Figure>"})])
    printed = code("print(fit)", outputs=[nbformat.v4.new_output("stream", text="alpha 0.50\n" * 12)])
    cells = [md("# 99 · A lesson"), md("## 1. A long section\n\n" + paragraph), md(paragraph), md(paragraph),
             printed, figure, code("x = 1\ny = 2"), figure, printed]
    types = slide_types(_notebook(*cells))
    assert types[:2] == ["slide", "slide"] and "subslide" in types[2:], types
    for group in _slides_of(cells, types):
        height = sum(rule.estimate_height(cell) for cell in group)
        assert len(group) == 1 or height <= rule.SLIDE_BUDGET, (types, height)
    # a short section stays on one slide
    assert slide_types(_notebook(md("# 99"), md("## A short one\n\nText."), code("x = 1"))) == ["slide", "slide",
                                                                                                 "-"]


def test_the_height_estimate_counts_lines_figures_and_tables() -> None:
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    assert rule.estimate_height(code("x = 1\n" * 20)) == pytest.approx(2 * rule.estimate_height(code("x = 1\n" * 10))
                                                                        - rule._CODE_CELL)
    wide, small = (code("f()", outputs=[nbformat.v4.new_output("display_data", {"image/png": _png(*size)})])
                   for size in ((2474, 1000), (1237, 500)))
    assert rule.estimate_height(wide) == pytest.approx(rule.estimate_height(small))  # drawn at the slide's width
    tall = code("f()", outputs=[nbformat.v4.new_output("display_data", {"image/png": _png(800, 3000)})])
    assert rule.estimate_height(tall) < rule.SLIDE_HEIGHT  # the deck scales a tall figure down
    table = "".join(f"<tr><td>{i}</td><td>{i * 2}</td></tr>" for i in range(20))
    rows = code("df", outputs=[nbformat.v4.new_output("execute_result", {"text/html": f"<table>{table}</table>"})])
    assert rule.estimate_height(rows) > 20 * 30
    assert rule.estimate_height(md("## A\n\n" + "word " * 200)) > rule.estimate_height(md("## A\n\nword"))


def test_the_rule_and_the_deck_agree_on_sizes() -> None:
    # The estimate is of the deck's layout: its slide height, figure cap and small type are the deck's CSS.
    from curiolib.classroom import deck as decks

    assert int(decks.HEIGHT) == rule.SLIDE_HEIGHT and rule.SLIDE_BUDGET < rule.SLIDE_HEIGHT - 40
    assert f"max-height: {rule.FIGURE_MAX_HEIGHT}px" in decks.CSS and f".celltag_{rule.DENSE_TAG} " in decks.CSS


def test_a_cell_taller_than_a_slide_is_cut_for_the_deck_only() -> None:
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    long_source = "\n\n".join(f"# step {i}\nvalue_{i} = compute({i})\nshow(value_{i})" for i in range(20))
    tall = code(long_source, outputs=[
        nbformat.v4.new_output("display_data", {"image/png": _png(1000, 600), "text/plain": "<Figure>"}),
        nbformat.v4.new_output("stream", text="done\n")])
    sections = md("## 6. Results\n\nRead them.\n\n## On a Colab GPU\n\nSet this.\n\n### A detail\n\nMore.")
    nb = _notebook(md("# 99 · A lesson"), md("## 1. Steps"), tall, sections)
    for cell, slide_type in zip(nb.cells, slide_types(nb)):
        cell.metadata["slideshow"] = {"slide_type": slide_type}
    before = nbformat.writes(nb)
    fitted = rule.fit_to_slides(nb)
    assert nbformat.writes(nb) == before, "the lesson itself must not change"
    parts = [cell for cell in fitted.cells if cell.id.startswith(tall.id)]
    assert len(parts) >= 3 and parts[0].metadata.slideshow.slide_type == tall.metadata.slideshow.slide_type
    assert all(part.metadata.slideshow.slide_type == "subslide" for part in parts[1:])
    code_parts = [part for part in parts if not part.metadata.get("transient", {}).get("remove_source")]
    assert "\n\n".join(part.source for part in code_parts) == long_source  # cut between statements, nothing lost
    assert all(part.source.startswith("# step") for part in code_parts)
    assert [output for part in parts for output in part.outputs] == tall.outputs
    assert all(rule.estimate_height(part) <= rule.SLIDE_BUDGET or rule.DENSE_TAG in part.metadata.get("tags", [])
               for part in parts)
    split = [(cell.source.split("\n")[0], cell.metadata.slideshow.slide_type) for cell in fitted.cells
             if cell.id.startswith(sections.id)]
    assert split == [("## 6. Results", "slide"), ("## On a Colab GPU", "slide"), ("### A detail", "subslide")]


@pytest.mark.parametrize("path", COMMITTED, ids=[p.stem for p in COMMITTED])
def test_no_slide_of_a_lesson_is_taller_than_the_screen_by_the_estimate(path: Path) -> None:
    # A slide of several cells must fit 1280×720; a single cell taller than that is cut by the deck (above).
    cells = json.loads(path.read_text())["cells"]
    types = [cell["metadata"].get("slideshow", {}).get("slide_type", "-") for cell in cells]
    too_tall = [(cells.index(group[0]), round(sum(map(rule.estimate_height, group))))
                for group in _slides_of(cells, types)
                if len(group) > 1 and sum(map(rule.estimate_height, group)) > rule.SLIDE_BUDGET]
    assert not too_tall, f"{path.name}: (first cell, estimated px) {too_tall}; run `curiolib tag-slides`"


@pytest.mark.parametrize("path", COMMITTED, ids=[p.stem for p in COMMITTED])
def test_the_teachers_notes_are_on_the_first_slide(path: Path) -> None:
    # A notes cell goes with the slide it sits in: at the end, pressing S at the start of a lesson showed nothing.
    cells = json.loads(path.read_text())["cells"]
    assert "".join(cells[1]["source"]).startswith(TEACHERS_HEADING), f"{path.name}: cell 1 is not the notes"
    assert cells[1]["metadata"]["slideshow"]["slide_type"] == "notes"


def test_tag_slides_moves_the_teachers_notes_after_the_title() -> None:
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb = _notebook(md("# 99 · A lesson"), code("x = 1"), md("## 1. A section"), md(f"{TEACHERS_HEADING}\n\n- x"))
    assert rule.apply_slide_metadata(nb)
    assert [cell.source.split("\n")[0] for cell in nb.cells] == ["# 99 · A lesson", TEACHERS_HEADING, "x = 1",
                                                                  "## 1. A section"]
    assert rule.apply_slide_metadata(nb) == 0  # and leaves it there


@needs_deck_assets
def test_the_deck_keeps_headings_case_and_fits_code_and_printed_lines(deck: Path) -> None:
    # The theme's upper case made "FITTING Α AND Β"; code ran off the right edge; printed tables broke mid-word.
    html = deck.read_text()
    css = re.sub(r"/\*.*?\*/", "", html, flags=re.S)
    rule_for = {selector.strip(): body for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css)}
    headings = [body for selector, body in rule_for.items() if ".reveal .slides h2" in selector]
    assert headings and "text-transform: none" in headings[0]
    code = [body for selector, body in rule_for.items() if "div.highlight > pre" in selector.split(",")[0]]
    assert any("white-space: pre-wrap" in body and "overflow-wrap: anywhere" in body for body in code)
    printed = [body for selector, body in rule_for.items() if "jp-OutputArea-output > pre" in selector]
    assert any("word-break: normal" in body and "white-space: pre-wrap" in body for body in printed)
    assert 'class="jp-InputPrompt' not in html, "the In [n]: prompts take the code's width"
    assert "linebreaks: {automatic: false}" in html
    assert html.index("curiolib-dense") < html.index('id="theme"')  # our rules outrank the theme by their selectors


@needs_deck_assets
def test_the_decks_first_slide_carries_the_teachers_notes(deck: Path) -> None:
    # Pressing S on the title slide shows the notes: they are in its <section>, not the last one's.
    first = deck.read_text().split("<section", 2)[2].split("</section>")[0]
    assert '<aside class="notes">' in first and "For teachers" in first and "<strong>Time.</strong>" in first


def _browser_missing() -> str | None:
    if not shutil.which("chromium") and not Path("/usr/bin/chromium").exists():
        return "chromium"
    if not Path(CHROMEDRIVER).exists():
        return CHROMEDRIVER
    if importlib.util.find_spec("selenium") is None:
        return "selenium (not in this environment; PYTHONPATH can point at a venv that has it)"
    return None


@needs_deck_assets
@pytest.mark.skipif(_browser_missing() is not None,
                    reason=f"{_browser_missing()} is not installed: the decks' slides are not measured in a browser "
                           "(scripts/check_slide_heights.py does it by hand)")
def test_no_slide_of_any_deck_overflows_a_1280x720_screen(tmp_path: Path) -> None:
    # Every deck in one headless Chromium, network blocked, each slide measured after MathJax typesets it.
    spec = importlib.util.spec_from_file_location("check_slide_heights", PROJECT_ROOT / "scripts" /
                                                  "check_slide_heights.py")
    check = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = check  # its dataclass looks its module up there
    try:
        spec.loader.exec_module(check)
    finally:
        del sys.modules[spec.name]
    decks = check.build_decks([], tmp_path)
    driver = check.projector(CHROMEDRIVER)
    try:
        measured = [slide for deck in decks for slide in check.measure(driver, deck)]
    finally:
        driver.quit()
    assert len(measured) > 8 * 5
    over = [(slide.deck, slide.index, slide.title, slide.height, slide.wide) for slide in measured if slide.overflows]
    assert not over, f"slides taller than {measured[0].limit} px or cut off on the right: {over}"
