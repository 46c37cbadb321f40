"""Replicate's local stand-in: run the generated predict.py inside cog's own HTTP server.

Every Replicate model runs in a container whose entry point is cog's prediction server (`python
-m cog.server.http`, the Rust `coglet` server from PyPI `cog`). This module starts that same
server as a local process on 127.0.0.1 with the generated `predict.py`, waits for setup() to
finish (`GET /health-check` says READY), sends one prediction (`POST /predictions`, the body
Replicate's API forwards) and stops the server.

What differs from Replicate: no image is built (no `cog build`), so there is no
`.cog/openapi_schema.json` and the local server accepts any input types; on Replicate the Input(...)
bounds are checked before predict() runs. predict.py still rejects bad pixels (`check_pixels`) and the
replica's `work()` bad rounds itself.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from labs.docker_mlops.model import trained
from labs.docker_mlops.replica import WEIGHTS_NAME
from labs.docker_mlops.replicas import _LIVE, _LIVE_LOCK, _stop_process, free_port
from labs.docker_mlops.settings import MAX_ROUNDS, MIN_ROUNDS, SLUG, SettingsError
from shared import scratch
from shared.serving import is_shared

READY_TIMEOUT_S = 90.0  # setup() imports torch: a few seconds warm, more on a cold CI disk
PREDICT_TIMEOUT_S = 120.0
# Each run's folder (predict.py, the server log) is removed when the server has stopped; one a crash
# left behind is pruned after this long, far longer than a run (READY_TIMEOUT_S + PREDICT_TIMEOUT_S).
KEEP_S = 3600.0
MAX_TEXT = 1000  # predict.py's Input(max_length=...): enforced here on a shared server


class CogUnavailable(ValueError):
    """cog is not installed; the message says what to install."""


def _http(method: str, url: str, body: dict | None = None, timeout: float = 60.0) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:  # cog answers failed predictions with 4xx/5xx and a JSON body
        try:
            return json.loads(exc.read() or b"{}")
        except ValueError:
            return {"status": "failed", "error": f"HTTP {exc.code}"}


def _readable_log(text: str, lines: int = 25) -> str:
    """coglet logs JSON lines; show them as "[target] message" (other lines as they are)."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            out.append(f"[{entry.get('target', '')}] {entry.get('fields', {}).get('message', line)}")
        except (ValueError, AttributeError):
            out.append(line)
    return "\n".join(out[-lines:])


class _Server:
    def __init__(self, proc: subprocess.Popen):
        self.proc = proc

    def stop(self) -> None:
        _stop_process(self.proc, first=signal.SIGTERM)
        with _LIVE_LOCK:
            _LIVE.discard(self)


def check_inputs(text: str, rounds: int | float) -> None:
    """On a shared server, hold the prediction to predict.py's own Input(...) bounds before a server starts.

    Locally the stand-in deliberately does not (no `cog build`, no schema: the lesson of the tab).

    Raises:
        SettingsError: Naming the bound, in shared mode only.
    """
    if not is_shared():
        return
    if not 1 <= len(str(text)) <= MAX_TEXT:
        raise SettingsError(f"The text must be 1 to {MAX_TEXT} characters on this shared server "
                            f"(predict.py's Input bounds); it has {len(str(text))}.")
    if not MIN_ROUNDS <= float(rounds) <= MAX_ROUNDS:
        raise SettingsError(f"Rounds must be from {MIN_ROUNDS} to {MAX_ROUNDS:,} on this shared server "
                            f"(predict.py's Input bounds); got {rounds}.")


def predict_locally(predict_source: str, replica_source: str, inputs: dict, *, weights: bytes | None = None,
                    timeout: float = READY_TIMEOUT_S) -> dict:
    """Serve `predict_source` with cog's server on a free 127.0.0.1 port and run one prediction.

    The folder cog serves holds what the Replicate image holds: predict.py, replica.py and the model's
    weights (`weights`, the lab's trained model by default), which setup() loads.

    Returns:
        {"health": the READY health-check JSON, "response": the prediction JSON, "log": server log tail,
         "stopped": True once the server process has exited}.

    Raises:
        CogUnavailable: If the `cog` package is missing.
        ValueError: If setup() fails or the server does not become ready (its log is in the message).
    """
    try:
        import cog  # noqa: F401
    except ImportError:
        raise CogUnavailable("cog is not installed: pip install cog (Replicate's SDK; it brings the coglet "
                             "server)") from None
    workdir = scratch.new_folder(SLUG, prefix="cog-local-", keep_s=KEEP_S)
    (workdir / "predict.py").write_text(predict_source, encoding="utf-8")
    (workdir / "replica.py").write_text(replica_source, encoding="utf-8")
    (workdir / WEIGHTS_NAME).write_bytes(weights if weights is not None else trained().weights)
    port = free_port()
    env = {**os.environ, "PORT": str(port), "COG_PREDICT_TYPE_STUB": "predict.py:Predictor",
           # coglet starts its worker with `python` from PATH: make it this interpreter.
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    log_path = workdir / "cog-server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cog.server.http", "--host", "127.0.0.1"], cwd=workdir,
                                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    server = _Server(proc)
    with _LIVE_LOCK:
        _LIVE.add(server)

    def tail() -> str:
        return _readable_log(log_path.read_text(errors="replace"))

    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        health: dict = {}
        while True:
            if proc.poll() is not None:
                raise ValueError(f"cog's server exited with code {proc.returncode}:\n{tail()}")
            try:
                health = _http("GET", f"{base}/health-check", timeout=2)
            except (OSError, ValueError):
                health = {}
            if health.get("status") == "READY":
                break
            if health.get("status") in ("SETUP_FAILED", "DEFUNCT"):
                logs = health.get("setup", {}).get("logs", "")
                raise ValueError(f"predict.py's setup() failed in cog's server:\n{logs[-1500:] or tail()}")
            if time.monotonic() > deadline:
                raise ValueError(f"cog's server was not READY within {timeout:.0f} s:\n{tail()}")
            time.sleep(0.25)
        response = _http("POST", f"{base}/predictions", {"input": inputs}, timeout=PREDICT_TIMEOUT_S)
        health.get("setup", {}).pop("logs", None)  # long; the log tail below has it
        result = {"health": health, "response": response}
    finally:
        server.stop()
    result["log"] = tail()
    result["stopped"] = proc.poll() is not None
    if result["stopped"]:
        shutil.rmtree(workdir, ignore_errors=True)
    return result
