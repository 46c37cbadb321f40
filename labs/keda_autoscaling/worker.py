"""One replica, as a real local process: the stand-in for one Container Apps replica.

    python -m labs.keda_autoscaling.worker serve --slots 1               # HTTP on 127.0.0.1, prints "READY <port>"
    python -m labs.keda_autoscaling.worker consume --db q.sqlite --id w1  # competing consumer on a shared queue
    python -m labs.keda_autoscaling.worker singleton --db q.sqlite --id w1 --lease  # singleton work under a lease

Every mode has a deadline and exits by itself; the parent also stops it. The shared queue, the
idempotency table and the lease live in one SQLite file (WAL mode), standing in for Azure Storage
Queues / Service Bus (queue), a database unique key (idempotency) and a blob lease (lock).
Standard library only, so a replica starts in a few tens of milliseconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

MAX_WORK_MS = 10_000
LEASE_NAME = "nightly-report"

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY, work_ms INTEGER NOT NULL, enqueued REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued', worker TEXT, started REAL, done REAL, lease_until REAL);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, id);
CREATE TABLE IF NOT EXISTS effects (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, worker TEXT);
CREATE TABLE IF NOT EXISTS effects_idem (key TEXT PRIMARY KEY, worker TEXT);
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, holder TEXT, expires REAL);
CREATE TABLE IF NOT EXISTS runs (tick INTEGER, worker TEXT, at REAL);
"""


def connect(path: str) -> sqlite3.Connection:
    """A connection that waits for other writers instead of failing (several processes share the file)."""
    db = sqlite3.connect(path, timeout=10, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA busy_timeout=10000")
    return db


def init_db(path: str) -> None:
    db = connect(path)
    db.executescript(SCHEMA)
    db.close()


def should_fail(key: str, attempt: int, fail_rate: float) -> bool:
    """Deterministic "the response got lost" decision, so runs are repeatable."""
    digest = hashlib.sha256(f"{key}:{attempt}".encode()).digest()
    return digest[0] / 256 < fail_rate


# --- HTTP replica ---------------------------------------------------------------------------------
def serve(slots: int, deadline: float, db_path: str | None) -> None:
    """Serve /healthz, /work and /charge; at most `slots` requests work at once, the rest wait."""
    gate = threading.Semaphore(slots)
    local = threading.local()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep the parent's output clean
            pass

        def _reply(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 - http.server's naming
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/healthz":
                return self._reply(200, {"status": "ok"})
            if url.path == "/work":
                ms = max(0, min(int(q.get("ms", "100")), MAX_WORK_MS))
                queued = time.time()
                with gate:  # one slot = one request being worked on; others queue here
                    started = time.time()
                    time.sleep(ms / 1000)
                return self._reply(200, {"queued_ms": (started - queued) * 1000, "port": self.server.server_port})
            if url.path == "/charge" and db_path:
                return self._charge(q)
            return self._reply(404, {"error": "not found"})

        def _charge(self, q: dict) -> None:
            """A side effect (e.g. charging a card) that must happen once per key, however often retried."""
            key, attempt = q.get("key", ""), int(q.get("attempt", "0"))
            if not hasattr(local, "db"):
                local.db = connect(db_path)
            if q.get("mode") == "idempotent":
                local.db.execute("INSERT OR IGNORE INTO effects_idem(key, worker) VALUES (?, ?)", (key, str(self.server.server_port)))
            else:
                local.db.execute("INSERT INTO effects(key, worker) VALUES (?, ?)", (key, str(self.server.server_port)))
            if should_fail(key, attempt, float(q.get("fail", "0"))):
                # The work is committed but the caller never hears back: exactly what makes retries dangerous.
                return self._reply(503, {"error": "response lost after commit"})
            return self._reply(200, {"key": key})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"READY {server.server_port}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    while time.time() < deadline:
        time.sleep(0.1)
    server.shutdown()


# --- Competing consumer ---------------------------------------------------------------------------
def consume(db_path: str, worker: str, deadline: float, lease_s: float = 30.0) -> None:
    """Claim the oldest queued job atomically, do it, mark it done; repeat until the deadline.

    The claim is one UPDATE ... RETURNING inside SQLite's write lock, so two consumers can never
    take the same job; a claim carries a lease, so a crashed consumer's job becomes visible again.
    """
    db = connect(db_path)
    print("READY 0", flush=True)
    while time.time() < deadline:
        now = time.time()
        row = db.execute(
            "UPDATE jobs SET state='running', worker=?, started=?, lease_until=? WHERE id = ("
            " SELECT id FROM jobs WHERE state='queued' OR (state='running' AND lease_until < ?)"
            " ORDER BY id LIMIT 1) RETURNING id, work_ms",
            (worker, now, now + lease_s, now),
        ).fetchone()
        if row is None:
            time.sleep(0.003)
            continue
        job_id, work_ms = row
        time.sleep(work_ms / 1000)
        db.execute("UPDATE jobs SET state='done', done=? WHERE id=?", (time.time(), job_id))
    db.close()


# --- Singleton work -------------------------------------------------------------------------------
def try_lease(db: sqlite3.Connection, worker: str, ttl_s: float) -> bool:
    """Take or renew the lease if it is free, expired or already ours. Atomic under SQLite's write lock."""
    now = time.time()
    db.execute("INSERT OR IGNORE INTO leases(name, holder, expires) VALUES (?, NULL, 0)", (LEASE_NAME,))
    cur = db.execute("UPDATE leases SET holder=?, expires=? WHERE name=? AND (expires < ? OR holder = ?)",
                     (worker, now + ttl_s, LEASE_NAME, now, worker))
    return cur.rowcount == 1


def singleton(db_path: str, worker: str, deadline: float, tick_s: float, use_lease: bool, ttl_s: float) -> None:
    """Every replica wakes up each tick to run "the nightly report"; with a lease only one does it."""
    db = connect(db_path)
    print("READY 0", flush=True)
    last_tick = -1
    while time.time() < deadline:
        tick = int(time.time() // tick_s)
        if tick != last_tick:
            if not use_lease or try_lease(db, worker, ttl_s):
                db.execute("INSERT INTO runs(tick, worker, at) VALUES (?, ?, ?)", (tick, worker, time.time()))
            last_tick = tick
        time.sleep(tick_s / 20)
    db.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["serve", "consume", "singleton"])
    parser.add_argument("--slots", type=int, default=1, help="requests worked on at once (serve)")
    parser.add_argument("--db", default=None, help="SQLite file shared by the replicas")
    parser.add_argument("--id", default="w", help="worker id")
    parser.add_argument("--seconds", type=float, default=60.0, help="exit after this long (safety bound)")
    parser.add_argument("--tick", type=float, default=0.2, help="singleton: seconds per tick")
    parser.add_argument("--lease", action="store_true", help="singleton: take a lease before running")
    parser.add_argument("--ttl", type=float, default=0.5, help="singleton: lease time-to-live (s)")
    args = parser.parse_args(argv)
    deadline = time.time() + min(args.seconds, 600)
    if args.mode == "serve":
        serve(max(1, args.slots), deadline, args.db)
    elif args.mode == "consume":
        consume(args.db, args.id, deadline)
    else:
        singleton(args.db, args.id, deadline, args.tick, args.lease, args.ttl)


if __name__ == "__main__":
    sys.exit(main())
