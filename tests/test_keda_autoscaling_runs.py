"""Lab 2 · KEDA autoscaling, the paths that run for real: the SDK deploy script against the ARM
stand-in on 127.0.0.1, the CLI script with the stub `az` (the cooldown reset caught and fixed), the
HPA scale-up policies in the simulator, and the simulator calibrated against the local load test."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import numpy as np
import pytest
import yaml

from labs.keda_autoscaling import arm_standin, az_stub, calibrate, loadtest, simulate, templates
from labs.keda_autoscaling.settings import check_settings


@pytest.fixture
def bundle_dir(tmp_path):
    s = check_settings(cooldown_s=900, polling_s=30, max_replicas=7)
    templates.write_bundle(templates.generate_bundle(s), tmp_path)
    return s, tmp_path


# --- the SDK script against the ARM stand-in --------------------------------------------------------
def test_sdk_script_runs_end_to_end_against_the_arm_stand_in(bundle_dir):
    s, folder = bundle_dir
    run = arm_standin.run_sdk_script(folder / "deploy_aca.py")
    assert run["returncode"] == 0, run["output"]
    assert "scale verified: 0..7 replicas, cooldown 900 s" in run["output"]
    methods = [(r["method"], r["path"].split("/")[-1]) for r in run["requests"]]
    # Real SDK calls, in the script's order: RG, workspace (LRO), keys, registry (LRO), identity, role, env, app.
    assert methods[0] == ("PUT", s.resource_group)
    assert ("POST", "sharedKeys") in methods and ("PUT", s.app) in methods
    polls = [r for r in run["requests"] if r["path"].startswith("/operations/")]
    assert len(polls) == 8  # four long-running PUTs, each polled InProgress then Succeeded
    assert all(r["api_version"] != "(none)" and r["status"] < 300 for r in run["requests"])
    assert run["scale"]["cooldownPeriod"] == 900 and run["scale"]["maxReplicas"] == 7
    assert any(p.endswith("/providers/Microsoft.Authorization/roleAssignments/" + p.rsplit("/", 1)[-1])
               for p in run["resources"])


def test_arm_stand_in_answers_like_arm():
    state = arm_standin.ArmStandIn()
    assert state.handle("GET", "/subscriptions/x/resourceGroups/rg", b"", "http://127.0.0.1")[0] == 400  # no api-version
    status, _, body = state.handle("GET", "/subscriptions/x/resourceGroups/rg?api-version=1", b"", "http://127.0.0.1")
    assert status == 404 and body["error"]["code"] == "ResourceNotFound"
    path = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.App/containerApps/web?api-version=2"
    status, headers, body = state.handle("PUT", path, b'{"location": "westeurope"}', "http://127.0.0.1:9")
    assert status == 201 and body["properties"]["provisioningState"] == "InProgress"
    op = headers["Azure-AsyncOperation"].split("?")[0].replace("http://127.0.0.1:9", "")
    assert [state.handle("GET", op + "?api-version=2", b"", "")[2]["status"] for _ in range(2)] == ["InProgress", "Succeeded"]
    assert arm_standin.resource_type(path.split("?")[0]) == "Microsoft.App/containerApps"


def test_sdk_run_gets_no_operator_credentials_and_stays_on_loopback(tmp_path, operator_secrets, shared_mode):
    """A clean environment for the script; the stand-in's URL is 127.0.0.1; the shared-mode bound applies."""
    script = tmp_path / "deploy_aca.py"
    script.write_text("import os, sys\n"
                      "def deploy(phase, *, credential=None, base_url=None, **options):\n"
                      "    print('ENV', sorted(os.environ)); print('URL', base_url)\n")
    run = arm_standin.run_sdk_script(script, ("infra",))
    assert run["returncode"] == 0, run["output"]
    assert not any(value in run["output"] for value in operator_secrets.values())
    assert not any(name in run["output"] for name in operator_secrets)
    assert "URL http://127.0.0.1:" in run["output"]
    with pytest.raises(ValueError, match="Unknown phase"):
        arm_standin.run_sdk_script(script, ("delete-everything",))
    # Both runs of one click fit the shared server's 60 s request budget.
    assert arm_standin.SHARED_RUN_TIMEOUT_S + 4 * az_stub.step_timeout() < 60
    assert az_stub.step_timeout() == az_stub.SHARED_STEP_TIMEOUT_S


# --- the CLI script with the stub az ----------------------------------------------------------------
def test_cli_script_with_stub_az_catches_the_cooldown_reset_and_redeploy_fixes_it(bundle_dir, operator_secrets):
    s, folder = bundle_dir
    run = az_stub.run_cli_scenario(folder, cooldown_s=s.cooldown_s, app=s.app, resource_group=s.resource_group,
                                   registry=s.registry, image=s.image)
    deploy, update, verify, redeploy = run["steps"]
    assert deploy["returncode"] == 0 and "scale verified" in deploy["output"] and deploy["cooldown_after"] == 900
    assert any(call.startswith("az containerapp create") for call in deploy["az_calls"])
    assert update["cooldown_after"] == 300  # the reported reset, reproduced by the stub
    assert verify["returncode"] == 1 and "cooldownPeriod is '300', expected 900" in verify["output"]
    assert redeploy["returncode"] == 0 and redeploy["cooldown_after"] == 900
    assert any("az resource update" in call and "cooldownPeriod=900" in call for call in redeploy["az_calls"])
    assert run["deployed"] and run["caught"] and run["fixed"]
    logged = (folder / "az-stub" / "calls.log").read_text()
    assert not any(value in logged for value in operator_secrets.values())


def test_stub_az_refuses_what_it_does_not_implement(tmp_path):
    import subprocess
    import sys

    env = {"AZ_STUB_STATE": str(tmp_path / "s.json"), "AZ_STUB_LOG": str(tmp_path / "l.log"), "PATH": os.defpath}
    proc = subprocess.run([sys.executable, str(az_stub.STUB_SOURCE), "vm", "create", "-n", "x"], env=env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "not implemented" in proc.stderr


# --- HPA scale-up policies ------------------------------------------------------------------------------
def _burst(total=1_200, start=100, length=300, rate=400.0):
    traffic = np.zeros(total)
    traffic[start:start + length] = rate
    return traffic


def test_scale_up_follows_kubernetes_default_policies():
    # 400 req/s / target 10 = 40 wanted; max 30. Polls and syncs every second would hide the 15 s period,
    # so keep the HPA's 15 s sync: 1 -> 5 (+4 beats +100 %) -> 10 -> 20 -> 30, one step per 15 s.
    rule = simulate.ScaleRule(max_replicas=30, polling_s=1, startup_s=0)
    res = simulate.simulate(_burst(), rule)
    steps = [int(v) for v in np.unique(res.replicas[100:200])]
    assert steps == [1, 5, 10, 20, 30]
    jumps = np.diff(res.replicas[100:200])
    assert jumps.max() <= 10
    unlimited = simulate.simulate(_burst(), replace(rule, hpa=simulate.UNLIMITED))
    # Without limits the first sync already jumps from 1 to the (partial-window) wanted count, 16.
    assert np.diff(unlimited.replicas[100:200]).max() >= 14
    assert res.summary["p95_latency_s"] > unlimited.summary["p95_latency_s"]


def test_select_policy_min_and_disabled_and_pods_only():
    base = simulate.ScaleRule(max_replicas=30, polling_s=1, startup_s=0)
    pods2 = simulate.rule_with_hpa_config(base, {"behavior": {"scaleUp": {
        "selectPolicy": "Min", "policies": [{"type": "Pods", "value": 2, "periodSeconds": 15},
                                            {"type": "Percent", "value": 100, "periodSeconds": 15}]}}})
    res = simulate.simulate(_burst(), pods2)
    assert [int(v) for v in np.unique(res.replicas[100:160])][:4] == [1, 2, 4, 6]  # min(+2, x2) per 15 s: 1->2, 2->4, 4->6
    frozen = simulate.rule_with_hpa_config(base, {"behavior": {"scaleUp": {"selectPolicy": "Disabled"}}})
    assert simulate.simulate(_burst(), frozen).replicas.max() == 1  # KEDA's 0 -> 1 only
    with pytest.raises(simulate.TrafficError, match="Pods or Percent"):
        simulate.rule_with_hpa_config(base, {"behavior": {"scaleUp": {"policies": [
            {"type": "Replicas", "value": 1, "periodSeconds": 15}]}}})


def test_generated_scaled_object_carries_the_behavior_the_simulator_reads():
    s = check_settings(stabilisation_s=240)
    docs = list(yaml.safe_load_all(templates.generate_bundle(s)["keda-http.yaml"]))
    scaled = next(d for d in docs if d["kind"] == "ScaledObject")
    rule = simulate.rule_with_hpa_config(simulate.ScaleRule(), scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"])
    assert rule.hpa == simulate.HpaBehavior()  # exactly Kubernetes' defaults, spelled out
    assert rule.stabilisation_s == s.stabilisation_s
    assert simulate.rule_with_hpa_config(simulate.ScaleRule(), None).hpa == simulate.HpaBehavior()


# --- calibration against the real local load test ---------------------------------------------------------
def test_calibration_compares_simulated_and_measured_from_one_result():
    """Unit check on a hand-made result: a perfect match gives zero replica error."""
    profile = [0, 10, 0, 0]
    result = {"wall_settings": {"polling_s": 0.1, "cooldown_s": 1.0, "stabilisation_s": 0.5},
              "replica_startup_ms": 0, "p50_ms": 200.0, "p95_ms": 200.0,
              "timeline": [{"t": round(0.2 * i, 2), "replicas": 0} for i in range(20)],
              "request_log": [(1.0 + 0.1 * i, 200.0) for i in range(10)]}
    sim = simulate.simulate(np.repeat(np.asarray(profile, dtype=float) * 0.1, 10),
                            calibrate.sim_rule(result, target=4, max_replicas=3, min_replicas=0, work_ms=200, slots=4))
    for row in result["timeline"]:
        row["replicas"] = int(sim.replicas[min(int(row["t"] / 0.1), len(sim.replicas) - 1)])
    cal = calibrate.calibrate(profile, result, target=4, max_replicas=3, work_ms=200)
    assert cal["replicas_mae"] == 0 and cal["peak"]["measured"] >= 1
    assert cal["latency_mae_ms"] is not None and cal["p50_ms"]["measured"] == 200.0


def test_calibration_against_a_real_load_test_on_loopback():
    profile = [0, 20, 40, 40, 0, 0]
    result, _ = loadtest.run_coroutine(loadtest.autoscale_test(profile, target=3, max_replicas=3, work_ms=150, slots=3,
                                                               compression=900))
    assert result["errors"] == 0 and len(result["request_log"]) == result["requests"]
    cal = calibrate.calibrate(profile, result, target=3, max_replicas=3, work_ms=150, slots=3)
    assert len(cal["measured_replicas"]) == len(cal["simulated_replicas"]) == len(result["timeline"])
    assert cal["peak"]["simulated"] >= 1 and cal["peak"]["measured"] >= 1
    assert 0 <= cal["replicas_mae"] <= 3 and cal["latency_mae_ms"] is not None
    json.dumps(cal)  # plain numbers, ready for the UI


# --- through the app ------------------------------------------------------------------------------------------
def test_run_scripts_and_policies_through_gradio_client(client_for):
    from gradio_client.exceptions import AppError

    from labs.keda_autoscaling import app

    client = client_for(app.demo)
    names = ["web-waits", "rg-keda-lab", "westeurope", "kedalabacr2024", "law-keda-lab", "cae-keda-lab",
             "id-web-waits-pull", "web-waits", "v1"]
    text, requests, steps = client.predict(*names, 0, 10, 10, 900, 30, "0.5 vCPU / 1 GiB",
                                           api_name="/keda_autoscaling_run_scripts")
    assert "✅ ran" in text and "caught it" in text and "re-asserted 900" in text
    assert len(requests["data"]) >= 20 and len(steps["data"]) == 4
    with pytest.raises(AppError, match="not allowed"):
        client.predict("Bad_App", *names[1:], 0, 10, 10, 900, 30, "0.5 vCPU / 1 GiB",
                       api_name="/keda_autoscaling_run_scripts")
    _, note = client.predict("spiky (1 h)", None, 0.5, 20, 0, 10, 10, 30, 900, 10, "aca_rate",
                             api_name="/keda_autoscaling_policies")
    assert "largest scale-up in one step 5 vs 10" in note
