"""Prove the wheel works: install it into a brand-new virtual environment and use it there.

The venv is made without pip (``python -m venv --without-pip``, ~0.1 s instead of ~4 s), and
this interpreter's pip installs into it with ``pip --python <venv python>``. ``--no-index
--no-deps`` means nothing comes from the network: the wheel has no dependencies, so if it runs
there, it runs for anyone. ``--isolated`` makes pip ignore local pip config and PIP_* variables.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

STEP_TIMEOUT_S = 120
# Fixed program run in the venv; the input travels as a JSON argument, never as code.
PREDICT_PROGRAM = (
    "import json, sys, importlib\n"
    "pkg = importlib.import_module(sys.argv[1])\n"
    "print(json.dumps({'version': pkg.__version__, 'backend': pkg.BACKEND, 'file': pkg.__file__,\n"
    "                  'prediction': pkg.predict(json.loads(sys.argv[2]))}))\n"
)


class InstallError(ValueError):
    """Installing or running the wheel in the fresh venv failed; the message has the real output."""


@dataclass
class Step:
    """One command run for the proof, with its output."""

    title: str
    command: list[str]
    output: str
    seconds: float


@dataclass
class TryoutResult:
    """The proof: every step's output, plus the parsed predict() result."""

    python: Path | None = None  # the venv's interpreter, for further programs (see `run_program`)
    steps: list[Step] = field(default_factory=list)
    prediction: dict = field(default_factory=dict)
    cli_output: str = ""
    installed_files: list[str] = field(default_factory=list)

    def log(self) -> str:
        """All steps as a terminal transcript."""
        parts = []
        for s in self.steps:
            programs = [c for c in s.command if "\n" in c]  # a `-c` program: shown below, not quoted
            shown = " ".join('"$PROGRAM"' if "\n" in c else shlex.quote(_short(c)) for c in s.command)
            listing = "".join(f"# PROGRAM:\n{p}" for p in programs)
            parts.append(f"# {s.title} ({s.seconds:.2f} s)\n{listing}$ {shown}\n{s.output.strip()}")
        return "\n\n".join(parts)


def _short(arg: str) -> str:
    """Show temp paths by their last parts only, so the transcript stays readable."""
    return "…/" + "/".join(Path(arg).parts[-3:]) if arg.startswith(("/tmp", "/var", os.sep + "private")) and len(arg) > 40 else arg


def venv_python(venv: Path) -> Path:
    """The interpreter inside a venv (bin/python, or Scripts\\python.exe on Windows)."""
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run(result: TryoutResult, title: str, command: list[str], *, cwd: Path | None = None) -> str:
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=STEP_TIMEOUT_S, cwd=cwd,
                              env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PIP_NO_INPUT": "1"})
    except subprocess.TimeoutExpired:
        raise InstallError(f"{title} took longer than {STEP_TIMEOUT_S} s and was stopped.") from None
    output = proc.stdout + (("\n" + proc.stderr) if proc.stderr.strip() else "")
    result.steps.append(Step(title, command, output, time.perf_counter() - start))
    if proc.returncode != 0:
        raise InstallError(f"{title} failed (exit status {proc.returncode}):\n{output.strip()[-3000:]}")
    return proc.stdout


def install_and_run(wheel: Path, work: Path, *, import_name: str, script: str, example,
                    cli_args: list[str], project_dir: Path | None = None) -> TryoutResult:
    """Create a fresh venv in `work`, install `wheel` into it and use the package there.

    Args:
        wheel: The wheel to install.
        work: A scratch folder (the venv is created inside it).
        import_name: The package to import.
        script: The console script to run.
        example: An input for predict() (JSON-serialisable).
        cli_args: Arguments for the console script.
        project_dir: If given, the project's tests are run there against the installed wheel.

    Raises:
        InstallError: With the real output of the step that failed.
    """
    result = TryoutResult()
    venv = work / "fresh-venv"
    _run(result, "Create an empty virtual environment", [sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv_python(venv)
    result.python = python
    _run(result, "Install the wheel (offline, no dependencies)",
         [sys.executable, "-m", "pip", "--isolated", "--python", str(python), "install", "--no-index", "--no-deps",
          "--no-cache-dir", "--disable-pip-version-check", str(wheel)])
    out = _run(result, "Import it and call predict()", [str(python), "-c", PREDICT_PROGRAM, import_name, json.dumps(example)])
    result.prediction = json.loads(out.strip().splitlines()[-1])
    bindir = python.parent
    exe = bindir / (script + (".exe" if os.name == "nt" else ""))
    result.cli_output = _run(result, "Run the console script", [str(exe), *cli_args])
    if project_dir is not None:
        _run(result, "Run the project's tests against the installed wheel",
             [str(python), "-m", "unittest", "discover", "-s", "tests", "-v"], cwd=project_dir)
    site = Path(result.prediction["file"]).parent.parent
    result.installed_files = sorted(str(p.relative_to(site)) for p in site.rglob("*")
                                    if p.is_file() and import_name in p.relative_to(site).parts[0])
    return result


def run_program(result: TryoutResult, title: str, program: str, *args: str) -> str:
    """Run a fixed Python `program` (ours, never user input) in the tryout's venv; returns stdout."""
    if result.python is None:
        raise InstallError("No virtual environment yet: call install_and_run() first.")
    return _run(result, title, [str(result.python), "-c", program, *args])
