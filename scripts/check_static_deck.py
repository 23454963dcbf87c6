"""Open a static deck in headless Chromium with the network blocked, screenshot slides, check MathJax typeset.

Not part of the test suite (it needs Chromium, chromedriver and selenium):

    python scripts/check_static_deck.py outputs/slides/01_knowledge_growth.slides.html --out /tmp/slides_shots

Every host name but localhost resolves to nothing and no proxy is reachable, so a file the deck fetched from
a CDN would fail to load and show here. For each slide asked for (``--slides 0 4/1 4/0/0``: horizontal,
vertical and fragment index) it saves a PNG and prints how many formulas MathJax rendered and whether raw
``$...$`` text remains.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def browser(chromedriver: str, width: int, height: int) -> webdriver.Chrome:
    """Headless Chromium that can reach nothing but localhost and file://."""
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--window-size={width},{height}", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
                 "--proxy-server=127.0.0.1:9"):  # Chromium sends localhost past the proxy by itself
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(chromedriver), options=options)


def failed_requests(driver: webdriver.Chrome) -> list[str]:
    """URLs whose load failed, read from Chromium's network log."""
    failed, urls = [], {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls[message["params"]["requestId"]] = message["params"]["request"]["url"]
        elif message["method"] == "Network.loadingFailed":
            failed.append(urls.get(message["params"]["requestId"], "?") + " " + message["params"]["errorText"])
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("deck", type=Path)
    parser.add_argument("--slides", nargs="+", default=["0", "1"], help="h, h/v or h/v/f indices to screenshot")
    parser.add_argument("--out", type=Path, default=Path("/tmp/slides_shots"))
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    driver = browser(args.chromedriver, 1280, 800)
    try:
        driver.get(args.deck.resolve().as_uri())
        time.sleep(3)
        problems = failed_requests(driver)
        print("failed loads:", problems or "none")
        # require.js loads reveal.js as a module, so there is no global Reveal: its "ready" class says it started.
        print("reveal.js started:", driver.execute_script("return !!document.querySelector('.reveal.ready')"))
        print("MathJax loaded:", driver.execute_script("return typeof MathJax !== 'undefined' && !!MathJax.Hub"))
        for index in args.slides:
            h, v, *fragment = index.split("/") if "/" in index else [index, "0"]
            # reveal's history mode: #/h/v, and #/h/v/f with the slide's fragments up to f shown
            driver.execute_script(f"window.location.hash = '#/{'/'.join([h, v] + fragment)}';")
            time.sleep(2)
            shown = json.loads(driver.execute_script(
                "var s = document.querySelector('section.present section.present') ||"
                " document.querySelector('section.present');"
                "return JSON.stringify({text: s.innerText.slice(0, 300),"
                " math: s.querySelectorAll('.MathJax_CHTML').length,"
                " raw: (s.innerText.match(/\\$[^$\\n]+\\$/g) || []).length});"))
            path = args.out / f"{args.deck.name.split('.')[0]}_slide_{index.replace('/', '_')}.png"
            driver.save_screenshot(str(path))
            print(f"slide {index}: {shown['math']} formulas typeset, {shown['raw']} raw $...$ left -> {path}")
            print("   ", shown["text"].replace("\n", " | ")[:200])
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        print("console errors:", errors or "none")
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
