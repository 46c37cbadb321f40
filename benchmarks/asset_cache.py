"""What nginx's cache of gradio's frontend files saves a workshop server: the suite alone vs behind
`workshop.py serve`'s nginx (one replica), in real Chromium.

    python benchmarks/asset_cache.py [--repeats 5] [--labs transformers_tour,png_to_glb]

A lab page makes the browser fetch 80-90 of gradio's JavaScript and CSS files; served by the
suite alone, the replica's Python answers (and compresses) every one of them, for every visitor
and page. Behind nginx they come from nginx's cache, marked immutable. Printed per page, medians
of `--repeats` alternating runs:

- the replica's CPU time per page opened (read from /proc; the replica is the suite's process),
- the page's time to its heading in a fresh browser (cold), and
- in a browser that has opened the home page first (warm), as a participant's next page is.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.page_load import CHROMIUM, start, time_page  # noqa: E402
from benchmarks.startup import free_port  # noqa: E402
from labs import get  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--labs", default="transformers_tour,png_to_glb")
    args = parser.parse_args(argv)
    if not CHROMIUM:
        raise SystemExit("needs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    import workshop

    labs = [get(slug) for slug in args.labs.split(",")]
    alone, alone_url = start([sys.executable, "launcher.py", "--labs", args.labs])
    med = statistics.median
    try:
        with workshop.Replicas(1, port=free_port(), labs=args.labs, shared=False) as room, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
            setups = {"suite alone": (alone_url, alone.pid), "behind nginx": (room.url, room.procs[0].pid)}
            for url, _ in setups.values():  # warm both servers (and nginx's cache)
                for lab in labs:
                    time_page(browser, url + lab.slug, f"Lab {lab.number}")
            print(f"{'page':20} {'setup':13} {'replica CPU ms/page':>19} {'cold s':>7} {'warm s':>7}")
            for lab in labs:
                heading = f"Lab {lab.number}"
                cpu: dict[str, list[float]] = {name: [] for name in setups}
                cold: dict[str, list[float]] = {name: [] for name in setups}
                warm: dict[str, list[float]] = {name: [] for name in setups}
                for _ in range(args.repeats):
                    for name, (url, pid) in setups.items():
                        before = cpu_seconds(pid)
                        cold[name].append(time_page(browser, url + lab.slug, heading))
                        cpu[name].append(cpu_seconds(pid) - before)
                        warm[name].append(time_page(browser, url + lab.slug, heading, after=(url, "Workshop agenda")))
                for name in setups:
                    print(f"{lab.slug:20} {name:13} {med(cpu[name]) * 1000:19.0f} {med(cold[name]):7.2f} "
                          f"{med(warm[name]):7.2f}")
                ratio = med(cpu["behind nginx"]) / max(med(cpu["suite alone"]), 1e-9)
                print(f"{'':20} replica CPU behind nginx / alone: {ratio:.2f}x; "
                      f"cold page {med(cold['behind nginx']) / med(cold['suite alone']):.2f}x, "
                      f"warm page {med(warm['behind nginx']) / med(warm['suite alone']):.2f}x", flush=True)
            browser.close()
    finally:
        alone.terminate()
        alone.wait(timeout=30)


if __name__ == "__main__":
    main()
