"""Benchmark: dataset distillation on scikit-learn's digits, every method at k = 1, 10 (and 50).

What it measures, in one run on the same split (75% train / 25% test, stratified, seed 0):

* **full**: the evaluation model trained on all 1,347 training images (the ceiling).
* **random**, **herding**, **k-center**: k real images per class (baselines; herding and k-centre
  pick in the embedding of a model trained on the full set).
* **DM**, **DC**: k learned synthetic images per class (distribution / gradient matching).

Every set is scored by training `--seeds` fresh models on it and testing on the 450 real test
images; the table shows mean +- std, the gap to full data, the ratio against the random subset of
the same k (the peer measured in the same run), and the wall time to build the set. Published
MNIST figures (28x28, ConvNet, DSA off) are printed beside them for orientation only: digits are
8x8 and these runs are seconds, not hours.

Run:  .venv/bin/python benchmarks/dataset_distillation.py                  (MLP and ConvNet, k=1,10)
      .venv/bin/python benchmarks/dataset_distillation.py --models MLP --ks 1 10 50
      .venv/bin/python benchmarks/dataset_distillation.py --dm-iterations 1000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# Published MNIST test accuracy (%) at 1 / 10 / 50 images per class: Zhao & Bilen 2023 (DM)
# Table 1 and Zhao et al. 2021 (DC) Table 1; random and herding from the same tables.
PUBLISHED = {
    "random": {1: 64.9, 10: 95.1, 50: 97.9},
    "herding": {1: 89.2, 10: 93.7, 50: 94.8},
    "k-center": {1: 89.3, 10: 84.4, 50: 97.4},
    "DM": {1: 89.7, 10: 97.5, 50: 98.6},
    "DC": {1: 91.7, 10: 97.4, 50: 98.8},
}
GOAL_POINTS = 3.0  # the goal: DM or DC within 3 points of full data at k=10 ...
GOAL_SECONDS = 60.0  # ... in under a minute on this CPU


def run(kind: str, ks: list[int], methods: list[str], seeds: int, dm_iterations: int, dc_outer: int,
        dc_inner: int = 5, synth_seeds: int = 2) -> dict:
    from labs.dataset_distillation import data, evaluation, experiments, models

    ds = data.builtin("digits")
    prep = experiments.prepare(ds, test_fraction=0.25, seed=0)
    spec = experiments.make_spec(ds, prep.scaler, kind=kind, hidden=64 if kind == "MLP" else 32, layers=2)
    start = time.perf_counter()
    with models.one_thread():
        comp = evaluation.compare(prep.Xtr, prep.train.y, prep.Xte, prep.test.y, ds.n_classes, spec, methods=methods,
                                  ks=ks, seeds=seeds, synth_seeds=synth_seeds, dm_iterations=dm_iterations,
                                  dc_outer=dc_outer, dc_inner=dc_inner)
    wall = time.perf_counter() - start
    print(f"\n## {kind} (digits 8x8, {len(prep.train.y)} train / {len(prep.test.y)} test, {seeds} seeds, "
          f"{synth_seeds} synthesis seeds, DM {dm_iterations} iterations, DC {dc_outer}x{dc_inner} steps)")
    print(f"full training set: {100 * comp.full_mean:.1f} +- {100 * comp.full_std:.1f} %  "
          f"({comp.full_seconds:.1f} s for {seeds} models)")
    print(f"{'method':<9} {'k':>3} {'acc %':>7} {'std':>5} {'vs full':>8} {'/random':>8} {'build s':>8} "
          f"{'MNIST paper':>11}")
    for r in comp.rows:
        rnd = comp.best("random", r["k"]) if "random" in methods else float("nan")
        paper = PUBLISHED.get(r["method"], {}).get(r["k"])
        print(f"{r['method']:<9} {r['k']:>3} {100 * r['mean']:>7.1f} {100 * r['std']:>5.1f} "
              f"{100 * (r['mean'] - comp.full_mean):>+8.1f} {r['mean'] / rnd:>8.3f} {r['seconds']:>8.1f} "
              f"{paper if paper is not None else '-':>11}")
    print(f"total wall time {wall:.1f} s (includes training {seeds} fresh models per cell)")
    return {"kind": kind, "comparison": comp, "wall": wall}


def main(argv: list[str] | None = None) -> None:
    from labs.dataset_distillation import distill

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["MLP", "ConvNet"], choices=["MLP", "ConvNet"])
    parser.add_argument("--ks", nargs="+", type=int, default=[1, 10])
    parser.add_argument("--methods", nargs="+", default=list(distill.METHODS), choices=list(distill.METHODS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--dm-iterations", type=int, default=distill.DM_ITERATIONS,
                        help="DM steps (the lab's one-click default is 300)")
    parser.add_argument("--dc-outer", type=int, default=distill.DC_OUTER)
    parser.add_argument("--dc-inner", type=int, default=distill.DC_INNER, help="DC budget = outer x inner steps")
    parser.add_argument("--synth-seeds", type=int, default=2, help="learned sets per method and k")
    args = parser.parse_args(argv)
    results = [run(kind, args.ks, args.methods, args.seeds, args.dm_iterations, args.dc_outer,
                   args.dc_inner, args.synth_seeds)
               for kind in args.models]
    if 10 in args.ks:
        print("\n## Goal: DM or DC within 3 points of full data at k = 10, in under 60 s")
        for res in results:
            comp = res["comparison"]
            for m in ("DM", "DC"):
                row = next((r for r in comp.rows if r["method"] == m and r["k"] == 10), None)
                if row is None:
                    continue
                gap = 100 * (comp.full_mean - row["mean"])
                met = gap <= GOAL_POINTS and row["seconds"] <= GOAL_SECONDS
                print(f"{res['kind']:<8} {m}: {100 * row['mean']:.1f}% vs full {100 * comp.full_mean:.1f}% "
                      f"(gap {gap:.1f} points), built in {row['seconds']:.1f} s -> {'met' if met else 'not met'}")


if __name__ == "__main__":
    main()
