"""Slides: every lesson tagged by the rule, and a static deck that loads nothing from the network."""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from _checks import needs_deck_assets

from curiolib.__main__ import main
from curiolib.course.catalog import NOTEBOOK_DIR, find_lesson
from curiolib.course.deck import ASSETS, build_deck, deck_name
from curiolib.course.slides import (LONG_CELL_LINES, RISE_SETTINGS, TEACHERS_HEADING, is_plumbing, is_setup_cell,
                                    slide_types)
from curiolib.course.snapshot import NOTE

COMMITTED = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


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
    assert slide_types(nb) == ["slide", "skip", "skip", "slide", "skip", "-", "fragment", "subslide", "-", "skip",
                               "skip", "subslide", "fragment", "-", "subslide", "-", "notes", "skip"]


def test_plumbing_is_only_imports_only_definitions_or_only_records() -> None:
    assert is_plumbing("import sys\n%matplotlib inline\nfrom a import (b,\n    c)")
    assert is_plumbing("import numpy as np\n\n\ndef f(x):\n    return np.exp(x)\n\n\nclass A:\n    pass")
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
