"""The small app every target of this lab ships: one replica of a digit-reading model server.

The model is a small MLP trained by this lab (`model.py`) on 8x8 handwritten digits and saved as
safetensors. This file is all a replica needs besides NumPy: it reads the safetensors file itself
(the format is an 8-byte header length, a JSON header, then raw tensors) and runs the forward
pass with NumPy, so the same file runs as a local process here, inside a Docker image, in a
Compose replica, in a Kubernetes pod and (through `predict.py`) in Replicate's cog server. The
weights are loaded once, before the server listens: a replica that answers /healthz can predict.

    python replica.py --port 8001 --name r1 --weights digits_mlp.safetensors   # one replica on 127.0.0.1:8001
    PORT=7860 HOST=0.0.0.0 MODEL_WEIGHTS=/app/digits_mlp.safetensors python replica.py   # in a container

Endpoints:
    GET  /          what this is, its model and its endpoints
    GET  /healthz   {"status": "ok", "model": ...}: what Docker HEALTHCHECK, Compose and Kubernetes probes call
    GET  /whoami    which replica answered (name, pid, port, requests served)
    POST /predict   {"pixels": [64 values 0-16]} or {"instances": [[64 values], ...]} (at most 1,000):
                    the digit(s) and their probabilities
    GET  /predict?pixels=v1,v2,...,v64   the same for one image
    GET  /work?rounds=N   synthetic CPU load for the scaling lesson: N chained SHA-256 rounds (pure
                          Python holds the GIL, so one replica uses one core)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np

MAX_ROUNDS = 2_000_000  # refuse requests that would hold a core for many seconds
WEIGHTS_NAME = "digits_mlp.safetensors"  # the file every target ships beside this one
N_PIXELS = 64           # an 8x8 image, row by row
PIXEL_MAX = 16.0        # the digits dataset's pixel scale (0 = paper, 16 = ink)
MAX_BATCH = 1000        # images per request: bounded work and memory per request
MAX_BODY = 1_000_000    # bytes of JSON per request (1,000 images of 64 numbers fit easily)
_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def read_safetensors(data: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parse a safetensors file with NumPy alone: (tensors by name, the header's string metadata).

    Layout: 8 bytes little-endian header length N, N bytes of JSON (per tensor: dtype, shape,
    [begin, end) byte offsets into the data that follows), then the tensors' raw bytes.
    """
    if len(data) < 8:
        raise ValueError("not a safetensors file: shorter than its 8-byte header length")
    (size,) = struct.unpack("<Q", data[:8])
    if size > len(data) - 8:
        raise ValueError("not a safetensors file: the header is longer than the file")
    header = json.loads(data[8:8 + size])
    body = memoryview(data)[8 + size:]
    metadata = header.pop("__metadata__", None) or {}
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<")
        tensors[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(info["shape"]).astype(dtype.newbyteorder("="))
    return tensors, metadata


class DigitsModel:
    """The served model: 64 pixels -> 64 ReLU units -> 10 softmax scores (one per digit)."""

    def __init__(self, tensors: dict[str, np.ndarray], metadata: dict[str, str]):
        self.w1, self.b1 = tensors["fc1.weight"], tensors["fc1.bias"]  # (64, H), (H,)
        self.w2, self.b2 = tensors["fc2.weight"], tensors["fc2.bias"]  # (H, 10), (10,)
        self.metadata = metadata

    @classmethod
    def from_bytes(cls, data: bytes) -> "DigitsModel":
        return cls(*read_safetensors(data))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "DigitsModel":
        """Read the weights once (at start-up: cog's setup(), a container's CMD, a replica's main)."""
        return cls.from_bytes(Path(path).read_bytes())

    def predict_proba(self, pixels) -> np.ndarray:
        """Probabilities (N, 10) for images (N, 64) or one image (64,), pixels in 0-16."""
        x = np.asarray(pixels, dtype=np.float32).reshape(-1, N_PIXELS) / np.float32(PIXEL_MAX)  # (N, 64) in 0..1
        hidden = np.maximum(x @ self.w1 + self.b1, 0)                                       # (N, H)
        logits = hidden @ self.w2 + self.b2                                                  # (N, 10)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    def predict(self, pixels) -> np.ndarray:
        """The digit (N,) with the highest probability for each image."""
        return self.predict_proba(pixels).argmax(axis=1)

    def describe(self) -> dict:
        return {"architecture": self.metadata.get("architecture", ""),
                "held_out_accuracy": self.metadata.get("held_out_accuracy", "")}


def check_pixels(images) -> np.ndarray:
    """Validate images: a list of 1..MAX_BATCH lists of 64 finite numbers in 0-16. Returns (N, 64)."""
    try:
        x = np.asarray(images, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"pixels must be numbers: {N_PIXELS} per image (8x8, row by row), 0-16") from None
    if x.ndim != 2 or x.shape[1] != N_PIXELS or not 1 <= x.shape[0] <= MAX_BATCH:
        raise ValueError(f"send 1 to {MAX_BATCH} images of {N_PIXELS} pixels each; got shape {list(x.shape)}")
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > PIXEL_MAX:
        raise ValueError(f"pixel values must be finite numbers from 0 to {PIXEL_MAX:g}")
    return x


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
    """Routes the endpoints; every answer is JSON and names the replica."""

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
            self._send(200, {"status": "ok", "replica": server.name, "model": server.model.describe()})
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
        elif url.path == "/predict":
            values = parse_qs(url.query).get("pixels", [""])[0]
            try:
                images = [[float(v) for v in values.split(",")]] if values else None
            except ValueError:
                images = "not numbers"
            self._predict(images, me)
        elif url.path == "/":
            self._send(200, {**me, "model": server.model.describe(),
                             "endpoints": ["/healthz", "/whoami", "POST /predict", "/predict?pixels=...",
                                           "/work?rounds=N&text=T"]})
        else:
            self._send(404, {"error": f"no endpoint {url.path}", **me})


    def do_POST(self):  # noqa: N802 (http.server's naming)
        url = urlparse(self.path)
        server = self.server
        with server.lock:
            server.served += 1
            served = server.served
        me = {"replica": server.name, "pid": os.getpid(), "port": server.server_address[1], "served": served}
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True  # the body (if any) is not read: do not reuse this connection
            self._send(413, {"error": f"the body must be 0 to {MAX_BODY} bytes (Content-Length)", **me})
            return
        body = self.rfile.read(length)
        if url.path != "/predict":
            self._send(404, {"error": f"no endpoint POST {url.path}", **me})
            return
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            self._send(400, {"error": "the body is not JSON: send {\"pixels\": [64 numbers]}", **me})
            return
        if not isinstance(doc, dict):
            doc = {}
        images = doc.get("instances") if "instances" in doc else ([doc["pixels"]] if "pixels" in doc else None)
        self._predict(images, me)

    def _predict(self, images, me: dict) -> None:
        if images is None:
            self._send(400, {"error": f"send {{\"pixels\": [{N_PIXELS} numbers 0-16]}} or "
                                      f"{{\"instances\": [[...], ...]}}", **me})
            return
        try:
            x = check_pixels(images)
        except ValueError as exc:
            self._send(400, {"error": str(exc), **me})
            return
        start = time.perf_counter()
        proba = self.server.model.predict_proba(x)
        self._send(200, {**me, "predictions": proba.argmax(axis=1).tolist(),
                         "probabilities": np.round(proba.astype(np.float64), 6).tolist(),
                         "predict_ms": round((time.perf_counter() - start) * 1000, 3)})


class ReplicaServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # a port already in use must fail loudly, not be shared

    def __init__(self, address, name: str, model: DigitsModel):
        super().__init__(address, ReplicaHandler)
        self.name = name
        self.model = model
        self.served = 0
        self.lock = threading.Lock()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="One replica of the tiny model server.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "7860")))
    parser.add_argument("--name", default=os.environ.get("REPLICA_NAME") or socket.gethostname())
    parser.add_argument("--weights", default=os.environ.get("MODEL_WEIGHTS") or str(Path(__file__).with_name(WEIGHTS_NAME)),
                        help="the safetensors file (env MODEL_WEIGHTS; default: beside this file)")
    args = parser.parse_args(argv)
    # Load the model before listening: a replica that answers /healthz can predict.
    try:
        model = DigitsModel.load(args.weights)
    except (OSError, ValueError, KeyError) as exc:
        sys.stderr.write(f"[{args.name}] cannot load the model weights {args.weights}: {exc}\n")
        sys.exit(3)
    try:
        server = ReplicaServer((args.host, args.port), args.name, model)
    except OSError as exc:
        sys.stderr.write(f"[{args.name}] cannot listen on {args.host}:{args.port}: {exc}\n")
        sys.exit(2)
    # SIGTERM (docker stop, kubectl delete, our own stop) shuts down cleanly.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    sys.stderr.write(f"[{args.name}] model {model.describe()} loaded from {args.weights}; "
                     f"listening on {args.host}:{args.port} (pid {os.getpid()})\n")
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
