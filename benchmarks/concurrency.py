"""Queue settings under load: 20 concurrent clients, gradio's default queue vs the suite's.

    python benchmarks/concurrency.py [--clients 20] [--requests 100]

Both apps serve the same 0.2 s handler (a stand-in for a light lab event such as validating an
upload). The default queue runs one event at a time; the suite's `shared.ui.serve` settings let
light events run side by side. Prints throughput and p95 latency for each and the speed-up.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def light_app():
    import gradio as gr

    def handle(text: str) -> str:
        time.sleep(0.2)
        return text.upper()

    with gr.Blocks() as demo:
        box, out = gr.Textbox(), gr.Textbox()
        box.submit(handle, box, out, api_name="bench_light")
    return demo


def measure(default_limit: int | None, clients: int, requests: int) -> tuple[float, float]:
    from gradio_client import Client

    demo = light_app()
    if default_limit is None:
        demo.queue()
    else:
        demo.queue(default_concurrency_limit=default_limit)
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    pool = [Client(url, verbose=False) for _ in range(clients)]
    latencies: list[float] = []

    def one(i: int) -> None:
        start = time.perf_counter()
        pool[i % clients].predict(f"r{i}", api_name="/bench_light")
        latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as ex:
        list(ex.map(one, range(requests)))
    wall = time.perf_counter() - start
    demo.close()
    p95 = statistics.quantiles(latencies, n=20)[-1]
    return requests / wall, p95


def main() -> None:
    from shared.ui import LIGHT_CONCURRENCY

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    base_rps, base_p95 = measure(None, args.clients, args.requests)
    print(f"gradio default queue : {base_rps:6.1f} req/s, p95 {base_p95:5.2f} s")
    rps, p95 = measure(LIGHT_CONCURRENCY, args.clients, args.requests)
    print(f"suite queue (limit {LIGHT_CONCURRENCY}): {rps:6.1f} req/s, p95 {p95:5.2f} s")
    print(f"throughput ratio suite / default: {rps / base_rps:.1f}x; p95 ratio: {p95 / base_p95:.2f}x")


if __name__ == "__main__":
    main()
