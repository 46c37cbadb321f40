"""A workshop room against one server: N participants walking through several labs at once.

    python benchmarks/workshop.py [--participants 20,40] [--labs png_to_glb,cloud_sdks,...] [--url URL]
    python benchmarks/workshop.py --replicas 1,2 --participants 20 --labs png_to_glb,dataset_distillation

Starts the launcher as its own process in shared mode (or uses `--url`, e.g. the nginx front of
`python workshop.py serve --replicas 2`). Each simulated participant is a gradio_client that walks
the chosen labs in its own shuffled order, calling each lab's default example through the API
(the same calls as `tests/browser/<slug>.py::api_smoke`, which also check the answers, so a wrong
answer counts as an error). Meanwhile one prober clicks a light endpoint every 0.25 s and the
server's memory (RSS of its whole process tree) is sampled every second.

Printed: per lab, p50/p95 alone (one participant, measured first in the same run) and under
load, with the ratio (what queueing and sharing the CPU cost); errors (goal 0); the light call's
p95 under load (goal under 1 s); server RSS at start, peak and end (goal: bounded).

With `--replicas 1,2`, the same room runs against `workshop.py serve`'s nginx front with 1, then 2
launcher replicas (cookie affinity), and the throughput (lab walk-throughs per minute) of each is
printed with the ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.page_load import start  # noqa: E402
from benchmarks.startup import free_port  # noqa: E402

DEFAULT_LABS = "png_to_glb,cloud_sdks,keda_autoscaling,docker_mlops,transformers_tour,cuda_benchmark,wheel_packaging"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


def steps_for(slug: str):
    """The lab's own API walk-through (tests/browser/<slug>.py), which asserts on the answers."""
    spec = importlib.util.spec_from_file_location(f"steps_{slug}", ROOT / "tests" / "browser" / f"{slug}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.api_smoke


def client_for(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, download_files=str(Path(os.environ.get("TMPDIR", "/tmp")) / "workshop-dl"))


def walk(url: str, labs: list[str], seed: int, results: dict, errors: list, lock: threading.Lock) -> None:
    """One participant: every lab once, in a shuffled order."""
    order = list(labs)
    random.Random(seed).shuffle(order)
    client = client_for(url)
    for slug in order:
        begin = time.perf_counter()
        try:
            steps_for(slug)(client)
        except Exception as exc:  # a failed or wrong answer is an error the room would see
            with lock:
                errors.append(f"{slug}: {type(exc).__name__}: {str(exc)[:200]}")
            continue
        with lock:
            results.setdefault(slug, []).append(time.perf_counter() - begin)


def rss_tree(pids: list[int]) -> int:
    import psutil

    total = 0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            total += sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])
        except psutil.Error:
            pass
    return total


def room(url: str, labs: list[str], participants: int, server_pids: list[int]) -> dict:
    results: dict[str, list[float]] = {}
    errors: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    light: list[float] = []
    memory: list[int] = []

    def probe():
        client = client_for(url)
        while not stop.is_set():
            begin = time.perf_counter()
            try:
                client.predict("my-bucket", api_name="/cloud_sdks_check_name")
                light.append(time.perf_counter() - begin)
            except Exception:
                errors.append("light probe: " + traceback.format_exc(limit=1).strip().splitlines()[-1])
            stop.wait(0.25)

    def sample():
        while not stop.is_set() and server_pids:
            memory.append(rss_tree(server_pids))
            stop.wait(1.0)

    helpers = [threading.Thread(target=probe, daemon=True), threading.Thread(target=sample, daemon=True)]
    for thread in helpers:
        thread.start()
    begin = time.perf_counter()
    with ThreadPoolExecutor(max_workers=participants) as pool:
        for seat in range(participants):
            pool.submit(walk, url, labs, seat, results, errors, lock)
            time.sleep(0.1)  # people do not all click in the same millisecond
    wall = time.perf_counter() - begin
    stop.set()
    for thread in helpers:
        thread.join(timeout=5)
    return {"results": results, "errors": errors, "light": light, "memory": memory, "wall": wall}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", default="20,40", help="room sizes to try, comma-separated")
    parser.add_argument("--labs", default=DEFAULT_LABS, help="the labs each participant walks through")
    parser.add_argument("--url", help="an already running suite (default: start the launcher here)")
    parser.add_argument("--replicas", help="compare N launcher replicas behind nginx, e.g. 1,2")
    args = parser.parse_args(argv)
    labs = [s for s in args.labs.split(",") if s]
    if args.replicas:
        scale(labs, [int(n) for n in args.replicas.split(",")], int(args.participants.split(",")[0]))
        return
    server = None
    url = args.url
    if not url:
        os.environ["ML_LABS_SHARED"] = "1"
        server, url = start([sys.executable, "launcher.py", "--labs", ",".join(sorted({*labs, "cloud_sdks"}))])
    try:
        pid = [server.pid] if server else []
        alone = room(url, labs, 1, pid)
        print(f"server {url}; labs: {', '.join(labs)}")
        print(f"alone: {sum(len(v) for v in alone['results'].values())} calls, errors {len(alone['errors'])}")
        for size in [int(n) for n in args.participants.split(",") if n]:
            seen = room(url, labs, size, pid)
            calls = sum(len(v) for v in seen["results"].values())
            print(f"\n== {size} participants: {calls} lab walk-throughs in {seen['wall']:.0f} s, "
                  f"errors {len(seen['errors'])} (goal 0)")
            print(f"{'lab':22} {'alone s':>8} {'p50 s':>7} {'p95 s':>7} {'p95/alone':>9}")
            for slug in labs:
                times = seen["results"].get(slug, [])
                solo = statistics.median(alone["results"].get(slug, [float("nan")]))
                p95 = percentile(times, 0.95)
                print(f"{slug:22} {solo:8.2f} {percentile(times, 0.5):7.2f} {p95:7.2f} {p95 / solo:8.1f}x")
            light = seen["light"]
            print(f"light call (cloud_sdks_check_name): p50 {percentile(light, 0.5):.3f} s, "
                  f"p95 {percentile(light, 0.95):.3f} s over {len(light)} calls (goal p95 < 1 s)")
            if seen["memory"]:
                mem = [m / 2**20 for m in seen["memory"]]
                print(f"server RSS: start {mem[0]:.0f} MiB, peak {max(mem):.0f} MiB, end {mem[-1]:.0f} MiB")
            for line in seen["errors"][:10]:
                print(f"   error: {line}")
    finally:
        if server:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


def scale(labs: list[str], counts: list[int], participants: int) -> None:
    """The same room against 1, 2... replicas behind nginx: throughput and p95 per replica count."""
    import workshop

    os.environ["ML_LABS_SHARED"] = "1"
    served = ",".join(sorted({*labs, "cloud_sdks"}))
    first = None
    print(f"{participants} participants, labs: {', '.join(labs)}")
    for count in counts:
        with workshop.Replicas(count, port=free_port(), labs=served) as front:
            seen = room(front.url, labs, participants, [p.pid for p in front.procs])
        calls = sum(len(v) for v in seen["results"].values())
        rate = calls / seen["wall"] * 60
        first = first or rate
        worst = max((percentile(v, 0.95) for v in seen["results"].values()), default=float("nan"))
        print(f"{count} replica(s): {calls} walk-throughs in {seen['wall']:.0f} s = {rate:.1f}/min "
              f"({rate / first:.2f}x the first), worst lab p95 {worst:.1f} s, errors {len(seen['errors'])}, "
              f"light p95 {percentile(seen['light'], 0.95):.3f} s")


if __name__ == "__main__":
    main()
