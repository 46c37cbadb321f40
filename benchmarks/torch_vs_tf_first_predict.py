"""Lab 6: the first "Draw & predict" of a session, and the memory a kept run costs.

    python benchmarks/torch_vs_tf_first_predict.py

Two ways to answer a first prediction when no model is loaded, measured in the same run from cold
(no worker process running):

- peer (how the lab used to do it): start a worker per framework for this run, all at once, train
  the default MLP in every framework, then predict; the answer comes when all of that is done;
- the lab now (`runs.predict_digit`): PyTorch's shared worker starts alone, trains the default MLP
  (a tenth of a second) and answers; the TensorFlow and Keras workers start meanwhile and answer
  in turn. The default models stay in the shared workers for every later session.

It prints seconds to the first answer and to all answers, their ratio to the peer, and the
resident memory of the worker processes after two training runs (one set of processes for all
runs, against one set per run before). Absolute times depend on the machine and its load.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pool_rss_mb(runs) -> float:
    import psutil

    return sum(psutil.Process(w.proc.pid).memory_info().rss for w in runs._POOL.values() if w.alive()) / 1e6


def main() -> None:
    from labs.torch_vs_tf import data, runs, settings

    digits = data.load_digits()
    x = digits.x_test[:1]
    frameworks, _ = runs.choose_frameworks(True)
    cfg = settings.make_config(epochs=settings.DEFAULT_EPOCHS)

    # Peer: a fresh set of workers for this run, started at once, trained, then asked.
    runs.shutdown_pool()
    start = time.perf_counter()
    run_id = list(runs.train_side_by_side(digits, cfg, frameworks=frameworks))[-1]["run_id"]
    runs.predict(run_id, x)
    peer_s = time.perf_counter() - start
    runs.release(run_id)

    # Now: cold again, the shared default models, answers streamed as each framework is ready.
    runs.shutdown_pool()
    runs._DEFAULT_HOLDERS.clear()
    start = time.perf_counter()
    stamps = [time.perf_counter() - start for _ in runs.predict_digit(x, None)]
    start = time.perf_counter()
    list(runs.predict_digit(x, None))
    warm_s = time.perf_counter() - start

    print(f"{len(frameworks)} frameworks: {', '.join(runs.LABELS[f] for f in frameworks)}")
    print(f"{'peer: fresh workers + train + predict':42} {peer_s:7.1f} s")
    print(f"{'now: first answer (PyTorch)':42} {stamps[0]:7.1f} s  {stamps[0] / peer_s:5.2f}x peer")
    print(f"{'now: all answers':42} {stamps[-1]:7.1f} s  {stamps[-1] / peer_s:5.2f}x peer")
    print(f"{'now: a later session (workers warm)':42} {warm_s:7.3f} s  {warm_s / peer_s:7.4f}x peer")

    ids = [list(runs.train_side_by_side(digits, cfg, frameworks=frameworks))[-1]["run_id"] for _ in range(2)]
    print(f"after 2 training runs: {len(runs._POOL)} worker processes, {pool_rss_mb(runs):.0f} MB resident "
          f"in all (before: {len({runs.PROCESS_OF[f] for f in frameworks})} processes per run, kept per run)")
    for run_id in ids:
        runs.release(run_id)
    runs.shutdown_pool()


if __name__ == "__main__":
    main()
