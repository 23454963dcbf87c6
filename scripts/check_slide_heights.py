"""Measure every slide of the static decks on a 1280×720 projector: none may be taller or wider than the screen.

Needs Chromium, chromedriver and selenium (tests/test_slides.py runs it when they are installed); selenium may
live in another environment:

    PYTHONPATH=/path/to/selenium-venv/lib/python3.11/site-packages .venv/bin/python scripts/check_slide_heights.py
    python scripts/check_slide_heights.py 01 04 --shots /tmp/deck-shots     # two lessons, a PNG of every slide

It builds the decks with `curiolib slides` into a temporary folder (or measures the ``--decks`` folder's), opens
each from ``file://`` in one headless Chromium whose page is 1280×720 and which can reach no network, waits for
reveal.js to start and MathJax to typeset, and walks every slide and sub-slide. reveal scales a slide of the
configured size (deck.WIDTH×HEIGHT) to fit the window, so a slide overflows when its content (its
``scrollHeight``, every fragment counted, since a hidden fragment keeps its room) is taller than the configured
height or than what the slide shows without scrolling, or when a code or output block is wider than its box (a
line cut off, or hidden until scrolled sideways). It prints each deck's tallest slide and every overflow, saves a
PNG of every slide with ``--shots`` (every fragment shown), and exits 1 when a slide overflows.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

#: The projector the decks must fit.
SCREEN = (1280, 720)

# reveal.js is a require.js module here (no global Reveal): ask require.js for the instance the deck started.
_REVEAL = "var R = require('slides_assets/reveal.js/dist/reveal.js');"
# Typeset: every formula MathJax found (a script tag) has its rendering (a "-Frame" element), none is still being
# drawn (the deck re-renders a slide's formulas each time it is shown), and MathJax is idle.
_TYPESET = """
var hub = window.MathJax && MathJax.Hub, scope = arguments[0] || document;
if (!hub || !MathJax.isReady || hub.queue.running || hub.queue.pending) { return false; }
var frames = scope.querySelectorAll('[id^="MathJax-Element-"][id$="-Frame"]');
return frames.length === scope.querySelectorAll('script[type^="math/tex"]').length
  && !scope.querySelector('.MJXc-processing, .MJXc-processed')
  && Array.prototype.every.call(frames, function (frame) { return frame.firstChild; });
"""
_READY = _REVEAL + """
if (!document.querySelector('.reveal.ready')) { return false; }
R.configure({transition: 'none', backgroundTransition: 'none'});  // a screenshot shows the slide, not a move
return true;
"""
_SHOW = _REVEAL + """
var done = arguments[arguments.length - 1];
R.slide(arguments[0], arguments[1], arguments[2] ? 1000 : undefined);
// the deck re-renders a slide's formulas when it is shown (MathJax.Hub.Rerender): measure after that
MathJax.Hub.Queue(function () { requestAnimationFrame(function () { done(R.getCurrentSlide()); }); });
"""
_MEASURE = _REVEAL + """
var slide = R.getCurrentSlide(), config = R.getConfig(), scale = R.getScale(), wide = [];
var right = slide.getBoundingClientRect().right;
var line = function (el) {
  return (el.textContent || el.tagName).split('\\n').sort(function (a, b) { return b.length - a.length; })[0]
    .trim().slice(0, 60);
};
slide.querySelectorAll('*').forEach(function (el) {
  if (el.closest('aside.notes') || el.closest('.MathJax_CHTML, .MathJax_Preview, .MJX_Assistive_MathML')) { return; }
  // clipped, or hidden until scrolled sideways
  var hidden = (getComputedStyle(el).overflowX !== 'visible' || el.classList.contains('MJXc-display'))
    && el.scrollWidth > el.clientWidth + 1;
  // or drawn past the slide's right edge, where the next slide begins
  var past = /^(PRE|IMG|TABLE|svg)$/.test(el.tagName) || el.classList.contains('MJXc-display')
    ? el.getBoundingClientRect().right > right + scale : false;
  if ((hidden || past) && wide.indexOf(line(el)) < 0) { wide.push(line(el)); }
});
// the slide's name in the report: its heading, or its first line of text (not a style sheet, formula or note)
var heading = slide.querySelector(':scope > div h1, :scope > div h2, :scope > div h3'), first = '';
var walk = document.createTreeWalker(slide, NodeFilter.SHOW_TEXT, {acceptNode: function (node) {
  return node.parentNode.closest('style, script, aside, .MJX_Assistive_MathML') || !node.textContent.trim()
    ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT;
}});
if (walk.nextNode()) {
  first = walk.currentNode.parentNode.closest('p, pre, li, td, th, div').textContent.trim().split('\\n')[0];
} else if (slide.querySelector('img')) { first = '(a figure)'; }
return {height: slide.scrollHeight, box: slide.clientHeight, limit: config.height, wide: wide,
        title: (heading ? heading.textContent.replace('\u00b6', '') : first).trim().split('\\n')[0].slice(0, 50),
        screen: [window.innerWidth, window.innerHeight]};
"""


@dataclass
class Slide:
    """One slide or sub-slide as the projector shows it."""

    deck: str
    index: str  # reveal's h/v
    title: str
    height: int  # the content's, every fragment counted
    box: int  # what the slide shows of it without scrolling
    limit: int  # the configured slide height
    wide: list[str]

    @property
    def overflows(self) -> bool:
        """Taller than the configured slide or than what it shows (it scrolls), or a block wider than its box."""
        return self.height > min(self.limit, self.box + 1) or bool(self.wide)


def projector(chromedriver: str = "/usr/bin/chromedriver"):
    """The network-blocked headless Chromium of check_static_deck.py, its page exactly the projector's size."""
    from check_static_deck import browser

    driver = browser(chromedriver, *SCREEN)
    # --window-size counts the window's frame; the page itself must be the projector's size
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": SCREEN[0], "height": SCREEN[1], "deviceScaleFactor": 1, "mobile": False})
    return driver


def build_decks(lessons: list[str], output_dir: Path) -> list[Path]:
    """The decks of ``lessons`` (all when empty), built into ``output_dir``."""
    from curiolib.classroom.catalog import available_lessons, find_lesson
    from curiolib.classroom.deck import build_deck

    chosen = [find_lesson(name) for name in lessons] if lessons else available_lessons()
    return [build_deck(lesson, output_dir, overwrite=True) for lesson in chosen]


def wait(condition, timeout: float, failure: str) -> None:
    """Poll ``condition`` until it holds; RuntimeError with ``failure`` after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise RuntimeError(f"{failure} within {timeout} s")
        time.sleep(0.1)


def measure(driver, deck: Path, shots: Path | None = None, timeout: float = 30) -> list[Slide]:
    """Every slide of ``deck``, opened in ``driver``, with its content's height and any block cut off."""
    driver.set_script_timeout(timeout)
    driver.get(deck.resolve().as_uri())
    wait(lambda: driver.execute_script(_READY) and driver.execute_script(_TYPESET), timeout,
         f"{deck.name}: reveal.js did not start or MathJax did not typeset")
    stacks = driver.execute_script(
        _REVEAL + "return R.getHorizontalSlides().map(function (s) { return s.querySelectorAll('section').length; });")
    slides = []
    for h, count in enumerate(stacks):
        for v in range(max(count, 1)):
            slide = driver.execute_async_script(_SHOW, h, v, bool(shots))
            wait(lambda slide=slide: driver.execute_script(_TYPESET, slide), timeout,
                 f"{deck.name} slide {h}/{v}: MathJax did not typeset")
            found = driver.execute_script(_MEASURE)
            if tuple(found["screen"]) != SCREEN:
                raise RuntimeError(f"the window is {found['screen']}, not {SCREEN}")
            slides.append(Slide(deck.name, f"{h}/{v}", found["title"], found["height"], found["box"], found["limit"],
                                found["wide"]))
            if shots is not None:
                driver.save_screenshot(str(shots / f"{deck.name.split('.')[0]}_{h}_{v}.png"))
    return slides


def report(slides: list[Slide]) -> list[Slide]:
    """Print each deck's tallest slide and every overflow; returns the overflowing slides."""
    for name in dict.fromkeys(slide.deck for slide in slides):
        deck = [slide for slide in slides if slide.deck == name]
        tallest = max(deck, key=lambda slide: slide.height)
        print(f"{name}: {len(deck)} slides, tallest {tallest.index} {tallest.title!r} {tallest.height} px "
              f"(fits {tallest.limit})")
    over = [slide for slide in slides if slide.overflows]
    for slide in over:
        what = (f"{slide.height} px > {slide.limit}" if slide.height > slide.limit
                else f"{slide.height} px shown in {slide.box}, scrolling" if slide.height > slide.box + 1
                else "fits in height")
        print(f"  OVERFLOW {slide.deck} {slide.index} {slide.title!r}: {what}"
              + (f"; cut off on the right: {slide.wide}" if slide.wide else ""))
    return over


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", help="lesson numbers or names (default: every lesson)")
    parser.add_argument("--decks", type=Path, help="measure the decks already in this folder instead of building")
    parser.add_argument("--shots", type=Path, help="save a PNG of every slide here")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="curiolib-decks-") as scratch:
        decks = (sorted(args.decks.glob("*.slides.html")) if args.decks
                 else build_decks(args.lessons, Path(scratch)))
        if args.shots:
            args.shots.mkdir(parents=True, exist_ok=True)
        driver = projector(args.chromedriver)
        try:
            slides = [slide for deck in decks for slide in measure(driver, deck, args.shots)]
        finally:
            driver.quit()
    over = report(slides)
    print(f"{len(slides)} slides in {len(decks)} decks, {len(over)} overflowing a {SCREEN[0]}×{SCREEN[1]} screen")
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
