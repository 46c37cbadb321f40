"""The web server's side: start one worker process per framework and drive them in lock-step.

`train_side_by_side` and `race` are generators. They send one command to one worker at a time,
so the frameworks never compete for the CPU while a clock runs, and they yield after every step
so the UI can draw live curves and a Stop button can cancel between steps (closing the generator
kills the workers).
"""

from __future__ import annotations

import collections
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from labs.torch_vs_tf.data import Dataset, load_digits
from labs.torch_vs_tf.settings import (DEFAULT_BATCH, DEFAULT_EPOCHS, DEFAULT_LR, DEFAULT_SEED,
                                       TrainConfig, make_config)
from labs.torch_vs_tf.worker import IDLE_EXIT_S
from shared import scratch
from shared.optional import install_hint, missing
from shared.serving import Deadline, is_shared

ROOT = Path(__file__).resolve().parents[2]  # the folder that holds labs/ and shared/
LABELS = {"torch": "PyTorch", "tensorflow": "TensorFlow", "keras-torch": "Keras 3 on PyTorch"}
NEEDS = {"torch": ("torch",), "tensorflow": ("tensorflow", "keras"), "keras-torch": ("keras", "torch")}
# Which variant each framework trains in the side-by-side view, per mode.
TRAIN_VARIANT = {
    "eager": {"torch": "eager", "tensorflow": "eager", "keras-torch": "model.fit"},
    "compiled": {"torch": "torch.compile", "tensorflow": "tf.function", "keras-torch": "model.fit"},
}
# The race: every variant of every framework, in this order.
RACE_VARIANTS = {
    "torch": ("eager", "torch.compile"),
    "tensorflow": ("eager", "tf.function", "tf.function+XLA", "model.fit"),
    "keras-torch": ("model.fit",),
}
START_TIMEOUT_S = 180  # importing TensorFlow on a busy 2-core machine can take a minute
STEP_TIMEOUT_S = 600  # one epoch or one race variant (torch.compile's first compile included)
MAX_LIVE_RUNS = 2  # trained runs kept alive for predictions, for all users together; older ones are shut down
MAX_RELEASED_IDS = 1000  # ids of runs shut down to make room, remembered to tell their users why
SLUG = "torch_vs_tf"
# Run folders (data, worker logs, exports) live under the lab's scratch root. Folders a run still uses
# are touched whenever a new one is made, so only abandoned ones (a crash, a restart) age out.
KEEP_S = 3600.0
# On a shared server one training run or race (worker start-up included: importing TensorFlow takes
# up to a minute on a busy 2-core machine) must finish within this. Locally there is no overall limit.
SHARED_BUDGET_S = 120.0
BUDGET_GRACE_S = 5.0  # a step in flight when the budget ends gets this long to answer


class WorkerError(RuntimeError):
    """A worker process failed; the message carries its error and the end of its log."""


def available(framework: str) -> bool:
    return not missing(NEEDS[framework])


def unavailable_note(framework: str) -> str:
    absent = ", ".join(missing(NEEDS[framework]))
    return (f"{LABELS[framework]} is skipped: {absent} not installed. "
            f"Install with `{install_hint('torch_vs_tf')}`.")


def choose_frameworks(with_keras_torch: bool) -> tuple[list[str], list[str]]:
    """The frameworks that can run here, and a note for each wanted one that cannot.

    Raises:
        ValueError: PyTorch itself is missing (nothing can run).
    """
    if not available("torch"):
        raise ValueError(f"PyTorch is not installed. Install it with `{install_hint('torch_vs_tf')}`.")
    chosen, notes = ["torch"], []
    for fw, wanted in (("tensorflow", True), ("keras-torch", with_keras_torch)):
        if wanted and available(fw):
            chosen.append(fw)
        elif wanted:
            notes.append(unavailable_note(fw))
    return chosen, notes


def race_plan(frameworks: list[str], extra: set[str]) -> dict[str, tuple[str, ...]]:
    """Each framework's variants for the race: eager / model.fit always, plus the chosen extras."""
    return {fw: tuple(v for v in RACE_VARIANTS[fw] if v in ("eager", "model.fit") or v in extra)
            for fw in frameworks}


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
        if self.ready is None:
            self.ready = self._wait(timeout)
        return self.ready

    def call(self, cmd: str, timeout: float = STEP_TIMEOUT_S, **args) -> dict:
        self.wait_ready()
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


@dataclass
class Run:
    """A training run: its workers (kept for predictions), folder and side."""

    run_id: str
    folder: Path
    side: int
    workers: dict[str, WorkerProcess] = field(default_factory=dict)

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_RUNS: "collections.OrderedDict[str, Run]" = collections.OrderedDict()
_RELEASED_FOR_ROOM: "collections.OrderedDict[str, None]" = collections.OrderedDict()
_RUNS_LOCK = threading.Lock()
_BUSY_FOLDERS: set[Path] = set()  # folders of trainings in progress (not yet kept)


def new_folder(prefix: str) -> Path:
    """A fresh scratch folder; first touch every folder a live run uses, so pruning spares them."""
    with _RUNS_LOCK:
        live = [run.folder for run in _RUNS.values()] + list(_RACE_FOLDERS) + list(_BUSY_FOLDERS)
    for folder in live:
        try:
            os.utime(folder)
        except OSError:
            pass
    return scratch.new_folder(SLUG, prefix=prefix, keep_s=KEEP_S)


def run_budget(what: str) -> Deadline | None:
    """The time budget of one run on a shared server (`SHARED_BUDGET_S`); None locally."""
    return Deadline(SHARED_BUDGET_S, what=f"{what} on this shared server") if is_shared() else None


def _ready(worker: WorkerProcess, deadline: Deadline | None) -> dict:
    """`worker.wait_ready()`, within the budget's time left (if any)."""
    if deadline is None:
        return worker.wait_ready()
    deadline.check()
    try:
        return worker.wait_ready(timeout=min(START_TIMEOUT_S, deadline.left() + BUDGET_GRACE_S))
    except WorkerError:
        deadline.check()  # it was the budget that ran out: say so
        raise


def _call(worker: WorkerProcess, deadline: Deadline | None, cmd: str, **args) -> dict:
    """`worker.call(...)`, checking the budget first and waiting at most the time it has left."""
    if deadline is None:
        return worker.call(cmd, **args)
    deadline.check()
    timeout = min(args.pop("timeout", STEP_TIMEOUT_S), deadline.left() + BUDGET_GRACE_S)
    try:
        return worker.call(cmd, timeout=timeout, **args)
    except WorkerError:
        deadline.check()
        raise


def _keep(run: Run) -> None:
    """Remember a finished run; shut down the oldest beyond `MAX_LIVE_RUNS` (whoever trained it)."""
    with _RUNS_LOCK:
        _RUNS[run.run_id] = run
        while len(_RUNS) > MAX_LIVE_RUNS:
            old_id, old = _RUNS.popitem(last=False)
            _RELEASED_FOR_ROOM[old_id] = None  # so its user learns why the models are gone
            while len(_RELEASED_FOR_ROOM) > MAX_RELEASED_IDS:
                _RELEASED_FOR_ROOM.popitem(last=False)
            old.close()


def release(run_id: str | None) -> None:
    """Shut down a kept run now (a session that trains again no longer needs its old models)."""
    with _RUNS_LOCK:
        run = _RUNS.pop(run_id or "", None)
    if run is not None:
        run.close()


def get_run(run_id: str | None) -> Run | None:
    with _RUNS_LOCK:
        return _RUNS.get(run_id or "")


def why_not_loaded(run_id: str | None) -> str | None:
    """Why a session's trained models cannot predict, as a sentence; None when they can."""
    run = get_run(run_id)
    if run is not None and any(w.alive() for w in run.workers.values()):
        return None
    if not run_id:
        return "No models have been trained in this session yet."
    with _RUNS_LOCK:
        released = run_id in _RELEASED_FOR_ROOM
    if released:
        return (f"Your trained models were released to make room for newer training runs: the "
                f"server keeps the models of only the {MAX_LIVE_RUNS} most recent runs, shared by "
                "all users.")
    if run is not None:
        return f"Your trained models were freed after {IDLE_EXIT_S // 60} idle minutes."
    return "Your trained models are no longer loaded (the server may have restarted)."


def train_side_by_side(data: Dataset, cfg: TrainConfig, *, frameworks: list[str],
                       threads: int = 1) -> Iterator[dict]:
    """Train the same model in each framework, one epoch each in turn, yielding events.

    Events (dicts with ``"event"``): ``started`` (per framework: params, variant, import time),
    ``epoch`` (per framework per epoch: train loss, seconds, test loss/accuracy), ``done`` (with
    ``run_id`` for `predict`). Epoch 0 is the untrained model: identical weights, identical start.

    Raises:
        BudgetExceeded: On a shared server, when the run passes `SHARED_BUDGET_S` (checked
            between steps; the workers are stopped).
    """
    deadline = run_budget("training")
    folder = new_folder("torch_vs_tf_")
    run = Run(uuid.uuid4().hex[:12], folder, data.side)
    kept = False
    with _RUNS_LOCK:
        _BUSY_FOLDERS.add(folder)
    try:
        data_path = data.save(folder / "data.npz")
        # Start all workers at once: their imports overlap; no clock runs yet.
        run.workers = {fw: WorkerProcess(fw, threads, folder) for fw in frameworks}
        for fw, worker in run.workers.items():
            ready = _ready(worker, deadline)
            info = _call(worker, deadline, "setup", data=str(data_path), config=cfg.to_dict(),
                         variant=TRAIN_VARIANT[cfg.mode][fw])
            yield {"event": "started", "key": fw, **ready, **info}
        for epoch in range(cfg.epochs):
            for fw, worker in run.workers.items():
                yield {"event": "epoch", "key": fw, "framework": LABELS[fw],
                       **_call(worker, deadline, "epoch", epoch=epoch)}
        _keep(run)
        kept = True
        yield {"event": "done", "run_id": run.run_id}
    finally:
        with _RUNS_LOCK:
            _BUSY_FOLDERS.discard(folder)
        if not kept:  # failed or cancelled (the generator was closed): free everything now
            run.close()


def predict(run_id: str | None, x: np.ndarray) -> dict[str, np.ndarray]:
    """Class probabilities (1, 10) from every framework of a kept run, for one input row."""
    reason = why_not_loaded(run_id)
    if reason:
        raise ValueError(f"{reason} Click 'Train side by side', then predict.")
    run = get_run(run_id)
    if x.shape[1] != run.side * run.side:
        raise ValueError(f"The models were trained on {run.side}x{run.side} images; "
                         f"got {x.shape[1]} values.")
    return {LABELS[fw]: np.asarray(w.call("predict", timeout=60, x=x.tolist())["probs"])
            for fw, w in run.workers.items() if w.alive()}


DEFAULT_SIDE = 8  # the default models are trained on the 8x8 digits


def input_side(run_id: str | None) -> int:
    """The image side to prepare a drawing for: the session's models', or the default models'."""
    run = get_run(run_id)
    return run.side if run is not None and why_not_loaded(run_id) is None else DEFAULT_SIDE


def predict_digit(x: np.ndarray, run_id: str | None,
                  on_status: Callable[[str], None] = lambda message: None
                  ) -> tuple[dict[str, np.ndarray], str | None, str]:
    """Predict one input row with the session's models, training the default MLP first if needed.

    Returns:
        (probabilities per framework label, the run id now holding the models, a note saying
        why the default models were trained, or "").
    """
    reason = why_not_loaded(run_id)
    run = get_run(run_id)
    if reason is None and run.side * run.side != x.shape[1]:
        reason = f"Your models were trained on {run.side}x{run.side} images."
    note = ""
    if reason:
        note = f"{reason} The default MLP was trained on the digits first."
        on_status("No trained models: training the default MLP first (about 15 s)…")
        data = load_digits()
        cfg = make_config(arch="mlp", epochs=DEFAULT_EPOCHS, batch_size=DEFAULT_BATCH, lr=DEFAULT_LR,
                          optimizer="adam", seed=DEFAULT_SEED, mode="eager",
                          train_size=len(data.x_train))
        frameworks, _ = choose_frameworks(True)
        release(run_id)
        for event in train_side_by_side(data, cfg, frameworks=frameworks, threads=1):
            run_id = event.get("run_id", run_id)
    return predict(run_id, x), run_id, note


def race(data: Dataset, cfg: TrainConfig, *, frameworks: list[str], variants: dict[str, tuple[str, ...]],
         threads: int = 1, latency_batch: int = 256, export: bool = True,
         out_dir: Path | None = None) -> Iterator[dict]:
    """The fair race: for each framework (one fresh process each, run one after another) and each
    variant, train `cfg.epochs` epochs from the shared weights on the shared batches, then time
    inference; finally export the eager model and time loading it back.

    Yields ``{"event": "variant", ...}`` and ``{"event": "export", ...}`` results as they come.

    Raises:
        BudgetExceeded: On a shared server, when the race passes `SHARED_BUDGET_S` (checked
            between steps; the worker is stopped).
    """
    deadline = run_budget("the race")
    folder = new_folder("torch_vs_tf_race_")
    _remember_race_folder(folder)
    out_dir = Path(out_dir or folder / "exports")
    data_path = data.save(folder / "data.npz")
    for fw in frameworks:
        worker = WorkerProcess(fw, threads, folder)
        try:
            ready = _ready(worker, deadline)
            _call(worker, deadline, "setup", data=str(data_path), config=cfg.to_dict(), variant=variants[fw][0])
            for i, variant in enumerate(variants[fw]):
                yield {"event": "variant", "key": fw, "import_s": ready["import_s"],
                       **_call(worker, deadline, "bench", variant=variant, epochs=cfg.epochs,
                               latency_batch=latency_batch)}
                if export and i == 0:  # export the first (eager) model, just trained
                    result = _call(worker, deadline, "export", folder=str(out_dir / fw))
                    for row in result["files"]:
                        row["download"] = str(downloadable(Path(row["path"])))
                    yield {"event": "export", "key": fw, **result}
        finally:
            worker.close()


_RACE_FOLDERS: "collections.deque[Path]" = collections.deque()
MAX_RACE_FOLDERS = 4  # exported files stay downloadable for the last few races only


def _remember_race_folder(folder: Path) -> None:
    with _RUNS_LOCK:
        _RACE_FOLDERS.append(folder)
        while len(_RACE_FOLDERS) > MAX_RACE_FOLDERS:
            shutil.rmtree(_RACE_FOLDERS.popleft(), ignore_errors=True)


def downloadable(path: Path) -> Path:
    """A single file to offer for download: the file itself, or a .zip of a folder (SavedModel)."""
    if path.is_dir():
        return Path(shutil.make_archive(str(path), "zip", root_dir=path))
    return path
