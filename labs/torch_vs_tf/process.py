"""One worker process seen from the web server: start it, send it commands, await replies, stop it.

`WorkerProcess` wraps `python -m labs.torch_vs_tf.worker` with a reader thread, so every reply can
be awaited with a timeout, and a lock, so that one long-lived worker can serve many sessions (one
command at a time, in order).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the folder that holds labs/ and shared/
LABELS = {"torch": "PyTorch", "tensorflow": "TensorFlow · Keras layers", "tf-raw": "TensorFlow · raw tf.nn",
          "keras-torch": "Keras 3 on PyTorch"}
START_TIMEOUT_S = 180  # importing TensorFlow on a busy 2-core machine can take a minute
STEP_TIMEOUT_S = 600  # one epoch or one race variant (torch.compile's first compile included)


class WorkerError(RuntimeError):
    """A worker process failed; the message carries its error and the end of its log."""


class WorkerProcess:
    """One `worker.py` process with a reader thread, so replies can be awaited with a timeout."""

    def __init__(self, framework: str, threads: int, log_dir: Path):
        self.framework = framework
        self.log_path = log_dir / f"{framework}.log"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
                   TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
        env["KERAS_BACKEND"] = "torch" if framework == "keras-torch" else "tensorflow"
        # CPU only, for every framework: tensorflow-cpu has no GPU, and Keras-on-torch would
        # otherwise move itself to a GPU it finds, making the race compare devices.
        env["CUDA_VISIBLE_DEVICES"] = ""
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "labs.torch_vs_tf.worker", "--framework", framework,
                 "--threads", str(threads)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=str(ROOT), env=env,
                text=True, bufsize=1)
        self.replies: queue.Queue = queue.Queue()
        self.lock = threading.Lock()  # a shared worker answers one command at a time, in order
        threading.Thread(target=self._read, daemon=True).start()
        self.ready: dict | None = None

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                self.replies.put(json.loads(line))
            except json.JSONDecodeError:
                continue
        self.replies.put(None)  # end of stream: the process exited

    def _wait(self, timeout: float) -> dict:
        try:
            reply = self.replies.get(timeout=timeout)
        except queue.Empty:
            self.close()
            raise WorkerError(f"{LABELS[self.framework]} did not answer within {timeout:.0f} s; "
                              "the machine may be overloaded. Try fewer epochs or a larger batch.") from None
        if reply is None:
            raise WorkerError(f"{LABELS[self.framework]} worker stopped unexpectedly. "
                              f"Last log lines:\n{self.log_tail()}")
        if not reply.get("ok"):
            raise WorkerError(f"{LABELS[self.framework]}: {reply.get('kind')}: {reply.get('error')}")
        return reply

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> dict:
        with self.lock:
            if self.ready is None:
                self.ready = self._wait(timeout)
            return self.ready

    def call(self, cmd: str, timeout: float = STEP_TIMEOUT_S, **args) -> dict:
        self.wait_ready(max(timeout, 1.0))
        with self.lock:
            if self.proc.poll() is not None:
                raise WorkerError(f"{LABELS[self.framework]} worker has exited; train again.")
            try:
                self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                raise WorkerError(f"{LABELS[self.framework]} worker has exited ({exc}); train again.") from exc
            return self._wait(timeout)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 8) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def close(self) -> None:
        """Ask politely, then kill: this process and only this one."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write('{"cmd": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=3)
            except (OSError, subprocess.TimeoutExpired, ValueError):
                self.proc.kill()
                self.proc.wait(timeout=5)
