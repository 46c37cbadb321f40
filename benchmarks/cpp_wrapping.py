"""SAXPY called six ways: per-call overhead and throughput, as ratios to pure Python.

    python benchmarks/cpp_wrapping.py [--large 1000000] [--small 16] [--no-slow]

Runs `labs.cpp_wrapping.wrapping.compare` (the same code as the lab's buttons): every way is
checked against NumPy, then timed as the best of repeated calls. The pure-Python list
comprehension is the baseline measured in the same run. pybind11 and the torch extension are
compiled on first use (about 10 s and 1 min on 2 cores) and cached afterwards; --no-slow skips them
unless already cached. The CUDA way runs only where nvcc and a GPU exist.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from labs.cpp_wrapping import wrapping

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=wrapping.LARGE_N, help="elements for throughput (default %(default)s)")
    parser.add_argument("--small", type=int, default=wrapping.SMALL_N, help="elements for overhead (default %(default)s)")
    parser.add_argument("--no-slow", action="store_true", help="do not compile pybind11/torch if not cached")
    args = parser.parse_args()

    result = wrapping.compare(wrapping.WAYS, n_small=args.small, n_large=args.large,
                              compile_slow=not args.no_slow, progress=lambda m: print(f"  .. {m}", file=sys.stderr))
    base = result.row("python")
    print(f"SAXPY, float64, tiny n={args.small}, large n={args.large:,}; baseline: pure Python measured in this run")
    print(f"{'technique':28} {'compile':>9} {'µs/call':>9} {'vs Python':>10} {'M elem/s':>10} {'vs Python':>10}")
    for r in result.rows:
        if r.overhead_us is None:
            print(f"{wrapping.LABELS[r.way]:28} {r.status}: {r.note[:80]}")
            continue
        compile_cell = "cached" if r.cached else (f"{r.compile_s:.1f} s" if r.compile_s is not None else "-")
        print(f"{wrapping.LABELS[r.way]:28} {compile_cell:>9} {r.overhead_us:9.2f} "
              f"{base.overhead_us / r.overhead_us:9.2f}x {r.throughput_meps:10.1f} "
              f"{r.throughput_meps / base.throughput_meps:9.1f}x")


if __name__ == "__main__":
    main()
