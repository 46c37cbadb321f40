"""A light click while visitors convert images: latency idle vs under load, in shared mode.

    python benchmarks/shared_load.py [--visitors 10] [--resolution 512]

Serves png_to_glb (the heaviest one-click endpoint) and cloud_sdks (a light bucket-name check)
the way `serve()` serves them to others, measures the light call's latency on an idle server (the
baseline), then again while `--visitors` clients each convert an image. Prints p50/p95 for both
and the ratio. The suite's goal: the light p95 under load stays under 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ["ML_LABS_SHARED"] = "1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(q * len(ordered))) - 1)]


def light_latencies(client, *, seconds: float | None = None, count: int | None = None,
                    stop: threading.Event | None = None) -> list[float]:
    times = []
    end = time.perf_counter() + (seconds or 1e9)
    while time.perf_counter() < end and (count is None or len(times) < count) and not (stop and stop.is_set()):
        start = time.perf_counter()
        client.predict("my-bucket", api_name="/cloud_sdks_check_name")
        times.append(time.perf_counter() - start)
        time.sleep(0.1)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=10)
    parser.add_argument("--resolution", type=int, default=512)
    args = parser.parse_args()

    from gradio_client import Client, handle_file

    import launcher
    from labs.png_to_glb import app as png_app
    from shared.ui import LIGHT_CONCURRENCY, apply_limits
    from tests.conftest import free_port

    suite = launcher.build("png_to_glb,cloud_sdks")
    suite.queue(default_concurrency_limit=LIGHT_CONCURRENCY)
    apply_limits(suite, shared=True)
    _, url, _ = suite.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    image = png_app._example_files()[0][0]
    light = Client(url, verbose=False, download_files=False)
    light_latencies(light, count=3)  # warm up
    idle = light_latencies(light, count=30)

    def convert(_):
        client = Client(url, verbose=False, download_files=False)
        start = time.perf_counter()
        client.predict(handle_file(image), resolution=args.resolution, api_name="/png_to_glb_convert")
        return time.perf_counter() - start

    stop = threading.Event()
    with ThreadPoolExecutor(args.visitors + 1) as pool:
        loaded_future = pool.submit(light_latencies, light, stop=stop)
        heavy = list(pool.map(convert, range(args.visitors)))
        stop.set()
        loaded = loaded_future.result()
    suite.close()
    print(f"{args.visitors} visitors converting at {args.resolution}: last done after {max(heavy):.1f} s "
          f"(median {statistics.median(heavy):.1f} s)")
    print(f"light call idle:       p50 {statistics.median(idle) * 1000:6.0f} ms  p95 {percentile(idle, 0.95) * 1000:6.0f} ms"
          f"  ({len(idle)} calls)")
    print(f"light call under load: p50 {statistics.median(loaded) * 1000:6.0f} ms  p95 {percentile(loaded, 0.95) * 1000:6.0f} ms"
          f"  ({len(loaded)} calls)")
    ratio = percentile(loaded, 0.95) / percentile(idle, 0.95)
    goal = "met" if percentile(loaded, 0.95) < 1.0 else "NOT met"
    print(f"p95 under load / idle: {ratio:.1f}x; goal (p95 under 1 s under load): {goal}")


if __name__ == "__main__":
    main()
