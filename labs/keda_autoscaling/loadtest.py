"""Real local load tests: replica processes on 127.0.0.1, an asyncio load generator, a KEDA-style scaler.

Two experiments, both bounded in count and time, and both stop every process they start:

* `autoscale_test` — the KEDA HTTP rule for real, with the time axis compressed. An in-process
  interceptor (like the KEDA HTTP add-on's) counts requests in flight and holds them while no
  replica is ready; a scaler loop polls that count, computes ceil(in_flight / target), clamps it to
  [min, max], activates 0 -> 1 first (as KEDA does), limits scale-up to the HPA's default policies
  (double or +4 per poll), starts or stops real worker processes, stabilises scale-down and waits the
  cooldown before removing the last replica. Cooldown, polling and stabilisation are divided by the
  compression factor; process start-up is real and not compressed.
* `patterns_test` — coordinated load across replicas, measured: round-robin HTTP vs a shared work
  queue (competing consumers), retries without and with an idempotency key, and singleton work
  without and with a lease (including the lease holder being killed).

The coroutines run on any event loop; `run_coroutine` runs them from synchronous code, also from
inside an already running loop (a notebook cell, an async handler), which is where nest_asyncio
(via `shared.aio.run_sync`) is needed.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from shared.aio import run_sync
from shared.serving import is_shared

from labs.keda_autoscaling import worker as worker_mod

ROOT = Path(__file__).resolve().parents[2]  # the folder that holds labs/ and shared/
MAX_LOCAL_REPLICAS = 6  # processes at once on a 2-core machine; they mostly sleep
MAX_TEST_SECONDS = 90  # hard bound on any one experiment
SHARED_TEST_SECONDS = 60  # the same bound on a shared server (one visitor's test holds a heavy worker)
MAX_REQUESTS = 3_000

Progress = Callable[[float, str], None]


def _noop(_: float, __: str) -> None:
    pass


def time_bound() -> int:
    """The bound on one autoscaling test: `SHARED_TEST_SECONDS` on a shared server, else `MAX_TEST_SECONDS`."""
    return SHARED_TEST_SECONDS if is_shared() else MAX_TEST_SECONDS


# --- Replica processes ----------------------------------------------------------------------------
class Replica:
    """One worker process started with `python -m labs.keda_autoscaling.worker ...`."""

    def __init__(self, name: str):
        self.name = name
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0
        self.ready = False
        self.stopped = False
        self.draining = False
        self.outstanding = 0
        self.startup_ms = 0.0

    async def start(self, *args: str, timeout: float = 15.0) -> "Replica":
        t0 = time.perf_counter()
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "labs.keda_autoscaling.worker", *args, "--id", self.name,
            cwd=str(ROOT), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        except BaseException:  # timeout or cancellation: never leave the process behind
            await self.stop()
            raise
        if not line.startswith(b"READY"):
            await self.stop()
            raise RuntimeError(f"replica {self.name} did not start (said {line!r})")
        self.port = int(line.split()[1])
        self.startup_ms = (time.perf_counter() - t0) * 1000
        self.ready = True
        return self

    @property
    def alive(self) -> bool:
        """Starting or running, and not stopped (a replica counts as allocated from its first moment)."""
        return not self.stopped and (self.proc is None or self.proc.returncode is None)

    async def stop(self) -> None:
        self.ready = False
        self.stopped = True
        if self.proc and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 3)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()


class Pool:
    """Owns every replica it starts and stops them all on exit, whatever happened."""

    def __init__(self):
        self.replicas: list[Replica] = []
        self.counter = 0

    async def start(self, *args: str) -> Replica:
        if sum(1 for r in self.replicas if r.alive) >= MAX_LOCAL_REPLICAS:
            raise RuntimeError(f"refusing to start more than {MAX_LOCAL_REPLICAS} local replicas")
        self.counter += 1
        replica = Replica(f"r{self.counter}")
        self.replicas.append(replica)
        return await replica.start(*args)

    async def stop_all(self) -> None:
        await asyncio.gather(*(r.stop() for r in self.replicas), return_exceptions=True)

    async def __aenter__(self) -> "Pool":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop_all()


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(math.ceil(q / 100 * len(ordered))) - 1)], 1)

    return {"p50_ms": pick(50), "p95_ms": pick(95), "p99_ms": pick(99), "max_ms": round(ordered[-1], 1)}


# --- Experiment 1: the KEDA HTTP rule, for real ---------------------------------------------------
def compressed_profile(*, seconds: int = 14, peak_rps: float = 40.0, burst_rps: float = 70.0) -> list[float]:
    """Offered requests per wall second: idle, ramp, burst, idle (the simulator's shape, shrunk)."""
    idle, ramp, burst = 1, max(2, seconds // 3), max(1, seconds // 5)
    tail = max(1, seconds - idle - ramp - burst)
    return ([0.0] * idle + [peak_rps * (i + 1) / ramp for i in range(ramp)] + [burst_rps] * burst + [0.0] * tail)


async def autoscale_test(profile: list[float], *, target: int = 4, min_replicas: int = 0, max_replicas: int = 4,
                         polling_s: float = 30, cooldown_s: float = 900, stabilisation_s: float = 300,
                         compression: float = 300, work_ms: int = 200, slots: int = 4,
                         progress: Progress = _noop) -> dict:
    """Drive `profile` (requests per wall second) through a local interceptor and a KEDA-style scaler.

    Scale settings are in Azure seconds and divided by `compression` for the wall clock.

    Returns:
        timeline (rows every 0.2 s), latency percentiles, measured replica start-up times, and
        when the last replica was removed after the last request.
    """
    import httpx

    if not 1 <= max_replicas <= MAX_LOCAL_REPLICAS:
        raise ValueError(f"Max replicas for the local test must be 1..{MAX_LOCAL_REPLICAS} (2-core machine).")
    if min_replicas > max_replicas:
        raise ValueError(f"Min replicas ({min_replicas}) is larger than max ({max_replicas}).")
    if target < 1 or compression < 1:
        raise ValueError("Target must be >= 1 request in flight, and compression >= 1.")
    if sum(profile) > MAX_REQUESTS:
        raise ValueError(f"The profile sends {sum(profile):.0f} requests; the local limit is {MAX_REQUESTS}.")
    poll = max(0.1, polling_s / compression)
    cooldown = cooldown_s / compression
    window = stabilisation_s / compression
    limit = time_bound()
    if len(profile) + cooldown + 5 > limit:
        where = " on this shared server" if is_shared() else ""
        raise ValueError(f"Profile ({len(profile)} s) plus compressed cooldown ({cooldown:.0f} s) is over the "
                         f"{limit} s bound{where}: raise the compression or shorten the profile.")

    state = {"in_flight": 0, "desired": min_replicas, "offered": 0.0, "last_done": None, "zero_at": []}
    latencies: list[float] = []
    request_log: list[tuple[float, float]] = []  # (sent at, wall s; latency, ms) for calibration
    cold_waits: list[float] = []
    errors = 0
    timeline: list[dict] = []
    ready_event = asyncio.Event()
    t0 = time.perf_counter()

    def now() -> float:
        return time.perf_counter() - t0

    async with Pool() as pool, httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200)) as client:
        starting: set[asyncio.Task] = set()

        def live() -> list[Replica]:
            """Allocated replicas: starting or ready, not draining."""
            return [r for r in pool.replicas if r.alive and not r.draining]

        async def add_replica() -> None:
            await pool.start("serve", "--slots", str(slots), "--seconds", str(limit + 30))
            ready_event.set()

        async def remove_replica() -> None:
            candidates = [r for r in live() if r.ready]
            if not candidates:
                return
            victim = min(candidates, key=lambda r: r.outstanding)
            victim.draining = True  # no new requests; finish the ones it has
            for _ in range(100):
                if victim.outstanding == 0:
                    break
                await asyncio.sleep(0.05)
            await victim.stop()

        async def interceptor(request_ms: int) -> None:
            """Hold the request until a replica is ready (cold start), then send it to the least busy one."""
            nonlocal errors
            state["in_flight"] += 1
            t_start = time.perf_counter()
            try:
                while True:
                    ready = [r for r in live() if r.ready]
                    if ready:
                        break
                    ready_event.clear()
                    try:
                        await asyncio.wait_for(ready_event.wait(), 0.5)
                    except asyncio.TimeoutError:
                        pass
                    if now() > limit:
                        raise TimeoutError("no replica became ready")
                cold_waits.append((time.perf_counter() - t_start) * 1000)
                replica = min(ready, key=lambda r: r.outstanding)
                replica.outstanding += 1
                try:
                    resp = await client.get(f"http://127.0.0.1:{replica.port}/work", params={"ms": request_ms})
                    resp.raise_for_status()
                    latencies.append((time.perf_counter() - t_start) * 1000)
                    request_log.append((round(t_start - t0, 3), round(latencies[-1], 1)))
                finally:
                    replica.outstanding -= 1
            except Exception:
                errors += 1
            finally:
                state["in_flight"] -= 1
                state["last_done"] = now()

        async def scaler() -> None:
            """KEDA + HPA in one loop, at the compressed polling interval."""
            samples: list[int] = []
            last_active = -1e9
            recs: list[tuple[float, int]] = []
            next_poll = now()
            while True:
                samples.append(state["in_flight"])
                if now() >= next_poll:
                    next_poll += poll
                    metric = sum(samples) / len(samples)
                    active = max(samples) > 0
                    samples.clear()
                    current = len(live())
                    if active:
                        last_active = now()
                    desired = min(max(math.ceil(metric / target - 1e-9), min_replicas, 1 if active or current else 0),
                                  max_replicas)
                    if current == 0:
                        desired = min(desired, max(1, min_replicas))  # KEDA activates 0 -> 1; the HPA takes over
                    elif desired > current:
                        desired = min(desired, max(2 * current, current + 4))  # the HPA's default scale-up policies
                    recs.append((now(), desired))
                    recs[:] = [(t, d) for t, d in recs if t >= now() - window]
                    if 0 < desired < current:
                        desired = min(current, max(d for _, d in recs))
                    if not active and current and min_replicas == 0:
                        desired = 0 if now() - last_active >= cooldown else max(desired, 1)
                    state["desired"] = desired
                    for _ in range(desired - current):
                        task = asyncio.create_task(add_replica())
                        starting.add(task)
                        task.add_done_callback(starting.discard)
                    for _ in range(current - desired):
                        await remove_replica()
                    if desired == 0 and current > 0:
                        state["zero_at"].append(now())
                await asyncio.sleep(0.05)

        async def sampler() -> None:
            while True:
                timeline.append({"t": round(now(), 2), "in_flight": state["in_flight"], "offered_rps": state["offered"],
                                 "replicas": len(live()), "ready": sum(1 for r in live() if r.ready),
                                 "desired": state["desired"]})
                await asyncio.sleep(0.2)

        for _ in range(min_replicas):
            await add_replica()
        background = [asyncio.create_task(scaler()), asyncio.create_task(sampler())]
        requests: set[asyncio.Task] = set()
        rng = random.Random(0)
        try:
            # Open-loop load: each second's requests are spread evenly over that second.
            for second, rps in enumerate(profile):
                state["offered"] = rps
                count = int(rps) + (rng.random() < rps - int(rps))
                for i in range(count):
                    at = second + i / max(count, 1)
                    await asyncio.sleep(max(0.0, at - now()))
                    task = asyncio.create_task(interceptor(work_ms))
                    requests.add(task)
                    task.add_done_callback(requests.discard)
                await asyncio.sleep(max(0.0, second + 1 - now()))
                progress(0.8 * (second + 1) / len(profile), f"load second {second + 1}/{len(profile)}: {rps:.0f} req/s, "
                         f"{len(live())} replicas")
            state["offered"] = 0.0
            await asyncio.gather(*list(requests), return_exceptions=True)
            last_request = state["last_done"] or now()
            # Wait for the scaler to take the last replica away (bounded).
            while len(live()) > min_replicas and now() < limit:
                progress(0.8 + 0.2 * min(1.0, (now() - last_request) / max(cooldown, 0.1)),
                         f"idle: waiting for the cooldown ({now() - last_request:.1f}/{cooldown:.1f} s)")
                await asyncio.sleep(0.1)
            zeros = [z for z in state["zero_at"] if z > last_request]
            zero_after = zeros[0] - last_request if zeros else None
            await asyncio.sleep(0.3)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            for task in list(starting):
                task.cancel()
            await asyncio.gather(*list(starting), return_exceptions=True)
    startups = [r.startup_ms for r in pool.replicas if r.startup_ms]
    return {
        "timeline": timeline,
        "request_log": request_log,
        "requests": len(latencies) + errors,
        "errors": errors,
        **_percentiles(latencies),
        "max_cold_wait_ms": round(max(cold_waits, default=0.0), 1),
        "peak_replicas": max((row["replicas"] for row in timeline), default=0),
        "replica_processes_started": len(pool.replicas),
        "replica_startup_ms": round(sum(startups) / len(startups), 1) if startups else None,
        "zero_after_last_request_wall_s": round(zero_after, 2) if zero_after is not None else None,
        "zero_after_last_request_azure_s": round(zero_after * compression) if zero_after is not None else None,
        "wall_settings": {"polling_s": round(poll, 3), "cooldown_s": round(cooldown, 3), "stabilisation_s": round(window, 3)},
        "all_stopped": all(r.proc is None or r.proc.returncode is not None for r in pool.replicas),
    }


# --- Experiment 2: coordinated load across replicas -----------------------------------------------
def _jobs(count: int, rate: float, seed: int) -> list[tuple[float, int]]:
    """(arrival offset s, work ms): mostly short jobs, some long ones; the mix that hurts round-robin."""
    rng = random.Random(seed)
    t = 0.0
    jobs = []
    for _ in range(count):
        t += rng.expovariate(rate)
        jobs.append((t, 250 if rng.random() < 0.15 else 20))
    return jobs


async def patterns_test(*, replicas: int = 3, jobs: int = 60, rate: float = 50.0, fail_rate: float = 0.3,
                        keys: int = 30, singleton_s: float = 2.0, seed: int = 0, progress: Progress = _noop) -> dict:
    """Measure the coordination patterns side by side on real local processes (see module docstring)."""
    import httpx

    if not 2 <= replicas <= MAX_LOCAL_REPLICAS:
        raise ValueError(f"Use 2..{MAX_LOCAL_REPLICAS} replicas for the pattern test.")
    if not 1 <= jobs <= 500 or not 1 <= keys <= 200 or not 0 <= fail_rate < 1 or rate <= 0:
        raise ValueError("Use 1-500 jobs, 1-200 keys, a failure rate in [0, 1) and a positive rate.")
    work = _jobs(jobs, rate, seed)
    rows: list[dict] = []
    notes: dict = {}
    tmp = tempfile.TemporaryDirectory(prefix="keda-lab-")
    db_path = str(Path(tmp.name) / "shared.sqlite")
    worker_mod.init_db(db_path)
    try:
        async with Pool() as pool, httpx.AsyncClient(timeout=30) as client:
            # A. Round-robin: the load balancer deals requests in turn, whatever each replica is doing.
            progress(0.05, "round-robin over HTTP")
            servers = await asyncio.gather(*(pool.start("serve", "--slots", "1", "--db", db_path, "--seconds", "120")
                                             for _ in range(replicas)))
            latencies: list[float] = []
            t0 = time.perf_counter()

            async def send(i: int, at: float, ms: int) -> None:
                await asyncio.sleep(max(0.0, at - (time.perf_counter() - t0)))
                start = time.perf_counter()
                await client.get(f"http://127.0.0.1:{servers[i % replicas].port}/work", params={"ms": ms})
                latencies.append((time.perf_counter() - start) * 1000)

            await asyncio.gather(*(send(i, at, ms) for i, (at, ms) in enumerate(work)))
            rows.append({"pattern": "round-robin", **_percentiles(latencies),
                         "makespan_s": round(time.perf_counter() - t0, 2)})

            # C. Retries after a lost response: without a key every retry repeats the side effect.
            for mode in ("naive", "idempotent"):
                progress(0.35 if mode == "naive" else 0.45, f"retries, {mode}")
                attempts_total = 0

                async def charge(k: int) -> None:
                    nonlocal attempts_total
                    key = f"order-{seed}-{k}"
                    for attempt in range(8):
                        attempts_total += 1
                        server = servers[(k + attempt) % replicas]  # a retry may land on another replica
                        resp = await client.get(f"http://127.0.0.1:{server.port}/charge",
                                                params={"key": key, "attempt": attempt, "mode": mode, "fail": fail_rate})
                        if resp.status_code == 200:
                            return

                await asyncio.gather(*(charge(k) for k in range(keys)))
                table = "effects_idem" if mode == "idempotent" else "effects"
                with sqlite3.connect(db_path) as db:
                    effects = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names
                notes[f"retries_{mode}"] = {"keys": keys, "attempts": attempts_total, "side_effects": effects,
                                            "duplicates": effects - keys}
            for server in servers:
                await server.stop()

            # B. Shared work queue: idle consumers pull the next job, so nobody waits behind a long job.
            progress(0.55, "shared queue (competing consumers)")
            await asyncio.gather(*(pool.start("consume", "--db", db_path, "--seconds", "60") for _ in range(replicas)))
            db = worker_mod.connect(db_path)
            t0 = time.perf_counter()
            for at, ms in work:
                await asyncio.sleep(max(0.0, at - (time.perf_counter() - t0)))
                db.execute("INSERT INTO jobs(work_ms, enqueued) VALUES (?, ?)", (ms, time.time()))
            deadline = time.perf_counter() + 30
            while time.perf_counter() < deadline:
                left = db.execute("SELECT COUNT(*) FROM jobs WHERE state != 'done'").fetchone()[0]
                if left == 0:
                    break
                await asyncio.sleep(0.02)
            done = db.execute("SELECT (done - enqueued) * 1000, worker FROM jobs WHERE state='done'").fetchall()
            db.close()
            per_worker: dict[str, int] = {}
            for _, w in done:
                per_worker[w] = per_worker.get(w, 0) + 1
            rows.append({"pattern": "shared queue", **_percentiles([d for d, _ in done]),
                         "makespan_s": round(time.perf_counter() - t0, 2)})
            notes["queue_jobs_per_consumer"] = per_worker
            notes["queue_jobs_done"] = len(done)
            for replica in pool.replicas:
                await replica.stop()

            # D. Singleton work: every replica wakes each tick; only a lease makes it run once.
            tick = 0.2
            for use_lease in (False, True):
                progress(0.7 if not use_lease else 0.85, f"singleton work, lease={use_lease}")
                with sqlite3.connect(db_path) as raw:
                    raw.execute("DELETE FROM runs")
                    raw.execute("DELETE FROM leases")
                args = ["singleton", "--db", db_path, "--tick", str(tick), "--seconds", str(singleton_s + 1)]
                if use_lease:
                    args += ["--lease", "--ttl", str(tick * 2.5)]
                group = await asyncio.gather(*(pool.start(*args) for _ in range(replicas)))
                killed_at = None
                await asyncio.sleep(singleton_s / 2)
                if use_lease:  # kill the holder: another replica must take over after the lease expires
                    with sqlite3.connect(db_path) as raw:
                        holder = raw.execute("SELECT holder FROM leases").fetchone()
                    victim = next((r for r in group if holder and r.name == holder[0]), None)
                    if victim:
                        killed_at = time.time()
                        victim.proc.kill()
                await asyncio.sleep(singleton_s / 2)
                for replica in group:
                    await replica.stop()
                with sqlite3.connect(db_path) as raw:
                    runs = raw.execute("SELECT tick, worker, at FROM runs ORDER BY at").fetchall()
                ticks: dict[int, int] = {}
                for t_id, _, _ in runs:
                    ticks[t_id] = ticks.get(t_id, 0) + 1
                key = "singleton_lease" if use_lease else "singleton_no_lock"
                notes[key] = {"ticks": len(ticks), "runs": len(runs),
                              "max_runs_in_one_tick": max(ticks.values(), default=0),
                              "workers_that_ran": len({w for _, w, _ in runs})}
                if killed_at:
                    after = [at for _, _, at in runs if at > killed_at]
                    notes[key]["takeover_after_kill_ms"] = round((after[0] - killed_at) * 1000) if after else None
            all_stopped = all(r.proc is None or r.proc.returncode is not None for r in pool.replicas)
            progress(1.0, "done")
    finally:
        tmp.cleanup()
    return {"rows": rows, "notes": notes, "jobs": jobs, "replicas": replicas, "all_stopped": all_stopped}


# --- Running coroutines from synchronous code -----------------------------------------------------
def run_coroutine(coro, *, inside_running_loop: bool = False) -> tuple[object, str]:
    """Run `coro` from sync code; return (result, which path ran it).

    With `inside_running_loop=True` the call is made from inside a running event loop, as in a
    Jupyter cell or an `async def` handler, where a plain `asyncio.run` raises "cannot be called
    from a running event loop". `shared.aio.run_sync` then patches the loop with nest_asyncio and
    re-enters it (or, for a loop it cannot patch such as uvloop, uses a worker thread).
    """
    if not inside_running_loop:
        return run_sync(coro), "asyncio.run: no event loop was running in this thread"

    async def notebook_cell():
        loop = asyncio.get_running_loop()
        path = ("nest_asyncio: re-entered the running loop" if type(loop).__module__.startswith("asyncio")
                else f"worker thread: {type(loop).__name__} cannot be patched")
        return run_sync(coro), path  # a synchronous call made while this loop is running

    return asyncio.run(notebook_cell())
