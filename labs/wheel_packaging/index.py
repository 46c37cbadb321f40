"""A real package index on 127.0.0.1: upload with twine, install with pip, see a re-upload refused.

The lab starts its own `pypiserver` for each run: a fresh folder, a free port on 127.0.0.1, an
htpasswd file with a random password made for that run (given to twine through
``TWINE_PASSWORD``, never on a command line or in a log), ``--disable-fallback`` so pip never
goes on to PyPI, and no ``--overwrite`` so, like PyPI, a file name can be uploaded once. The
server process is stopped when the run ends (even on errors); it runs in its own process group
so nothing it starts outlives it.

Why pypiserver and not devpi-server: devpi-server pulls in pyramid 2.0, which imports
``pkg_resources``; setuptools 81+ no longer ships it, and the lab needs setuptools >= 77 for its
PEP 639 builds, so devpi-server does not start next to it. pypiserver speaks the same upload API
(the one twine uses for PyPI) and the same simple index (PEP 503) pip reads.
"""

from __future__ import annotations

import html
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from shared.optional import MissingDependency, install_hint, missing

SLUG = "wheel_packaging"
HOST = "127.0.0.1"  # the index is the lab's own: never another address, never a visitor's
USER = "lab"  # the one account of the run's htpasswd file
START_TIMEOUT_S = 20.0  # pypiserver answers in ~1 s; a stuck start must not hold a worker
STEP_TIMEOUT_S = 60.0  # one upload or install (a few kB over loopback takes well under a second)
STOP_TIMEOUT_S = 5.0  # after SIGTERM, how long to wait before SIGKILL


class IndexRunError(ValueError):
    """The local index could not start, or a step against it failed; the message has the real output."""


@dataclass
class Step:
    """One command run against the index, with its output (secrets never appear here)."""

    title: str
    command: list[str]
    output: str
    returncode: int
    seconds: float

    def log(self) -> str:
        shown = " ".join(_shown(c) for c in self.command)
        return f"# {self.title} ({self.seconds:.2f} s, exit status {self.returncode})\n$ {shown}\n{self.output.strip()}"


@dataclass
class LocalIndex:
    """A running pypiserver: where it listens, where it keeps packages, how to log in."""

    url: str  # e.g. http://127.0.0.1:41234/  (twine uploads here)
    packages: Path
    password: str = field(repr=False)
    process: subprocess.Popen | None = field(default=None, repr=False)
    log_file: Path | None = None

    @property
    def simple(self) -> str:
        """The PEP 503 simple index pip reads."""
        return self.url + "simple/"

    def server_log(self, lines: int = 15) -> str:
        """The last lines the server printed (its access log)."""
        if self.log_file is None or not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").strip().splitlines()[-lines:])


def _shown(arg: str) -> str:
    """A command argument as shown to a reader: scratch paths by their file name only."""
    return Path(arg).name if arg.startswith(("/tmp", "/var", os.sep + "private")) else arg


def check_tools() -> None:
    """Raise MissingDependency with the install command when pypiserver, passlib or twine is missing."""
    gone = missing(["pypiserver", "passlib", "twine"])
    if gone:
        raise MissingDependency(f"Publishing to a local index needs {', '.join(gone)}. Install with: "
                                f"{install_hint(SLUG)}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _wait_ready(url: str, process: subprocess.Popen, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            raise IndexRunError(f"The local index stopped at start (exit status {process.returncode}).")
        try:
            with urllib.request.urlopen(url + "simple/", timeout=1.0) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise IndexRunError(f"The local index did not answer within {timeout:.0f} s and was stopped.")


def stop(index: LocalIndex) -> None:
    """Stop the server and everything in its process group: SIGTERM, then SIGKILL after a grace time."""
    proc = index.process
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT_S)
    except ProcessLookupError:
        pass


@contextmanager
def local_index(folder: Path, *, timeout: float = START_TIMEOUT_S) -> Iterator[LocalIndex]:
    """Start pypiserver on a free 127.0.0.1 port with its packages in `folder`; stop it on exit.

    Raises:
        MissingDependency: pypiserver or passlib is not installed.
        IndexRunError: The server did not start or answer within `timeout` seconds.
    """
    check_tools()
    from passlib.apache import HtpasswdFile

    packages = folder / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(16)  # made for this run only, dies with it
    htpasswd = HtpasswdFile(str(folder / "htpasswd"), new=True)
    htpasswd.set_password(USER, password)
    htpasswd.save()
    port = free_port()
    url = f"http://{HOST}:{port}/"
    log_file = folder / "server.log"
    command = [sys.executable, "-m", "pypiserver", "run", "--host", HOST, "--port", str(port),
               "--passwords", str(folder / "htpasswd"), "--authenticate", "update", "--disable-fallback",
               "--server", "wsgiref", str(packages)]
    with open(log_file, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)  # its own group: stop() reaps all of it
    index = LocalIndex(url=url, packages=packages, password=password, process=process, log_file=log_file)
    try:
        _wait_ready(url, process, timeout)
        yield index
    finally:
        stop(index)


def run(title: str, command: list[str], *, env: dict[str, str] | None = None, timeout: float = STEP_TIMEOUT_S,
        secret: str = "") -> Step:
    """Run one command with a time limit; return its `Step` (output with `secret` masked, never raised)."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              env={**os.environ, "NO_COLOR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                                   **(env or {})})
        output, code = proc.stdout + (("\n" + proc.stderr) if proc.stderr.strip() else ""), proc.returncode
    except subprocess.TimeoutExpired:
        output, code = f"stopped after {timeout:.0f} s without finishing", -1
    if secret:
        output = output.replace(secret, "***")
    return Step(title, command, output, code, time.perf_counter() - start)


def twine_upload(index: LocalIndex, files: list[Path], *, title: str = "Upload with twine",
                 timeout: float = STEP_TIMEOUT_S) -> Step:
    """``twine upload --repository-url <index>`` of `files`; the password travels in the environment."""
    command = [sys.executable, "-m", "twine", "upload", "--verbose", "--non-interactive", "--disable-progress-bar",
               "--repository-url", index.url, "--username", USER, *map(str, files)]
    return run(title, command, env={"TWINE_PASSWORD": index.password}, timeout=timeout, secret=index.password)


def refusal(step: Step) -> str:
    """The index's own words when it refused an upload (the HTTP status and the server's message)."""
    status = re.search(r"HTTPError: (\d{3} [^\n]*?) from", step.output)
    body = re.search(r"<pre>(.*?)</pre>", step.output, flags=re.S)
    message = " ".join(html.unescape(body.group(1)).split()) if body else ""
    return " — ".join(p for p in (status.group(1).strip() if status else "", message) if p) or step.output[-300:]


def pip_install(index: LocalIndex, python: Path, requirement: str, *, timeout: float = STEP_TIMEOUT_S) -> Step:
    """``pip install -i <local simple index> --no-deps`` into the venv of `python` (nothing from PyPI)."""
    command = [sys.executable, "-m", "pip", "--isolated", "--python", str(python), "install", "--no-deps",
               "--no-cache-dir", "--index-url", index.simple, requirement]
    return run(f"Install {requirement} from the local index", command, timeout=timeout)


def listing(index: LocalIndex, project: str) -> str:
    """The simple-index page pip reads for `project` (PEP 503), as the file names it links."""
    with urllib.request.urlopen(f"{index.simple}{project}/", timeout=5.0) as reply:
        page = reply.read(200_000).decode(errors="replace")
    return "\n".join(html.unescape(m) for m in re.findall(r">([^<>]+\.(?:whl|tar\.gz))</a>", page))


def cleanup(folder: Path) -> None:
    """Remove a run's index folder (packages, htpasswd, log)."""
    shutil.rmtree(folder, ignore_errors=True)
