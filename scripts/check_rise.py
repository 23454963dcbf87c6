"""Present a lesson with RISE as a teacher would, in headless Chromium, and screenshot two slides.

Not part of the test suite (it needs jupyterlab-rise, Chromium, chromedriver and selenium):

    python scripts/check_rise.py 01 --out /tmp/slides_shots

It copies the lesson into a temporary folder (JupyterLab may save what it opens; the committed notebook must
not change), starts `jupyter lab` on it, opens the notebook, clicks RISE's toolbar button ("Render the current
notebook as Reveal Slideshow"), screenshots the slideshow panel it opens, then opens that slideshow page
(/rise/...) full window and saves a PNG of the title slide and of the slide ``--slide`` key presses further on.
The network is blocked except localhost, as on a classroom machine.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_static_deck import browser  # noqa: E402  (the same network-blocked Chromium)

ROOT = Path(__file__).resolve().parents[1]


def wait_for_port(port: int, seconds: float = 60) -> None:
    """Return once something listens on localhost:port (the server started)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on port {port} after {seconds} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lesson", help="the lesson's number prefix, e.g. 01")
    parser.add_argument("--slide", type=int, default=3, help="key presses (Page Down) from the title to the 2nd shot")
    parser.add_argument("--out", type=Path, default=Path("/tmp/slides_shots"))
    parser.add_argument("--port", type=int, default=8899)
    parser.add_argument("--jupyter", default=str(Path(sys.executable).with_name("jupyter")))
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    notebook = next((ROOT / "notebooks").glob(f"{args.lesson}_*.ipynb"))
    work = Path(tempfile.mkdtemp(prefix="rise-"))
    shutil.copy2(notebook, work / notebook.name)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen([args.jupyter, "lab", "--allow-root", "--no-browser", f"--port={args.port}",
                               "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={work}"],
                              env=env, stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"))
    driver = None
    try:
        wait_for_port(args.port)
        driver = browser(args.chromedriver, 1280, 800)
        driver.get(f"http://localhost:{args.port}/lab/tree/{notebook.name}")
        wait = WebDriverWait(driver, 120)
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")))
        time.sleep(3)  # the toolbar fills in after the cells
        driver.save_screenshot(str(args.out / f"rise_{args.lesson}_lab.png"))
        # RISE's toolbar button (Alt+R) renders the slideshow in a panel beside the notebook, an iframe on /rise/.
        wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "jp-button[data-command='RISE:preview']"))).click()
        frame = wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "iframe[src*='rise']")))
        time.sleep(10)  # the slideshow's own kernel starts and MathJax typesets
        driver.save_screenshot(str(args.out / f"rise_{args.lesson}_preview_panel.png"))
        # Then full window, as the panel's "open in a new browser tab" button does: the same /rise/ page.
        driver.get(frame.get_attribute("src"))
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, ".reveal .slides section")))
        time.sleep(10)
        print("slideshow at", driver.current_url)
        first = args.out / f"rise_{args.lesson}_title.png"
        driver.save_screenshot(str(first))
        print("title slide ->", first)
        for _ in range(args.slide):
            driver.switch_to.active_element.send_keys(Keys.PAGE_DOWN)  # reveal: next slide, fragments included
            time.sleep(1.5)
        time.sleep(3)
        second = args.out / f"rise_{args.lesson}_slide_{args.slide}.png"
        driver.save_screenshot(str(second))
        print(f"after {args.slide} key presses ->", second)
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        print("console errors:", errors or "none")
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(timeout=30)
        print("server log:", work / "server.log")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
