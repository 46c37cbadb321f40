"""Page to interactive in real Chromium: the suite's home page and each lab's page vs a bare gradio page.

    python benchmarks/page_load.py [--repeats 7] [--labs slug,slug] [--floor]

Two servers run side by side on 127.0.0.1: the launcher (all labs) and a bare gradio app with one
Markdown. For every page, Debian's Chromium (Playwright, `executable_path`) opens it in a fresh
context (no cache). The clock runs inside the page, from the navigation's start to the moment the
page's own heading is laid out (a MutationObserver watches for it), i.e. gradio has fetched the
config and rendered the page; timing in the page leaves out Playwright's round trips. Pages are
timed alternately with the bare page; the figure is the ratio of medians, page / bare (goal: at
most 1.5x), with the ratio of the best runs beside it.

Also printed, from the config each page carries in its HTML: the components in it, how many of
them gradio renders at first (the rest sit in closed accordions, non-selected tabs or hidden
blocks) and the events. gradio's frontend processes every component and event of the config
before it shows the page, rendered or not, so the config's size is what a page costs.

`--floor` measures what that costs: a third server serves the same pages with only the
components gradio renders at first (and the events among them) left in each page's config. It is
not a working suite (the hidden tabs are gone); it is the load time the same first screen would
have if gradio sent the rest of a page when it is opened.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

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

# Runs in the page before gradio: records performance.now() (ms since the navigation started)
# when a heading holding the wanted text is in the document and laid out.
_HEADING_CLOCK = """
(() => {
  const wanted = %s;
  const seen = () => {
    for (const h of document.querySelectorAll("h1, h2")) {
      if (h.textContent.includes(wanted) && h.getClientRects().length > 0) return true;
    }
    return false;
  };
  const observer = new MutationObserver(() => {
    if (window.__heading_ms === undefined && seen()) {
      window.__heading_ms = performance.now();
      observer.disconnect();
    }
  });
  observer.observe(document, {childList: true, subtree: true, attributes: true});
})();
"""


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


def time_page(browser, url: str, heading: str, *, after: tuple[str, str] | None = None) -> float:
    """Seconds from the navigation's start to the page's heading being laid out, in a fresh context.

    `after`: (url, heading) of a page the same context opens first, untimed, e.g. to time a
    second page with the browser's cache holding what the first one fetched.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(_HEADING_CLOCK % json.dumps(heading))
    page = context.new_page()
    try:
        if after:
            page.goto(after[0], wait_until="commit")
            page.get_by_role("heading", name=after[1], exact=False).first.wait_for(state="visible", timeout=120_000)
        page.goto(url, wait_until="commit")
        page.get_by_role("heading", name=heading, exact=False).first.wait_for(state="visible", timeout=120_000)
        page.wait_for_function("window.__heading_ms !== undefined", timeout=10_000)
        return page.evaluate("window.__heading_ms") / 1000
    finally:
        context.close()


# ------------------------------------------------------------------------- what a page's config holds
def page_config(url: str) -> dict[str, Any]:
    """The config gradio inlines into a page's HTML."""
    html = urllib.request.urlopen(url, timeout=30).read().decode()
    found = re.search(r"window\.gradio_config = (.*?);</script>", html, re.S)
    if found is None:
        raise RuntimeError(f"{url} carries no gradio config")
    return json.loads(found.group(1))


def first_render(layout: dict[str, Any], components: dict[int, dict[str, Any]]) -> set[int]:
    """Ids of the layout nodes gradio renders when the page opens.

    gradio 6 leaves out the children of a closed accordion, of a non-selected tab and of a block
    with visible=False until they are shown (they still are in the config it processes).
    """
    shown: set[int] = set()

    def walk(node: dict[str, Any]) -> None:
        shown.add(node["id"])
        block = components.get(node["id"], {})
        props = block.get("props", {})
        children = node.get("children") or []
        if props.get("visible") is False or (block.get("type") == "accordion" and props.get("open") is False):
            return
        if block.get("type") == "tabs":
            tabs = [c for c in children if components.get(c["id"], {}).get("props", {}).get("visible") is not False]
            selected = props.get("selected")
            for tab in tabs:
                tab_id = components.get(tab["id"], {}).get("props", {}).get("id", tab["id"])
                if tab_id == selected or (selected is None and tab is tabs[0]):
                    walk(tab)
            return
        for child in children:
            walk(child)

    walk(layout)
    return shown


def config_counts(config: dict[str, Any]) -> tuple[int, int, int]:
    """(components in the page's config, rendered at first, events)."""
    components = {c["id"]: c for c in config["components"]}
    shown = first_render(config["layout"], components) & components.keys()
    return len(components), len(shown), len(config["dependencies"])


def keep_first_render(config: dict[str, Any]) -> None:
    """Cut every page of a Blocks config down to what gradio renders at first (for `--floor`)."""
    components = {c["id"]: c for c in config["components"]}
    dependencies = {d["id"]: d for d in config["dependencies"]}
    for page in config["page"].values():
        shown = first_render(page["layout"], components)

        def prune(node: dict[str, Any]) -> None:
            node["children"] = [c for c in node.get("children") or [] if c["id"] in shown]
            for child in node["children"]:
                prune(child)

        prune(page["layout"])
        page["components"] = [i for i in page["components"] if i in shown]
        page["dependencies"] = [
            i for i in page["dependencies"]
            if all(c in shown for c in dependencies[i]["inputs"] + dependencies[i]["outputs"])
            and all(t[0] in shown for t in dependencies[i]["targets"] if t[0] is not None)
        ]


def serve_first_render() -> None:
    """The suite with each page's config cut to its first render (the `--floor` server)."""
    import launcher
    from shared.ui import serve

    suite = launcher.build(None)
    serve(suite, prevent_thread_lock=True)
    keep_first_render(suite.config)
    suite.block_thread()


# ------------------------------------------------------------------------------------------ the run
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--labs", default="", help="comma-separated slugs (default: every lab)")
    parser.add_argument("--floor", action="store_true",
                        help="also time each page with only its first render in its config")
    parser.add_argument("--serve-first-render", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_first_render:
        return serve_first_render()
    if not CHROMIUM:
        raise SystemExit("needs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    labs = [lab for lab in LABS if not args.labs or lab.slug in args.labs.split(",")]
    servers = {"suite": start([sys.executable, "launcher.py"]), "bare": start([sys.executable, "-c", BARE])}
    if args.floor:
        servers["floor"] = start([sys.executable, __file__, "--serve-first-render"])
    urls = {name: url for name, (_, url) in servers.items()}
    pages = [("home", "", "Workshop agenda")] + [
        (lab.slug, lab.slug, f"Lab {lab.number} · {lab.title}") for lab in labs]
    med = statistics.median
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
            for name in urls:  # warm the servers and the browser
                time_page(browser, urls[name], "Bare gradio page" if name == "bare" else "Workshop agenda")
            print(f"{'page':22} {'comps':>5} {'first':>5} {'events':>6} {'median s':>8} {'bare s':>6} "
                  f"{'ratio':>6} {'best':>6}" + (f" {'floor':>6}" if args.floor else "") + "  goal <= 1.5x")
            worst = 0.0
            for name, path, heading in pages:
                times: dict[str, list[float]] = {server: [] for server in urls}
                for _ in range(args.repeats):
                    for server, url in urls.items():
                        times[server].append(time_page(browser, url + path if server != "bare" else url,
                                                       "Bare gradio page" if server == "bare" else heading))
                total, shown, events = config_counts(page_config(urls["suite"] + path))
                ratio = med(times["suite"]) / med(times["bare"])
                worst = max(worst, ratio)
                floor = f" {med(times['floor']) / med(times['bare']):5.2f}x" if args.floor else ""
                print(f"{name:22} {total:5} {shown:5} {events:6} {med(times['suite']):8.2f} {med(times['bare']):6.2f} "
                      f"{ratio:5.2f}x {min(times['suite']) / min(times['bare']):5.2f}x{floor}"
                      f"{'' if ratio <= 1.5 else '  over the goal'}", flush=True)
            browser.close()
            print(f"worst page: {worst:.2f}x a bare gradio page (ratio of medians)")
            if args.floor:
                print("floor: the same page with only its first render in the config (not a working page)")
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
