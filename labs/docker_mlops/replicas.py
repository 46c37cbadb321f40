"""Replicas for real on this machine: N processes of the small app behind a real nginx.

What `docker compose up --scale app=N` does with containers, done here with local processes on
127.0.0.1 (no Docker engine needed):

1. `ReplicaSet.start` launches N `replica.py` processes on free ports and waits for each one's
   /healthz (a replica that dies or never answers raises `ReplicaStartError` with its log).
2. `Nginx.start` writes the same nginx.conf template the Compose file uses, with the replicas as
   upstream servers and every path (pid, logs, temp files) inside a throw-away folder, checks it
   with `nginx -t`, and runs nginx in the foreground as our own child process (never the system
   service).
3. `fire` sends requests through nginx from a thread pool and records which replica answered each
   (the `X-Replica` header), which upstream(s) nginx tried (`X-Upstream`) and the latency.
4. `run_demo` does that twice, killing one replica (SIGKILL) in between, and shows nginx routing
   around it: `proxy_next_upstream` retries the request on the next replica, `max_fails` /
   `fail_timeout` keep the dead one out of the rotation.

Every process is stopped afterwards (try/finally), and an `atexit` hook stops any that a crash
left behind.
"""

from __future__ import annotations

import atexit
import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from labs.docker_mlops.lint import nginx_path, nginx_temp_modules
from labs.docker_mlops.model import write_weights
from labs.docker_mlops.settings import SLUG, SettingsError, check_int, check_port, check_replicas
from labs.docker_mlops.templates import REPLICA_FILE, nginx_conf
from shared import scratch
from shared.serving import Deadline, is_shared, request_budget

HOST = "127.0.0.1"
START_TIMEOUT_S = 15.0   # a stdlib replica answers in ~0.1 s; 15 s covers a loaded 2-core CI box
REQUEST_TIMEOUT_S = 60.0
FAIL_TIMEOUT_S = 10      # nginx leaves a failed replica out for this long
# Work folders (configs, logs) live under the lab's scratch root; a run removes its own at the end, and
# one a crash left behind is pruned after this long (far longer than any run: see LOCAL_BUDGET_S).
KEEP_S = 3600.0
# A run's time budget: requests not sent by then are skipped (and reported), then everything stops.
LOCAL_BUDGET_S = 600.0
SHARED_BUDGET_S = 60.0
# On a shared server one run may hash at most this many SHA-256 rounds in all (requests x rounds x
# phases): about 10-20 s of CPU on a 2-core machine, and no nginx port of the visitor's choosing.
SHARED_MAX_TOTAL_ROUNDS = 20_000_000
NOT_SENT = "not sent: the run's time budget was spent"

Progress = Callable[[float, str], None]

# Everything started and not yet stopped, so an atexit hook can clean up after a crash.
_LIVE: set = set()
_LIVE_LOCK = threading.Lock()


def _stop_everything() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for thing in live:
        try:
            thing.stop()
        except Exception:
            pass


atexit.register(_stop_everything)


class NginxMissing(ValueError):
    """nginx is not installed; the message says how to install it."""


class ReplicaStartError(ValueError):
    """A replica did not start; the message includes its log."""


class NginxError(ValueError):
    """nginx rejected its config or did not start; the message includes its error log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _kill_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal a child's whole process group (nginx's workers too); ignore ones already gone."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


def _stop_process(proc: subprocess.Popen, first: int = signal.SIGTERM, grace: float = 3.0) -> None:
    if proc.poll() is None:
        _kill_group(proc, first)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _kill_group(proc, signal.SIGKILL)
            proc.wait(timeout=5)
    else:
        _kill_group(proc, signal.SIGKILL)  # a dead leader may leave children in its group


def get_json(port: int, path: str, timeout: float = 2.0) -> tuple[int, dict, dict]:
    """GET http://127.0.0.1:port/path; return (status, headers, JSON body or {})."""
    import json

    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read()
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            data = {"text": body.decode(errors="replace")}
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


@dataclass
class Replica:
    """One replica process."""

    name: str
    port: int
    proc: subprocess.Popen
    log_path: Path

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class ReplicaSet:
    """N replica processes of `replica.py` on 127.0.0.1, each on its own free port."""

    def __init__(self, n: int, workdir: Path, *, ports: list[int] | None = None, weights: Path | None = None):
        self.n = check_replicas(n)
        self.workdir = Path(workdir)
        self.ports = ports
        self.weights = weights  # the model's safetensors file; written into workdir by start() when None
        self.replicas: list[Replica] = []

    def start(self, timeout: float = START_TIMEOUT_S) -> "ReplicaSet":
        """Start every replica, then wait for each one's /healthz.

        Raises:
            ReplicaStartError: A replica exited or did not answer in time; its log is in the message.
        """
        if self.weights is None:  # the lab's trained model (trained once per process), as every target ships it
            self.weights = write_weights(self.workdir)
        with _LIVE_LOCK:
            _LIVE.add(self)
        for i in range(self.n):
            name = f"r{i + 1}"
            port = self.ports[i] if self.ports else free_port()
            log_path = self.workdir / f"{name}.log"
            with open(log_path, "wb") as log:
                proc = subprocess.Popen([sys.executable, str(REPLICA_FILE), "--host", HOST, "--port", str(port),
                                         "--name", name, "--weights", str(self.weights)], stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
            self.replicas.append(Replica(name, port, proc, log_path))
        deadline = time.monotonic() + timeout
        for rep in self.replicas:
            while True:
                if not rep.alive:
                    raise ReplicaStartError(
                        f"Replica {rep.name} exited with code {rep.proc.returncode} before it was healthy "
                        f"(port {rep.port}). Its log:\n{rep.log_tail()}\n"
                        "If the port is in use, pick other ports (or let the lab choose free ones)."
                    )
                try:
                    if get_json(rep.port, "/healthz", timeout=1.0)[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise ReplicaStartError(
                        f"Replica {rep.name} did not answer /healthz on port {rep.port} within {timeout:.0f} s. "
                        f"Its log:\n{rep.log_tail()}"
                    )
                time.sleep(0.05)
        return self

    def kill(self, index: int = 0) -> Replica:
        """Kill one replica the hard way (SIGKILL), as a crashed container would die."""
        rep = self.replicas[index]
        _kill_group(rep.proc, signal.SIGKILL)
        rep.proc.wait(timeout=5)
        return rep

    def stop(self) -> None:
        for rep in self.replicas:
            _stop_process(rep.proc)
        with _LIVE_LOCK:
            _LIVE.discard(self)

    @property
    def all_stopped(self) -> bool:
        return all(not rep.alive for rep in self.replicas)

    def __enter__(self) -> "ReplicaSet":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Nginx:
    """A private nginx: our own foreground process, config and logs in `workdir`, on 127.0.0.1."""

    def __init__(self, upstreams: list[str], workdir: Path, *, port: int = 0, fail_timeout_s: int = FAIL_TIMEOUT_S):
        exe = nginx_path()
        if exe is None:
            raise NginxMissing(
                "nginx is not installed, so the replicas cannot be put behind a load balancer. Install it: "
                "`sudo apt-get install nginx` (Debian/Ubuntu), `brew install nginx` (macOS); on a Hugging Face "
                "Space add a line `nginx` to packages.txt. The lab runs it as your own process, never as a service."
            )
        self.exe = exe
        self.workdir = Path(workdir)
        port = check_port(port)
        if port and not port_is_free(port):
            raise SettingsError(f"Port {port} on 127.0.0.1 is already in use by another program. "
                                "Pick another port, or 0 to let the lab choose a free one.")
        self.port = port or free_port()
        (self.workdir / "tmp").mkdir(parents=True, exist_ok=True)
        self.conf_text = nginx_conf(upstreams, listen=f"{HOST}:{self.port}", prefix=self.workdir,
                                    temp_modules=nginx_temp_modules(exe), fail_timeout_s=fail_timeout_s)
        self.conf = self.workdir / "nginx.conf"
        self.error_log = self.workdir / "error.log"
        self.proc: subprocess.Popen | None = None

    def _args(self) -> list[str]:
        return [self.exe, "-p", str(self.workdir), "-c", str(self.conf), "-e", str(self.error_log)]

    def start(self, timeout: float = 10.0) -> "Nginx":
        """Check the config with `nginx -t`, start nginx in the foreground, wait until it answers.

        Raises:
            NginxError: The config is rejected or nginx does not come up (its error log is shown).
        """
        self.conf.write_text(self.conf_text, encoding="utf-8")
        test = subprocess.run(self._args() + ["-t", "-q"], capture_output=True, text=True, timeout=30)
        if test.returncode != 0:
            raise NginxError(f"nginx rejected the generated config:\n{(test.stderr + test.stdout).strip()[-1500:]}")
        with _LIVE_LOCK:
            _LIVE.add(self)
        self.proc = subprocess.Popen(self._args() + ["-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise NginxError(f"nginx exited with code {self.proc.returncode}:\n{err.strip()}\n{self.error_tail()}")
            try:
                if get_json(self.port, "/nginx-health", timeout=1.0)[0] == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise NginxError(f"nginx did not answer on 127.0.0.1:{self.port} within {timeout:.0f} s.\n"
                                 f"{self.error_tail()}")
            time.sleep(0.05)

    def error_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.error_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None:
            _stop_process(self.proc, first=signal.SIGQUIT)  # SIGQUIT: graceful shutdown of master + workers
            if self.proc.stderr:
                self.proc.stderr.close()
        with _LIVE_LOCK:
            _LIVE.discard(self)

    @property
    def stopped(self) -> bool:
        return self.proc is None or self.proc.poll() is not None


@dataclass
class Shot:
    """One request through nginx."""

    index: int
    status: int
    replica: str
    upstream: str
    latency_ms: float
    error: str = ""

    @property
    def retried(self) -> bool:
        return "," in self.upstream  # nginx lists every upstream it tried


def fire(port: int, n: int, *, rounds: int, concurrency: int = 4, path: str = "/work",
         on_done: Callable[[int], None] | None = None,
         stop: Callable[[], bool] | None = None) -> tuple[list[Shot], float]:
    """Send `n` GET requests through nginx from `concurrency` threads.

    Args:
        stop: Asked before each request; once True, the remaining requests are not sent (their
            shots say `NOT_SENT`): how a run's time budget ends it.

    Returns:
        The shots in request order, and the wall time in seconds.
    """
    done = [0]
    lock = threading.Lock()

    def one(i: int) -> Shot:
        if stop is not None and stop():
            return Shot(i, 0, "-", "", 0.0, NOT_SENT)
        start = time.perf_counter()
        try:
            status, headers, body = get_json(port, f"{path}?rounds={rounds}&text=req{i}", timeout=REQUEST_TIMEOUT_S)
            shot = Shot(i, status, headers.get("x-replica", body.get("replica", "?")), headers.get("x-upstream", ""),
                        (time.perf_counter() - start) * 1000, "" if status == 200 else str(body)[:200])
        except OSError as exc:
            shot = Shot(i, 0, "-", "", (time.perf_counter() - start) * 1000, f"{type(exc).__name__}: {exc}")
        if on_done:
            with lock:
                done[0] += 1
                on_done(done[0])
        return shot

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        shots = list(pool.map(one, range(n)))
    return shots, time.perf_counter() - start


@dataclass
class Phase:
    """What one batch of requests showed."""

    title: str
    shots: list[Shot]
    wall_s: float
    replicas: list[str]
    killed: str = ""

    @property
    def ok(self) -> int:
        return sum(s.status == 200 for s in self.shots)

    @property
    def errors(self) -> int:
        return len(self.shots) - self.ok

    @property
    def per_replica(self) -> dict[str, int]:
        counts = {name: 0 for name in self.replicas}
        for s in self.shots:
            if s.status == 200:
                counts[s.replica] = counts.get(s.replica, 0) + 1
        return counts

    @property
    def retried(self) -> int:
        return sum(s.retried for s in self.shots)

    @property
    def not_sent(self) -> int:
        return sum(s.error == NOT_SENT for s in self.shots)

    def latency(self, q: float) -> float:
        values = sorted(s.latency_ms for s in self.shots)
        if not values:
            return 0.0
        return round(values[min(len(values) - 1, int(q * len(values)))], 1)

    @property
    def rps(self) -> float:
        return round(self.ok / self.wall_s, 1) if self.wall_s else 0.0

    def summary(self) -> dict:
        return {"phase": self.title, "requests": len(self.shots), "ok": self.ok, "errors": self.errors,
                "per_replica": self.per_replica, "retried_by_nginx": self.retried, "not_sent": self.not_sent,
                "p50_ms": self.latency(0.5), "p95_ms": self.latency(0.95),
                "mean_ms": round(statistics.fmean(s.latency_ms for s in self.shots), 1) if self.shots else 0.0,
                "requests_per_s": self.rps}


@dataclass
class DemoResult:
    """Everything the replica demo measured, and proof that it cleaned up."""

    replicas: list[dict]
    nginx_port: int
    nginx_conf: str
    phases: list[Phase] = field(default_factory=list)
    nginx_errors: str = ""
    killed_log: str = ""
    all_stopped: bool = False
    held_out: object = None  # predictions.HeldOut: the held-out digits predicted through nginx


def run_demo(n_replicas: int, requests: int, rounds: int, *, kill_one: bool = True, concurrency: int = 4,
             nginx_port: int = 0, progress: Progress | None = None, workdir: Path | None = None) -> DemoResult:
    """Start N replicas behind nginx, send requests, optionally kill one and send them again.

    Args:
        n_replicas: Replica processes to start (1..8).
        requests: Requests per phase.
        rounds: SHA-256 rounds per request (the CPU-bound work).
        kill_one: Kill replica r1 (SIGKILL) between the two phases.
        concurrency: Client threads sending requests at once.
        nginx_port: nginx's port on 127.0.0.1; 0 picks a free one.
        progress: Called with (fraction, message) as the demo advances.
        workdir: Where configs and logs go (a new scratch folder by default, removed afterwards).

    The run has a time budget (`LOCAL_BUDGET_S`, `SHARED_BUDGET_S` on a shared server): requests not
    sent by then are skipped and counted as ``not_sent``. On a shared server the total work is capped
    (`SHARED_MAX_TOTAL_ROUNDS`) and nginx always takes a free port.

    Raises:
        NginxMissing, ReplicaStartError, NginxError, SettingsError: with what to do.
    """
    from labs.docker_mlops.settings import MAX_REQUESTS, MAX_ROUNDS, MIN_REQUESTS, MIN_ROUNDS

    n_replicas = check_replicas(n_replicas)
    requests = check_int("Requests", requests, MIN_REQUESTS, MAX_REQUESTS)
    rounds = check_int("Rounds per request", rounds, MIN_ROUNDS, MAX_ROUNDS)
    concurrency = check_int("Concurrent clients", concurrency, 1, 32)
    if kill_one and n_replicas < 2:
        raise SettingsError("Killing a replica needs at least 2 replicas (with 1, nothing is left to route to). "
                            "Raise Replicas to 2 or more, or untick 'kill one replica'.")
    phases_total = 2 if kill_one else 1
    check_shared_load(requests, rounds, phases_total, nginx_port)
    deadline = Deadline(request_budget(local=LOCAL_BUDGET_S, shared=SHARED_BUDGET_S), what="the replica demo")
    say = progress or (lambda f, m: None)
    own_workdir = workdir is None  # a scratch folder we made is removed afterwards (the config is returned)
    workdir = Path(workdir or scratch.new_folder(SLUG, prefix="replicas-", keep_s=KEEP_S))
    replica_set = ReplicaSet(n_replicas, workdir)
    nginx = None
    result: DemoResult | None = None
    try:
        say(0.02, f"starting {n_replicas} replica processes")
        replica_set.start()
        upstreams = [f"{HOST}:{rep.port}" for rep in replica_set.replicas]
        nginx = Nginx(upstreams, workdir, port=nginx_port)  # checks nginx is installed and the port is free
        say(0.15, f"starting nginx on 127.0.0.1:{nginx.port}")
        nginx.start()
        result = DemoResult(
            replicas=[{"name": r.name, "pid": r.proc.pid, "port": r.port} for r in replica_set.replicas],
            nginx_port=nginx.port, nginx_conf=nginx.conf_text)
        names = [r.name for r in replica_set.replicas]
        # First, the model: the held-out digits through nginx (one POST per replica, so round-robin gives
        # each replica one batch), every answer compared with the same model run in this process.
        from labs.docker_mlops.predictions import held_out_through

        say(0.17, "predicting the held-out digits through nginx")
        result.held_out = held_out_through(nginx.port, n_replicas)

        def tick(base: float):
            return lambda k: say(base + 0.8 / phases_total * k / requests, f"request {k}/{requests}")

        shots, wall = fire(nginx.port, requests, rounds=rounds, concurrency=concurrency, on_done=tick(0.2),
                           stop=deadline.expired)
        result.phases.append(Phase(f"{n_replicas} replica{'s' if n_replicas != 1 else ''} healthy", shots, wall, names))
        if kill_one:
            victim = replica_set.kill(0)
            say(0.2 + 0.8 / phases_total, f"killed replica {victim.name} (pid {victim.proc.pid}) with SIGKILL")
            shots, wall = fire(nginx.port, requests, rounds=rounds, concurrency=concurrency,
                               on_done=tick(0.2 + 0.8 / phases_total), stop=deadline.expired)
            result.phases.append(Phase(f"after killing {victim.name}", shots, wall, names, killed=victim.name))
            result.killed_log = victim.log_tail(5)
        result.nginx_errors = "\n".join(line for line in nginx.error_tail(40).splitlines()
                                        if "upstream" in line or "failed" in line)[-3000:]
        return result
    finally:
        if nginx is not None:
            nginx.stop()
        replica_set.stop()
        stopped = replica_set.all_stopped and (nginx is None or nginx.stopped)
        if result is not None:
            result.all_stopped = stopped
        if own_workdir and stopped:
            shutil.rmtree(workdir, ignore_errors=True)
        say(1.0, "all processes stopped" if stopped else "some processes did not stop")


def check_shared_load(requests: int, rounds: int, phases: int, nginx_port: int) -> None:
    """On a shared server, refuse a run over `SHARED_MAX_TOTAL_ROUNDS` or one that picks nginx's port.

    Raises:
        SettingsError: Naming the limit, in shared mode only.
    """
    if not is_shared():
        return
    total = requests * rounds * phases
    if total > SHARED_MAX_TOTAL_ROUNDS:
        raise SettingsError(
            f"This run would hash {total:,} SHA-256 rounds ({requests} requests x {rounds:,} rounds x {phases} "
            f"round(s) of requests); this shared server allows {SHARED_MAX_TOTAL_ROUNDS:,} per run. "
            "Lower the requests or the rounds per request.")
    if nginx_port:
        raise SettingsError(f"Choosing nginx's port ({nginx_port}) is off on this shared server: leave it at 0 "
                            "and the lab picks a free one.")


def measure_rps(n_replicas: int, requests: int, rounds: int, concurrency: int, workdir: Path | None = None) -> dict:
    """Requests per second through nginx with N replicas of the CPU-bound handler (for the benchmark)."""
    own_workdir = workdir is None
    workdir = Path(workdir or scratch.new_folder(SLUG, prefix="bench-", keep_s=KEEP_S))
    replica_set = ReplicaSet(n_replicas, workdir)
    nginx = None
    try:
        replica_set.start()
        nginx = Nginx([f"{HOST}:{r.port}" for r in replica_set.replicas], workdir).start()
        fire(nginx.port, 2 * n_replicas, rounds=rounds, concurrency=concurrency)  # warm-up
        shots, wall = fire(nginx.port, requests, rounds=rounds, concurrency=concurrency)
        phase = Phase(f"{n_replicas} replicas", shots, wall, [r.name for r in replica_set.replicas])
        return {**phase.summary(), "replicas": n_replicas}
    finally:
        if nginx is not None:
            nginx.stop()
        replica_set.stop()
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
