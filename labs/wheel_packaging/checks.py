"""Validate the built archives with the real tools maintainers run before uploading.

- ``twine check --strict``: the metadata PyPI will read (is the README renderable, is the
  metadata version understood, are required fields there).
- ``check-wheel-contents``: the wheel's *files* (stray .pyc, duplicate or empty files, modules
  outside the expected top-level package, missing ``__init__.py``...), codes W001-W202.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from shared.optional import missing

CHECK_TIMEOUT_S = 120
# Import name -> distribution name and what it checks, for the "not installed" message.
TOOLS = {"twine": ("twine", "metadata PyPI will read"),
         "check_wheel_contents": ("check-wheel-contents", "the files inside the wheel")}


@dataclass
class CheckResult:
    """One tool run: its command, whether it passed, and its full output."""

    tool: str
    command: list[str]
    passed: bool
    output: str

    def summary(self) -> str:
        """One line: tool name and verdict."""
        return f"{'✅' if self.passed else '⚠️'} {self.tool}: {'passed' if self.passed else 'reported problems'}"


def _run(tool: str, command: list[str]) -> CheckResult:
    if missing([tool]):
        dist, what = TOOLS[tool]
        return CheckResult(dist, command, False,
                           f"{dist} is not installed, so {what} was not checked. Install it with: pip install {dist}")
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S,
                              env={**os.environ, "NO_COLOR": "1"})
    except subprocess.TimeoutExpired:
        return CheckResult(TOOLS[tool][0], command, False, f"stopped after {CHECK_TIMEOUT_S} s without an answer")
    output = (proc.stdout + proc.stderr).strip()
    return CheckResult(TOOLS[tool][0], command, proc.returncode == 0, output)


def twine_check(paths: list[Path]) -> CheckResult:
    """Run ``twine check --strict`` on the sdist and wheel (warnings count as failures)."""
    return _run("twine", [sys.executable, "-m", "twine", "--no-color", "check", "--strict", *map(str, paths)])


def wheel_contents_check(wheel: Path, toplevel: str) -> CheckResult:
    """Run ``check-wheel-contents`` expecting exactly one top-level package, `toplevel`."""
    return _run("check_wheel_contents", [sys.executable, "-m", "check_wheel_contents", "--no-config",
                                         "--toplevel", toplevel, str(wheel)])


def run_checks(wheel: Path, sdist: Path | None, toplevel: str) -> list[CheckResult]:
    """Both validators on the archives of one build."""
    archives = [p for p in (sdist, wheel) if p is not None]
    return [twine_check(archives), wheel_contents_check(wheel, toplevel)]


def checks_text(results: list[CheckResult]) -> str:
    """The tools' verdicts and outputs, as a log a user can read."""
    parts = []
    for r in results:
        shown = " ".join(Path(c).name if "/" in c else c for c in r.command)
        parts.append(f"{r.summary()}\n$ {shown}\n{r.output}")
    return "\n\n".join(parts)
