"""The web server's side: one shared worker per framework for training and predictions; fresh
processes for the race.

- Training and predictions use a *pool*: one long-lived worker process per framework (PyTorch;
  TensorFlow, which holds both the Keras-layers and the raw-`tf.nn` columns; Keras 3 on PyTorch).
  Every run's models live in those workers keyed by run id, so a run costs kilobytes of model, not
  three processes; at most `MAX_LIVE_RUNS` runs are kept, and an evicted run's user is told so.
- The default MLP (what Draw & predict uses before you train) is trained once per worker and
  shared by every session, so a first prediction costs a worker start at most, not a training run.
- The race starts a fresh process per framework *and variant*, so each memory figure is that
  variant's own.

`train_side_by_side`, `race`, `sweep` and `predict_digit` are generators. They send one command to
one worker at a time, so the frameworks never compete for the CPU while a clock runs, and they
yield after every step so the UI can update live and a Stop button can cancel between steps.
"""

from __future__ import annotations

import collections
import logging
import os
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from labs.torch_vs_tf.data import Dataset, load_digits
from labs.torch_vs_tf.settings import (DEFAULT_BATCH, DEFAULT_EPOCHS, DEFAULT_LR, DEFAULT_SEED,
                                       TrainConfig, make_config)
from labs.torch_vs_tf.process import LABELS, ROOT, START_TIMEOUT_S, STEP_TIMEOUT_S, WorkerError, WorkerProcess
from labs.torch_vs_tf.sweep import SWEEP_COLUMNS
from labs.torch_vs_tf.worker import IDLE_EXIT_S
from shared import scratch
from shared.optional import install_hint, missing
from shared.serving import Deadline, is_shared

log = logging.getLogger(__name__)
NEEDS = {"torch": ("torch",), "tensorflow": ("tensorflow", "keras"), "tf-raw": ("tensorflow",),
         "keras-torch": ("keras", "torch")}
# The pool process that holds each column's models: raw TF shares the TensorFlow worker.
PROCESS_OF = {"torch": "torch", "tensorflow": "tensorflow", "tf-raw": "tensorflow", "keras-torch": "keras-torch"}
# Which variant each column trains in the side-by-side view, per mode.
TRAIN_VARIANT = {
    "eager": {"torch": "eager", "tensorflow": "eager", "tf-raw": "eager", "keras-torch": "model.fit"},
    "compiled": {"torch": "torch.compile", "tensorflow": "tf.function", "tf-raw": "tf.function",
                 "keras-torch": "model.fit"},
}
# The race: every variant of every column, in this order.
RACE_VARIANTS = {
    "torch": ("eager", "torch.compile"),
    "tensorflow": ("eager", "tf.function", "tf.function+XLA", "model.fit"),
    "tf-raw": ("eager", "tf.function"),
    "keras-torch": ("model.fit",),
}
POOL_THREADS = 1  # the shared workers' CPU threads: 1 keeps three frameworks from fighting on 2 cores
MAX_LIVE_RUNS = 4  # trained runs kept for predictions, for all users together; older ones are dropped
DEFAULT_RUN = "default"  # the default MLP's run id in every worker (never evicted)
MAX_RELEASED_IDS = 1000  # ids of runs shut down to make room, remembered to tell their users why
SLUG = "torch_vs_tf"
# Run folders (data, worker logs, exports) live under the lab's scratch root. Folders a run still uses
# are touched whenever a new one is made, so only abandoned ones (a crash, a restart) age out.
KEEP_S = 3600.0
# On a shared server one training run or race (worker start-up included: importing TensorFlow takes
# up to a minute on a busy 2-core machine) must finish within this. Locally there is no overall limit.
SHARED_BUDGET_S = 120.0
BUDGET_GRACE_S = 5.0  # a step in flight when the budget ends gets this long to answer


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
    for fw, wanted in (("tensorflow", True), ("tf-raw", True), ("keras-torch", with_keras_torch)):
        if wanted and available(fw):
            chosen.append(fw)
        elif wanted and not (fw == "tf-raw" and not available("tensorflow") and "tensorflow" in
                             " ".join(notes)):  # one note for TensorFlow, not two
            notes.append(unavailable_note(fw))
    return chosen, notes


def race_plan(frameworks: list[str], extra: set[str]) -> dict[str, tuple[str, ...]]:
    """Each framework's variants for the race: eager / model.fit always, plus the chosen extras."""
    return {fw: tuple(v for v in RACE_VARIANTS[fw] if v in ("eager", "model.fit") or v in extra)
            for fw in frameworks}


@dataclass
class Run:
    """A training run: its folder, image side, and the pool worker holding each column's model."""

    run_id: str
    folder: Path
    side: int
    workers: dict[str, WorkerProcess] = field(default_factory=dict)  # column -> worker

    def loaded(self) -> bool:
        return bool(self.workers) and all(w.alive() for w in self.workers.values())

    def close(self) -> None:
        """Drop this run's models from the shared workers (they keep serving others); delete its folder."""
        for worker in {id(w): w for w in self.workers.values()}.values():  # raw TF shares TF's worker
            if worker.alive():
                try:
                    worker.call("drop", timeout=60, run=self.run_id)
                except WorkerError:
                    pass
        shutil.rmtree(self.folder, ignore_errors=True)


_RUNS: "collections.OrderedDict[str, Run]" = collections.OrderedDict()
_RELEASED_FOR_ROOM: "collections.OrderedDict[str, None]" = collections.OrderedDict()
_RUNS_LOCK = threading.Lock()
_BUSY_FOLDERS: set[Path] = set()  # folders of trainings in progress (not yet kept)
_POOL: dict[str, WorkerProcess] = {}  # process kind -> the shared worker
_POOL_LOCK = threading.Lock()
_POOL_FOLDER: list[Path] = []  # the pool's logs and the default data set
_DEFAULT_HOLDERS: dict[str, WorkerProcess] = {}  # column -> the worker that holds the default MLP
_DEFAULT_LOCKS = {column: threading.Lock() for column in LABELS}  # one per column: no column waits on another


def new_folder(prefix: str) -> Path:
    """A fresh scratch folder; first touch every folder a live run uses, so pruning spares them."""
    with _RUNS_LOCK:
        live = ([run.folder for run in _RUNS.values()] + list(_RACE_FOLDERS) + list(_BUSY_FOLDERS)
                + list(_POOL_FOLDER))
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


# -- the pool: one shared worker per framework -------------------------------------------------------

def pool_folder() -> Path:
    with _POOL_LOCK:
        if _POOL_FOLDER and _POOL_FOLDER[0].is_dir():
            return _POOL_FOLDER[0]
    folder = new_folder("torch_vs_tf_pool_")
    with _POOL_LOCK:
        _POOL_FOLDER[:] = [folder]
    return folder


def pool_worker(column: str) -> tuple[WorkerProcess, bool]:
    """The shared worker that holds `column`'s models, started if it is not running.

    Returns:
        (the worker, whether it was already running: its import is paid).
    """
    kind = PROCESS_OF[column]
    folder = pool_folder()
    with _POOL_LOCK:
        worker = _POOL.get(kind)
        if worker is not None and worker.alive():
            return worker, True
        worker = WorkerProcess(kind, POOL_THREADS, folder)
        _POOL[kind] = worker
        return worker, False


def start_pool(columns: list[str]) -> dict[str, bool]:
    """Start every needed shared worker at once (their imports overlap); {column: was running}."""
    return {column: pool_worker(column)[1] for column in columns}


def shutdown_pool() -> None:
    """Stop the shared workers (tests; a server that exits takes them along anyway)."""
    with _POOL_LOCK:
        workers = list(_POOL.values())
        _POOL.clear()
    for worker in workers:
        worker.close()


def _keep(run: Run) -> None:
    """Remember a finished run; drop the oldest beyond `MAX_LIVE_RUNS` (whoever trained it)."""
    evicted = []
    with _RUNS_LOCK:
        _RUNS[run.run_id] = run
        while len(_RUNS) > MAX_LIVE_RUNS:
            old_id, old = _RUNS.popitem(last=False)
            _RELEASED_FOR_ROOM[old_id] = None  # so its user learns why the models are gone
            while len(_RELEASED_FOR_ROOM) > MAX_RELEASED_IDS:
                _RELEASED_FOR_ROOM.popitem(last=False)
            evicted.append(old)
    for old in evicted:  # outside the lock: a drop waits for the worker's current command
        old.close()


def release(run_id: str | None) -> None:
    """Drop a kept run now (a session that trains again no longer needs its old models)."""
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
    if run is not None and run.loaded():
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
        return (f"Your trained models are gone: their worker process exited (after {IDLE_EXIT_S // 60} "
                "idle minutes, or stopped by an error or a time budget).")
    return "Your trained models are no longer loaded (the server may have restarted)."


def train_side_by_side(data: Dataset, cfg: TrainConfig, *, frameworks: list[str],
                       run_id: str | None = None) -> Iterator[dict]:
    """Train the same model in each column, one epoch each in turn, yielding events.

    The models live in the shared workers (`pool_worker`), keyed by this run's id.

    Events (dicts with ``"event"``): ``started`` (per column: params, variant, import time, whether
    the worker was reused), ``epoch`` (per column per epoch: train loss, seconds, test loss/accuracy),
    ``done`` (with ``run_id`` for `predict`). Epoch 0 is the untrained model: identical weights.

    Raises:
        BudgetExceeded: On a shared server, when the run passes `SHARED_BUDGET_S` (checked
            between steps; the run's models are dropped).
    """
    deadline = run_budget("training")
    folder = new_folder("torch_vs_tf_")
    run = Run(run_id or uuid.uuid4().hex[:12], folder, data.side)
    kept = False
    with _RUNS_LOCK:
        _BUSY_FOLDERS.add(folder)
    try:
        data_path = data.save(folder / "data.npz")
        reused = start_pool(frameworks)  # all at once: their imports overlap; no clock runs yet
        for fw in frameworks:
            worker, _ = pool_worker(fw)
            run.workers[fw] = worker
            ready = _ready(worker, deadline)
            info = _call(worker, deadline, "setup", run=run.run_id, column=fw, data=str(data_path),
                         config=cfg.to_dict(), variant=TRAIN_VARIANT[cfg.mode][fw])
            yield {"event": "started", "key": fw, **ready, **info, "framework": LABELS[fw],
                   "reused": reused[fw]}
        for epoch in range(cfg.epochs):
            for fw, worker in run.workers.items():
                yield {"event": "epoch", "key": fw, **_call(worker, deadline, "epoch", run=run.run_id,
                                                             column=fw, epoch=epoch),
                       "framework": LABELS[fw]}
        if run.run_id != DEFAULT_RUN:
            _keep(run)
        kept = True
        yield {"event": "done", "run_id": run.run_id}
    finally:
        with _RUNS_LOCK:
            _BUSY_FOLDERS.discard(folder)
        if not kept:  # failed or cancelled (the generator was closed): drop its models now
            run.close()
        elif run.run_id == DEFAULT_RUN:
            shutil.rmtree(folder, ignore_errors=True)


def ensure_default(column: str, deadline: Deadline | None = None) -> WorkerProcess:
    """The shared worker holding the default MLP for `column`, training it there first if needed.

    The default model (the digits, `DEFAULT_EPOCHS` epochs of Adam, eager) is trained once per
    worker and shared by every session: a tenth of a second of training once the worker runs.
    """
    with _DEFAULT_LOCKS[column]:
        worker, _ = pool_worker(column)
        if _DEFAULT_HOLDERS.get(column) is worker and worker.alive():
            return worker
        data = load_digits()
        cfg = make_config(arch="mlp", epochs=DEFAULT_EPOCHS, batch_size=DEFAULT_BATCH, lr=DEFAULT_LR,
                          optimizer="adam", seed=DEFAULT_SEED, mode="eager", train_size=len(data.x_train))
        path = data.save(pool_folder() / "digits.npz")
        _ready(worker, deadline)
        _call(worker, deadline, "setup", run=DEFAULT_RUN, column=column, data=str(path),
              config=cfg.to_dict(), variant=TRAIN_VARIANT["eager"][column])
        for epoch in range(cfg.epochs):
            _call(worker, deadline, "epoch", run=DEFAULT_RUN, column=column, epoch=epoch)
        _DEFAULT_HOLDERS[column] = worker
        return worker


def predict(run_id: str | None, x: np.ndarray) -> dict[str, np.ndarray]:
    """Class probabilities (1, 10) from every column of a kept run, for one input row."""
    reason = why_not_loaded(run_id)
    if reason:
        raise ValueError(f"{reason} Click 'Train side by side', then predict.")
    run = get_run(run_id)
    if x.shape[1] != run.side * run.side:
        raise ValueError(f"The models were trained on {run.side}x{run.side} images; "
                         f"got {x.shape[1]} values.")
    return {LABELS[fw]: np.asarray(w.call("predict", timeout=60, run=run.run_id, column=fw,
                                          x=x.tolist())["probs"])
            for fw, w in run.workers.items() if w.alive()}


DEFAULT_SIDE = 8  # the default models are trained on the 8x8 digits
PREDICT_ORDER = ("torch", "tf-raw", "tensorflow", "keras-torch")  # fastest worker start first


def input_side(run_id: str | None) -> int:
    """The image side to prepare a drawing for: the session's models', or the default models'."""
    run = get_run(run_id)
    return run.side if run is not None and why_not_loaded(run_id) is None else DEFAULT_SIDE


def predict_digit(x: np.ndarray, run_id: str | None,
                  on_status: Callable[[str], None] = lambda message: None
                  ) -> Iterator[tuple[dict[str, np.ndarray], str | None, str, list[str]]]:
    """Predict one input row with the session's models, or with the shared default MLP.

    Yields after each framework answers, so the first column shows as soon as PyTorch's worker
    is up (seconds) while TensorFlow's is still importing.

    Yields:
        (probabilities per framework label so far, the session's run id (unchanged), a note
        saying why the default models answer, or "", the labels still to answer).
    """
    reason = why_not_loaded(run_id)
    run = get_run(run_id)
    if reason is None and run.side * run.side != x.shape[1]:
        reason = f"Your models were trained on {run.side}x{run.side} images."
    if reason is None:
        probs, expected = {}, [LABELS[fw] for fw in run.workers]
        for fw, worker in run.workers.items():
            probs[LABELS[fw]] = np.asarray(worker.call("predict", timeout=60, run=run.run_id, column=fw,
                                                       x=x.tolist())["probs"])
            yield dict(probs), run_id, "", [name for name in expected if name not in probs]
        return
    note = (f"{reason} These predictions come from the default MLP (the digits, {DEFAULT_EPOCHS} epochs "
            "of Adam), trained once per server and shared by every session; train to use your own.")
    on_status("Loading the default models (PyTorch answers first; TensorFlow follows while it starts)…")
    deadline = run_budget("the prediction")
    probs, expected = {}, [LABELS[c] for c in PREDICT_ORDER if available(c)]
    for column, worker in warm_default(deadline):
        probs[LABELS[column]] = np.asarray(_call(worker, deadline, "predict", timeout=60, run=DEFAULT_RUN,
                                                 column=column, x=x.tolist())["probs"])
        yield dict(probs), run_id, note, [name for name in expected if name not in probs]


def warm_default(deadline: Deadline | None = None) -> Iterator[tuple[str, WorkerProcess]]:
    """Make the default MLP ready in every column, yielding (column, worker) as each one is.

    PyTorch's worker starts alone first (it imports in ~3 s when it has the CPU to itself); the
    others start once it is up, so the first answer is not slowed by TensorFlow's import.
    """
    frameworks, _ = choose_frameworks(True)
    columns = [c for c in PREDICT_ORDER if c in frameworks]
    first, _ = pool_worker(columns[0])
    _ready(first, deadline)
    start_pool(columns[1:])
    for column in columns:
        yield column, ensure_default(column, deadline)


def warm_up_in_background() -> None:
    """Start the shared workers and the default models without waiting (when the predict tab opens)."""
    def work() -> None:
        try:
            for _ in warm_default():
                pass
        except Exception:  # a missing framework or a crash: the predict click will say what went wrong
            log.warning("warming the default models failed", exc_info=True)

    threading.Thread(target=work, daemon=True, name="torch_vs_tf-warm-up").start()


def race(data: Dataset, cfg: TrainConfig, *, frameworks: list[str], variants: dict[str, tuple[str, ...]],
         threads: int = 1, latency_batch: int = 256, export: bool = True,
         out_dir: Path | None = None) -> Iterator[dict]:
    """The fair race: for each column and each variant, a fresh worker process trains `cfg.epochs`
    epochs from the shared weights on the shared batches, then times inference; the first
    variant's model is exported and every file is loaded back, compared and timed.

    One process per variant (started only after the previous one exited) makes each peak-memory
    figure that variant's own: nothing another variant allocated is counted.

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
        for i, variant in enumerate(variants[fw]):
            worker = WorkerProcess(fw, threads, folder)  # "tf-raw" imports TensorFlow only, no Keras
            try:
                ready = _ready(worker, deadline)
                _call(worker, deadline, "setup", run="race", column=fw, data=str(data_path),
                      config=cfg.to_dict(), variant=variant)
                yield {"event": "variant", "key": fw, "import_s": ready["import_s"],
                       **_call(worker, deadline, "bench", run="race", column=fw, variant=variant,
                               epochs=cfg.epochs, latency_batch=latency_batch)}
                if export and i == 0:  # export the first (eager) model, just trained
                    result = _call(worker, deadline, "export", run="race", column=fw,
                                   folder=str(out_dir / fw))
                    for row in result["files"]:
                        row["download"] = str(downloadable(Path(row["path"])))
                    yield {"event": "export", "key": fw, **result}
            finally:
                worker.close()


def sweep(widths: tuple[int, ...], batches: tuple[int, ...], steps: int, *,
          frameworks: list[str]) -> Iterator[dict]:
    """Time one training step per (framework, width, batch) in the shared workers, eager mode.

    Yields one ``{"event": "point", ...}`` per grid point (framework, width, batch, ms per step,
    MFLOP per step). On a shared server the whole sweep has the `SHARED_BUDGET_S` budget.
    """
    deadline = run_budget("the sweep")
    columns = [c for c in SWEEP_COLUMNS if c in frameworks]
    start_pool(columns)
    for column in columns:
        worker, _ = pool_worker(column)
        _ready(worker, deadline)
        for width in widths:
            for batch in batches:
                point = _call(worker, deadline, "sweep_point", column=column, width=width, batch=batch,
                              steps=steps)
                yield {"event": "point", "key": column, **point, "framework": LABELS[column]}


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
