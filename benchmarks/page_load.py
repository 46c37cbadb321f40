"""Page to interactive in real Chromium: the suite's home page and each lab's page vs a bare gradio page.

    python benchmarks/page_load.py [--repeats 5] [--labs slug,slug]

Two servers run side by side on 127.0.0.1: the launcher (all labs) and a bare gradio app with one
Markdown. For every page, Debian's Chromium (Playwright, `executable_path`) opens it in a fresh
context (no cache) and the clock stops when the page's own heading is visible, i.e. gradio has
fetched the config and rendered the page. Pages are timed alternately with the bare page, best of
`--repeats`; the ratio page / bare is the figure (goal: at most 1.5x). Also printed: the HTML size
each page carries (gradio inlines the page's config into it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.startup import free_port  # noqa: E402
from labs import LABS  # noqa: E402

BARE = (
    "import gradio as gr\n"
    "with gr.Blocks() as demo:\n"
    "    gr.Markdown('# Bare gradio page')\n"
    "demo.launch(server_name='127.0.0.1')\n"
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def start(cmd: list[str], timeout: float = 300) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{cmd} did not answer within {timeout} s")


def time_page(browser, url: str, heading: str) -> float:
    """Seconds from navigation to the page's heading being visible, in a fresh browser context."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        begin = time.perf_counter()
        page.goto(url, wait_until="commit")
        page.get_by_role("heading", name=heading, exact=False).first.wait_for(state="visible", timeout=120_000)
        return time.perf_counter() - begin
    finally:
        context.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--labs", default="", help="comma-separated slugs (default: every lab)")
    args = parser.parse_args(argv)
    if not CHROMIUM:
        raise SystemExit("needs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    labs = [lab for lab in LABS if not args.labs or lab.slug in args.labs.split(",")]
    suite, suite_url = start([sys.executable, "launcher.py"])
    bare, bare_url = start([sys.executable, "-c", BARE])
    pages = [("home", suite_url, "Workshop agenda")] + [
        (lab.slug, suite_url + lab.slug, f"Lab {lab.number} · {lab.title}") for lab in labs]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
            time_page(browser, bare_url, "Bare gradio page")  # warm both servers and the browser
            time_page(browser, suite_url, "Workshop agenda")
            print(f"{'page':22} {'HTML kB':>8} {'best s':>7} {'bare s':>7} {'ratio':>6}  goal <= 1.5x")
            worst = 0.0
            for name, url, heading in pages:
                ours, base = [], []
                for _ in range(args.repeats):
                    base.append(time_page(browser, bare_url, "Bare gradio page"))
                    ours.append(time_page(browser, url, heading))
                size = len(urllib.request.urlopen(url, timeout=30).read()) / 1000
                ratio = min(ours) / min(base)
                worst = max(worst, ratio)
                print(f"{name:22} {size:8.0f} {min(ours):7.2f} {min(base):7.2f} {ratio:5.2f}x"
                      f"{'' if ratio <= 1.5 else '  over the goal'}")
            browser.close()
            print(f"worst page: {worst:.2f}x a bare gradio page")
    finally:
        for proc in (suite, bare):
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
