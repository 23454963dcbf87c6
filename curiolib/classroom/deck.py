"""Static reveal.js decks of the lessons that present with no network: `curiolib slides NN`.

nbconvert's slides template loads reveal.js from unpkg and MathJax, require.js, jQuery and mermaid from
cdnjs; a classroom projector often has no network, and then the deck shows raw ``$...$`` and no slides.
Here every one of those is a local file: the npm packages pinned in ``slides/package.json`` (installed by
``npm ci --prefix slides``, which ``make slides`` runs) are copied, only the files a deck loads, into a
``slides_assets`` folder beside the decks, and the deck refers to them by relative paths, so the folder can
be copied to a USB stick and opened from ``file://``. The lessons draw no mermaid diagrams, so the deck
loads no mermaid (a lesson with one is refused, rather than shown as raw text).

Nothing the package did not write is overwritten: a deck carries a generator tag and the assets folder a
marker file; anything else under those names is refused unless ``overwrite=True``. Every file is written
under a temporary name and moved into place, so an interrupted build leaves the previous deck whole.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from .._files import MARKER, replace_folder, write_text_atomically
from .catalog import PROJECT_ROOT, Lesson, find_lesson
from .slides import fit_to_slides
from .snapshot import snapshot_widgets

ASSETS = "slides_assets"
#: The npm packages a deck loads, at the versions nbconvert 7's reveal template is written for (its CDN
#: defaults), except jQuery: 2.0.3 is not on npm, 2.2.4 is the last 2.x.
PACKAGES = {"reveal.js": "4.0.2", "mathjax": "2.7.7", "requirejs": "2.1.10", "jquery": "2.2.4"}
#: What of each package a deck loads. MathJax 2 fetches its input, output and font files on demand, so its
#: TeX input, CommonHTML output (and PreviewHTML, which its fast-preview extension loads first) and TeX web
#: fonts go whole; the other outputs, fonts and the unpacked sources (most of its 71 MB) do not.
NEEDED = {
    "reveal.js": ["LICENSE", "dist/reveal.js", "dist/reveal.css", "dist/theme/white.css", "dist/theme/fonts",
                  "plugin/notes/notes.js"],
    "mathjax": ["LICENSE", "MathJax.js", "config/TeX-AMS_CHTML-full.js", "config/Safe.js", "extensions",
                "jax/input/TeX", "jax/output/CommonHTML",
                "jax/output/PreviewHTML", "jax/element", "fonts/HTML-CSS/TeX/woff",
                "localization/en"],
    "requirejs": ["require.js"],
    "jquery": ["LICENSE.txt", "dist/jquery.min.js"],
}
#: reveal's "white" theme: its fonts ship with reveal.js, where nbconvert's default "simple" imports them
#: from Google Fonts.
THEME = "white"
#: The slide's size before reveal scales it to the screen. The template's 960×700 clips the lessons' code,
#: written up to 120 characters a line, after about 70; 1280×800 (16:10) shows about 100 at the same font.
WIDTH, HEIGHT = "1280", "800"
GENERATOR = "curiolib slides"
DEFAULT_NODE_MODULES = PROJECT_ROOT / "slides" / "node_modules"

#: The decks' own CSS, for a 1280×720 projector (each rule names what it fixes). Its selectors start with
#: ``.reveal .slides`` so that they outrank the theme, which is loaded after them.
CSS = """
/* Headings keep their case: the theme's upper case turns α and β into capital Alpha and Beta (A and B). */
.reveal .slides h1, .reveal .slides h2, .reveal .slides h3, .reveal .slides h4, .reveal .slides h5,
.reveal .slides h6 { text-transform: none; }
/* Code wraps, at spaces where it can, instead of running off the slide's right edge; at this size a line of
   the lessons' 120 characters at most mostly fits. */
.reveal .slides div.highlight > pre { box-sizing: border-box; width: 100%; font-size: 18px;
  white-space: pre-wrap; word-break: normal; overflow-wrap: anywhere; }
.reveal .slides div.highlight > pre code { white-space: inherit; }
/* Printed text: the full width, a size at which a printed table's line of about 125 characters fits, and any
   longer line broken at a space, never inside a word (JupyterLab's break-all made "(tw/o)"). */
.reveal .slides div.jp-OutputArea-output > pre { box-sizing: border-box; width: 100%; font-size: 16px;
  white-space: pre-wrap; word-break: normal; overflow-wrap: anywhere; }
/* A markdown table sizes its columns by their content: the fixed layout squeezed a formula onto three lines. */
.reveal .slides .jp-RenderedMarkdown table { table-layout: auto; }
/* A figure fits a slide of its own: a taller one is scaled down, keeping its proportions (slides.FIGURE_MAX_HEIGHT). */
.reveal .slides .jp-OutputArea-output img { max-height: 640px; width: auto; height: auto; }
/* What still does not fit, a table wider than the slide or one output taller (slides.DENSE_TAG), is set smaller. */
.reveal .slides .celltag_curiolib-dense .jp-OutputArea-output table { font-size: 16px; }
.reveal .slides .celltag_curiolib-dense .jp-OutputArea-output pre,
.reveal .slides .celltag_curiolib-dense div.highlight > pre { font-size: 14px; }
/* A slide taller than the slide (an answer opened in class) scrolls within the slide's full height. nbconvert's own
   scrolling (reveal_scroll) cut every slide taller than 95% of the window to that height, in the window's pixels:
   on a 1280×720 screen 684 of the slide's 800, drawn 591 pixels high. */
.reveal .slides > section > section, .reveal .slides > section:not(.stack) { max-height: 100%; overflow-y: auto; }
/* A table or widget wider than the slide scrolls sideways instead of being cut off. */
.reveal .slides .jp-OutputArea-output.jp-RenderedHTMLCommon { overflow-x: auto; }
"""

# nbconvert's reveal template, with the mermaid import left out, a tag naming who wrote the file and the CSS above.
_TEMPLATE = """{%- extends 'reveal/index.html.j2' -%}
{%- block html_head -%}
<meta name="generator" content="curiolib slides">
{{ super() }}
{%- endblock html_head -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}
<style type="text/css">""" + CSS + """</style>
{%- endblock html_head_css -%}
{%- block html_head_js_mathjax -%}
{{ super() }}
<script type="text/x-mathjax-config">
// MathJax broke "I(0) = I_0 >= 0" over three lines in a table cell it measured before the table was laid out;
// the lessons' formulas fit a slide's width unbroken.
MathJax.Hub.Config({CommonHTML: {linebreaks: {automatic: false}}});
</script>
{%- endblock html_head_js_mathjax -%}
"""


def node_modules_dir(path: str | Path | None = None) -> Path:
    """The npm folder the assets come from: ``path``, $CURIOLIB_SLIDES_NODE_MODULES or ``slides/node_modules``."""
    folder = Path(path or os.environ.get("CURIOLIB_SLIDES_NODE_MODULES") or DEFAULT_NODE_MODULES)
    for package, version in PACKAGES.items():
        manifest = folder / package / "package.json"
        if not manifest.exists():
            raise ValueError(f"{package} is not installed in {folder}: run `npm ci --prefix slides` in the "
                             "repository (or `make slides`), which installs the versions slides/package.json pins")
        found = json.loads(manifest.read_text()).get("version")
        if found != version:
            raise ValueError(f"{folder / package} is version {found}, the decks are built with {version}: "
                             "run `npm ci --prefix slides`")
    return folder


def asset_urls(prefix: str = ASSETS) -> dict[str, str]:
    """The nbconvert settings that point a deck at the local copies, relative to the deck's folder."""
    return {
        "reveal_url_prefix": f"{prefix}/reveal.js",
        "mathjax_url": f"{prefix}/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
        "require_js_url": f"{prefix}/requirejs/require.js",
        "jquery_url": f"{prefix}/jquery/dist/jquery.min.js",
    }


def _marker_text() -> str:
    # The shared marker file, with the packages' versions as its text: assets copied for others are rebuilt.
    versions = ", ".join(f"{name} {version}" for name, version in PACKAGES.items())
    return f"made by {GENERATOR} ({versions}); it replaces this folder as a whole\n"


def _is_ours(path: Path) -> bool:
    if path.is_dir():
        return (path / MARKER).exists()
    with path.open("rb") as handle:
        head = handle.read(4096)
    # nbconvert rewrites the HTML through BeautifulSoup, which may reorder a tag's attributes.
    return re.search(rb'<meta(?=[^>]*\bname="generator")(?=[^>]*\bcontent="' + re.escape(GENERATOR.encode())
                     + rb'")[^>]*>', head) is not None


def _refuse_foreign(path: Path, overwrite: bool) -> None:
    if (path.exists() or path.is_symlink()) and not overwrite and not _is_ours(path):
        raise ValueError(f"{path} exists and was not written by `{GENERATOR}`: choose another --output-dir, "
                         "or pass --force to replace it")


def copy_assets(output_dir: Path, node_modules: str | Path | None = None, *, overwrite: bool = False) -> Path:
    """The ``slides_assets`` folder in ``output_dir`` with every file a deck loads; reused when up to date."""
    source = node_modules_dir(node_modules)
    target = output_dir / ASSETS
    _refuse_foreign(target, overwrite)
    if (target / MARKER).exists() and (target / MARKER).read_text() == _marker_text():
        return target
    staging = Path(tempfile.mkdtemp(prefix=f".{ASSETS}.", dir=output_dir))
    try:
        for package, parts in NEEDED.items():
            for part in parts:
                origin, copy = source / package / part, staging / package / part
                copy.parent.mkdir(parents=True, exist_ok=True)
                if origin.is_dir():
                    shutil.copytree(origin, copy)
                else:
                    shutil.copy2(origin, copy)
        (staging / MARKER).write_text(_marker_text())
        staging.chmod(0o755)  # mkdtemp makes it private; a deck served to others must be readable
        replace_folder(staging, target)  # ours, or overwrite asked for: swapped in, then the old one dropped
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target


def exporter():
    """nbconvert's SlidesExporter, every URL local, a slide scrolling (`CSS`) when it is taller than the slide."""
    from jinja2 import DictLoader
    from nbconvert import SlidesExporter

    # No "In [8]:" prompts: on a projector they say nothing and take 110 of the slide's 1280 pixels from the code.
    return SlidesExporter(template_file="curiolib_slides.html.j2",
                          extra_loaders=[DictLoader({"curiolib_slides.html.j2": _TEMPLATE})],
                          reveal_theme=THEME, reveal_scroll=False, reveal_width=WIDTH, reveal_height=HEIGHT,
                          exclude_input_prompt=True, exclude_output_prompt=True, **asset_urls())


_TAG = re.compile(r"<([a-zA-Z][\w-]*)\b([^>]*)>")
_ATTRIBUTE = re.compile(r"""\b(?:src|href|data|poster|srcset|data-[\w-]*cdn[\w-]*)\s*=\s*["']?\s*"""
                        r"""((?:https?:)?//[^"'\s>]+)""", re.IGNORECASE)
_CSS = re.compile(r"""(?:url\(\s*["']?|@import\s+["'])((?:https?:)?//[^"')\s]+)""", re.IGNORECASE)


def network_loads(html: str) -> list[str]:
    """The addresses ``html`` would load from the network: any tag's source but a link's target, and CSS imports."""
    found = {address for tag, attributes in _TAG.findall(html) if tag.lower() != "a"
             for address in _ATTRIBUTE.findall(attributes)}
    return sorted(found | set(_CSS.findall(html)))


def deck_name(lesson: Lesson) -> str:
    """The deck's file name: the notebook's stem and ``.slides.html``, as `jupyter nbconvert --to slides` names it."""
    return f"{lesson.stem}.slides.html"


def build_deck(notebook: str | Path | Lesson, output_dir: str | Path, *, node_modules: str | Path | None = None,
               overwrite: bool = False) -> Path:
    """Write one lesson's static deck (and the shared assets) into ``output_dir``; returns the deck's path."""
    import nbformat

    lesson = notebook if isinstance(notebook, Lesson) else find_lesson(str(notebook))
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / deck_name(lesson)
    _refuse_foreign(target, overwrite)
    nb = nbformat.read(lesson.path, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and "```mermaid" in cell.source:
            raise ValueError(f"{lesson.filename} cell {index} draws a mermaid diagram; the offline deck loads no "
                             "mermaid (add it to slides/package.json and deck.NEEDED first)")
    # A lesson saved from JupyterLab carries its widgets' state, for which nbconvert's template loads the
    # widget manager from a CDN, unpinned: the deck shows each widget's static snapshot instead.
    snapshot_widgets(nb)
    # A cell taller than the screen is cut into parts on sub-slides of their own (the lesson is not changed).
    nb = fit_to_slides(nb)
    copy_assets(output_dir, node_modules, overwrite=overwrite)
    body, _ = exporter().from_notebook_node(nb, resources={"metadata": {"name": lesson.title}})
    remote = network_loads(body)
    if remote:  # an offline deck that needs the network fails in class, where nobody can fix it
        raise ValueError(f"the deck of {lesson.filename} would load {', '.join(remote)} from the network; "
                         "the offline deck loads only files in " + ASSETS)
    write_text_atomically(target, body, encoding="utf-8")
    return target
