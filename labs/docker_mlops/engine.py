"""Talk to a real Docker engine, if there is one: detect it, build the image, scale with Compose.

`detect()` runs `docker info` and `docker compose version` and reads their exit codes: the Docker
CLI alone is not enough, a daemon must answer. Nothing runs at import: `cached_status()` detects on
first use (a Docker button, or "Check for a Docker engine") and keeps the answer for
`CACHE_SECONDS`. Without an engine the lab's Docker buttons are disabled and say why; the same steps
then run for real with local processes and nginx (`replicas.py`).

The build and Compose commands stream their output line by line, so the UI can show live logs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

DETECT_TIMEOUT_S = 10
BUILD_TIMEOUT_S = 1800
CACHE_SECONDS = 60  # how long a detection result is reused before `docker info` runs again
NOT_CHECKED = ("🔎 **Not checked yet.** Click *Check for a Docker engine* (runs `docker info`), or press a Docker "
               "button: it checks first and says why if there is no engine.")


@dataclass(frozen=True)
class EngineStatus:
    """What Docker can do here.

    Attributes:
        cli: Path of the docker CLI, or None.
        engine: True when `docker info` succeeded (a daemon answered).
        compose: True when `docker compose version` succeeded (the Compose v2 plugin).
        version: The server version, when known.
        reason: One line on why something is missing (empty when everything works).
    """

    cli: str | None
    engine: bool
    compose: bool
    version: str = ""
    reason: str = ""

    def markdown(self) -> str:
        if self.engine:
            compose = "and the Compose plugin" if self.compose else "but **no Compose plugin** (`docker compose`)"
            return f"🐳 **Docker engine {self.version} found** {compose}: the buttons below run for real."
        return (f"🚫 **No Docker engine here** ({self.reason}). The Docker buttons are disabled. Everything else "
                "in this lab runs for real without it: the files are linted by the real tools, and the replicas "
                "tab runs the same app as local processes behind a real nginx.")


def _run(args: list[str], timeout: int = DETECT_TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def detect() -> EngineStatus:
    """Find the docker CLI, then ask it for the engine (`docker info`) and Compose."""
    cli = shutil.which("docker")
    if cli is None:
        return EngineStatus(None, False, False, reason="the docker CLI is not installed")
    try:
        info = _run([cli, "info", "--format", "{{.ServerVersion}}"])
    except subprocess.TimeoutExpired:
        return EngineStatus(cli, False, False, reason=f"`docker info` did not answer within {DETECT_TIMEOUT_S} s")
    if info.returncode != 0:
        lines = [ln.strip() for ln in (info.stderr or info.stdout).splitlines() if ln.strip()]
        why = next((ln for ln in lines if "daemon" in ln.lower() or "cannot connect" in ln.lower()),
                   lines[-1] if lines else "")
        return EngineStatus(cli, False, False,
                            reason=f"`docker info` exited with code {info.returncode}: {why[:200]}".rstrip(": "))
    try:
        compose = _run([cli, "compose", "version", "--short"])
        has_compose = compose.returncode == 0
    except subprocess.TimeoutExpired:
        has_compose = False
    return EngineStatus(cli, True, has_compose, version=info.stdout.strip(),
                        reason="" if has_compose else "the Compose v2 plugin is missing (`docker compose`)")


_cache_lock = threading.Lock()
_cache: tuple[float, EngineStatus] | None = None


def cached_status(*, refresh: bool = False, max_age_s: float = CACHE_SECONDS) -> EngineStatus:
    """`detect()`, run at most once per `max_age_s` (or now, with `refresh`); one probe at a time."""
    global _cache
    with _cache_lock:
        now = time.monotonic()
        if refresh or _cache is None or now - _cache[0] > max_age_s:
            _cache = (now, detect())
        return _cache[1]


def build_command(context: Path, image: str, *, with_secret: bool | None = None) -> list[str]:
    """`docker build` of the Docker Space folder; passes the HF_TOKEN build secret when it is set.

    The secret goes by name (`env=HF_TOKEN`): its value is read by Docker from the environment and
    never appears on the command line or in the log.
    """
    if with_secret is None:
        with_secret = bool(os.environ.get("HF_TOKEN"))
    secret = ["--secret", "id=HF_TOKEN,env=HF_TOKEN"] if with_secret else []
    return ["docker", "build", "--progress=plain", *secret, "-t", image, str(context)]


def compose_up_command(compose_dir: Path, replicas: int) -> list[str]:
    return ["docker", "compose", "-f", str(Path(compose_dir) / "compose.yaml"), "up", "-d", "--build",
            "--scale", f"app={replicas}"]


def compose_down_command(compose_dir: Path) -> list[str]:
    return ["docker", "compose", "-f", str(Path(compose_dir) / "compose.yaml"), "down", "--remove-orphans"]


def stream(args: list[str], cwd: Path | None = None, timeout: int = BUILD_TIMEOUT_S) -> Iterator[str]:
    """Run a command and yield its combined output line by line; the last line says how it ended.

    Raises:
        ValueError: If there is no Docker engine (checked first) or the command cannot start.
    """
    status = cached_status()
    if not status.engine:
        raise ValueError(f"No Docker engine here: {status.reason}. Install Docker (or start its daemon), then click "
                         "'Check for a Docker engine'.")
    if args[:2] == ["docker", "compose"] and not status.compose:
        raise ValueError("The Docker Compose v2 plugin is missing: install docker-compose-plugin, then click "
                         "'Check for a Docker engine'.")
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            yield line.rstrip("\n")
        code = proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    yield f"[exit code {code}]"
