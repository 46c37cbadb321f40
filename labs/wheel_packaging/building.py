"""Build the sdist and wheel through the PEP 517 front end `build`, in a subprocess, with its log.

`python -m build` reads `[build-system]` from pyproject.toml and calls the backend's hooks
(`build_sdist`, `build_wheel`). By default it first creates an isolated environment and installs
the backend there from PyPI (a few seconds); with ``--no-isolation`` it uses the backend already
installed in this interpreter (about a second), which needs setuptools >= 77 here.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from shared.optional import MissingDependency, install_hint, missing
from shared.serving import is_shared

SLUG = "wheel_packaging"
MIN_SETUPTOOLS = (77, 0)  # first release that writes License-Expression / License-File (PEP 639)
BUILD_TIMEOUT_S = 300  # an isolated build downloads setuptools; a stuck index must not hang a worker
SHARED_BUILD_TIMEOUT_S = 60  # the same on a shared server: a build takes 1-9 s, one visitor holds a heavy worker
SOURCE_DATE_EPOCH = "1704067200"  # 2024-01-01: fixed file times inside archives = reproducible builds
LOG_TAIL = 40  # lines of a failed build's log quoted in the error message


class BuildError(ValueError):
    """The build ran and failed, or could not start; the message quotes the real error."""


@dataclass
class BuildResult:
    """What one `python -m build` run produced.

    Attributes:
        command: The exact command line that ran.
        isolated: Whether the backend ran in an isolated environment.
        log: Everything the front end and backend printed.
        seconds: Wall-clock time of the build.
        sdist: The .tar.gz, if one was asked for.
        wheel: The .whl.
    """

    command: list[str]
    isolated: bool
    log: str
    seconds: float
    sdist: Path | None
    wheel: Path | None

    def describe(self) -> str:
        """One line for the UI: isolation mode and time."""
        mode = ("isolated (a fresh environment with setuptools from PyPI)" if self.isolated
                else "--no-isolation (the setuptools installed here)")
        return f"Built in {self.seconds:.1f} s, {mode}."


def setuptools_version() -> tuple[int, ...] | None:
    """The installed setuptools version as a tuple, or None if it is not installed."""
    try:
        raw = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return None
    return tuple(int(p) for p in raw.split(".")[:2] if p.isdigit())


def check_tools(isolated: bool) -> None:
    """Fail early, with the fix, when the build front end or (for --no-isolation) the backend is missing.

    Raises:
        MissingDependency: If `build` is not installed.
        BuildError: If --no-isolation is asked for without setuptools >= 77.
    """
    if missing(["build"]):
        raise MissingDependency(
            f"The PEP 517 front end 'build' is not installed. Install it with: {install_hint(SLUG)}")
    if not isolated:
        found = setuptools_version()
        if found is None or found < MIN_SETUPTOOLS:
            have = "not installed" if found is None else "version " + ".".join(map(str, found))
            raise BuildError(
                f"A --no-isolation build uses the setuptools installed here, which is {have}; it needs "
                f">= {'.'.join(map(str, MIN_SETUPTOOLS))}. Tick 'Isolated build' (downloads it from PyPI) "
                "or run: pip install 'setuptools>=77'.")


def run_build(project_dir: Path, outdir: Path, *, isolated: bool, sdist: bool = True,
              timeout: float = BUILD_TIMEOUT_S) -> BuildResult:
    """Run ``python -m build`` on `project_dir`, writing archives to `outdir`.

    Args:
        project_dir: Folder holding pyproject.toml.
        outdir: Where dist files go (created).
        isolated: Build in an isolated environment (PEP 517 default) or use this interpreter's backend.
        sdist: Also build the source distribution (the wheel is then built from the sdist, which
            proves the sdist is complete).
        timeout: Seconds before the build is stopped (at most `SHARED_BUILD_TIMEOUT_S` on a shared server).

    Raises:
        BuildError: With the last lines of the real log when the build fails or times out.
    """
    check_tools(isolated)
    if is_shared():
        timeout = min(timeout, SHARED_BUILD_TIMEOUT_S)
    outdir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "build", "--outdir", str(outdir)]
    command += [] if sdist else ["--wheel"]
    command += [] if isolated else ["--no-isolation"]
    command.append(str(project_dir))
    env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH, "PYTHONDONTWRITEBYTECODE": "1",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, cwd=project_dir, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"")
        out = out.decode(errors="replace") if isinstance(out, bytes) else out
        raise BuildError(f"The build took longer than {timeout:.0f} s and was stopped. "
                         f"If it was downloading setuptools, untick 'Isolated build'.\n{_tail(out)}") from None
    seconds = time.perf_counter() - start
    log = proc.stdout + (("\n" + proc.stderr) if proc.stderr.strip() else "")
    if proc.returncode != 0:
        raise BuildError(f"The build failed (exit status {proc.returncode}). "
                         f"The last lines of its log:\n{_tail(log)}")
    wheels = sorted(outdir.glob("*.whl"))
    sdists = sorted(outdir.glob("*.tar.gz"))
    if not wheels:
        raise BuildError(f"The build said it succeeded but wrote no wheel to {outdir.name}/.\n{_tail(log)}")
    return BuildResult(command, isolated, log, seconds, sdists[-1] if sdists else None, wheels[-1])


def _tail(text: str, lines: int = LOG_TAIL) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
