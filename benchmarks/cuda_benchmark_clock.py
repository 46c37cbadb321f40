"""Lab 3's achieved-clock meter against its peers, in one run: what each makes of "% of peak".

    python benchmarks/cuda_benchmark_clock.py [--rounds 5] [--threads 2] [--n 1024]

Interleaved over ``--rounds`` rounds (so load changes hit all alike), the same compiled add chain
(`labs.cuda_benchmark.clock`) is timed two ways:

* the lab: the fastest of 40 calls per thread in the thread's own CPU time (``time.thread_time``);
* the peer: the same calls timed with the wall clock (``time.perf_counter``), as a first attempt
  would, which counts the time other processes held the core;

and both are printed next to the clock the OS reports. Then one fp32 matmul at ``--n`` (timed by
the lab's `measure_torch_benchmark`) is read as % of the peak at each clock: over 100 % is the
symptom the measured clock removes. The load average is printed before and after (busy machines
make the wall-clock peer read low; the lab's reading should not move).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labs.cuda_benchmark import clock  # noqa: E402
from labs.cuda_benchmark.hardware import cpu_info, cpu_peak_for  # noqa: E402
from labs.cuda_benchmark.timing import measure_torch_benchmark  # noqa: E402
from labs.cuda_benchmark.workloads import make_matmul  # noqa: E402


def wall_clock_ghz(threads: int) -> float:
    """The peer: the same add chain on ``threads`` cores, fastest of 40 calls timed with perf_counter."""
    lib = clock.build_kernel()
    adds = clock.adds_per_iteration()
    start = time.thread_time()
    lib.add_chain(clock.CALIBRATE_ITERATIONS, 3)
    probe = max(time.thread_time() - start, 1e-6)
    iterations = int(clock.CALIBRATE_ITERATIONS * clock.TARGET_S / probe)
    best = [float("inf")] * threads

    def worker(slot: int) -> None:
        for _ in range(clock.REPEATS):
            t0 = time.perf_counter()
            lib.add_chain(iterations, 3)
            best[slot] = min(best[slot], time.perf_counter() - t0)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return statistics.median(iterations * adds / b / 1e9 for b in best)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--n", type=int, default=1024)
    args = parser.parse_args()
    import torch

    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    if clock.find_compiler() is None:
        print("no C compiler on PATH: nothing to measure (install gcc)")
        return
    lab, peer = [], []
    for _ in range(args.rounds):
        lab.append(clock.measure_clock(args.threads).ghz or float("nan"))
        peer.append(wall_clock_ghz(args.threads))
    cpu = cpu_info()
    lab_ghz, peer_ghz = max(lab), max(peer)
    print(f"reported clock: {cpu['clock_ghz']} GHz ({cpu['clock_source']})")
    print(f"lab (thread CPU time), {args.threads} threads: best {lab_ghz:.3f} GHz, rounds "
          + ", ".join(f"{g:.3f}" for g in lab))
    print(f"peer (wall clock), same loop: best {peer_ghz:.3f} GHz, rounds " + ", ".join(f"{g:.3f}" for g in peer))
    print(f"ratio lab / peer (best): {lab_ghz / peer_ghz:.3f}x; spread of the lab's rounds "
          f"{(max(lab) - min(lab)) / lab_ghz:.1%}, of the peer's {(max(peer) - min(peer)) / peer_ghz:.1%}")

    work = make_matmul(args.n, "fp32", "cpu")
    gflops = work.flops / measure_torch_benchmark(work.fn, min_run_time=0.5).median / 1e9
    threads = torch.get_num_threads()
    for label, ghz in (("reported", None), ("measured (lab)", lab_ghz), ("wall-clock peer", peer_ghz)):
        peak = cpu_peak_for(cpu, threads, ghz=ghz)
        if peak:
            pct = 100 * gflops / peak.gflops["fp32"]
            print(f"fp32 matmul n={args.n}: {gflops:,.1f} GFLOP/s = {pct:5.1f} % of the peak at the {label} clock "
                  f"({peak.ghz:.2f} GHz, {peak.gflops['fp32']:,.1f} GFLOP/s){'  <- impossible' if pct > 100 else ''}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
