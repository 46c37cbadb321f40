"""Benchmark for Lab 9: requests per second through nginx with 1 vs N replicas of a CPU-bound handler.

    python benchmarks/docker_mlops.py [--replicas 2,4] [--requests 120] [--rounds 40000]

Each request to the small app's /work holds one core for `rounds` SHA-256 rounds in pure Python (the
GIL keeps one replica process on one core). The baseline is one replica behind the same nginx,
measured in the same run; the figure is the throughput with N replicas and its ratio to the
baseline. On a 2-core machine the ceiling is about 2x (and the client shares those cores).
Needs nginx (apt-get install nginx).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labs.docker_mlops import replicas  # noqa: E402
from labs.docker_mlops.lint import nginx_path  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", default="2,4", help="replica counts to compare with 1 (comma-separated)")
    parser.add_argument("--requests", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=40_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    if nginx_path() is None:
        raise SystemExit("nginx is not installed: apt-get install nginx (or bash .ci/lab-docker_mlops.sh)")
    print(f"{os.cpu_count()} CPU cores; {args.requests} requests of {args.rounds:,} SHA-256 rounds, "
          f"{args.concurrency} concurrent clients, through nginx round-robin")
    base = replicas.measure_rps(1, args.requests, args.rounds, args.concurrency)
    print(f"  1 replica : {base['requests_per_s']:7.1f} req/s  p50 {base['p50_ms']:7.1f} ms  p95 {base['p95_ms']:7.1f} ms"
          f"  errors {base['errors']}  (baseline)")
    for n in (int(x) for x in args.replicas.split(",") if x.strip()):
        res = replicas.measure_rps(n, args.requests, args.rounds, args.concurrency)
        ratio = res["requests_per_s"] / base["requests_per_s"] if base["requests_per_s"] else float("nan")
        print(f"  {n} replicas: {res['requests_per_s']:7.1f} req/s  p50 {res['p50_ms']:7.1f} ms  p95 {res['p95_ms']:7.1f} ms"
              f"  errors {res['errors']}  -> {ratio:.2f}x the single replica; spread {sorted(res['per_replica'].values())}")


if __name__ == "__main__":
    main()
