"""Local emulators that stand in for the three clouds: find them, start them on 127.0.0.1, stop them.

- **Azurite** (npm `azurite`, Microsoft's own emulator): Azure Blob and Queue storage.
- **moto server** (PyPI `moto[server]`): S3 and SQS, and most other AWS APIs.
- **gcp-storage-emulator** (PyPI): the Google Cloud Storage JSON and XML APIs.
- **Pub/Sub stand-in** (`pubsub_standin.py`, the lab's own): Google Pub/Sub's gRPC API, the part
  the lab uses. Google's emulator ships only with the gcloud CLI; PUBSUB_EMULATOR_HOST selects it.

Each emulator runs as a real process behind `supervise.py`, which stops it if this server dies.
One set is shared by every user of the lab: it starts lazily on the first click (under a lock,
so twenty people clicking at once start one Azurite, not twenty) and stops at exit or on
`POOL.stop_all()`; on a shared server only the operator may stop them (`stop_on_request`).
Ports: the emulator's well-known port when it is free, else any free one.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable

from shared import serving

HOST = "127.0.0.1"  # emulators listen on loopback only: nothing outside this machine can reach them
START_TIMEOUT_S = 45.0  # Azurite (node) starts in ~1 s, moto's Flask app in ~2-4 s on 2 cores
START_ATTEMPTS = 3  # a port taken between our check and the emulator's bind: try fresh ports
REPO_ROOT = Path(__file__).resolve().parents[2]
SUPERVISOR = Path(__file__).with_name("supervise.py")

# Azurite's well-known development account. Its key is public (it is in Microsoft's docs and in
# every Azure SDK): it only ever opens a local emulator.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
# moto accepts any credentials; these dummies keep boto3 from looking for real ones.
MOTO_KEY_ID = "testing"
MOTO_SECRET = "testing"


class EmulatorError(ValueError):
    """An emulator is missing or could not start; the message says what to do."""


@dataclass(frozen=True)
class EmulatorSpec:
    """How to find, start and probe one emulator.

    Attributes:
        key: Short id ("azurite", "moto", "gcs").
        label: What it is, for the UI.
        serves: Which cloud services it stands in for.
        ports: Well-known ports, one per listening service (used when free).
        install: The command that installs it.
        grpc: It speaks gRPC, not HTTP: its endpoint is host:port and it is ready once it listens.
    """

    key: str
    label: str
    serves: str
    ports: tuple[int, ...]
    install: str
    grpc: bool = False


AZURITE = EmulatorSpec("azurite", "Azurite", "Azure Blob + Queue Storage", (10000, 10001, 10002),
                       "npm install --prefix .ci azurite   (or: npm install -g azurite; needs Node.js 18+)")
MOTO = EmulatorSpec("moto", "moto server", "Amazon S3 + SQS", (5000,), "pip install 'moto[server]'")
GCS = EmulatorSpec("gcs", "gcp-storage-emulator", "Google Cloud Storage", (9023,), "pip install gcp-storage-emulator")
PUBSUB = EmulatorSpec("pubsub", "Pub/Sub stand-in", "Google Pub/Sub (gRPC: topics, subscriptions, publish, pull, ack)",
                      (8085,), "pip install google-cloud-pubsub", grpc=True)
SPECS = {spec.key: spec for spec in (AZURITE, MOTO, GCS, PUBSUB)}
PUBSUB_STANDIN = Path(__file__).with_name("pubsub_standin.py")


def azurite_binary() -> str | None:
    """Azurite's launcher: $AZURITE_BIN, the repo's .ci/node_modules, or PATH."""
    candidates = [os.environ.get("AZURITE_BIN", ""), str(REPO_ROOT / ".ci" / "node_modules" / ".bin" / "azurite")]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    return shutil.which("azurite")


def available(key: str) -> tuple[bool, str]:
    """Whether emulator `key` can be started here, and a one-line note (path, or how to install)."""
    spec = SPECS[key]
    if key == "azurite":
        exe = azurite_binary()
        if exe and shutil.which("node"):
            return True, exe
        why = "Node.js is not on PATH" if exe else "Azurite is not installed"
        return False, f"{why}: {spec.install}"
    module = {"moto": "moto", "gcs": "gcp_storage_emulator", "pubsub": "google.pubsub_v1"}[key]
    needs = [module] + {"moto": ["flask", "flask_cors"], "pubsub": ["grpc"]}.get(key, [])
    absent = [m for m in needs if importlib.util.find_spec(m) is None]
    if absent:
        return False, f"{', '.join(absent)} not installed: {spec.install}"
    return True, f"{sys.executable} {PUBSUB_STANDIN}" if key == "pubsub" else f"{sys.executable} -m {module}"


def version(key: str) -> str:
    """The emulator's version, read without starting it (empty if unknown)."""
    try:
        if key == "azurite":
            exe = azurite_binary()
            if not exe:
                return ""
            # node_modules/.bin/azurite -> node_modules/azurite/dist/src/azurite.js
            pkg = Path(os.path.realpath(exe)).parents[2] / "package.json"
            if pkg.is_file():
                import json

                return json.loads(pkg.read_text(encoding="utf-8")).get("version", "")
            return ""
        if key == "pubsub":  # the lab's own server; the version that matters is the client's wire format
            return f"(google-cloud-pubsub {metadata.version('google-cloud-pubsub')} messages)"
        return metadata.version({"moto": "moto", "gcs": "gcp-storage-emulator"}[key])
    except (metadata.PackageNotFoundError, OSError, ValueError):
        return ""


def port_is_free(port: int, host: str = HOST) -> bool:
    """True if nothing listens on host:port right now."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = HOST) -> int:
    """A port the OS says is free on host."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def pick_ports(preferred: tuple[int, ...], *, avoid_preferred: bool = False) -> tuple[list[int], list[str]]:
    """Choose one port per service: the well-known one when free, else a free one. Returns notes too."""
    ports, notes = [], []
    for want in preferred:
        if not avoid_preferred and port_is_free(want) and want not in ports:
            ports.append(want)
            continue
        got = free_port()
        while got in ports:
            got = free_port()
        ports.append(got)
        if not avoid_preferred:
            notes.append(f"port {want} was in use, so it listens on {got}")
    return ports, notes


def command(key: str, ports: list[int], workdir: str) -> list[str]:
    """The command line that starts emulator `key` on `ports` (loopback only, no telemetry)."""
    if key == "azurite":
        blob, queue, table = ports
        return [azurite_binary() or "azurite",
                "--blobHost", HOST, "--blobPort", str(blob),
                "--queueHost", HOST, "--queuePort", str(queue),
                "--tableHost", HOST, "--tablePort", str(table),
                "--inMemoryPersistence", "--extentMemoryLimit", "256",  # nothing written to disk
                "--disableTelemetry",  # Azurite reports usage by default; never from here
                "--silent", "--skipApiVersionCheck", "--loose"]
    if key == "moto":
        return [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(ports[0])]
    if key == "gcs":
        return [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", HOST,
                "--port", str(ports[0]), "--in-memory"]
    if key == "pubsub":
        return [sys.executable, str(PUBSUB_STANDIN), "--host", HOST, "--port", str(ports[0])]
    raise KeyError(key)


def probe_urls(key: str, ports: list[int]) -> list[str]:
    """URLs that all answer (any HTTP status) once the emulator is ready."""
    if key == "azurite":  # blob and queue must both listen (table is not used by the lab)
        return [f"http://{HOST}:{ports[0]}/{AZURITE_ACCOUNT}?comp=list", f"http://{HOST}:{ports[1]}/{AZURITE_ACCOUNT}?comp=list"]
    if SPECS[key].grpc:
        return [f"tcp://{HOST}:{ports[0]}"]
    paths = {"moto": "/", "gcs": "/storage/v1/b?project=probe"}
    return [f"http://{HOST}:{ports[0]}{paths[key]}"]


def _answers(url: str) -> bool:
    if url.startswith("tcp://"):  # a gRPC server: listening is answering
        host, port = url[len("tcp://"):].rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=1.0).close()
            return True
        except OSError:
            return False
    try:
        urllib.request.urlopen(url, timeout=1.0).close()
        return True
    except urllib.error.HTTPError:
        return True  # a 403 from Azurite still means it is up
    except OSError:
        return False


@dataclass
class Emulator:
    """One running emulator process (behind the supervisor)."""

    spec: EmulatorSpec
    ports: list[int]
    process: subprocess.Popen
    workdir: str
    version: str = ""
    notes: list[str] = field(default_factory=list)
    started_s: float = 0.0

    @property
    def endpoint(self) -> str:
        """Base URL of the first (main) service (host:port for a gRPC server)."""
        return f"{HOST}:{self.ports[0]}" if self.spec.grpc else f"http://{HOST}:{self.ports[0]}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def describe(self) -> str:
        """e.g. 'Azurite 3.35.0 at http://127.0.0.1:10000 (local emulator)'."""
        ver = f" {self.version}" if self.version else ""
        kind = "the lab's own server, real gRPC API" if self.spec.grpc else "local emulator"
        return f"{self.spec.label}{ver} at {self.endpoint} ({kind})"

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return (Path(self.workdir) / "emulator.log").read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the supervisor (which stops the emulator's whole process group) and wait."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start(key: str, *, timeout_s: float = START_TIMEOUT_S) -> Emulator:
    """Start emulator `key` on 127.0.0.1 and wait until it answers HTTP.

    Raises:
        EmulatorError: If it is not installed (the message has the install command) or does not
            start (the message has the end of its log).
    """
    spec = SPECS[key]
    ok, note = available(key)
    if not ok:
        raise EmulatorError(f"{spec.label} (the stand-in for {spec.serves}) cannot start: {note}")
    last_log = ""
    for attempt in range(START_ATTEMPTS):
        ports, notes = pick_ports(spec.ports, avoid_preferred=attempt > 0)
        workdir = tempfile.mkdtemp(prefix=f"cloud_sdks-{key}-")
        log = open(os.path.join(workdir, "emulator.log"), "wb")
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(SUPERVISOR), str(os.getpid()), "--", *command(key, ports, workdir)],
                                cwd=workdir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        emu = Emulator(spec, ports, proc, workdir, version(key), notes)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and emu.alive():
            if all(_answers(url) for url in probe_urls(key, ports)):
                emu.started_s = time.perf_counter() - t0
                return emu
            time.sleep(0.15)
        last_log = emu.log_tail()
        emu.stop()
        if "EADDRINUSE" in last_log or "in use" in last_log.lower():
            continue  # someone took the port between our check and the bind: pick others
        break
    raise EmulatorError(f"{spec.label} did not start within {timeout_s:.0f} s. End of its log:\n{last_log.strip()}")


class EmulatorPool:
    """The one set of emulators this server shares between its users (thread-safe, lazy)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key_locks = {key: threading.Lock() for key in SPECS}
        self._running: dict[str, Emulator] = {}

    def get(self, key: str) -> Emulator:
        """The running emulator `key`, started now if needed (or restarted if it died)."""
        with self._key_locks[key]:
            with self._lock:
                emu = self._running.get(key)
            if emu is not None and emu.alive():
                return emu
            emu = start(key)
            with self._lock:
                self._running[key] = emu
            return emu

    def ensure(self, keys: list[str], progress: Callable[[str], None] | None = None) -> dict[str, Emulator | EmulatorError]:
        """Start the emulators in `keys` side by side; map each key to its emulator or its error."""
        def one(key: str) -> Emulator | EmulatorError:
            try:
                return self.get(key)
            except EmulatorError as exc:
                return exc

        waiting = [k for k in keys if not (k in self._running and self._running[k].alive())]
        if waiting and progress:
            progress(f"starting {', '.join(SPECS[k].label for k in waiting)} on {HOST}")
        with ThreadPoolExecutor(max_workers=max(1, len(keys))) as pool:
            return dict(zip(keys, pool.map(one, keys)))

    def running(self) -> dict[str, Emulator]:
        with self._lock:
            return {k: e for k, e in self._running.items() if e.alive()}

    def stop_all(self) -> list[str]:
        """Stop every emulator; return the labels of those stopped."""
        with self._lock:
            emus, self._running = list(self._running.values()), {}
        for emu in emus:
            emu.stop()
        return [emu.spec.label for emu in emus]


POOL = EmulatorPool()
atexit.register(POOL.stop_all)


def stop_on_request() -> list[str]:
    """Stop every emulator when someone clicks Stop; on a shared server that is refused (every
    visitor's run uses the same emulators), so only the operator can do it, from the machine."""
    serving.operator_only("stopping the emulators")
    return POOL.stop_all()


def status_rows() -> list[list[str]]:
    """One row per emulator: name, what it stands in for, installed?, running where."""
    running = POOL.running()
    rows = []
    for key, spec in SPECS.items():
        ok, note = available(key)
        emu = running.get(key)
        state = emu.describe() + (f"; {'; '.join(emu.notes)}" if emu.notes else "") if emu else (
            "not started (starts on the first run)" if ok else "cannot start")
        rows.append([spec.label, spec.serves, "yes" if ok else f"no: {note}", state])
    return rows
