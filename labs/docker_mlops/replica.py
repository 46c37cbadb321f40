"""The small app every target of this lab ships: one replica of a tiny HTTP model server.

Standard library only, so the same file runs as a local process here, inside a Docker image, in a
Compose replica, in a Kubernetes pod and (through `predict.py`) in Replicate's cog server.

    python replica.py --port 8001 --name r1          # one replica on 127.0.0.1:8001
    PORT=7860 HOST=0.0.0.0 python replica.py         # how the container runs it

Endpoints:
    GET /          what this is and its endpoints
    GET /healthz   {"status": "ok"}: what Docker HEALTHCHECK, Compose and Kubernetes probes call
    GET /whoami    which replica answered (name, pid, port, requests served)
    GET /work?rounds=N   the CPU-bound handler: N chained SHA-256 rounds, the stand-in for a model's
                         forward pass (pure Python holds the GIL, so one replica uses one core)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

MAX_ROUNDS = 2_000_000  # refuse requests that would hold a core for many seconds


def work(text: str = "hello", rounds: int = 20_000) -> str:
    """The "model": chain `rounds` SHA-256 hashes starting from `text`; return the hex digest.

    Deterministic (same input, same output on every replica), CPU-bound and GIL-holding, like a
    small model's forward pass in pure Python.
    """
    if not 0 <= rounds <= MAX_ROUNDS:
        raise ValueError(f"rounds must be between 0 and {MAX_ROUNDS}, got {rounds}")
    digest = text.encode("utf-8")
    for _ in range(rounds):
        digest = hashlib.sha256(digest).digest()
    return digest.hex()


class ReplicaHandler(BaseHTTPRequestHandler):
    """Routes the four GET endpoints; every answer is JSON and names the replica."""

    server_version = "tiny-replica/1.0"
    protocol_version = "HTTP/1.1"  # keep-alive, as nginx's upstream connections may use

    def log_message(self, fmt, *args):  # one line per request on stderr: the replica's log
        sys.stderr.write(f"[{self.server.name}] {self.address_string()} {fmt % args}\n")

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Replica", self.server.name)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        url = urlparse(self.path)
        server = self.server
        with server.lock:
            server.served += 1
            served = server.served
        me = {"replica": server.name, "pid": os.getpid(), "port": server.server_address[1], "served": served}
        if url.path == "/healthz":
            self._send(200, {"status": "ok", "replica": server.name})
        elif url.path == "/whoami":
            self._send(200, me)
        elif url.path == "/work":
            query = parse_qs(url.query)
            try:
                rounds = int(query.get("rounds", ["20000"])[0])
                text = query.get("text", ["hello"])[0]
                start = time.perf_counter()
                digest = work(text, rounds)
            except ValueError as exc:
                self._send(400, {"error": str(exc), **me})
                return
            self._send(200, {**me, "rounds": rounds, "digest": digest,
                             "work_ms": round((time.perf_counter() - start) * 1000, 2)})
        elif url.path == "/":
            self._send(200, {**me, "endpoints": ["/healthz", "/whoami", "/work?rounds=N&text=T"]})
        else:
            self._send(404, {"error": f"no endpoint {url.path}", **me})


class ReplicaServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # a port already in use must fail loudly, not be shared

    def __init__(self, address, name: str):
        super().__init__(address, ReplicaHandler)
        self.name = name
        self.served = 0
        self.lock = threading.Lock()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="One replica of the tiny model server.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "7860")))
    parser.add_argument("--name", default=os.environ.get("REPLICA_NAME") or socket.gethostname())
    args = parser.parse_args(argv)
    try:
        server = ReplicaServer((args.host, args.port), args.name)
    except OSError as exc:
        sys.stderr.write(f"[{args.name}] cannot listen on {args.host}:{args.port}: {exc}\n")
        sys.exit(2)
    # SIGTERM (docker stop, kubectl delete, our own stop) shuts down cleanly.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    sys.stderr.write(f"[{args.name}] listening on {args.host}:{args.port} (pid {os.getpid()})\n")
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
