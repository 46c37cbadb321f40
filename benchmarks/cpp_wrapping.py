"""SAXPY called seven ways: per-call overhead and throughput, as ratios to pure Python.

    python benchmarks/cpp_wrapping.py [--large 1000000] [--small 16] [--no-slow] [--cold] [--cuda-n N]

Runs `labs.cpp_wrapping.wrapping.compare` (the same code as the lab's buttons): every way is
checked against NumPy, then timed as the best of repeated calls. The pure-Python list
comprehension is the baseline measured in the same run. pybind11 and the torch extension are
compiled on first use (about 10 s and 1 min on 2 cores) and cached afterwards; --no-slow skips them
unless already cached. The CUDA way runs only where nvcc and a GPU exist.

Then nanobind against pybind11 (`labs.cpp_wrapping.bindings`), both built with the same g++ flags:
compile time, .so size, nanoseconds per call of a trivial add(1, 2), and SAXPY throughput, printed
as nanobind : pybind11 ratios. With --cold both are compiled in a fresh temporary cache in this run
(otherwise the compile times are those recorded when the cached modules were built). Last, where a
GPU and a CUDA build of torch exist, the load_inline CUDA kernel with its copies timed apart.
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
    parser.add_argument("--no-slow", action="store_true", help="do not compile pybind11/nanobind/torch if not cached")
    parser.add_argument("--cold", action="store_true", help="compile pybind11 and nanobind in a fresh cache first")
    parser.add_argument("--cuda-n", type=int, default=10_000_000, help="elements for the GPU timing (default %(default)s)")
    args = parser.parse_args()
    if args.cold:
        import os
        import tempfile

        from labs.cpp_wrapping import build

        os.environ[build.CACHE_ENV] = tempfile.mkdtemp(prefix="cpp_wrapping_cold_")

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

    if not args.no_slow:
        bindings_report(args)
    cuda_report(args)


def bindings_report(args: argparse.Namespace) -> None:
    """nanobind against pybind11, measured in this run, as ratios."""
    from labs.cpp_wrapping import bindings, build

    try:
        rows, python_ns = bindings.compare_bindings(n_small=args.small, n_large=args.large)
    except build.BuildError as exc:
        print(f"\nnanobind vs pybind11: not run ({exc})")
        return
    pb, nb = rows
    origin = "measured in this run (fresh cache)" if args.cold else "recorded when the cached modules were built"
    print(f"\nnanobind vs pybind11, same g++ flags; compile times {origin}")
    print(f"{'':28} {'pybind11':>12} {'nanobind':>12} {'nb : pb':>9}")
    print(f"{'module compile (s)':28} {pb.compile_s or 0:12.2f} {nb.compile_s or 0:12.2f} "
          f"{(nb.compile_s or 0) / (pb.compile_s or 1):8.2f}x")
    print(f"{'one-off core compile (s)':28} {'-':>12} {nb.core_s or 0:12.2f}")
    print(f"{'.so size (KB)':28} {pb.so_bytes / 1024:12.1f} {nb.so_bytes / 1024:12.1f} {nb.so_bytes / pb.so_bytes:8.2f}x")
    print(f"{'ns per add(1, 2)':28} {pb.add_ns:12.1f} {nb.add_ns:12.1f} {nb.add_ns / pb.add_ns:8.2f}x"
          f"   (Python function: {python_ns:.1f} ns)")
    print(f"{'µs per saxpy (n=' + str(args.small) + ')':28} {pb.saxpy_us:12.2f} {nb.saxpy_us:12.2f} "
          f"{nb.saxpy_us / pb.saxpy_us:8.2f}x")
    print(f"{'saxpy M elem/s (large n)':28} {pb.throughput_meps:12.1f} {nb.throughput_meps:12.1f} "
          f"{nb.throughput_meps / pb.throughput_meps:8.2f}x   results identical: {nb.same_as_pybind11}")


def cuda_report(args: argparse.Namespace) -> None:
    """The load_inline CUDA kernel, timed apart from its transfers (only where a GPU exists)."""
    from labs.cpp_wrapping import cuda_torch

    ok, message = cuda_torch.gpu_status()
    if not ok:
        print(f"\nCUDA via load_inline: not run. {message.split('. The code')[0]}.")
        return
    t = cuda_torch.measure(args.cuda_n)
    print(f"\nCUDA via load_inline on {t.device}, n={t.n:,} (best of {cuda_torch.REPEATS}, CUDA events):")
    print(f"  host->device x, y {t.h2d_ms:8.3f} ms ({t.h2d_gbps:6.1f} GB/s)")
    print(f"  kernel alone      {t.kernel_ms:8.4f} ms ({t.kernel_gbps:6.1f} GB/s)  "
          f"{(t.h2d_ms + t.d2h_ms) / t.kernel_ms:.1f}x shorter than the copies")
    print(f"  device->host out  {t.d2h_ms:8.3f} ms ({t.d2h_gbps:6.1f} GB/s)   max |diff| vs NumPy: {t.max_abs_diff}")


if __name__ == "__main__":
    main()
