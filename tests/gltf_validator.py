"""Run the Khronos glTF Validator (npm ``gltf-validator``) from Python tests.

The validator is a JavaScript package with no command line; ``gltf_validate.mjs``
beside this file loads it from ``.ci/node_modules`` and prints JSON reports.
Tests call ``validator_missing()`` to skip with a clear reason when node or the
package is not installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "gltf_validate.mjs"
PACKAGE_DIR = HERE.parent / ".ci" / "node_modules" / "gltf-validator"
INSTALL_HINT = "npm install --prefix .ci gltf-validator"


def validator_missing() -> str | None:
    """None when the validator can run, else the reason it cannot."""
    if shutil.which("node") is None:
        return "node is not installed (the glTF Validator runs on Node.js)"
    if not PACKAGE_DIR.is_dir():
        return f"npm package gltf-validator is not installed; run `{INSTALL_HINT}`"
    return None


def validate(*paths: str | Path, timeout: float = 120.0) -> dict[str, dict]:
    """Validate GLB files; returns {path: report} (a report has ``issues.numErrors``).

    A file the validator rejects outright maps to ``{"error": "..."}``.
    """
    args = ["node", str(SCRIPT), *[str(p) for p in paths]]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if proc.returncode not in (0, 2):
        raise RuntimeError(f"gltf_validate.mjs failed ({proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def errors_of(report: dict) -> list[str]:
    """Readable error lines from one report (empty when the file is valid)."""
    if "error" in report:
        return [report["error"]]
    issues = report.get("issues", {})
    return [
        f"{m.get('code')}: {m.get('message')} at {m.get('pointer', '')}"
        for m in issues.get("messages", [])
        if m.get("severity") == 0
    ]
