"""Benchmark for Lab 2: how fast the KEDA simulator runs, against the real local load test.

    python benchmarks/keda_autoscaling.py

Prints simulated seconds per wall second for a day at 1 s resolution (the figure), and the same
figure for the real local autoscaling test run in this process (the peer: real replica processes
on 127.0.0.1 with the time axis compressed), and their ratio. Then the cost of the HPA scale-up
policies (the same day without them is the peer), and the simulator's error against that load test
(calibrate.py: replicas and latency, mean absolute error).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataclasses import replace  # noqa: E402

from labs.keda_autoscaling import calibrate, loadtest, simulate  # noqa: E402


def main() -> None:
    day = simulate.profile_business_day()
    rule = simulate.ScaleRule()
    simulate.simulate(day[:3600], rule)  # warm-up
    def best_of(r: simulate.ScaleRule) -> float:
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            simulate.simulate(day, r)
            runs.append(time.perf_counter() - t0)
        return min(runs)

    best = best_of(rule)
    unlimited = best_of(replace(rule, hpa=simulate.UNLIMITED))
    sim_rate = len(day) / best
    print(f"simulator: {len(day):,} simulated s in {best:.3f} s -> {sim_rate:,.0f} simulated s per wall s")

    compression = 300.0
    profile = loadtest.compressed_profile(seconds=10)
    t0 = time.perf_counter()
    result, _ = loadtest.run_coroutine(loadtest.autoscale_test(profile, compression=compression, max_replicas=3))
    wall = time.perf_counter() - t0
    real_rate = compression  # by construction: one wall second of the load test stands for `compression` Azure seconds
    print(f"local load test (real processes, x{compression:g} time compression): {wall:.1f} s wall, "
          f"{result['requests']} requests, peak {result['peak_replicas']} replicas -> {real_rate:,.0f} simulated s per wall s")
    print(f"ratio: the simulator covers {sim_rate / real_rate:,.0f}x more scaler time per wall second")
    print(f"HPA scale-up policies: a day in {best:.3f} s with them, {unlimited:.3f} s without "
          f"-> ratio {best / unlimited:.2f}")
    cal = calibrate.calibrate(profile, result, target=4, max_replicas=3, work_ms=200)
    print(f"calibration against that load test: replicas MAE {cal['replicas_mae']} (peak measured "
          f"{cal['peak']['measured']}, simulated {cal['peak']['simulated']}); latency MAE {cal['latency_mae_ms']} ms; "
          f"p95 measured {cal['p95_ms']['measured']} ms vs simulated {cal['p95_ms']['simulated']} ms")


if __name__ == "__main__":
    main()
