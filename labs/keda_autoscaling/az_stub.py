"""Run the generated deploy_aca.sh for real, with a stub `az` first on PATH (see `az_stub_cli.py`).

Three steps show what `assert_scale` / `verify_scale` are for:

1. `./deploy_aca.sh` — create everything; `az containerapp create` leaves the cooldown at the
   default 300, and `assert_scale` sets 900 and reads it back.
2. `az containerapp update --image ...:v2` by hand (as a CI job might), then `./deploy_aca.sh verify`:
   the update has put the cooldown back to 300 and `verify_scale` fails, naming both values.
3. `./deploy_aca.sh redeploy v3` — the lab's fix: update, then `assert_scale` re-asserts 900 and
   verifies it; the cooldown is 900 again.

The script runs with bash in a clean environment (PATH = the stub's folder + /usr/bin:/bin, a
private HOME, no operator credentials), each step bounded in time (`step_timeout()`, tighter on a
shared server). The script is generated from
settings that passed Azure's naming rules, never from free text.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

STEP_TIMEOUT_S = 30  # one step normally takes well under a second
SHARED_STEP_TIMEOUT_S = 6  # on a shared server: 4 steps + the SDK run's 30 s stay inside the 60 s request budget
STUB_SOURCE = Path(__file__).with_name("az_stub_cli.py")


def step_timeout() -> float:
    """Seconds one step may run: `SHARED_STEP_TIMEOUT_S` on a shared server, else `STEP_TIMEOUT_S`."""
    from shared.serving import request_budget

    return request_budget(local=STEP_TIMEOUT_S, shared=SHARED_STEP_TIMEOUT_S)


def install_stub(folder: Path) -> Path:
    """Write an `az` wrapper into `folder/bin` that runs the stub with this Python; return the bin folder."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    az = bin_dir / "az"
    az.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STUB_SOURCE}" "$@"\n')
    az.chmod(0o755)
    return bin_dir


def run_cli_scenario(folder: str | Path, *, cooldown_s: int, app: str, resource_group: str, registry: str,
                     image: str) -> dict:
    """Run the three steps (module docstring) on `folder/deploy_aca.sh`.

    Returns:
        steps: [{command, returncode, output, az_calls, cooldown_after}], and `caught`/`fixed`:
        whether step 2 failed on the reset and step 3 ended at `cooldown_s`.
    """
    folder = Path(folder)
    script = folder / "deploy_aca.sh"
    if not script.is_file():
        raise ValueError("deploy_aca.sh was not found; generate the bundle first.")
    bash = shutil.which("bash")
    if bash is None:
        raise ValueError("bash is not installed on this server; the CLI script cannot run here.")
    work = folder / "az-stub"
    if work.exists():
        shutil.rmtree(work)
    bin_dir = install_stub(work)
    state, log = work / "state.json", work / "calls.log"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(work), "AZ_STUB_STATE": str(state),
           "AZ_STUB_LOG": str(log), "LANG": "C.UTF-8"}
    steps_to_run = [
        ("./deploy_aca.sh", [bash, str(script)]),
        (f"az containerapp update -g {resource_group} -n {app} --image {registry}.azurecr.io/{image}:v2",
         [str(bin_dir / "az"), "containerapp", "update", "-g", resource_group, "-n", app,
          "--image", f"{registry}.azurecr.io/{image}:v2", "--output", "none"]),
        ("./deploy_aca.sh verify", [bash, str(script), "verify"]),
        ("./deploy_aca.sh redeploy v3", [bash, str(script), "redeploy", "v3"]),
    ]
    steps, limit = [], step_timeout()
    for shown, argv in steps_to_run:
        before = len(log.read_text().splitlines()) if log.exists() else 0
        try:
            proc = subprocess.run(argv, cwd=str(folder), env=env, capture_output=True, text=True, timeout=limit)
            code, out = proc.returncode, (proc.stdout + proc.stderr).strip()
        except subprocess.TimeoutExpired:
            code, out = -1, f"stopped after {limit:g} s"
        calls = [" ".join(["az", *json.loads(line)]) for line in log.read_text().splitlines()[before:]] if log.exists() else []
        steps.append({"command": shown, "returncode": code, "output": out[-2000:], "az_calls": calls,
                      "cooldown_after": _cooldown(state)})
    deploy, _, verify, redeploy = steps
    return {"steps": steps,
            "deployed": deploy["returncode"] == 0 and deploy["cooldown_after"] == cooldown_s,
            "caught": verify["returncode"] != 0 and f"'{300}', expected {cooldown_s}" in verify["output"],
            "fixed": redeploy["returncode"] == 0 and redeploy["cooldown_after"] == cooldown_s}


def _cooldown(state: Path):
    if not state.exists():
        return None
    apps = [r for key, r in json.loads(state.read_text())["resources"].items() if "/Microsoft.App/containerApps/" in key]
    return apps[0]["properties"]["template"]["scale"]["cooldownPeriod"] if apps else None
