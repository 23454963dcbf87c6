"""Present a lesson with RISE as a teacher would, in headless Chromium: its sliders must move and redraw the figure.

Not part of the test suite (it needs jupyterlab-rise, Chromium, chromedriver and selenium; selenium may live in
another environment, on PYTHONPATH, as long as the project's Python runs this so its `jupyter` is used):

    PYTHONPATH=/path/to/site-packages/with/selenium .venv/bin/python scripts/check_rise.py 01 --out /tmp/shots

It copies the lesson into a temporary folder (JupyterLab may save what it opens; the committed notebook must
not change; ``--notebook`` presents another copy, such as one `curiolib run` wrote) and starts `jupyter lab` on
it. Then, as a screenshot and a check each:

1. the saved lesson in RISE's slideshow page (/rise/...), before any cell runs: no "Click to add a cell." drawn
   on the slides, headings in their own case (not the theme's upper case: α and β stay Greek), and the widget
   cell's saved snapshot (``--cell``, lesson 01's explorer by default) with no slider readout run into the next;
2. JupyterLab: the saved snapshot (a screenshot only); then every cell run, the widget cell's sliders drawn,
   one dragged, the figure redrawn;
3. RISE's toolbar button ("Render the current notebook as Reveal Slideshow"): the slideshow panel beside it;
4. the slideshow page again, full window, on the kernel JupyterLab started: the widget cell rerun on its slide
   (Ctrl+Enter; Shift+Enter where an older RISE binds nothing else), its widgets drawn as sliders (not as
   ``VBox(children=...)``, what a widget manager that failed to load leaves), a slider dragged with the mouse,
   its value changed and the figure redrawn (pixels compared).

The network is blocked except localhost, as on a classroom machine. Screenshots go to ``--out``; the exit status
is 1, with one line per failed check, if anything failed.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_static_deck import browser  # noqa: E402  (the same network-blocked Chromium)

ROOT = Path(__file__).resolve().parents[1]
#: What a widget manager that failed to load leaves in place of the widgets: the kernel's plain-text repr.
UNRENDERED = "VBox(children="

# The code cell whose source contains a text, as JupyterLab and RISE draw it (the editor shows the source).
_FIND_CELL = """
const [text, root] = arguments;
return [...(root || document).querySelectorAll('.jp-CodeCell')].find(
    cell => (cell.querySelector('.jp-InputArea-editor') || {}).textContent?.includes(text)) || null;
"""
# Headings drawn in upper case by the reveal theme, and "Click to add a cell." where a slide shows it.
_SLIDE_FAULTS = """
const visible = el => { const r = el.getBoundingClientRect(), s = getComputedStyle(el);
                        return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
const upper = [...document.querySelectorAll('.reveal h1, .reveal h2, .reveal h3')]
    .filter(h => getComputedStyle(h).textTransform === 'uppercase').map(h => h.textContent.trim().slice(0, 40));
const placeholders = [...document.querySelectorAll('.reveal *')]
    .filter(el => el.children.length === 0 && el.textContent.trim() === 'Click to add a cell.' && visible(el));
return [upper, placeholders.length];
"""

# The widget snapshot's slider readouts ("α <b>0.50</b>") on the slide: how many, on how many lines, and which
# touch the one before on the same line (the snapshot ran together: "α 0.50β 0.50").
_SNAPSHOT_LAYOUT = """
const snapshot = arguments[0].querySelector("[title^='static snapshot']");
if (!snapshot) return null;
const boxes = [...snapshot.querySelectorAll('span')].filter(s => s.querySelector('b'))
    .map(s => [s.textContent.trim(), s.getBoundingClientRect()]);
const touching = boxes.slice(1).filter(([, r], i) => Math.abs(r.top - boxes[i][1].top) < 4
                                                     && r.left - boxes[i][1].right < 6).map(([t]) => t);
return [boxes.length, new Set(boxes.map(([, r]) => Math.round(r.top))).size, touching];
"""

# JupyterLab draws only the cells near the view: scroll its notebook to the cell whose source contains a text.
_LAB_SCROLL = """
const notebook = window.jupyterapp.shell.currentWidget.content;
const index = notebook.widgets.findIndex(cell => cell.model.sharedModel.getSource().includes(arguments[0]));
notebook.activeCellIndex = index;
notebook.scrollToItem(index, 'start');
"""


def wait_for_port(port: int, seconds: float = 60) -> None:
    """Return once something listens on localhost:port (the server started)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on port {port} after {seconds} s")


def find_cell(driver: WebDriver, text: str, seconds: float = 60) -> WebElement:
    """The code cell whose source contains ``text``, once it is drawn."""
    return WebDriverWait(driver, seconds).until(lambda d: d.execute_script(_FIND_CELL, text, None))


def sliders_of(cell: WebElement) -> list[WebElement]:
    """The sliders a widget manager drew in the cell's output (none where it drew the kernel's text repr)."""
    return cell.find_elements(By.CSS_SELECTOR, ".jp-OutputArea .widget-slider")


def wait_for_sliders(driver: WebDriver, cell: WebElement, seconds: float) -> list[WebElement]:
    """The cell's sliders once drawn; [] if they are not there after ``seconds``."""
    try:
        return WebDriverWait(driver, seconds).until(lambda d: sliders_of(cell) or False)
    except TimeoutException:
        return []


def figure_png(cell: WebElement) -> bytes:
    """The pixels of the figure the widgets drew (the Image widget) in the cell's output, as a PNG."""
    return cell.find_element(By.CSS_SELECTOR, ".jp-OutputArea img.widget-image").screenshot_as_png


def drag_first_slider(driver: WebDriver, cell: WebElement, seconds: float = 30) -> tuple[str, str, bool]:
    """Drag the first slider's handle to the right: (readout before, after, whether the figure changed)."""
    slider = sliders_of(cell)[0]
    readout = slider.find_element(By.CSS_SELECTOR, ".widget-readout")
    handle = slider.find_element(By.CSS_SELECTOR, ".noUi-handle")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", slider)
    time.sleep(0.5)
    before_value, before_figure = readout.text, figure_png(cell)
    ActionChains(driver).click_and_hold(handle).move_by_offset(40, 0).pause(0.3).move_by_offset(20, 0).release() \
        .perform()
    deadline = time.time() + seconds
    while time.time() < deadline:  # the kernel redraws the figure and sends the new PNG
        time.sleep(1)
        if figure_png(cell) != before_figure:
            return before_value, readout.text, True
    return before_value, readout.text, False


def check_widgets(driver: WebDriver, cell: WebElement, where: str, seconds: float) -> list[str]:
    """The failures of one place (JupyterLab or RISE): sliders drawn, one dragged, the figure redrawn."""
    sliders = wait_for_sliders(driver, cell, seconds)
    output = cell.find_element(By.CSS_SELECTOR, ".jp-OutputArea").text
    if not sliders:
        shown = "the kernel's text repr (no widget manager)" if UNRENDERED in output else repr(output[:80])
        return [f"{where}: no slider drawn after {seconds:.0f} s; the output shows {shown}"]
    before, after, redrawn = drag_first_slider(driver, cell)
    print(f"{where}: {len(sliders)} sliders drawn; dragged the first from {before} to {after}; "
          f"figure {'redrawn' if redrawn else 'unchanged'}")
    failures = []
    if before == after:
        failures.append(f"{where}: dragging the first slider left its value at {before}")
    if not redrawn:
        failures.append(f"{where}: the figure did not change after the slider moved ({before} -> {after})")
    return failures


def goto_slide_of(driver: WebDriver, cell: WebElement, key: str = Keys.PAGE_DOWN, presses: int = 60) -> bool:
    """Page Down (or ``key``), as a teacher goes (next slide or fragment), until ``cell`` shows; False if never."""
    for _ in range(presses):
        if cell.is_displayed() and driver.execute_script("return !!arguments[0].closest('section.present')", cell):
            time.sleep(2)  # the slide transition ends
            return True
        ActionChains(driver).send_keys(key).perform()
        time.sleep(1)
    return False


def rerun(driver: WebDriver, cell: WebElement, seconds: float) -> str | None:
    """Run the cell again from its slide; the keys that did it, None if neither did.

    Ctrl+Enter runs it in place (jupyterlab-rise 0.43); older releases bind only Shift+Enter, which runs it and
    moves on to the next cell's slide, so the slideshow is then paged back to it.
    """
    prompt = cell.find_element(By.CSS_SELECTOR, ".jp-InputPrompt")
    count = lambda: driver.execute_script("return arguments[0].textContent", prompt)  # noqa: E731
    before = count()
    for modifier, name in ((Keys.CONTROL, "Ctrl+Enter"), (Keys.SHIFT, "Shift+Enter")):
        # Select the cell by its prompt (command mode: the keys go to the notebook, not the editor).
        ActionChains(driver).click(prompt).key_down(modifier).send_keys(Keys.ENTER).key_up(modifier).perform()
        try:  # the widgets of the run in JupyterLab show until this run's replace them
            WebDriverWait(driver, seconds).until(lambda d: re.fullmatch(r"\[\d+\]:", count()) and count() != before)
        except TimeoutException:
            continue
        if modifier == Keys.SHIFT:
            goto_slide_of(driver, cell, Keys.PAGE_UP)
        print(f"RISE: {name} ran the widget cell again ({before} -> {count()})")
        return name
    return None


def check_snapshot(driver: WebDriver, cell: WebElement) -> list[str]:
    """The saved widget snapshot (no kernel yet) as RISE draws it: no slider readout run into the one before."""
    found = driver.execute_script(_SNAPSHOT_LAYOUT, cell)
    if found is None:
        print("RISE: the widget cell holds no snapshot (live widgets or no output): nothing to check")
        return []
    count, rows, touching = found
    print(f"RISE: the snapshot shows {count} slider readouts on {rows} line(s), {len(touching)} touching")
    return [f"RISE: the widget snapshot runs together: {touching[:3]} (see widget_snapshot.png)"] if touching else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lesson", help="the lesson's number prefix, e.g. 01")
    parser.add_argument("--notebook", type=Path, help="present this copy of the lesson instead of the committed one")
    parser.add_argument("--cell", default="growth_explorer(", help="text in the source of the widget cell")
    parser.add_argument("--out", type=Path, default=Path("/tmp/slides_shots"))
    parser.add_argument("--port", type=int, default=8899)
    parser.add_argument("--jupyter", default=str(Path(sys.executable).with_name("jupyter")))
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for the kernel's widgets")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    notebook = args.notebook or next((ROOT / "notebooks").glob(f"{args.lesson}_*.ipynb"))
    work = Path(tempfile.mkdtemp(prefix="rise-"))
    shutil.copy2(notebook, work / notebook.name)
    # Settings and workspaces of its own: a developer's saved layout or RISE settings must not change what it
    # sees; and no "Would you like to get notified about official Jupyter news?" toast over the screenshots.
    news = work / ".settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false"}')
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "JUPYTERLAB_SETTINGS_DIR": str(work / ".settings"), "JUPYTERLAB_WORKSPACES_DIR": str(work / ".workspaces")}
    server = subprocess.Popen([args.jupyter, "lab", "--allow-root", "--no-browser", f"--port={args.port}",
                               "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={work}",
                               "--LabApp.expose_app_in_browser=True"],
                              env=env, stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"))
    shot = lambda name: driver.save_screenshot(str(args.out / f"rise_{args.lesson}_{name}.png"))  # noqa: E731
    rise_url = f"http://localhost:{args.port}/rise/{notebook.name}"
    failures: list[str] = []
    driver = None
    try:
        wait_for_port(args.port)
        driver = browser(args.chromedriver, 1280, 800)
        wait = WebDriverWait(driver, args.timeout)
        # 1. The lesson as saved, in RISE, before any cell runs: the slides and the widget snapshot.
        driver.get(rise_url)
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, ".reveal .slides section.present")))
        time.sleep(10)  # MathJax typesets
        shot("title")
        upper, placeholders = driver.execute_script(_SLIDE_FAULTS)
        if upper:
            failures.append(f"RISE: headings drawn in upper case (text-transform), e.g. {upper[:3]}")
        if placeholders:
            failures.append(f"RISE: 'Click to add a cell.' drawn {placeholders} time(s) on the slides")
        if goto_slide_of(driver, find_cell(driver, args.cell)):
            shot("widget_snapshot")
            failures += check_snapshot(driver, find_cell(driver, args.cell))
        else:
            failures.append("RISE: the widget cell's slide was not reached in 60 key presses")
        # 2. JupyterLab: run every cell (the widget cell needs the parameters and imports above it).
        driver.get(f"http://localhost:{args.port}/lab/tree/{notebook.name}")
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")))
        wait.until(lambda d: d.execute_script("return !!window.jupyterapp?.shell.currentWidget?.sessionContext"))
        time.sleep(3)  # the toolbar fills in after the cells
        driver.execute_script(_LAB_SCROLL, args.cell)
        time.sleep(2)
        shot("lab_snapshot")  # the saved snapshot as JupyterLab draws it, before the run replaces it
        driver.execute_script("""
            const app = window.jupyterapp, panel = app.shell.currentWidget;
            panel.sessionContext.ready.then(() => app.commands.execute('notebook:run-all-cells'));""")
        cell = find_cell(driver, args.cell)
        driver.execute_script(_LAB_SCROLL, args.cell)
        failures += check_widgets(driver, cell, "JupyterLab", args.timeout)
        shot("lab_widgets")
        # 3. RISE's toolbar button (Alt+R) renders the slideshow in a panel beside the notebook, an iframe on /rise/.
        wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "jp-button[data-command='RISE:preview']"))).click()
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "iframe[src*='rise']")))
        time.sleep(10)  # the slideshow connects to the notebook's kernel
        shot("preview_panel")
        # 4. Full window, as the panel's "open in a new browser tab" button does: rerun the widget cell there, on
        # the kernel JupyterLab started (the cells above it ran), and move a slider.
        driver.get(rise_url)
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, ".reveal .slides section.present")))
        time.sleep(5)
        cell = find_cell(driver, args.cell)
        if not goto_slide_of(driver, cell):
            failures.append("RISE: the widget cell's slide was not reached in 60 key presses")
        if rerun(driver, cell, 15) is None:
            failures.append("RISE: neither Ctrl+Enter nor Shift+Enter ran the widget cell")
        else:
            failures += check_widgets(driver, cell, "RISE", args.timeout)
        shot("widget_slide_after_drag")
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        print("console errors:", errors or "none")
        failures += list(dict.fromkeys(  # once each: the page repeats them
            f"RISE console: {e[:200]}" for e in errors
            if any(m in e for m in ("Failed to create module", "No satisfying version", "in shared scope"))))
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(timeout=30)
        print("screenshots in", args.out, "; server log:", work / "server.log")
    for failure in failures:
        print("FAILED:", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
