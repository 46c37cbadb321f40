"""PyTorch vs TensorFlow on the same model and data: time per epoch and inference latency (lab 6).

    python benchmarks/torch_vs_tf.py [--arch mlp cnn] [--epochs 5] [--threads 1] [--compile]

It runs the lab's own race (`labs.torch_vs_tf.runs.race`): each framework in a fresh process with
the same thread count, one after another; every variant starts from the same weights and sees the
same batches of the scikit-learn digits; epoch 1 is warm-up and excluded; latencies are medians
after warm-up. It prints each variant's figures and its ratio to PyTorch eager *measured in the
same run* (ratio > 1 means slower than PyTorch eager). Absolute times depend on the machine; the
ratios are the result.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="+", default=["mlp", "cnn"], choices=["mlp", "cnn"])
    parser.add_argument("--epochs", type=int, default=5, help="epochs per variant (first is warm-up)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per framework")
    parser.add_argument("--latency-batch", type=int, default=256)
    parser.add_argument("--compile", action="store_true", help="also torch.compile (20-60 s to compile)")
    args = parser.parse_args()

    from labs.torch_vs_tf import data, runs, settings

    frameworks = [fw for fw in ("torch", "tensorflow", "tf-raw", "keras-torch") if runs.available(fw)]
    skipped = sorted(set(runs.LABELS) - set(frameworks))
    if skipped:
        print(f"skipped (not installed): {', '.join(runs.LABELS[s] for s in skipped)}")
    variants = {fw: tuple(v for v in runs.RACE_VARIANTS[fw] if v != "torch.compile" or args.compile)
                for fw in frameworks}
    digits = data.load_digits()
    print(f"{digits.describe()}; {args.epochs} epochs (1 warm-up), batch {args.batch}, "
          f"{args.threads} thread(s) per framework, latency batch N = {args.latency_batch}")
    for arch in args.arch:
        cfg = settings.make_config(arch=arch, epochs=args.epochs, batch_size=args.batch)
        start = time.perf_counter()
        results = [ev for ev in runs.race(digits, cfg, frameworks=frameworks, variants=variants,
                                          threads=args.threads, latency_batch=args.latency_batch,
                                          export=False) if ev["event"] == "variant"]
        base = next(r for r in results if r["framework"] == "PyTorch" and r["variant"] == "eager")
        print(f"\n== {arch.upper()} ({base['params']:,} parameters, race took "
              f"{time.perf_counter() - start:.0f} s) ==")
        print(f"{'framework · variant':38} {'warm-up s':>9} {'epoch ms':>9} {'x torch':>8} "
              f"{'b1 ms':>8} {'x torch':>8} {'bN ms':>8} {'x torch':>8} {'acc':>6} {'peak MB':>8}")
        for r in results:
            print(f"{r['framework'] + ' · ' + r['variant']:38} {r['first_epoch_s']:9.3f} "
                  f"{r['epoch_s'] * 1e3:9.1f} {r['epoch_s'] / base['epoch_s']:8.2f} "
                  f"{r['latency_1_ms']:8.3f} {r['latency_1_ms'] / base['latency_1_ms']:8.2f} "
                  f"{r['latency_n_ms']:8.3f} {r['latency_n_ms'] / base['latency_n_ms']:8.2f} "
                  f"{r['test_acc']:6.3f} {r['peak_rss_mb']:8.0f}")
        for name in ("TensorFlow · Keras layers", "TensorFlow · raw tf.nn"):
            best_tf = min((r for r in results if r["framework"] == name), key=lambda r: r["epoch_s"],
                          default=None)
            if best_tf:
                print(f"-> fastest {name} variant ({best_tf['variant']}) per epoch: "
                      f"{best_tf['epoch_s'] / base['epoch_s']:.2f}x PyTorch eager; batch-1 latency "
                      f"{best_tf['latency_1_ms'] / base['latency_1_ms']:.2f}x")
        eager = {r["framework"]: r["epoch_s"] for r in results if r["variant"] == "eager"}
        if {"TensorFlow · Keras layers", "TensorFlow · raw tf.nn"} <= set(eager):
            print(f"-> TF eager, Keras layers vs raw tf.nn: "
                  f"{eager['TensorFlow · Keras layers'] / eager['TensorFlow · raw tf.nn']:.2f}x "
                  "(the part of 'TF eager is slow' that is Keras dispatch)")


if __name__ == "__main__":
    main()
