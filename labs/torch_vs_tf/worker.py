"""One framework in one process: the lab's worker, driven over stdin/stdout with JSON lines.

    python -m labs.torch_vs_tf.worker --framework torch|tensorflow|keras-torch --threads 1

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
cannot corrupt the protocol stream. Commands: ``setup``, ``epoch``, ``predict``, ``bench``,
``export``, ``quit``. The worker exits by itself after `IDLE_EXIT_S` without a command.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import select
import sys
import time
from pathlib import Path

FRAMEWORKS = ("torch", "tensorflow", "keras-torch")
IDLE_EXIT_S = 15 * 60  # trained models stay available for predictions this long, then are freed


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
    if framework == "tensorflow":
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


class Worker:
    """Holds one framework's data, model and runner between commands."""

    def __init__(self, framework: str, threads: int):
        self.framework, self.threads = framework, threads
        start = time.perf_counter()
        if framework in ("tensorflow", "keras-torch"):
            from labs.torch_vs_tf.keras_side import import_keras

            import_keras("tensorflow" if framework == "tensorflow" else "torch")
        configure_threads(framework, threads)
        self.import_s = time.perf_counter() - start
        self.base_rss = rss_mb()  # the framework's own footprint, before any model exists
        self.data = self.cfg = self.runner = self.batches = None

    # -- commands -------------------------------------------------------------------------------

    def setup(self, data: str, config: dict, variant: str = "eager") -> dict:
        """Load the shared data and build the runner for `variant` with the shared weights."""
        from labs.torch_vs_tf.data import Dataset, batch_order
        from labs.torch_vs_tf.settings import TrainConfig

        self.data = Dataset.load(data)
        self.cfg = TrainConfig(**config)
        self.batches = batch_order(len(self.data.x_train), self.cfg.batch_size, self.cfg.epochs,
                                   self.cfg.seed)
        self.runner = self.build(variant)
        loss, acc = self.runner.evaluate(self.data.x_test, self.data.y_test)
        return {"framework": self.runner.framework, "variant": self.runner.variant,
                "params": self.runner.params, "test_loss": loss, "test_acc": acc,
                "import_s": self.import_s, "base_rss_mb": self.base_rss, "threads": self.threads,
                "is_torch_module": getattr(self.runner, "is_torch_module", lambda: False)()}

    def build(self, variant: str):
        from labs.torch_vs_tf.weights import init_weights

        layers = init_weights(self.cfg.arch, self.data.side, self.cfg.seed)
        if self.framework == "torch":
            from labs.torch_vs_tf.torch_side import TorchRunner

            if variant not in ("eager", "torch.compile"):
                raise ValueError(f"PyTorch variants are 'eager' and 'torch.compile', not {variant!r}")
            return TorchRunner(self.cfg, self.data.side, layers, compiled=variant == "torch.compile")
        from labs.torch_vs_tf.keras_side import KerasFitRunner, KerasTFRunner

        if variant == "model.fit" or self.framework == "keras-torch":
            return KerasFitRunner(self.cfg, self.data.side, layers)
        return KerasTFRunner(self.cfg, self.data.side, layers, variant=variant)

    def epoch(self, epoch: int) -> dict:
        """Train one epoch on the shared batches, then score the test set (outside the clock)."""
        d = self.data
        loss, seconds = self.runner.train_epoch(d.x_train, d.y_train, self.batches[epoch])
        test_loss, test_acc = self.runner.evaluate(d.x_test, d.y_test)
        return {"epoch": epoch + 1, "train_loss": loss, "seconds": seconds, "test_loss": test_loss,
                "test_acc": test_acc, "peak_rss_mb": peak_rss_mb()}

    def predict(self, x: list) -> dict:
        import numpy as np

        from labs.torch_vs_tf.metrics import softmax

        if self.runner is None:
            raise ValueError("no model yet: send 'setup' and train first")
        logits = self.runner.logits(np.asarray(x, dtype=np.float32))
        return {"probs": softmax(logits).tolist()}

    def bench(self, variant: str, epochs: int, latency_batch: int) -> dict:
        """The race for one variant: a fresh model, `epochs` timed epochs, inference latency.

        Epoch 1 is the warm-up: it includes tracing/compilation and is reported on its own, never
        mixed into the steady-state figure (the median of the later epochs).
        """
        import statistics

        import numpy as np

        from labs.torch_vs_tf.metrics import time_calls

        self.runner = self.build(variant)
        d = self.data
        times, loss = [], float("nan")
        for e in range(epochs):
            loss, seconds = self.runner.train_epoch(d.x_train, d.y_train, self.batches[e])
            times.append(seconds)
        test_loss, test_acc = self.runner.evaluate(d.x_test, d.y_test)
        pool = d.x_test if len(d.x_test) >= latency_batch else np.resize(d.x_test, (latency_batch, d.features))
        one, many = np.ascontiguousarray(pool[:1]), np.ascontiguousarray(pool[:latency_batch])
        # np.asarray inside `logits` waits for the result, so each timed call is complete.
        lat1 = time_calls(lambda: self.runner.logits(one))
        latn = time_calls(lambda: self.runner.logits(many), repeats=10)
        return {"framework": self.runner.framework, "variant": self.runner.variant,
                "params": self.runner.params, "first_epoch_s": times[0],
                "epoch_s": statistics.median(times[1:]) if len(times) > 1 else float("nan"),
                "train_loss": loss, "test_acc": test_acc, "latency_1_ms": lat1 * 1e3,
                "latency_n_ms": latn * 1e3, "latency_batch": latency_batch,
                "peak_rss_mb": peak_rss_mb(), "base_rss_mb": self.base_rss,
                "import_s": self.import_s, "threads": self.threads}

    def export(self, folder: str) -> dict:
        """Save the current model in the framework's formats; time loading each one back."""
        import numpy as np

        folder_path = Path(folder)
        example = np.ascontiguousarray(self.data.x_test[:1])
        if self.framework == "torch":
            files = self.runner.export(folder_path, example)
        else:
            files = self.runner.export(folder_path)
        reference = self.runner.logits(example)
        rows = []
        for label, path in files.items():
            start = time.perf_counter()
            out = load_and_run(self.framework, label, path, example)
            load_s = time.perf_counter() - start
            rows.append({"format": label, "path": str(path), "bytes": folder_size(path),
                         "load_s": load_s, "max_diff": float(np.abs(out - reference).max())})
        return {"framework": self.runner.framework, "files": rows}


def load_and_run(framework: str, label: str, path: Path, example):
    """Load an exported model the way a serving process would, and run it once (NumPy logits)."""
    import numpy as np

    if framework == "torch":
        import torch

        if label.startswith("torch.export"):
            from labs.torch_vs_tf.torch_side import load_torch_export

            module = load_torch_export(path)
        else:  # a state_dict needs the Python class (here: the builder) to be useful
            from labs.torch_vs_tf.torch_side import build_torch_model

            state = torch.load(path, weights_only=True)  # weights_only: never unpickle code
            side = int(round(example.shape[1] ** 0.5))
            arch = "cnn" if any(k.endswith(".weight") and state[k].ndim == 4 for k in state) else "mlp"
            module = build_torch_model(arch, side)
            module.load_state_dict(state)
            module.eval()
        with torch.inference_mode():
            return module(torch.from_numpy(example)).numpy()
    if label == "SavedModel":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))
        return np.asarray(loaded.serve(example))
    import keras

    model = keras.models.load_model(path)
    return np.asarray(model.predict_on_batch(example))


COMMANDS = {"setup", "epoch", "predict", "bench", "export"}


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
