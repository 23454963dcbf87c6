"""Slide metadata for the lessons: one rule, in code, decides every cell's slide type.

A teacher presents a lesson with RISE (JupyterLab, live kernel) or as a static reveal.js deck
(`curiolib slides`). Both read ``cell.metadata["slideshow"]["slide_type"]``. The types come from
`slide_types`, never by hand, so a lesson that is edited and not re-tagged fails the tests
(`curiolib tag-slides` re-tags it).

The rule, cell by cell:

- markdown: the title (``# ``) and each ``## `` section start a slide, each ``### `` a sub-slide (a
  vertical slide under its section); ``## For teachers`` becomes speaker notes, seen in the speaker view
  and not on the projector; a paragraph that follows code starts a sub-slide, since it opens a new step
  of the argument; any other paragraph continues the slide it follows (so an exercise and its
  ``<details>`` answers stay together);
- code: the ``parameters`` cell, the setup cell and plumbing (only imports, only ``record(...)`` calls)
  are skipped: they are how the notebook runs, not what it teaches. A cell of function or class
  definitions is shown: in these lessons it is the lesson's own code (a LoRA layer, an update rule, the
  essay's dataset class), written out before the library takes over. A cell longer than
  `LONG_CELL_LINES` lines starts a sub-slide of its own, so it does not push its explanation off the
  screen; a cell that draws a figure or shows a widget (not a mere progress bar) is a fragment (it
  appears on the next key press, after the teacher has said what to look for); every other cell
  continues its slide;
- height: a cell that would continue or be a fragment of a slide starts a sub-slide instead when the slide's
  running height (`estimate_height`: lines of text and code, figures by their pixel size, table rows, as the
  static deck draws them) would pass `SLIDE_BUDGET`, so no slide needs scrolling on a 1280×720 projector;
- the ``## For teachers`` cell sits right after the title cell (`curiolib tag-slides` moves it there): a notes
  cell belongs to the slide it is in, so its notes are the first slide's, where the teacher presses S;
- a markdown cell that opens with ``**For teachers:**`` is speaker notes too, for the slide it sits on: a
  section's notes go right after its heading, where the teacher needs them.

A single cell taller than a slide cannot be split by metadata; the static deck cuts it (`fit_to_slides`), and
RISE scrolls it. scripts/check_slide_heights.py measures every deck's slides in Chromium.
"""
from __future__ import annotations

import ast
import base64
import math
import re
import struct
from copy import deepcopy
from pathlib import Path
from typing import Any

from .._files import writing_atomically

SLIDE, SUBSLIDE, FRAGMENT, CONTINUE, SKIP, NOTES = "slide", "subslide", "fragment", "-", "skip", "notes"
#: A code cell longer than this does not fit under its explanation on a slide at reveal's font size.
LONG_CELL_LINES = 20
#: The heading of each lesson's notes for the teacher: speaker notes, not a slide the class sees.
TEACHERS_HEADING = "## For teachers"
#: How a section's own speaker notes open: the cell is notes for the slide it sits on.
SECTION_NOTES = "**For teachers:**"
#: Notebook-level settings RISE reads: lessons have tall figures and tables, so a slide scrolls, not clips; the
#: "white" theme's fonts ship with RISE, where its default "simple" fetches them from Google Fonts (offline: no).
#: RISE inserts "overlay" into the slideshow page as it is: CSS that travels inside the notebook (a rise.css beside
#: it would not follow `curiolib run`'s copies). It hides JupyterLab's "Click to add a cell." button (RISE drew it
#: at the top of every slide, over the text) and keeps headings' case (upper case turned α and β into A and B).
RISE_SETTINGS = {"scroll": True, "theme": "white",
                 "overlay": "<style>.reveal .jp-Notebook-footer{display:none}"
                            ".reveal{--r-heading-text-transform:none}</style>"}
_FIGURES = ("image/png", "image/svg+xml", "image/jpeg")

#: The static deck's slide as reveal lays it out before scaling it to the screen (`deck.HEIGHT`): content taller
#: than this needs scrolling on any screen, a 1280×720 projector included.
SLIDE_HEIGHT = 800
#: What one slide's cells may fill by `estimate_height`: the slide less reveal's 40 px of padding, less a margin
#: for the estimate's error (fonts differ between machines). scripts/check_slide_heights.py measures the result in
#: Chromium.
SLIDE_BUDGET = 720
#: The tag `fit_to_slides` gives a deck's cell that still does not fit a slide: deck.CSS sets it in smaller type.
DENSE_TAG = "curiolib-dense"
#: The tallest a figure is drawn in a deck (deck.CSS scales a taller one down): with its padding it fills a slide.
FIGURE_MAX_HEIGHT = 640

# The deck's layout in pixels of its 1280-pixel slide, measured in Chromium with deck.CSS (DejaVu fonts, wider than
# most): a cell's content is 1237 px wide; a line of markdown text takes 26 px (32 in a list or table) and holds
# about 120 characters; a heading of level 1, 2, 3 takes 60, 38, 31 px a line, holds 40, 65, 80 characters, plus
# its margins; code (18 px) takes 21.6 px a line of 112 characters; printed text (16 px) 19.2 px a line of 128; a
# <details> answer counts closed (opened in class, the slide scrolls); reveal pads a slide by 40 px.
_CONTENT_WIDTH = 1237
_HEADINGS = {1: (60, 50, 40), 2: (38.4, 39, 65), 3: (31.2, 36, 80), 4: (26, 30, 100)}
_TEXT_LINE, _TEXT_CHARS, _PARAGRAPH_MARGIN = 26, 120, 40
_LIST_LINE, _LIST_CHARS, _LIST_MARGIN = 32, 105, 40
_TABLE_ROW, _TABLE_WRAP, _TABLE_CHARS, _TABLE_MARGIN = 33, 23, 115, 10
_DISPLAY_MATH, _TALL_MATH = 70, 100
_DETAILS = 42
_CODE_LINE, _CODE_CHARS = 21.6, 112
_OUTPUT_LINE, _OUTPUT_CHARS, _OUTPUT_PAD = 19.2, 128, 13
_FIGURE_PAD = 55
_MARKDOWN_CELL, _CODE_CELL = 10, 37


def _source(cell: Any) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _statements(source: str) -> list[ast.stmt] | None:
    """The top-level statements of a code cell (IPython magics and shell lines blanked), None if not Python."""
    lines = [line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line
             for line in source.splitlines()]
    try:
        return [node for node in ast.parse("\n".join(lines)).body if not isinstance(node, ast.Pass)]
    except SyntaxError:
        return None


def _is_record_call(node: ast.stmt) -> bool:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name) and node.value.func.id == "record")


def is_plumbing(source: str) -> bool:
    """True for a code cell that only imports or only records numbers."""
    statements = _statements(source)
    if not statements:
        return False
    if all(isinstance(node, (ast.Import, ast.ImportFrom)) for node in statements):
        return True
    return all(_is_record_call(node) for node in statements)


def is_setup_cell(source: str) -> bool:
    """True for the shared cell that installs curiolib on Colab and calls `setup_notebook`."""
    return "setup_notebook(" in source


def _shows_a_figure(cell: Any) -> bool:
    from .snapshot import NOTE

    for output in cell.get("outputs", []):
        data = output.get("data", {})
        html = data.get("text/html", "")
        html = "".join(html) if isinstance(html, list) else html
        # A training cell's progress bar is a widget too, but not what the class should wait for.
        if any(mime in data for mime in _FIGURES) or (NOTE in html and "<progress" not in html):
            return True
    return False


def _markdown_type(source: str, previous: Any | None) -> str:
    text = source.lstrip()
    if text.startswith((TEACHERS_HEADING, SECTION_NOTES)):
        return NOTES
    if text.startswith(("# ", "## ")):
        return SLIDE
    if text.startswith("###"):
        return SUBSLIDE
    if text.startswith("<details"):  # answers belong on their exercise's slide
        return CONTINUE
    return SUBSLIDE if previous is not None and previous.get("cell_type") == "code" else CONTINUE


def _code_type(cell: Any) -> str:
    source = _source(cell)
    if "parameters" in cell.get("metadata", {}).get("tags", []) or is_setup_cell(source) or is_plumbing(source):
        return SKIP
    if len(source.splitlines()) > LONG_CELL_LINES:
        return SUBSLIDE
    return FRAGMENT if _shows_a_figure(cell) else CONTINUE


def _lines(text: str, chars: int) -> int:
    """How many lines ``text`` wraps to at ``chars`` characters a line (at least one)."""
    return max(1, math.ceil(len(text) / chars))


_TEX_COMMAND = re.compile(r"\\[a-zA-Z]+")
_MARKUP = re.compile(r"[`*_{}$^]|<[^>]+>|\]\([^)]*\)")


def _visible(text: str) -> str:
    """Markdown source as roughly the characters it renders: a TeX command is one symbol, markup none."""
    return _MARKUP.sub("", _TEX_COMMAND.sub("x", " ".join(text.split())))


def _markdown_blocks(source: str) -> list[str]:
    """A markdown cell's blocks: headings, paragraphs, lists, tables, display math, fenced code, <details>."""
    blocks: list[str] = []
    current: list[str] = []
    closing = None  # what ends the fenced block, <details> or display formula being read

    def flush() -> None:
        if current:
            blocks.append("\n".join(current))
            current.clear()

    for line in source.splitlines():
        stripped = line.strip()
        if closing is not None:
            current.append(line)
            if closing in stripped:
                if closing != "$$":
                    flush()
                closing = None
        elif stripped.startswith("```"):
            flush()
            current.append(line)
            closing = "```"
        elif stripped.startswith("<details"):
            flush()
            current.append(line)
            closing = "</details>"
            if "</details>" in stripped:
                flush()
                closing = None
        elif stripped.startswith("$$"):
            current.append(line)
            closing = "$$" if stripped.count("$$") == 1 else None
        elif not stripped:
            flush()
        elif stripped.startswith("#"):  # a heading is a block of its own, blank line or not
            flush()
            blocks.append(line)
        else:
            current.append(line)
    flush()
    return blocks


def _block_height(block: str) -> float:
    text = block.strip()
    if text.startswith("#"):
        level = len(text) - len(text.lstrip("#"))
        line, margin, chars = _HEADINGS.get(level, _HEADINGS[4])
        return line * _lines(_visible(text.lstrip("#")), chars) + margin
    if text.startswith("<details"):  # shown closed: its summary line only
        return _DETAILS
    if text.startswith("```"):
        return _CODE_LINE * max(1, len(text.splitlines()) - 2) + _PARAGRAPH_MARGIN
    rows = text.splitlines()
    if all(row.lstrip().startswith("|") for row in rows):
        return _table_height([[_visible(cell) for cell in row.strip().strip("|").split("|")]
                              for row in rows if not set(row) <= set("|-: ")]) + _PARAGRAPH_MARGIN
    math_height = 0.0
    for formula in re.findall(r"\$\$(.+?)\$\$", text, re.S):  # display math, a block of its own in the deck
        math_height += _TALL_MATH if re.search(r"\\(?:frac|tfrac|sum|prod|int|Big|begin)", formula) else _DISPLAY_MATH
    text = re.sub(r"\$\$(.+?)\$\$", "", text, flags=re.S).strip()
    if not text:
        return math_height
    items = re.split(r"\n\s*(?:[-*+]|\d+[.)])\s+", "\n" + text)
    if re.match(r"\s*(?:[-*+]|\d+[.)])\s+", text):  # a list: each item starts a line
        return math_height + sum(_LIST_LINE * _lines(_visible(item), _LIST_CHARS) for item in items if item.strip()) \
            + _LIST_MARGIN
    return math_height + _TEXT_LINE * _lines(_visible(text), _TEXT_CHARS) + _PARAGRAPH_MARGIN


def _image_size(data: str, mime: str) -> tuple[int, int] | None:
    """The pixel size of a base64 PNG or JPEG, or of an SVG's width and height attributes."""
    try:
        if mime == "image/png":
            head = base64.b64decode(data[:64].strip() + "=" * (-len(data[:64].strip()) % 4))
            width, height = struct.unpack(">II", head[16:24])
            return width, height
        if mime == "image/jpeg":
            raw = base64.b64decode(data)
            at = 2
            while at < len(raw) - 9:
                marker, length = raw[at + 1], struct.unpack(">H", raw[at + 2:at + 4])[0]
                if marker in (0xC0, 0xC1, 0xC2):
                    height, width = struct.unpack(">HH", raw[at + 5:at + 9])
                    return width, height
                at += 2 + length
        if mime == "image/svg+xml":
            found = [re.search(rf'{name}="([\d.]+)(?:pt|px)?"', data) for name in ("width", "height")]
            if all(found):
                return int(float(found[0].group(1))), int(float(found[1].group(1)))
            return _CONTENT_WIDTH, FIGURE_MAX_HEIGHT  # an SVG without a size fills the width
    except (ValueError, struct.error, IndexError):
        pass
    return None


def _figure_height(size: tuple[int, int] | None, width: int = _CONTENT_WIDTH) -> float:
    if size is None:  # data no browser can draw either: a broken-image icon
        return _TEXT_LINE
    scale = min(1.0, width / size[0]) if size[0] else 1.0
    return min(size[1] * scale, FIGURE_MAX_HEIGHT)


_BLOCK_TAG = re.compile(r"<(?:div|p|br|li|tr|h\d|pre)\b[^>]*>", re.I)
_DIV = re.compile(r"<(/?)div\b", re.I)


def _rows_as_lines(html: str) -> str:
    """``html`` with the boxes inside a flex row (a widget snapshot's HBox) made inline: a row is one line."""
    out, depth, row_depth = [], 0, None
    at = 0
    for tag in _DIV.finditer(html):
        out.append(html[at:tag.start()])
        at = tag.end()
        closing = bool(tag.group(1))
        if closing:
            depth -= 1
            if row_depth is not None and depth < row_depth:
                row_depth = None
            out.append("</span" if row_depth is not None and depth >= row_depth else tag.group(0))
            continue
        inside = row_depth is not None
        out.append("<span" if inside else tag.group(0))
        depth += 1
        if not inside and re.match(r"[^>]*flex-direction:\s*row", html[tag.end():]):
            row_depth = depth
    out.append(html[at:])
    return "".join(out)


def _html_table_rows(table: str) -> list[list[str]]:
    """The text of each cell of each row of an HTML table."""
    return [[" ".join(re.sub(r"<[^>]+>", "", cell).split())
             for cell in re.findall(r"<t[hd]\b[^>]*>(.*?)</t[hd]>", row, flags=re.S | re.I)]
            for row in re.findall(r"<tr\b.*?</tr>", table, flags=re.S | re.I)]


def _table_height(rows: list[list[str]]) -> float:
    """A table of these cells' texts: its rows, a row taller where the columns share the width and a cell wraps."""
    rows = [row for row in rows if row]
    if not rows:
        return 0.0
    columns = max(len(row) for row in rows)
    longest = [max((len(row[index]) for row in rows if index < len(row)), default=0) for index in range(columns)]
    room = max(_TABLE_CHARS - 3 * columns, columns)  # each column's padding takes two or three characters
    widths = list(longest)
    if sum(longest) > room:  # auto layout: the short columns keep their width, the long ones share the rest
        fair = room / columns
        short = sum(length for length in longest if length <= fair)
        long_total = sum(length for length in longest if length > fair) or 1
        widths = [length if length <= fair else max(fair, (room - short) * length / long_total)
                  for length in longest]
    # a squeezed column wraps at its spaces, so a line holds a little less than the column's width
    lines = [max(_lines(cell, max(1, int(width * 0.9))) if width < length else 1
                 for cell, width, length in zip(row, widths, longest)) for row in rows]
    return sum(_TABLE_ROW + _TABLE_WRAP * (count - 1) for count in lines) + _TABLE_MARGIN


def _html_height(html: str) -> float:
    """A rendered HTML output: table rows, images, preformatted lines and lines of text."""
    body = re.sub(r"<style.*?</style>", "", html, flags=re.S | re.I)
    height = sum(_figure_height(_image_size(data, "image/png")) + 60
                 for data in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]{64})", body))
    body = re.sub(r"<img\b[^>]*>", "", body)
    for table in re.findall(r"<table\b.*?</table>", body, flags=re.S | re.I):
        height += _table_height(_html_table_rows(table))
    for pre in re.findall(r"<pre\b[^>]*>(.*?)</pre>", body, flags=re.S | re.I):
        height += _CODE_LINE * sum(_lines(re.sub(r"<[^>]+>", "", line), _CODE_CHARS) for line in pre.split("\n")) + 20
    body = _rows_as_lines(re.sub(r"<pre\b.*?</pre>|<table\b.*?</table>", "", body, flags=re.S | re.I))
    pieces = [re.sub(r"&#?\w+;", "x", re.sub(r"<[^>]*>", "", piece)).strip() for piece in _BLOCK_TAG.split(body)]
    height += sum(_LIST_LINE * _lines(piece, _TEXT_CHARS) for piece in pieces if piece)
    return height + _OUTPUT_PAD


def _output_height(output: Any) -> float:
    if output.get("output_type") == "stream":
        text = output.get("text", "")
    elif output.get("output_type") == "error":
        text = "\n".join(output.get("traceback", []))
    else:
        data = output.get("data", {})
        for mime in _FIGURES:
            if mime in data:
                image = data[mime]
                image = "".join(image) if isinstance(image, list) else image
                meta = output.get("metadata", {}).get(mime, {})
                size = (meta["width"], meta["height"]) if "width" in meta and "height" in meta \
                    else _image_size(image, mime)
                return _figure_height(size) + _FIGURE_PAD
        if "text/html" in data:
            html = data["text/html"]
            return _html_height("".join(html) if isinstance(html, list) else html)
        if "text/markdown" in data:
            markdown = data["text/markdown"]
            return sum(_block_height(block) for block in _markdown_blocks(
                "".join(markdown) if isinstance(markdown, list) else markdown)) + _OUTPUT_PAD
        text = data.get("text/plain", "")
    text = "".join(text) if isinstance(text, list) else text
    lines = sum(_lines(line, _OUTPUT_CHARS) for line in text.rstrip("\n").split("\n"))
    return _OUTPUT_LINE * lines + _OUTPUT_PAD


def estimate_height(cell: Any) -> float:
    """How many pixels ``cell`` takes on a static deck's slide (`SLIDE_HEIGHT` high), by a conservative estimate."""
    source = _source(cell)
    if cell.get("cell_type") == "markdown":
        return sum(_block_height(block) for block in _markdown_blocks(source)) + _MARKDOWN_CELL
    if cell.get("cell_type") != "code":
        return 0.0
    height = _CODE_LINE * sum(_lines(line, _CODE_CHARS) for line in source.rstrip("\n").split("\n"))
    return height + sum(_output_height(output) for output in cell.get("outputs", [])) + _CODE_CELL


def slide_types(nb: Any) -> list[str]:
    """The slide type of every cell of ``nb`` (a notebook dict or nbformat node), by the rule above."""
    types = []
    previous = None
    filled = 0.0  # the estimated height of the slide being filled
    for index, cell in enumerate(nb["cells"]):
        if index == 0 and cell["cell_type"] == "markdown":
            slide_type = SLIDE  # the title slide, whatever its heading level
        elif cell["cell_type"] == "markdown":
            slide_type = _markdown_type(_source(cell), previous)
        elif cell["cell_type"] == "code":
            slide_type = _code_type(cell)
        else:  # raw cells are for other exporters, never for the class
            slide_type = SKIP
        if slide_type in (SLIDE, SUBSLIDE):
            filled = estimate_height(cell)
        elif slide_type in (CONTINUE, FRAGMENT):
            height = estimate_height(cell)
            if filled and filled + height > SLIDE_BUDGET:  # it would push the slide off the screen
                slide_type, filled = SUBSLIDE, height
            else:
                filled += height
        types.append(slide_type)
        if slide_type not in (SKIP, NOTES):  # an unseen cell: the next one follows what was last shown
            previous = cell
    return types


def _is_teachers(cell: Any) -> bool:
    return cell.get("cell_type") == "markdown" and _source(cell).lstrip().startswith(TEACHERS_HEADING)


def place_teachers_notes(nb: Any) -> bool:
    """Move the ``## For teachers`` cell right after the title cell, so that its notes go with the first slide.

    A notes cell belongs to the slide it sits in (in RISE and in the deck alike): at the end of the notebook the
    teacher found the notes only on the last slide. Returns True if the cell moved.
    """
    cells = nb["cells"]
    where = [index for index, cell in enumerate(cells) if _is_teachers(cell)]
    if len(where) != 1 or where[0] == 1 or not cells or cells[0]["cell_type"] != "markdown":
        return False
    cells.insert(1, cells.pop(where[0]))
    return True


def apply_slide_metadata(nb: Any) -> int:
    """Write the rule's slide types into ``nb`` (the teachers' notes on the first slide, and RISE's settings);
    returns how many cells changed."""
    changed = int(place_teachers_notes(nb))
    for cell, slide_type in zip(nb["cells"], slide_types(nb)):
        if cell["metadata"].get("slideshow") != {"slide_type": slide_type}:
            cell["metadata"]["slideshow"] = {"slide_type": slide_type}
            changed += 1
    if nb["metadata"].get("rise") != RISE_SETTINGS:
        nb["metadata"]["rise"] = dict(RISE_SETTINGS)
        changed += 1
    return changed


def _statement_starts(source: str) -> list[int]:
    """The 0-based lines where a top-level statement of ``source`` begins, with the comments just above it."""
    lines = source.split("\n")
    try:
        body = ast.parse("\n".join(line if not line.lstrip().startswith(("%", "!")) else "" for line in lines)).body
    except SyntaxError:
        return []
    starts = []
    for node in body:
        start = min([node.lineno] + [decorator.lineno for decorator in getattr(node, "decorator_list", [])]) - 1
        while start > 0 and lines[start - 1].lstrip().startswith("#"):
            start -= 1
        starts.append(start)
    return starts


def _code_parts(source: str) -> list[str]:
    """``source`` cut before top-level statements into parts that each fit a slide (one part when it fits)."""
    lines = source.rstrip("\n").split("\n")
    height = [_CODE_LINE * _lines(line, _CODE_CHARS) for line in lines]
    starts = sorted(set(_statement_starts(source)) - {0})
    cuts, start = [], 0
    for end in starts + [len(lines)]:  # greedily: cut before the statement that would not fit
        if sum(height[start:end]) > SLIDE_BUDGET - _CODE_CELL:
            fitting = [cut for cut in starts if start < cut < end]
            # at a blank line where there is one: there the author already set the steps apart
            previous = max((cut for cut in fitting if not lines[cut - 1].strip()), default=max(fitting, default=None))
            if previous is not None:
                cuts.append(previous)
                start = previous
    bounds = [0, *cuts, len(lines)]
    return ["\n".join(lines[begin:end]).strip("\n") for begin, end in zip(bounds, bounds[1:])]


def _markdown_parts(source: str) -> list[str]:
    """``source`` cut before each heading after the first line, and between blocks where a part would not fit."""
    parts: list[list[str]] = [[]]
    filled = 0.0
    for block in _markdown_blocks(source):
        height = _block_height(block)
        alone = all(text.lstrip().startswith("#") for text in parts[-1])  # a heading stays with what follows
        if parts[-1] and (block.lstrip().startswith("#") or (filled + height > SLIDE_BUDGET - _MARKDOWN_CELL
                                                             and not alone)):
            parts.append([])
            filled = 0.0
        parts[-1].append(block)
        filled += height
    return ["\n\n".join(part) for part in parts if part]


def _copy(cell: Any, part: int, slide_type: str, **changes: Any) -> Any:
    copy = deepcopy(cell)
    if part:
        copy["id"] = f"{cell.get('id', 'cell')}-part{part}"
    copy["metadata"]["slideshow"] = {"slide_type": slide_type}
    copy.update(changes)
    return copy


def _too_wide(output: Any) -> bool:
    """True for an HTML table whose columns, each as wide as its longest word, are wider than a slide."""
    html = output.get("data", {}).get("text/html", "")
    html = "".join(html) if isinstance(html, list) else html
    for table in re.findall(r"<table\b.*?</table>", html, flags=re.S | re.I):
        rows = _html_table_rows(table)
        columns = max((len(row) for row in rows), default=0)
        words = [max((len(word) for row in rows if index < len(row) for word in row[index].split()), default=0)
                 for index in range(columns)]
        if sum(words) + 3 * columns > _TABLE_CHARS:
            return True
    return False


def fit_to_slides(nb: Any) -> Any:
    """A copy of ``nb`` for the static deck, each cell taller than a slide cut into parts on sub-slides of their own.

    The notebook's metadata can only start a slide before a cell; a cell taller than the screen needs cutting,
    which only the deck can do: a markdown cell before each inner heading and between blocks, a code cell before
    a top-level statement, its outputs apart from its code (each output part shows no code). A part that still
    does not fit (one output taller than a slide, a table wider) is tagged `DENSE_TAG`, which the deck sets in
    smaller type. The lesson itself is not changed.
    """
    fitted = deepcopy(nb)
    cells = []
    for cell in nb["cells"]:
        slide_type = cell["metadata"].get("slideshow", {}).get("slide_type", CONTINUE)
        if slide_type in (SKIP, NOTES) or cell["cell_type"] not in ("markdown", "code"):
            cells.append(deepcopy(cell))
            continue
        if cell["cell_type"] == "markdown":
            parts = _markdown_parts(_source(cell))
            for number, text in enumerate(parts):
                kind = slide_type if not number else SLIDE if re.match(r"#{1,2} ", text) else SUBSLIDE
                cells.append(_copy(cell, number, kind, source=text))
            continue
        if estimate_height(cell) <= SLIDE_BUDGET:
            cells.append(deepcopy(cell))
            continue
        sources = _code_parts(_source(cell))
        outputs = list(cell.get("outputs", []))
        for number, text in enumerate(sources[:-1]):
            cells.append(_copy(cell, number, slide_type if not number else SUBSLIDE, source=text, outputs=[]))
        last = _copy(cell, len(sources) - 1, slide_type if len(sources) == 1 else SUBSLIDE, source=sources[-1],
                     outputs=[])
        filled = estimate_height(last)
        groups = [last]
        for output in outputs:
            height = _output_height(output)
            if filled + height > SLIDE_BUDGET:  # the outputs go on: a part of their own, with no code
                groups.append(_copy(cell, len(sources) + len(groups) - 1, SUBSLIDE, outputs=[]))
                groups[-1]["metadata"]["transient"] = {"remove_source": True}
                filled = _CODE_CELL
            groups[-1]["outputs"].append(output)
            filled += height
        cells.extend(groups)
    for cell in cells:  # what still does not fit is set smaller, rather than cut off
        if cell["cell_type"] == "code" and (estimate_height(cell) > SLIDE_BUDGET or any(
                _too_wide(output) for output in cell.get("outputs", []))):
            cell["metadata"]["tags"] = [*cell["metadata"].get("tags", []), DENSE_TAG]
    fitted["cells"] = cells
    return fitted


def add_slide_metadata(path: str | Path) -> bool:
    """Re-tag the notebook at ``path`` by the rule, touching nothing else; True if the file changed.

    Only metadata and the place of the teachers' notes change: sources and outputs stay byte for byte (nbval
    compares those outputs with a re-execution). The file is written to a temporary name and moved into place, so it
    is never half written.
    """
    import nbformat

    path = Path(path)
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    if not apply_slide_metadata(nb):
        return False
    with writing_atomically(path, keep_suffix=True) as partial:  # .NN.<tag>.partial.ipynb, ignored by git
        nbformat.write(nb, partial)
    return True
