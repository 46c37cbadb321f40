"""Lab 2 · KEDA autoscaling: settings rules, generated files through the real validators, the
simulator against hand-worked cases, the local load tests (small bounds), the nest_asyncio path,
and the app end to end through gradio_client."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from labs.keda_autoscaling import loadtest, simulate, templates, validate
from labs.keda_autoscaling.settings import SettingsError, check_settings

from .conftest import free_port

GOOD_NAMES = dict(app="web-waits", resource_group="rg-keda-lab", location="westeurope", registry="kedalabacr2024",
                  workspace="law-keda-lab", environment="cae-keda-lab", identity="id-web-waits-pull",
                  image="web-waits", tag="v1")


# --- settings -------------------------------------------------------------------------------------
@pytest.mark.parametrize("field, value, words", [
    ("registry", "my-registry", "no hyphens"),
    ("registry", "abc", "5-50"),
    ("app", "Web", "lowercase"),
    ("app", "web--waits", "no '--'"),
    ("app", "a" * 33, "2-32"),
    ("resource_group", "rg.", "cannot end with '.'"),
    ("workspace", "-law", "start and end"),
    ("environment", "9env", "start with a letter"),
    ("location", "West Europe", "region"),
    ("image", "Web", "lowercase repository"),
])
def test_bad_names_are_refused_with_the_rule(field, value, words):
    with pytest.raises(SettingsError) as err:
        check_settings(**{field: value})
    assert words in str(err.value)


@pytest.mark.parametrize("kwargs, words", [
    ({"min_replicas": 5, "max_replicas": 3}, "larger than max"),
    ({"max_replicas": 1001}, "at most 1000"),
    ({"concurrency": 0}, "at least 1"),
    ({"polling_s": 0}, "between 1"),
    ({"cpu": 0.5, "memory_gi": 2.0}, "not a Consumption-plan size"),
    ({"max_replicas": "ten"}, "whole number"),
])
def test_bad_numbers_are_refused(kwargs, words):
    with pytest.raises(SettingsError) as err:
        check_settings(**kwargs)
    assert words in str(err.value)


@pytest.mark.parametrize("kwargs, words", [
    ({"max_replicas": None}, "Max replicas is empty"),  # an emptied box is refused, not silently the default
    ({"min_replicas": ""}, "Min replicas is empty"),
    ({"app": None}, "Container app name is empty"),
    ({"polling_s": float("nan")}, "whole number"),
    ({"size": "junk"}, "not '<vCPU> vCPU / <memory> GiB'"),
    ({"size": None}, "Replica size is empty"),
    ({"size": "0.5 vCPU / 2 GiB"}, "not a Consumption-plan size"),
])
def test_empty_values_and_bad_sizes_are_refused_by_name(kwargs, words):
    with pytest.raises(SettingsError) as err:
        check_settings(**kwargs)
    assert words in str(err.value)


def test_size_text_is_read_into_cpu_and_memory():
    s = check_settings(size="1.5 vCPU / 3 GiB")
    assert (s.cpu, s.memory_gi) == (1.5, 3.0)
    assert check_settings().max_replicas == 10  # a setting left out keeps its default


def test_each_generation_gets_its_own_folder_and_old_ones_are_pruned(tmp_path):
    old = templates.new_bundle_folder(tmp_path)
    two_hours_ago = time.time() - 2 * templates.KEEP_S
    os.utime(old, (two_hours_ago, two_hours_ago))
    fresh = templates.new_bundle_folder(tmp_path)
    again = templates.new_bundle_folder(tmp_path)
    assert fresh != again and fresh.is_dir() and again.is_dir()
    assert not old.exists()
    zip_path = templates.write_bundle({"a.sh": "echo hi\n"}, fresh)
    assert zip_path.parent == fresh and zip_path.is_file()


# --- generated files and the real validators ------------------------------------------------------
@pytest.fixture(scope="module")
def bundle():
    s = check_settings(**GOOD_NAMES)
    return s, templates.generate_bundle(s)


def test_generated_bundle_passes_every_real_validator(bundle):
    s, files = bundle
    findings = validate.validate_bundle(files, s)
    problems = [f for f in findings if f.level != "ok"]
    assert not problems, problems
    tools = {f.tool for f in findings}
    assert {"hadolint", "shellcheck", "pycep", "kubernetes-validate", "KEDA ScaledObject", "InterceptorRoute CRD",
            "azure-mgmt-appcontainers"} <= tools


def test_generated_files_carry_the_scale_settings():
    s = check_settings(min_replicas=1, max_replicas=7, concurrency=25, cooldown_s=600, polling_s=15)
    files = templates.generate_bundle(s)
    assert "--min-replicas \"$MIN_REPLICAS\"" in files["deploy_aca.sh"] and "MAX_REPLICAS=7" in files["deploy_aca.sh"]
    assert "COOLDOWN=600" in files["deploy_aca.sh"] and "az resource update" in files["deploy_aca.sh"]
    findings = validate.validate_bundle(files, s)
    assert all(f.level == "ok" for f in findings), [f for f in findings if f.level != "ok"]
    bicep = [f for f in findings if f.tool == "pycep" and "scale read back" in f.message][0]
    assert "'maxReplicas': 7" in bicep.message and "'cooldownPeriod': 600" in bicep.message


def test_validators_catch_real_mistakes(bundle):
    s, files = bundle
    root_image = files["Dockerfile"].replace("USER 10001:10001\n", "").replace("HEALTHCHECK", "# HEALTHCHECK")
    levels = {(f.tool, f.level) for f in validate.check_dockerfile(root_image, s)}
    assert ("dockerfile-parse", "error") in levels
    unquoted = files["deploy_aca.sh"].replace('--image "$IMAGE:$TAG" .', '--image $IMAGE:$TAG .')
    assert any(f.tool == "shellcheck" and f.level != "ok" for f in validate.check_shell(unquoted))
    broken_bicep = files["main.bicep"].replace("    retentionInDays: 30\n  }\n}", "    retentionInDays: 30\n  ")
    assert validate.check_bicep(broken_bicep, s)[0].level == "error"
    typo = files["keda-http.yaml"].replace("maxReplicaCount:", "maxReplicas:")
    assert any(f.level == "error" and "maxReplicas" in f.message
               for f in validate.check_k8s({"keda-http.yaml": typo}, s))
    both_ports = files["keda-http.yaml"].replace("    port: 80\n", "    port: 80\n    portName: http\n")
    assert any(f.level == "error" and "exactly one" in f.message for f in validate.check_k8s({"keda-http.yaml": both_ports}, s))
    bad_deploy = files["k8s-app.yaml"].replace("  replicas:", "  replica:")
    assert any(f.tool == "kubernetes-validate" and f.level == "error" for f in validate.check_k8s({"k8s-app.yaml": bad_deploy}, s))
    wrong_scale = files["deploy_aca.py"].replace("cooldown_period=COOLDOWN_S", "cooldown_period=300")
    assert any(f.level == "error" for f in validate.check_sdk_script(wrong_scale, s))


def test_generated_app_really_serves(bundle, tmp_path):
    """The deployable app.py runs (as the container would) and answers /healthz and /work."""
    _, files = bundle
    (tmp_path / "app.py").write_text(files["app.py"])
    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    pytest.fail("the generated app did not start")
                time.sleep(0.3)
        assert b'"status":"ok"' in body
        work = urllib.request.urlopen(f"http://127.0.0.1:{port}/work?ms=20", timeout=5).read()
        assert b'"waited_ms":20' in work
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- simulator: hand-worked cases -----------------------------------------------------------------
def burst(rate=200.0, start=100, length=60, total=2_000):
    traffic = np.zeros(total)
    traffic[start:start + length] = rate
    return traffic


def test_burst_reaches_exactly_max_and_never_more():
    # ACA metric = requests/s: 200 / target 10 = 20 replicas wanted, clamped to exactly 10.
    res = simulate.simulate(burst(), simulate.ScaleRule(polling_s=1, startup_s=0))
    assert res.replicas.max() == 10
    assert (res.replicas <= 10).all()
    # 100 / 10 = 10 exactly, without clamping; 90 / 10 -> 9.
    assert simulate.simulate(burst(rate=100), simulate.ScaleRule(max_replicas=50, polling_s=1)).replicas.max() == 10
    assert simulate.simulate(burst(rate=90), simulate.ScaleRule(max_replicas=50, polling_s=1)).replicas.max() == 9


def test_back_to_zero_exactly_900_s_after_the_last_request():
    traffic = burst(rate=50)
    res = simulate.simulate(traffic, simulate.ScaleRule(polling_s=1, startup_s=0))
    last = 159
    assert res.summary["last_request_s"] == last
    assert res.replicas[last + 899] >= 1 and res.replicas[last + 900] == 0
    assert res.summary["zero_after_last_request_s"] == 900
    # With 30 s polls, a warm replica and the last request on a poll (t=120): still exactly 900 s.
    aligned = np.zeros(3_000)
    aligned[31:121] = 50
    res30 = simulate.simulate(aligned, simulate.ScaleRule(polling_s=30, startup_s=0))
    assert res30.summary["zero_after_last_request_s"] == 900


def test_cooldown_only_covers_the_last_replica():
    res = simulate.simulate(burst(), simulate.ScaleRule(polling_s=1, startup_s=0, stabilisation_s=300))
    end = 159
    # N -> 1 follows the HPA's 300 s stabilisation window, long before the 900 s cooldown.
    assert res.replicas[end + 290] == 10 and res.replicas[end + 330] == 1
    assert res.replicas[end + 800] == 1 and res.replicas[end + 900] == 0


def test_min_replicas_one_never_scales_to_zero_and_has_no_cold_wait():
    res = simulate.simulate(burst(rate=5), simulate.ScaleRule(min_replicas=1, polling_s=30, startup_s=10))
    assert res.replicas.min() == 1
    assert res.summary["cold_starts"] == 0 and res.summary["max_wait_s"] == 0


def test_cold_start_waits_for_the_poll_and_the_start_up():
    traffic = np.zeros(600)
    traffic[31] = 1  # just after a poll at 30: activation at 60, ready at 70
    res = simulate.simulate(traffic, simulate.ScaleRule(polling_s=30, startup_s=10))
    assert res.summary["cold_starts"] == 1
    assert res.wait_s[31] == pytest.approx(70 - 31.5, abs=0.6)


def test_day_profile_runs():
    res = simulate.simulate(simulate.profile_business_day(), simulate.ScaleRule())
    assert len(res.replicas) == 86_400 and res.summary["requests"] > 100_000


def test_each_simulator_example_shows_a_difference_between_a_and_b():
    """A shipped A-vs-B example whose two settings give the same figures would teach nothing."""
    from labs.keda_autoscaling.app import SIM_EXAMPLES

    for label, values in SIM_EXAMPLES:
        profile, _, service_s, capacity = values[:4]
        traffic = simulate.PROFILES[profile]()
        a, b = (simulate.simulate(traffic, simulate.rule_from_inputs(name, *side, service_s, capacity)).summary
                for name, side in (("A", values[4:11]), ("B", values[11:18])))
        assert (a["replica_seconds"], a["p95_latency_s"]) != (b["replica_seconds"], b["p95_latency_s"]), label
    day = dict(SIM_EXAMPLES)["A day: ACA rate vs in-flight metric"]
    assert day[6] == day[13] and (day[10], day[17]) == ("aca_rate", "concurrency")


def test_traffic_upload_parsing(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("second,requests\n0,1\n1,2.5\n2,0\n")
    assert simulate.parse_traffic(good).tolist() == [1.0, 2.5, 0.0]
    plain = tmp_path / "plain.txt"
    plain.write_text("3\n\n4\n")
    assert simulate.parse_traffic(plain).tolist() == [3.0, 4.0]
    cases = {"neg.csv": ("1\n-2\n", "Line 2"), "word.csv": ("1\nlots\n", "not a number"),
             "empty.csv": ("", "empty"), "nan.csv": ("1\nnan\n", "not a count"), "hdr.csv": ("requests\n", "no numbers")}
    for name, (text, words) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(simulate.TrafficError, match=words):
            simulate.parse_traffic(path)
    binary = tmp_path / "x.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(simulate.TrafficError, match="binary"):
        simulate.parse_traffic(binary)


def test_impossible_rules_are_refused():
    with pytest.raises(ValueError, match="larger than max"):
        simulate.simulate([1], simulate.ScaleRule(min_replicas=3, max_replicas=2))
    with pytest.raises(ValueError, match="at least 1"):
        simulate.simulate([1], simulate.ScaleRule(target=0))


def test_rule_from_ui_values_names_empty_and_bad_boxes():
    good = ("Setting A", 0, 10.0, "10", 30, 900, 10, "aca_rate", 0.5, 20)
    rule = simulate.rule_from_inputs(*good)
    assert (rule.max_replicas, rule.target, rule.service_s) == (10, 10, 0.5) and isinstance(rule.max_replicas, int)
    cases = [(2, None, "Setting A: max replicas is empty"), (3, "lots", "target per replica must be a whole number"),
             (4, 2.5, "polling interval (s) must be a whole number"), (8, None, "Service time per request (s) is empty"),
             (7, None, "metric is empty"), (1, 20, "Setting A: Min replicas (20) is larger than max")]
    for index, value, words in cases:
        raw = list(good)
        raw[index] = value
        with pytest.raises(simulate.TrafficError, match=re.escape(words)):
            simulate.rule_from_inputs(*raw)


# --- real local load tests (small bounds) ---------------------------------------------------------
def test_local_autoscaling_with_real_processes():
    profile = [0, 20, 40, 60, 60, 0, 0, 0]
    result, path = loadtest.run_coroutine(loadtest.autoscale_test(
        profile, target=3, max_replicas=3, work_ms=150, slots=3, compression=900))
    assert "asyncio.run" in path
    assert result["errors"] == 0 and result["requests"] == sum(profile)
    assert 2 <= result["peak_replicas"] <= 3
    assert all(row["replicas"] <= 3 for row in result["timeline"])
    # Cooldown 900 s / 900 = 1 s of wall time after the last request, then zero.
    assert result["zero_after_last_request_wall_s"] is not None
    assert 0.9 <= result["zero_after_last_request_wall_s"] <= 3.0
    assert result["all_stopped"]


def test_patterns_and_the_nest_asyncio_path_inside_a_running_loop():
    async def notebook():
        # A sync call from inside a running loop: plain asyncio.run would raise here.
        probe = asyncio.sleep(0)
        with pytest.raises(RuntimeError):
            asyncio.run(probe)
        probe.close()  # asyncio.run refused it before starting it
        return loadtest.run_coroutine(loadtest.patterns_test(replicas=2, jobs=20, keys=12, fail_rate=0.3,
                                                             singleton_s=1.2))

    result, path = asyncio.run(notebook())
    notes = result["notes"]
    assert notes["retries_naive"]["duplicates"] > 0
    assert notes["retries_idempotent"]["duplicates"] == 0 and notes["retries_idempotent"]["side_effects"] == 12
    assert notes["singleton_no_lock"]["max_runs_in_one_tick"] == 2
    assert notes["singleton_lease"]["max_runs_in_one_tick"] == 1
    assert notes["queue_jobs_done"] == 20
    assert result["all_stopped"]
    # run_coroutine itself, called from inside a running loop, takes the nest_asyncio path.
    async def cell():
        return loadtest.run_coroutine(asyncio.sleep(0, result="x"), inside_running_loop=True)

    value, path = asyncio.run(cell())
    assert value == "x" and "nest_asyncio" in path


# --- the app --------------------------------------------------------------------------------------
def test_app_builds_alone():
    import gradio as gr

    from labs.keda_autoscaling import app

    assert isinstance(app.demo, gr.Blocks)
    names = [dep.get("api_name") for dep in app.demo.config["dependencies"] if dep.get("api_name")]
    assert names and all(n.startswith("keda_autoscaling_") for n in names)


def test_end_to_end_through_gradio_client(client_for, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from labs.keda_autoscaling import app

    client = client_for(app.demo)
    names = list(GOOD_NAMES.values())
    out = client.predict(*names, 0, 10, 10, 900, 30, "0.5 vCPU / 1 GiB", api_name="/keda_autoscaling_generate")
    assert "every check passed" in out[0]
    assert "cooldownPeriod: cooldownPeriod" in out[3 + list(templates.FILES).index("main.bicep")]
    sim = client.predict("idle → ramp → burst → idle (1 h)", None, 0.5, 20, 0, 10, 10, 30, 900, 10, "aca_rate",
                         1, 10, 10, 30, 900, 10, "aca_rate", api_name="/keda_autoscaling_simulate")
    assert "replica-seconds" in sim[2]
    with pytest.raises(AppError, match="larger than max"):
        client.predict(*names, 5, 3, 10, 900, 30, "0.5 vCPU / 1 GiB", api_name="/keda_autoscaling_generate")
    with pytest.raises(AppError, match="not allowed"):
        client.predict("Bad_App", *names[1:], 0, 10, 10, 900, 30, "0.5 vCPU / 1 GiB", api_name="/keda_autoscaling_generate")
    with pytest.raises(AppError, match="Max replicas is empty"):
        client.predict(*names, 0, None, 10, 900, 30, "0.5 vCPU / 1 GiB", api_name="/keda_autoscaling_generate")
    with pytest.raises(AppError, match="Setting B: max replicas is empty"):
        client.predict("spiky (1 h)", None, 0.5, 20, 0, 10, 10, 30, 900, 10, "aca_rate",
                       0, None, 10, 30, 900, 10, "aca_rate", api_name="/keda_autoscaling_simulate")
    bad = tmp_path / "traffic.csv"
    bad.write_text("1\n2\nbanana\n")
    with pytest.raises(AppError, match="not a number"):
        client.predict("spiky (1 h)", handle_file(str(bad)), 0.5, 20, 0, 10, 10, 30, 900, 10, "aca_rate",
                       0, 10, 10, 30, 900, 10, "aca_rate", api_name="/keda_autoscaling_simulate")
    with pytest.raises(AppError, match="minimum value 1|at least 1"):
        client.predict("spiky (1 h)", None, 0.5, 20, 0, 10, 0, 30, 900, 10, "aca_rate",
                       0, 10, 10, 30, 900, 10, "aca_rate", api_name="/keda_autoscaling_simulate")
