"""Bounded time, memory, disk and processes per request, in shared mode, for cuda_benchmark,
docker_mlops, dataset_distillation, torch_vs_tf, keda_autoscaling, wheel_packaging and png_to_glb.

Every test is fast: budgets are made small with monkeypatch, refusals happen before any process
starts or any memory is allocated, and scratch folders are aged with os.utime instead of waiting.
"""

from __future__ import annotations

import asyncio
import os
import stat
import tempfile
import time
from pathlib import Path

import pytest

from shared import scratch, serving

HOUR_AGO = time.time() - 2 * 3600


@pytest.fixture
def temp_dir(monkeypatch, tmp_path):
    """Point the system temp folder (and so every lab's scratch root) at this test's folder."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _age(path: Path) -> Path:
    os.utime(path, (HOUR_AGO, HOUR_AGO))
    return path


def _old_folder(slug: str, name: str = "abandoned") -> Path:
    folder = scratch.root_for(slug) / name
    folder.mkdir()
    (folder / "left-behind.txt").write_text("x")
    return _age(folder)


# ---- cuda_benchmark: time budget and memory cap ------------------------------------------------

TINY = dict(sizes=(32, 64), dtypes=("fp32", "bf16"), bandwidth_mib=(1,), min_run_time=0.05)


def test_cuda_plan_over_the_shared_budget_is_refused_before_it_runs(shared_mode, monkeypatch):
    from labs.cuda_benchmark import suite

    monkeypatch.setattr(suite, "SHARED_BUDGET_S", 1.0)
    with pytest.raises(serving.BudgetExceeded, match=r"over this shared server's 1 s budget per run") as err:
        next(iter(suite.run_suite(suite.quick_config())))  # ~20 steps, estimated well over 1 s
    assert "\n" not in str(err.value) and "Choose fewer sizes" in str(err.value)


def test_cuda_run_stops_at_its_budget_with_partial_results(shared_mode, monkeypatch):
    from labs.cuda_benchmark import suite

    class ShortDeadline(serving.Deadline):  # the plan fits the real budget; the run gets 0.3 s
        def __init__(self, seconds, *, what="this request"):
            super().__init__(0.3, what=what)

    monkeypatch.setattr(suite, "Deadline", ShortDeadline)
    start = time.monotonic()
    rows, context = suite.run_all(suite.quick_config(**TINY))
    assert time.monotonic() - start < 15
    assert context["stopped"] is True and rows  # the steps finished by then are kept
    note = context["notes"][-1]
    assert note.startswith("Stopped after step") and "0.3 s time budget on this shared server" in note


def test_cuda_local_plan_over_budget_runs_with_a_note_and_stops(monkeypatch):
    from labs.cuda_benchmark import suite

    monkeypatch.setenv("ML_LABS_SHARED", "0")
    monkeypatch.setattr(suite, "LOCAL_BUDGET_S", 0.3)
    plan = suite.plan_suite(suite.quick_config(**TINY))  # local: not refused, only noted
    assert any("over the 0.3 s budget per run" in n for n in plan.notes) or plan.estimate_s <= 0.3
    rows, context = suite.run_all(suite.quick_config(**TINY))
    assert context.get("stopped") and rows and "time budget." in context["notes"][-1]


def test_cuda_single_call_cap_is_shorter_on_a_shared_server(shared_mode, monkeypatch):
    from labs.cuda_benchmark import suite

    monkeypatch.setattr(suite, "SHARED_MAX_SECONDS_PER_CALL", 1e-9)
    with pytest.raises(suite.BenchInputError, match="the lab limits a single call to 0 s"):
        suite.plan_suite(suite.quick_config(**TINY))


def test_cuda_memory_cap_refuses_an_oversized_matrix_with_a_clear_message(shared_mode, monkeypatch):
    from labs.cuda_benchmark import suite, workloads

    monkeypatch.setattr(workloads, "SHARED_HOST_BYTES", 64 * 2**20)
    # Plenty is "free", but one workload may use only the shared cap.
    with pytest.raises(workloads.BenchInputError) as err:
        workloads.check_fits(workloads.matmul_bytes(4096, "fp32"), "cpu", "A fp32 matmul at n=4096",
                             available=64 * 2**30)
    message = str(err.value)
    assert "A fp32 matmul at n=4096 needs 0.19 GiB on cpu, over this shared server's limit of 0.06 GiB" in message
    assert "Choose smaller sizes" in message and "\n" not in message
    with pytest.raises(workloads.BenchInputError, match="over this shared server's limit"):
        suite.plan_suite(suite.quick_config(sizes=(4096,), dtypes=("fp32",), bandwidth_mib=(1,)))
    workloads.check_fits(workloads.matmul_bytes(256, "fp32"), "cpu", "small", available=64 * 2**30)  # fits


def test_cuda_memory_cap_is_off_locally(monkeypatch):
    from labs.cuda_benchmark import workloads

    monkeypatch.setenv("ML_LABS_SHARED", "0")
    monkeypatch.setattr(workloads, "SHARED_HOST_BYTES", 1)
    workloads.check_fits(workloads.matmul_bytes(1024, "fp32"), "cpu", "local", available=64 * 2**30)


def test_measure_stops_repeating_once_asked():
    from labs.cuda_benchmark.timing import measure

    calls = []
    timing = measure(lambda: calls.append(1), warmup=1, repeats=50, stop=lambda: len(calls) >= 4)
    assert timing.repeats == 3 and len(calls) == 4  # 1 warm-up + 3 counted, then the budget said stop


# ---- docker_mlops: replicas, cog's server, the Docker engine, scratch folders ------------------

def test_replica_demo_total_work_is_capped_before_any_process_starts(shared_mode, monkeypatch):
    from labs.docker_mlops import replicas
    from labs.docker_mlops.settings import SettingsError

    def no_start(self, *a, **k):
        raise AssertionError("no replica may start for a refused run")

    monkeypatch.setattr(replicas.ReplicaSet, "start", no_start)
    with pytest.raises(SettingsError) as err:
        replicas.run_demo(3, 400, 500_000, kill_one=True)
    assert str(err.value) == ("This run would hash 400,000,000 SHA-256 rounds (400 requests x 500,000 rounds x 2 "
                              "round(s) of requests); this shared server allows 20,000,000 per run. Lower the "
                              "requests or the rounds per request.")
    with pytest.raises(SettingsError, match=r"Choosing nginx's port \(8080\) is off on this shared server"):
        replicas.run_demo(3, 24, 20_000, kill_one=True, nginx_port=8080)


def test_requests_past_the_time_budget_are_not_sent():
    from labs.docker_mlops import replicas

    shots, _ = replicas.fire(1, 5, rounds=10, stop=lambda: True)  # port 1: nothing is ever contacted
    phase = replicas.Phase("t", shots, 1.0, ["r1"])
    assert phase.not_sent == 5 and phase.summary()["not_sent"] == 5
    assert all(s.error == replicas.NOT_SENT for s in shots)


def test_cog_prediction_is_held_to_predict_py_bounds_on_a_shared_server(shared_mode):
    from labs.docker_mlops import cog_local
    from labs.docker_mlops.settings import SettingsError

    with pytest.raises(SettingsError, match=r"The text must be 1 to 1000 characters on this shared server"):
        cog_local.check_inputs("x" * 1001, 10)
    with pytest.raises(SettingsError, match=r"Rounds must be from 0 to 500,000 on this shared server"):
        cog_local.check_inputs("hello", 2_000_000)
    cog_local.check_inputs("hello", 20_000)


def test_cog_bounds_are_left_to_the_lesson_locally(monkeypatch):
    from labs.docker_mlops import cog_local

    monkeypatch.setenv("ML_LABS_SHARED", "0")
    cog_local.check_inputs("x" * 5000, 2_000_000)  # the local stand-in enforces no schema: the tab's lesson


@pytest.fixture
def docker_app():
    import labs.docker_mlops.app as app

    return app


@pytest.mark.parametrize("handler,args", [("docker_build", "settings"), ("compose_up", "settings"),
                                          ("compose_down", "name")])
def test_docker_engine_actions_are_operator_only_on_a_shared_server(shared_mode, docker_app, handler, args):
    import gradio as gr

    values = list(docker_app.GEN_EXAMPLES[0][1]) if args == "settings" else ["tiny-model"]
    with pytest.raises(gr.Error) as err:
        next(getattr(docker_app, handler)(*values))
    assert "affects everyone on this shared server, so only its operator can do it" in err.value.message


def test_docker_mlops_bundles_are_pruned_but_not_a_live_compose_folder(temp_dir, docker_app, monkeypatch):
    abandoned = _old_folder("docker_mlops")
    live = scratch.root_for("docker_mlops") / "docker-mlops-live"
    (live / "tiny-model" / "compose").mkdir(parents=True)
    _age(live)
    monkeypatch.setattr(docker_app, "COMPOSE_DIRS", {"tiny-model": live / "tiny-model" / "compose"})
    fresh = docker_app._new_folder()
    assert fresh.is_dir() and fresh.parent == scratch.root_for("docker_mlops")
    assert not abandoned.exists() and live.is_dir()  # `compose down` still needs the live one


def test_replica_work_folders_use_the_pruned_scratch_root(temp_dir, monkeypatch):
    from labs.docker_mlops import replicas

    abandoned = _old_folder("docker_mlops")
    seen = {}

    def fake_start(self, timeout=0):
        seen["workdir"] = self.workdir
        raise replicas.ReplicaStartError("stop here")

    monkeypatch.setattr(replicas.ReplicaSet, "start", fake_start)
    with pytest.raises(replicas.ReplicaStartError):
        replicas.run_demo(2, 4, 10, kill_one=False)
    assert seen["workdir"].parent == scratch.root_for("docker_mlops") and not abandoned.exists()


# ---- dataset_distillation: scratch folders and the training budget -----------------------------

def test_dataset_distillation_downloads_are_pruned(temp_dir):
    from labs.dataset_distillation import experiments

    abandoned = _old_folder("dataset_distillation")
    recent = scratch.root_for("dataset_distillation") / "recent"
    recent.mkdir()
    folder = experiments.out_dir()
    assert folder.parent == scratch.root_for("dataset_distillation") and folder.name.startswith("dataset_distillation_")
    assert not abandoned.exists() and recent.is_dir()


def test_dataset_distillation_training_stops_at_the_shared_budget(shared_mode, temp_dir, monkeypatch):
    pytest.importorskip("torch")
    from labs.dataset_distillation import data, experiments

    monkeypatch.setattr(experiments, "SHARED_BUDGET_S", 0.01)
    start = time.monotonic()
    with pytest.raises(serving.BudgetExceeded) as err:
        experiments.build_model(data.builtin("iris"), epochs=500)
    assert time.monotonic() - start < 20
    assert str(err.value) == ("Training on this shared server ran past its 0.01 s budget and was stopped. "
                              "Try smaller settings.")


def test_dataset_distillation_has_no_budget_locally(monkeypatch):
    from labs.dataset_distillation import experiments

    monkeypatch.setenv("ML_LABS_SHARED", "0")
    progress = object()
    assert experiments.budgeted(progress, "training") is progress


# ---- torch_vs_tf: run folders and the run budget ------------------------------------------------

def test_torch_vs_tf_prunes_abandoned_folders_but_not_a_kept_runs(temp_dir, monkeypatch):
    from labs.torch_vs_tf import runs

    abandoned = _old_folder("torch_vs_tf")
    kept = _old_folder("torch_vs_tf", "kept-run")
    monkeypatch.setitem(runs._RUNS, "kept-id", runs.Run("kept-id", kept, 8))  # workers may still use it
    fresh = runs.new_folder("torch_vs_tf_")
    assert fresh.parent == scratch.root_for("torch_vs_tf")
    assert not abandoned.exists() and kept.is_dir()


def test_torch_vs_tf_worker_steps_are_held_to_the_shared_budget(shared_mode, monkeypatch):
    from labs.torch_vs_tf import runs

    monkeypatch.setattr(runs, "SHARED_BUDGET_S", 0.01)
    deadline = runs.run_budget("training")
    time.sleep(0.02)

    class Worker:
        def call(self, *a, **k):
            raise AssertionError("no step may start once the budget is spent")

    with pytest.raises(serving.BudgetExceeded, match=r"^Training on this shared server ran past its 0.01 s budget"):
        runs._call(Worker(), deadline, "epoch", epoch=3)


def test_torch_vs_tf_step_timeout_is_what_the_budget_has_left(shared_mode, monkeypatch):
    from labs.torch_vs_tf import runs

    seen = {}

    class Worker:
        def call(self, cmd, timeout, **args):
            seen.update(cmd=cmd, timeout=timeout, **args)
            return {"ok": True}

    runs._call(Worker(), serving.Deadline(10, what="training"), "epoch", epoch=0)
    assert seen == {"cmd": "epoch", "timeout": pytest.approx(10 + runs.BUDGET_GRACE_S, abs=1), "epoch": 0}
    monkeypatch.setenv("ML_LABS_SHARED", "0")
    assert runs.run_budget("training") is None  # locally there is no overall budget


# ---- keda_autoscaling: bundles and the load-test bound ------------------------------------------

def test_keda_bundles_live_in_a_private_pruned_root(temp_dir):
    from labs.keda_autoscaling import templates

    abandoned = _old_folder("keda_autoscaling")
    folder = templates.new_bundle_folder()
    root = scratch.root_for("keda_autoscaling")
    assert folder.parent == root and stat.S_IMODE(root.stat().st_mode) == 0o700
    assert not abandoned.exists()


def test_keda_load_test_is_bounded_tighter_on_a_shared_server(shared_mode):
    pytest.importorskip("httpx")
    from labs.keda_autoscaling import loadtest

    profile = loadtest.compressed_profile()  # 14 s; cooldown 900 / 20 = 45 s: 64 s in all
    with pytest.raises(ValueError) as err:
        asyncio.run(loadtest.autoscale_test(profile, cooldown_s=900, compression=20))
    assert str(err.value) == ("Profile (14 s) plus compressed cooldown (45 s) is over the 60 s bound on this shared "
                              "server: raise the compression or shorten the profile.")


# ---- wheel_packaging: the download shelf --------------------------------------------------------

def test_wheel_downloads_shelf_is_private_and_swept(temp_dir, monkeypatch):
    from labs.wheel_packaging import workdir

    monkeypatch.setattr(workdir, "SHELF", None)
    abandoned = _old_folder("wheel_packaging")
    wheel = temp_dir / "tiny-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK")
    [kept] = workdir.keep(wheel)
    assert Path(kept).parent.parent == scratch.root_for("wheel_packaging") and not abandoned.exists()


def test_wheel_builds_are_stopped_sooner_on_a_shared_server(shared_mode, monkeypatch, tmp_path):
    import subprocess

    from labs.wheel_packaging import building

    seen = {}

    def fake_run(command, **kwargs):
        seen["timeout"] = kwargs["timeout"]
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(building, "check_tools", lambda isolated: None)
    monkeypatch.setattr(building.subprocess, "run", fake_run)
    with pytest.raises(building.BuildError, match=r"^The build took longer than 60 s and was stopped"):
        building.run_build(tmp_path, tmp_path / "dist", isolated=True)
    assert seen["timeout"] == building.SHARED_BUILD_TIMEOUT_S == 60


# ---- png_to_glb: outputs capped in count and size, resolution capped when shared ----------------

def test_png_to_glb_outputs_are_capped_in_number_and_size(tmp_path):
    from labs.png_to_glb import convert

    folders = []
    for i in range(6):
        folder = tmp_path / f"run_{i}"
        folder.mkdir()
        (folder / "model.stl").write_bytes(b"x" * 1000)
        os.utime(folder, (time.time() - 600 + i, time.time() - 600 + i))  # run_5 is the newest
        folders.append(folder)
    assert convert.trim_outputs(tmp_path, max_folders=4, max_bytes=10**9, keep_newest=2) == 2
    assert [f.exists() for f in folders] == [False, False, True, True, True, True]
    assert convert.trim_outputs(tmp_path, max_folders=40, max_bytes=2500, keep_newest=1) == 2
    assert [f.exists() for f in folders] == [False, False, False, False, True, True]
    assert convert.trim_outputs(tmp_path, max_folders=1, max_bytes=0, keep_newest=2) == 0  # newest kept


def test_png_to_glb_resolution_is_capped_on_a_shared_server(shared_mode):
    from labs.png_to_glb.convert import Settings, SettingsError

    with pytest.raises(SettingsError) as err:
        Settings(resolution=2048).validate()
    assert str(err.value) == ("resolution must be at most 1024 on this shared server (got 2048); run the lab on "
                              "your own machine for up to 2048.")
    assert Settings(resolution=1024).validate().resolution == 1024


def test_png_to_glb_full_resolution_stays_available_locally(monkeypatch):
    from labs.png_to_glb.convert import Settings

    monkeypatch.setenv("ML_LABS_SHARED", "0")
    assert Settings(resolution=2048).validate().resolution == 2048
