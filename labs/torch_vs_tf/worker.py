"""One framework in one process: the lab's worker, driven over stdin/stdout with JSON lines.

    python -m labs.torch_vs_tf.worker --framework torch|tensorflow|tf-raw|keras-torch --threads 1

One worker serves many runs: every model it holds is keyed by (run id, column). The web server
keeps one long-lived worker per framework for training and predictions (`runs.py`), and starts a
fresh one per race variant so each memory figure belongs to that variant alone.

Why a process per framework:
- Keras 3 fixes its backend at import (``KERAS_BACKEND``), so Keras-on-PyTorch and
  Keras-on-TensorFlow cannot share a process.
- Each framework gets the same, explicit number of CPU threads. Left to their defaults, PyTorch's
  OpenMP pool and TensorFlow's Eigen pool both grab every core and spin-wait for each other; on a
  busy 2-core machine that made an 8x8 MLP epoch 100x slower.
- Peak memory (the process' high-water RSS) belongs to one framework only.
- The web server never loads TensorFlow, and a crash here cannot take it down.

Protocol: one JSON object per line in, one per line out (``{"ok": true, ...}`` or
``{"ok": false, "error": ..., "kind": ...}``). Anything a library prints goes to stderr, so it
cannot corrupt the protocol stream. Commands: ``setup``, ``epoch``, ``predict``, ``drop``,
``bench``, ``export``, ``sweep_point``, ``quit``. The worker exits by itself after `IDLE_EXIT_S` without a command.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import select
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# The processes: "tensorflow" holds Keras-on-TF and raw TF; "tf-raw" imports TensorFlow only (no Keras).
FRAMEWORKS = ("torch", "tensorflow", "tf-raw", "keras-torch")
# The columns of the lab, and the process kinds that can hold each one.
COLUMNS = ("torch", "tensorflow", "tf-raw", "keras-torch")
HOSTS = {"torch": {"torch"}, "tensorflow": {"tensorflow"}, "tf-raw": {"tensorflow", "tf-raw"},
         "keras-torch": {"keras-torch"}}
IDLE_EXIT_S = 15 * 60  # trained models stay available for predictions this long, then are freed
MAX_MODELS = 24  # models one worker holds at most (runs x columns); the server drops runs first


def rss_mb() -> float:
    """Current resident memory of this process in MB (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return 0.0


def peak_rss_mb() -> float:
    """High-water resident memory of this process in MB (ru_maxrss is in KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def configure_threads(framework: str, threads: int) -> None:
    """Pin the framework's CPU thread pools to `threads` before it does any work."""
    os.environ["TORCH_VS_TF_THREADS"] = str(threads)  # exported runtimes (onnxruntime) use it too
    if framework in ("tensorflow", "tf-raw"):
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    else:
        import torch

        torch.set_num_threads(threads)


def folder_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@dataclass
class Model:
    """One trained (or training) model: its data, settings, batch order and runner."""

    data: object
    cfg: object
    batches: list
    runner: object


class Worker:
    """Holds the models of many runs for one framework process, keyed by ``run/column``."""

    def __init__(self, framework: str, threads: int):
        self.framework, self.threads = framework, threads
        start = time.perf_counter()
        if framework in ("tensorflow", "keras-torch"):
            from labs.torch_vs_tf.keras_side import import_keras

            import_keras("tensorflow" if framework == "tensorflow" else "torch")
        elif framework == "tf-raw":
            from shared.optional import require

            require("tensorflow", slug="torch_vs_tf", purpose="the raw TensorFlow column")
        configure_threads(framework, threads)
        self.import_s = time.perf_counter() - start
        self.base_rss = rss_mb()  # the framework's own footprint, before any model exists
        self.models: "collections.OrderedDict[str, Model]" = collections.OrderedDict()

    def _model(self, run: str, column: str) -> Model:
        model = self.models.get(f"{run}/{column}")
        if model is None:
            raise ValueError(f"no model for run {run!r} in column {column!r} here: send 'setup' first")
        return model

    # -- commands -------------------------------------------------------------------------------

    def setup(self, run: str, column: str, data: str, config: dict, variant: str = "eager") -> dict:
        """Load the shared data and build `column`'s runner for `variant` with the shared weights."""
        from labs.torch_vs_tf.data import Dataset, batch_order
        from labs.torch_vs_tf.settings import TrainConfig

        dataset = Dataset.load(data)
        cfg = TrainConfig(**config)
        batches = batch_order(len(dataset.x_train), cfg.batch_size, cfg.epochs, cfg.seed)
        runner = self.build(column, variant, cfg, dataset.side)
        self.models[f"{run}/{column}"] = Model(dataset, cfg, batches, runner)
        while len(self.models) > MAX_MODELS:  # a safety net: the server drops whole runs before this
            self.models.popitem(last=False)
        loss, acc = runner.evaluate(dataset.x_test, dataset.y_test)
        return {"framework": runner.framework, "variant": runner.variant,
                "params": runner.params, "test_loss": loss, "test_acc": acc,
                "import_s": self.import_s, "base_rss_mb": self.base_rss, "threads": self.threads,
                "is_torch_module": getattr(runner, "is_torch_module", lambda: False)()}

    def build(self, column: str, variant: str, cfg, side: int, layers=None):
        """A fresh runner of `column` (shared initial weights unless `layers` is given)."""
        from labs.torch_vs_tf.weights import init_weights

        if self.framework not in HOSTS.get(column, ()):
            raise ValueError(f"a {self.framework!r} worker cannot hold the {column!r} column")
        layers = layers or init_weights(cfg.arch, side, cfg.seed)
        if column == "torch":
            from labs.torch_vs_tf.torch_side import TorchRunner

            if variant not in ("eager", "torch.compile"):
                raise ValueError(f"PyTorch variants are 'eager' and 'torch.compile', not {variant!r}")
            return TorchRunner(cfg, side, layers, compiled=variant == "torch.compile")
        if column == "tf-raw":
            from labs.torch_vs_tf.raw_tf_side import RawTFRunner

            return RawTFRunner(cfg, side, layers, variant=variant)
        from labs.torch_vs_tf.keras_side import KerasFitRunner, KerasTFRunner

        if variant == "model.fit" or column == "keras-torch":
            return KerasFitRunner(cfg, side, layers)
        return KerasTFRunner(cfg, side, layers, variant=variant)

    def epoch(self, run: str, column: str, epoch: int) -> dict:
        """Train one epoch on the shared batches, then score the test set (outside the clock)."""
        m = self._model(run, column)
        d = m.data
        loss, seconds = m.runner.train_epoch(d.x_train, d.y_train, m.batches[epoch])
        test_loss, test_acc = m.runner.evaluate(d.x_test, d.y_test)
        self.models.move_to_end(f"{run}/{column}")
        if epoch + 1 == len(m.batches) and run != "race":  # trained: predictions need only the model
            import dataclasses

            m.data = dataclasses.replace(d, x_train=d.x_train[:0], y_train=d.y_train[:0],
                                         x_test=d.x_test[:32], y_test=d.y_test[:32])
        return {"epoch": epoch + 1, "train_loss": loss, "seconds": seconds, "test_loss": test_loss,
                "test_acc": test_acc, "peak_rss_mb": peak_rss_mb(), "rss_mb": rss_mb()}

    def predict(self, run: str, column: str, x: list) -> dict:
        import numpy as np

        from labs.torch_vs_tf.metrics import softmax

        logits = self._model(run, column).runner.logits(np.asarray(x, dtype=np.float32))
        return {"probs": softmax(logits).tolist()}

    def drop(self, run: str) -> dict:
        """Forget every model of `run` (the server evicted it or its user trained again)."""
        keys = [k for k in self.models if k.split("/", 1)[0] == run]
        for key in keys:
            del self.models[key]
        import gc

        gc.collect()
        return {"dropped": len(keys), "models": len(self.models), "rss_mb": rss_mb()}

    def bench(self, run: str, column: str, variant: str, epochs: int, latency_batch: int) -> dict:
        """The race for one variant: `epochs` timed epochs of the model `setup` built, then latency.

        Epoch 1 is the warm-up: it includes tracing/compilation and is reported on its own, never
        mixed into the steady-state figure (the median of the later epochs).
        """
        import statistics

        import numpy as np

        from labs.torch_vs_tf.metrics import time_calls

        m = self._model(run, column)
        if m.runner.variant != variant:
            m.runner = self.build(column, variant, m.cfg, m.data.side)
        d, runner = m.data, m.runner
        times, loss = [], float("nan")
        for e in range(epochs):
            loss, seconds = runner.train_epoch(d.x_train, d.y_train, m.batches[e])
            times.append(seconds)
        test_loss, test_acc = runner.evaluate(d.x_test, d.y_test)
        pool = d.x_test if len(d.x_test) >= latency_batch else np.resize(d.x_test, (latency_batch, d.features))
        one, many = np.ascontiguousarray(pool[:1]), np.ascontiguousarray(pool[:latency_batch])
        # np.asarray inside `logits` waits for the result, so each timed call is complete.
        lat1 = time_calls(lambda: runner.logits(one))
        latn = time_calls(lambda: runner.logits(many), repeats=10)
        return {"framework": runner.framework, "variant": runner.variant,
                "params": runner.params, "first_epoch_s": times[0],
                "epoch_s": statistics.median(times[1:]) if len(times) > 1 else float("nan"),
                "train_loss": loss, "test_acc": test_acc, "latency_1_ms": lat1 * 1e3,
                "latency_n_ms": latn * 1e3, "latency_batch": latency_batch,
                "peak_rss_mb": peak_rss_mb(), "base_rss_mb": self.base_rss,
                "import_s": self.import_s, "threads": self.threads}

    def export(self, run: str, column: str, folder: str) -> dict:
        """Save the model in the framework's formats; check each file loaded back: equality, latency.

        Each format is loaded the way a serving process would load it (ONNX by onnxruntime, TFLite
        by the TFLite/LiteRT interpreter), then compared on 32 test rows (max |diff| of the logits)
        and timed on batch-1 calls next to the framework's own model.
        """
        import numpy as np

        from labs.torch_vs_tf.exports import load_runtime
        from labs.torch_vs_tf.metrics import time_calls

        m = self._model(run, column)
        folder_path = Path(folder)
        rows_in = np.ascontiguousarray(m.data.x_test[:32])
        one = np.ascontiguousarray(rows_in[:1])
        if column == "torch":
            files = m.runner.export(folder_path, one)
        else:
            files = m.runner.export(folder_path)
        reference = m.runner.logits(rows_in)
        own_ms = time_calls(lambda: m.runner.logits(one)) * 1e3
        kind = "torch" if column == "torch" else "tensorflow"
        rows = []
        for label, path in files.items():
            start = time.perf_counter()
            run_fn = load_runtime(kind, label, path, m.data.side)
            out = run_fn(one)
            load_s = time.perf_counter() - start
            diff = float(np.abs(run_fn(rows_in) - reference).max())
            rows.append({"format": label, "path": str(path), "bytes": folder_size(path),
                         "load_s": load_s, "max_diff": diff, "rows_compared": len(rows_in),
                         "latency_1_ms": time_calls(lambda: run_fn(one)) * 1e3,
                         "framework_latency_1_ms": own_ms, "first_out": np.asarray(out).shape[0]})
        return {"framework": m.runner.framework, "files": rows}

    def sweep_point(self, column: str, width: int, batch: int, steps: int, seed: int = 0) -> dict:
        """Time `steps` training steps of an MLP 64-width-width-10 on one batch of `batch` random rows.

        Two untimed warm-up steps first; the result is the median seconds per step over the timed
        ones, each timed as one `train_epoch` of a single batch (so it ends with a sync).
        """
        from labs.torch_vs_tf.settings import TrainConfig
        from labs.torch_vs_tf.sweep import step_flops, synthetic_batch
        from labs.torch_vs_tf.weights import init_weights

        import statistics

        import numpy as np

        side = 8
        cfg = TrainConfig(arch="mlp", epochs=1, batch_size=batch, seed=seed)
        layers = init_weights("mlp", side, seed, hidden=(width, width))
        runner = self.build(column, "eager", cfg, side, layers)
        x, y = synthetic_batch(batch, side * side, seed)
        one = [np.arange(batch)]
        for _ in range(2):
            runner.train_epoch(x, y, one)
        times = [runner.train_epoch(x, y, one)[1] for _ in range(steps)]
        return {"framework": runner.framework, "width": width, "batch": batch,
                "step_ms": statistics.median(times) * 1e3,
                "mflop_per_step": step_flops(side * side, (width, width), 10, batch) / 1e6}


COMMANDS = {"setup", "epoch", "predict", "drop", "bench", "export", "sweep_point"}


def serve(framework: str, threads: int) -> None:
    """Answer commands until 'quit', end of input, or `IDLE_EXIT_S` of silence."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)  # our private copy of stdout
    os.dup2(2, 1)  # from now on, anything printed (by us or a library) lands on stderr
    sys.stdout = sys.stderr

    def reply(payload: dict) -> None:
        protocol.write(json.dumps(payload) + "\n")
        protocol.flush()

    try:
        worker = Worker(framework, threads)
    except Exception as exc:  # e.g. a missing package: say so on the protocol, then exit
        reply({"ok": False, "error": str(exc), "kind": type(exc).__name__})
        return
    reply({"ok": True, "ready": framework, "import_s": worker.import_s, "base_rss_mb": worker.base_rss})
    while True:
        ready, _, _ = select.select([sys.stdin], [], [], IDLE_EXIT_S)
        if not ready:
            return  # idle too long: free the memory
        line = sys.stdin.readline()
        if not line:
            return  # the parent went away
        try:
            message = json.loads(line)
            cmd = message.pop("cmd")
            if cmd == "quit":
                return
            if cmd not in COMMANDS:
                raise ValueError(f"unknown command {cmd!r}")
            reply({"ok": True, **getattr(worker, cmd)(**message)})
        except Exception as exc:
            import traceback

            traceback.print_exc()  # to stderr, which the parent keeps in a log file
            reply({"ok": False, "error": str(exc), "kind": type(exc).__name__})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=FRAMEWORKS, required=True)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ chatter down
    serve(args.framework, max(1, args.threads))


if __name__ == "__main__":
    main()
