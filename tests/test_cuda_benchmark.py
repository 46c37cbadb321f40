"""Lab 3 · cuda_benchmark: the timing method, the spec table, planning, the suite, results, the app.

The CPU path is tested in full here; the CUDA path is marked `gpu` (skipped without a GPU).
Timings are never asserted against thresholds (machines differ and CI is busy): tests check the
method (warm-up excluded, sync called, median computed) and the arithmetic around it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labs.cuda_benchmark import results as res
from labs.cuda_benchmark.hardware import cuda_devices, hardware_report, parse_cpuinfo, report_markdown
from labs.cuda_benchmark.specs import GPU_SPECS, cpu_peak, flops_per_cycle, match_gpu
from labs.cuda_benchmark.suite import (
    BenchConfig, make_config, parse_sizes, plan_suite, quick_config, resolve_device, run_all,
)
from labs.cuda_benchmark.timing import Timing, measure, measure_torch_benchmark, naive_time
from labs.cuda_benchmark.workloads import (
    BenchInputError, check_fits, dtype_support, make_add, make_copy, make_matmul, matmul_bytes,
)

SHIPPED = Path(__file__).resolve().parents[1] / "labs" / "cuda_benchmark" / "examples" / "cpu-2core-amd-epyc.json"
TINY = dict(sizes=(32, 64), dtypes=("fp32", "bf16"), bandwidth_mib=(1,), min_run_time=0.05)


# ---- The timing method, with a fake clock --------------------------------------------------------

class FakeDevice:
    """A clock that only moves when work runs: call k takes durations[k] seconds."""

    def __init__(self, durations):
        self.durations = list(durations)
        self.now = 0.0
        self.calls = 0
        self.syncs = 0

    def clock(self):
        return self.now

    def work(self):
        self.now += self.durations[self.calls]
        self.calls += 1

    def sync(self):
        self.syncs += 1


def test_measure_excludes_warmup_syncs_and_takes_the_median():
    # Two slow warm-up calls (cold start), then five timed ones with one outlier.
    dev = FakeDevice([5.0, 3.0, 0.010, 0.012, 0.011, 0.500, 0.013])
    t = measure(dev.work, warmup=2, repeats=5, sync=dev.sync, clock=dev.clock)
    assert dev.calls == 7
    assert t.times == pytest.approx((0.010, 0.012, 0.011, 0.500, 0.013))  # warm-up counted out
    assert t.median == pytest.approx(0.012)  # the outlier does not move the median
    assert t.best == pytest.approx(0.010)
    assert dev.syncs == 2 * 5  # before and after every timed repeat
    assert t.iqr == pytest.approx(0.013 - 0.011)
    assert "sync" in t.method


def test_measure_without_sync_and_bad_arguments():
    dev = FakeDevice([1.0, 2.0])
    t = measure(dev.work, warmup=0, repeats=2, clock=dev.clock)
    assert t.times == (1.0, 2.0) and t.median == 1.5 and dev.syncs == 0
    with pytest.raises(ValueError, match="repeats >= 1"):
        measure(dev.work, repeats=0)
    with pytest.raises(ValueError, match="at least one"):
        Timing((), 0, "x")


def test_naive_time_is_one_cold_call():
    dev = FakeDevice([5.0, 0.01])
    assert naive_time(dev.work, clock=dev.clock) == 5.0  # the cold call's one-time cost is all it sees
    assert dev.calls == 1


def test_torch_benchmark_reports_per_call_time_and_warms_up():
    calls = [0]

    def work():
        calls[0] += 1

    # Every call "takes" 10 ms on this fake timer; blocked_autorange divides block time by calls.
    t = measure_torch_benchmark(work, min_run_time=0.3, timer=lambda: calls[0] * 0.01)
    assert t.median == pytest.approx(0.01)
    assert t.repeats >= 5
    assert calls[0] > t.repeats  # block-size estimation ran calls that were not counted
    assert t.method.startswith("torch.utils.benchmark")


def test_torch_benchmark_on_a_real_matmul_gives_sane_numbers():
    work = make_matmul(64, "fp32", "cpu")
    t = measure_torch_benchmark(work.fn, min_run_time=0.05, min_repeats=3)
    assert t.repeats >= 3 and 0 < t.median < 1.0 and t.best <= t.median


# ---- Spec table and CPU peak -------------------------------------------------------------------

@pytest.mark.parametrize("name, key", [
    ("NVIDIA H100 80GB HBM3", "H100 SXM"), ("NVIDIA H100 PCIe", "H100 PCIe"), ("NVIDIA H100 NVL", "H100 NVL"),
    ("NVIDIA H200", "H200 SXM"), ("NVIDIA A100-SXM4-80GB", "A100 SXM4 80GB"),
    ("NVIDIA A100 80GB PCIe", "A100 PCIe 80GB"), ("NVIDIA A100-PCIE-40GB", "A100 40GB"), ("Tesla T4", "T4"),
    ("NVIDIA L4", "L4"), ("NVIDIA A10G", "A10G"), ("NVIDIA A10", "A10"), ("NVIDIA GeForce RTX 4090", "RTX 4090"),
])
def test_gpu_names_match_their_spec(name, key):
    assert match_gpu(name) is GPU_SPECS[key]


def test_unknown_gpu_and_mig_slice():
    assert match_gpu("NVIDIA GeForce GTX 1080") is None
    full = GPU_SPECS["H200 SXM"]
    half = match_gpu("NVIDIA H200 MIG 3g.71gb", sms=66, memory_bytes=int(70.5e9))
    assert half.tflops["bf16"] == pytest.approx(full.tflops["bf16"] / 2)
    assert half.bandwidth_gbs == pytest.approx(full.bandwidth_gbs / 2)
    assert "MIG" in half.note


def test_spec_table_is_dense_and_consistent():
    for spec in GPU_SPECS.values():
        t = spec.tflops
        assert spec.source and spec.bandwidth_gbs > 0 and spec.sms > 0
        assert t["fp32"] > 0
        if "bf16" in t:
            assert t["bf16"] >= t["fp32"]
        if "fp8" in t:
            assert t["fp8"] == pytest.approx(2 * t["bf16"], rel=0.01)  # dense fp8 is twice dense bf16
    # Dense, not "with sparsity": H100 SXM bf16 is 989 TFLOP/s, not 1979.
    assert GPU_SPECS["H100 SXM"].tflops["bf16"] == pytest.approx(989.4)


def test_flops_per_cycle_from_flags():
    intel512, _ = flops_per_cycle({"avx2", "fma", "avx512f"}, vendor="GenuineIntel")
    zen4, why4 = flops_per_cycle({"avx2", "fma", "avx512f", "avx512_bf16"}, vendor="AuthenticAMD", family=0x19)
    zen5, _ = flops_per_cycle({"avx2", "fma", "avx512f"}, vendor="AuthenticAMD", family=0x1A)
    avx2, _ = flops_per_cycle({"avx", "avx2", "fma"})
    amx, _ = flops_per_cycle({"avx512f", "amx_bf16"}, vendor="GenuineIntel")
    sse, _ = flops_per_cycle(set())
    assert intel512["fp32"] == 64 and zen5["fp32"] == 64 and zen4["fp32"] == 32 and "Zen 4" in why4
    assert zen4["bf16"] == 64  # AVX512-BF16: twice the fp32 rate
    assert avx2 == {"fp32": 32, "fp64": 16, "bf16": 32}
    assert amx["bf16"] == 1024 and sse["fp32"] == 8


def test_cpu_peak_is_cores_times_clock_times_flops_per_cycle():
    peak = cpu_peak(cores=2, ghz=2.5, flags={"avx2", "fma"})
    assert peak.gflops["fp32"] == pytest.approx(2 * 2.5 * 32)
    assert peak.gflops["fp64"] == pytest.approx(2 * 2.5 * 16)
    assert any("100 %" in b for b in peak.basis)
    with pytest.raises(ValueError, match="cores >= 1"):
        cpu_peak(cores=0, ghz=2.0, flags=set())


def test_parse_cpuinfo_counts_cores_and_flags():
    text = ("processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel name\t: Xeon Test\n"
            "cpu MHz\t\t: 2100.000\nphysical id\t: 0\ncore id\t\t: 0\nflags\t\t: fpu avx2 fma avx512f\n\n"
            "processor\t: 1\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel name\t: Xeon Test\n"
            "physical id\t: 0\ncore id\t\t: 0\nflags\t\t: fpu avx2 fma avx512f\n")
    info = parse_cpuinfo(text)
    assert info["model"] == "Xeon Test" and info["family"] == 6 and info["mhz"] == 2100.0
    assert info["logical"] == 2 and info["physical"] == 1  # two hyperthreads of one core
    assert {"avx2", "avx512f"} <= info["flags"]


# ---- Hardware card -----------------------------------------------------------------------------

def test_hardware_report_on_this_machine():
    import torch

    report = hardware_report()
    assert report["cpu"]["logical_cpus"] >= 1 and report["cpu"]["memory"]["total"] > 0
    assert report["torch"]["torch"] == torch.__version__ and report["torch"]["threads"] >= 1
    text = report_markdown(report)
    assert "### CPU" in text and "### torch build" in text
    if not torch.cuda.is_available():
        assert report["cuda"]["devices"] == [] and "No CUDA GPU here" in text


def test_cpu_caches_are_read_from_sysfs_and_shown_on_the_card(tmp_path):
    """The card lists the cache sizes the bandwidth sweep is meant to be read against."""
    from labs.cuda_benchmark.hardware import caches_text, cpu_caches

    for i, (level, kind, size, shared) in enumerate([(1, "Data", "48K", "0"), (1, "Instruction", "32K", "0"),
                                                     (2, "Unified", "2048K", "0"), (3, "Unified", "32M", "0-7")]):
        folder = tmp_path / f"index{i}"
        folder.mkdir()
        for name, value in (("level", level), ("type", kind), ("size", size), ("shared_cpu_list", shared)):
            (folder / name).write_text(f"{value}\n")
    caches = cpu_caches(tmp_path)
    assert [(c["level"], c["size"]) for c in caches] == [(1, 48 * 2**10), (1, 32 * 2**10), (2, 2**21), (3, 2**25)]
    assert caches_text(caches) == "L1d 48 KiB, L1i 32 KiB, L2 2 MiB, L3 32 MiB (shared by CPUs 0-7)"
    assert cpu_caches(tmp_path / "missing") == []
    report = hardware_report()
    report["cpu"]["caches"] = caches
    assert "- Caches (CPU 0): L1d 48 KiB" in report_markdown(report)


def test_broken_cuda_is_reported_not_raised(monkeypatch):
    import torch

    def boom():
        raise RuntimeError("CUDA driver initialization failed")

    monkeypatch.setattr(torch.cuda, "is_available", boom)
    info = cuda_devices()
    assert info["available"] is False and "driver initialization failed" in info["error"]
    assert resolve_device("auto") in {"cpu", "mps"}  # a broken driver reads as "no CUDA"


# ---- Settings, planning and refusals -------------------------------------------------------------

def test_parse_sizes_accepts_and_refuses():
    assert parse_sizes("512, 128 256,128", lo=16, hi=4096, what="sizes") == (128, 256, 512)
    for bad, msg in [("", "No sizes"), ("12a", "not a whole number"), ("8", "between 16 and 4096"),
                     ("99999", "between"), (",".join(str(16 + i) for i in range(11)), "At most 10")]:
        with pytest.raises(BenchInputError, match=msg):
            parse_sizes(bad, lo=16, hi=4096, what="sizes")


def test_make_config_refuses_bad_values():
    ok = dict(device="auto", sizes="64", dtypes=["fp32"], bandwidth_mib="1", method="torch.utils.benchmark",
              min_run_time=0.1, naive=True, crossover=False, transfers=False)
    assert make_config(**ok).sizes == (64,)
    for change, msg in [({"dtypes": []}, "at least one dtype"), ({"dtypes": ["int4"]}, "Unknown dtype"),
                        ({"method": "stopwatch"}, "Timing method"), ({"min_run_time": 50}, "between"),
                        ({"device": "tpu"}, "Device must be"), ({"bandwidth_mib": "0"}, "between 1 and")]:
        with pytest.raises(BenchInputError, match=msg):
            make_config(**{**ok, **change})


def test_dtype_support_explains_itself():
    assert dtype_support("fp32", "cpu") is None and dtype_support("bf16", "cpu") is None
    assert "GPU tensor-core" in dtype_support("tf32", "cpu")
    assert "bf16" in dtype_support("fp16", "cpu")
    assert "8.9" in dtype_support("fp8", "cuda", capability=(8, 0))
    assert dtype_support("fp8", "cuda", capability=(9, 0)) is None


def test_memory_is_checked_before_allocating():
    assert matmul_bytes(1024, "fp32") == 3 * 1024 * 1024 * 4
    check_fits(10 * 2**20, "cpu", "small", available=2**30)
    with pytest.raises(BenchInputError, match="Choose smaller sizes") as err:
        check_fits(matmul_bytes(32768, "fp64"), "cpu", "A fp64 matmul at n=32768", available=8 * 2**30)
    assert "24.00 GiB" in str(err.value) and "8.00 GiB" in str(err.value)


def test_plan_refuses_impossible_runs_and_notes_skips():
    if resolve_device("auto") != "cpu":
        pytest.skip("the refusals below are for the CPU path")
    with pytest.raises(BenchInputError, match="None of the chosen dtypes"):
        plan_suite(quick_config(dtypes=("tf32", "fp8")))
    with pytest.raises(BenchInputError, match="limits a single call"):
        plan_suite(quick_config(sizes=(16384,), dtypes=("fp32",)))
    with pytest.raises(BenchInputError, match="Choose smaller sizes"):
        plan_suite(quick_config(sizes=(32768,), dtypes=("fp64",)))
    plan = plan_suite(quick_config(dtypes=("fp32", "tf32"), **{k: v for k, v in TINY.items() if k != "dtypes"}))
    assert plan.dtypes == ("fp32",) and any("Skipped tf32" in n for n in plan.notes)
    assert any("transfers need a CUDA GPU" in n for n in plan.notes)
    with pytest.raises(BenchInputError, match="No CUDA GPU"):
        resolve_device("cuda")


# ---- The work itself ------------------------------------------------------------------------

def test_workloads_compute_what_they_claim():
    import torch

    work = make_matmul(48, "fp32", "cpu")
    c = work.fn()
    a, b = (torch.randn(48, 48, generator=g) for g in [torch.Generator().manual_seed(48)] * 2)
    assert torch.allclose(c, a @ b, atol=1e-4)  # same seed, same operands: really A @ B
    assert work.flops == 2 * 48**3 and work.bytes == 3 * 48 * 48 * 4
    copy = make_copy(2**20, "cpu")
    assert copy.bytes == 2 * 2**20 and float(copy.fn().sum()) == 2**18
    add = make_add(2**20, "cpu")
    assert add.flops == 2**18 and add.bytes == 3 * 2**20 and float(add.fn()[0]) == 2.0


def test_fp8_call_is_a_real_matmul_where_torch_can_run_it_on_cpu():
    """The fp8 path (torch._scaled_mm, column-major B, unit scales) checked off-GPU where torch allows it."""
    import torch

    try:
        work = make_matmul(64, "fp8", "cpu")
        out = work.fn()
    except (RuntimeError, NotImplementedError) as exc:
        pytest.skip(f"this torch has no CPU _scaled_mm: {exc}")
    gen = torch.Generator().manual_seed(64)
    a, b = (torch.randn(64, 64, generator=gen).to(torch.float8_e4m3fn).float() for _ in range(2))
    assert out.dtype == torch.bfloat16 and work.flops == 2 * 64**3
    assert torch.allclose(out.float(), a @ b.t(), atol=0.5, rtol=0.02)  # bf16 output rounding


def test_the_whole_cpu_suite_runs_and_counts_correctly():
    if resolve_device("auto") != "cpu":
        pytest.skip("CPU path")
    rows, ctx = run_all(quick_config(**TINY))
    assert ctx["device"] == "cpu" and ctx["peaks_tflops"]
    matmul = [r for r in rows if r["section"] == "matmul"]
    assert {(r["dtype"], r["size"]) for r in matmul} == {("fp32", 32), ("fp32", 64), ("bf16", 32), ("bf16", 64)}
    for r in matmul:
        assert r["flops"] == 2 * r["size"] ** 3
        assert r["tflops"] == pytest.approx(r["flops"] / r["median_s"] / 1e12)
        assert r["pct_peak"] == pytest.approx(100 * r["tflops"] / ctx["peaks_tflops"][r["dtype"]])
        assert r["naive_cold_s"] > 0 and r["naive_nosync_s"] > 0 and r["repeats"] >= 5
    assert {r["section"] for r in rows} == {"matmul", "copy", "add", "crossover"}
    assert {r["variant"] for r in rows if r["section"] == "crossover"} == {"1 thread", f"{ctx['threads']} threads"}
    assert all(r["median_s"] > 0 and r["iqr_s"] >= 0 for r in rows)
    json.dumps(rows)  # plain types only: it must travel as JSON


def test_manual_loop_method_runs_too():
    rows, _ = run_all(quick_config(sizes=(32,), dtypes=("fp32",), bandwidth_mib=(1,), method="manual loop",
                                   crossover=False, naive=False))
    assert rows[0]["method"].startswith("measure") and rows[0]["repeats"] == 10
    assert rows[0]["naive_cold_s"] is None


# ---- Results: plots, crossover, roofline, files ------------------------------------------------

def _row(section, variant, dtype, size, median, flops=0.0, nbytes=1.0, **extra):
    return {"section": section, "variant": variant, "dtype": dtype, "size": size, "size_label": str(size),
            "median_s": median, "flops": flops, "bytes": nbytes, "tflops": flops / median / 1e12 if flops else None,
            "gbps": nbytes / median / 1e9, **extra}


def test_crossover_size_needs_the_fast_side_to_stay_ahead():
    rows = [_row("crossover", "slow", "fp32", n, t) for n, t in [(64, 1), (128, 2), (256, 4), (512, 8)]]
    rows += [_row("crossover", "fast", "fp32", n, t) for n, t in [(64, 5), (128, 1), (256, 6), (512, 2)]]
    assert res.crossover_size(rows, fast="fast", slow="slow") == 512  # 128 was a blip, 256 lost again
    rows[-1]["median_s"] = 9
    assert res.crossover_size(rows, fast="fast", slow="slow") is None


def test_roofline_is_the_minimum_of_both_roofs():
    rows = [_row("matmul", "fp32", "fp32", 256, 1e-3, flops=2 * 256**3, nbytes=3 * 256**2 * 4),
            _row("add", "add", "fp32", 2**20, 1e-4, flops=2**18, nbytes=3 * 2**20)]
    df = res.roofline_frame(rows, peaks_tflops={"fp32": 1.0, "bf16": 4.0}, bandwidth_gbs=100.0)
    roof = df[df.series == "roof fp32"]
    assert roof.gflops.max() == pytest.approx(1000, rel=1e-3)  # compute roof
    low = roof.iloc[0]
    assert low.gflops == pytest.approx(100 * low.ai, rel=1e-2)  # memory roof: bandwidth x intensity
    assert set(df.series) == {"roof fp32", "matmul fp32", "vector add"}  # no bf16 measured: no bf16 roof


def test_frames_order_sizes_numerically_and_draw_peaks():
    rows = [_row("matmul", "fp32", "fp32", n, 1e-3, flops=2 * n**3, naive_cold_tflops=0.001) for n in (1024, 128, 256)]
    assert res.size_order(rows, "matmul") == ["128", "256", "1024"]
    df = res.matmul_frame(rows, peaks_tflops={"fp32": 0.3}, naive=True)
    assert set(df.series) == {"fp32", "fp32 peak", "fp32 naive cold time.time()"}
    assert (df[df.series == "fp32 peak"].throughput == 300).all()  # GFLOP/s by default
    gpu = res.matmul_frame(rows, peaks_tflops={"fp32": 0.3}, scale=res.flops_unit("cuda")[1])
    assert (gpu[gpu.series == "fp32 peak"].throughput == 0.3).all()  # TFLOP/s on a GPU
    rows[0]["pct_peak"] = 42.0
    assert res.pct_peak_frame(rows).to_dict("records") == [{"dtype": "fp32", "pct_of_peak": 42.0}]


def test_naive_lesson_flags_impossible_gpu_numbers():
    row = _row("matmul", "bf16", "bf16", 4096, 0.2e-3, flops=2 * 4096**3, naive_cold_s=0.3, naive_nosync_s=1e-5,
               peak_tflops=989.4, naive_nosync_tflops=2 * 4096**3 / 1e-5 / 1e12)
    text = res.naive_lesson([row], "cuda")
    assert "more TFLOP/s than the GPU's spec peak" in text and "queued" in text
    assert "Tick" in res.naive_lesson([], "cpu")


def test_save_load_roundtrip_and_compare(tmp_path):
    rows = [_row("matmul", "fp32", "fp32", 128, 2e-3, flops=2 * 128**3), _row("copy", "copy", "fp32", 2**20, 1e-4)]
    csv_path, json_path = res.save_results(rows, {"device": "cpu", "device_name": "Test CPU"}, tmp_path)
    assert csv_path.read_text().startswith("section,variant")
    doc = res.load_results(json_path)
    assert doc["rows"] == rows and doc["label"] == "Test CPU"
    faster = [dict(rows[0], median_s=1e-3), dict(rows[1], median_s=0.5e-4)]
    table = res.compare_frame(faster, doc["rows"])
    assert list(table.speedup) == [2.0, 2.0]


def test_saved_runs_never_collide_and_old_ones_are_pruned(tmp_path):
    import os
    import time

    rows = [_row("matmul", "fp32", "fp32", 128, 2e-3, flops=2 * 128**3)]
    two_hours_ago = time.time() - 2 * res.KEEP_S
    old, other = tmp_path / "cuda_benchmark-old.json", tmp_path / "not-ours.json"  # only this lab's are pruned
    for path in (old, other):
        path.write_text("{}")
        os.utime(path, (two_hours_ago, two_hours_ago))
    first = res.save_results(rows, {"device": "cpu"}, tmp_path)
    second = res.save_results(rows, {"device": "cpu"}, tmp_path)  # same second, different files
    assert first[1] != second[1] and first[0] != second[0]
    assert all(p.is_file() for p in (*first, *second))
    assert not old.exists() and other.exists()
    assert res.RESULTS_DIR.name == "ml_labs_cuda_benchmark"


def test_plot_data_and_crossover_text_on_a_cpu_run():
    rows = [_row("matmul", "fp32", "fp32", n, 1e-3, flops=2 * n**3, pct_peak=10.0 * i)
            for i, n in enumerate((512, 128), start=1)]
    rows += [_row("copy", "copy", "fp32", 2**20, 1e-4, nbytes=2e6), _row("copy", "copy", "fp32", 2**10, 1e-6, nbytes=2e3)]
    rows[-2]["size_label"], rows[-1]["size_label"] = "1 MiB", "1 KiB"
    rows += [_row("crossover", "1 thread", "fp32", n, t, flops=2 * n**3) for n, t in [(64, 1), (128, 4)]]
    rows += [_row("crossover", "2 threads", "fp32", n, t, flops=2 * n**3) for n, t in [(64, 2), (128, 2)]]
    data = res.plot_data(rows, {"device": "cpu", "peaks_tflops": {"fp32": 0.1}})
    assert data["unit"] == "GFLOP/s" and data["matmul_order"] == ["128", "512"]
    assert data["pct_ylim"] == [0, 100.0] and set(data["pct"].dtype) == {"fp32"}
    assert data["bandwidth_order"] == ["1 KiB", "1 MiB"]
    assert "measured copy bandwidth" in data["roofline_text"] and "fp32 at" in data["roofline_text"]
    assert set(data["crossover"].series) == {"1 thread", "2 threads"}
    assert "2 threads beat 1 thread from n = **128**" in data["crossover_text"]
    assert "Tick" in res.crossover_text([], {"device": "cpu"})


def test_crossover_text_on_a_gpu_run():
    rows = [_row("crossover", "CPU (4 threads)", "fp32", n, t) for n, t in [(64, 1), (1024, 8)]]
    rows += [_row("crossover", "GPU kernel only", "fp32", n, t) for n, t in [(64, 0.5), (1024, 1)]]
    rows += [_row("crossover", "GPU incl. transfers", "fp32", n, t) for n, t in [(64, 2), (1024, 4)]]
    text = res.crossover_text(rows, {"device": "cuda"})
    assert "GPU kernel beats the CPU from n = **64**" in text and "from n = **1024**" in text


def test_compare_data_puts_both_runs_on_one_plot():
    saved = {"label": "other box", "context": {"device": "cpu", "device_name": "Other"},
             "rows": [_row("matmul", "fp32", "fp32", n, 2e-3, flops=2 * n**3) for n in (1024, 128)]}
    alone = res.compare_data(saved, None)
    assert "Run the benchmark on this machine" in alone["summary"] and alone["order"] == ["128", "1024"]
    live = {"rows": [_row("matmul", "fp32", "fp32", 128, 1e-3, flops=2 * 128**3)], "context": {"device": "cpu"}}
    both = res.compare_data(saved, live)
    assert set(both["plot"].series) == {"saved · fp32", "this machine · fp32"}
    assert "1 shared measurements" in both["summary"] and list(both["table"].speedup) == [2.0]
    assert both["unit"] == "GFLOP/s"


@pytest.mark.parametrize("content, msg", [
    (None, "No results file"), ("{not json", "not valid JSON"), ('{"schema": "other"}', "not a cuda_benchmark"),
    ('{"schema": "%s", "rows": []}' % res.SCHEMA, "no result rows"),
    ('{"schema": "%s", "rows": [{"section": "matmul"}]}' % res.SCHEMA, "lacks"),
])
def test_load_results_refuses_junk(tmp_path, content, msg):
    path = None
    if content is not None:
        path = tmp_path / "x.json"
        path.write_text(content)
    with pytest.raises(res.ResultsFileError, match=msg):
        res.load_results(path)


@pytest.mark.parametrize("change, msg", [
    ({"median_s": float("nan")}, "invalid median_s"), ({"median_s": True}, "invalid median_s"),
    ({"tflops": "fast"}, "invalid tflops"), ({"size": "abc"}, "invalid size"),
    ({"section": ["matmul"]}, "section that is not text"), ({"size_label": "big"}, "size_label"),
    ({"method": {"x": 1}}, "method that is not text"),
])
def test_load_results_refuses_damaged_rows(tmp_path, change, msg):
    """A damaged row is refused with its row number, instead of failing later inside the comparison."""
    doc = json.loads(SHIPPED.read_text())
    doc["rows"][0].update(change)
    path = tmp_path / "damaged.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(res.ResultsFileError, match=f"Row 0 .*{msg}"):
        res.load_results(path)


def test_load_results_refuses_a_damaged_context(tmp_path):
    doc = json.loads(SHIPPED.read_text())
    for context in ("oops", {"device": ["cpu"]}):
        doc["context"] = context
        path = tmp_path / "damaged.json"
        path.write_text(json.dumps(doc))
        with pytest.raises(res.ResultsFileError, match="damaged \"context\""):
            res.load_results(path)


def test_shipped_run_loads():
    doc = res.load_results(SHIPPED)
    assert doc["context"]["device"] == "cpu" and any(r["section"] == "matmul" for r in doc["rows"])


# ---- The app through gradio_client ---------------------------------------------------------------

@pytest.fixture(scope="module")
def app_module():
    import labs.cuda_benchmark.app as app

    return app


def test_app_end_to_end(app_module, client_for, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    client = client_for(app_module.demo)
    card, _ = client.predict(api_name="/cuda_benchmark_detect")
    assert "### CPU" in card and "### Accelerators" in card

    out = client.predict("cpu", "32, 64", ["fp32", "tf32"], "1", "torch.utils.benchmark", 0.05, True, True, False,
                         api_name="/cuda_benchmark_run")
    status, naive_md, table = out[0], out[8], out[9]
    assert "Finished" in status and "Skipped tf32" in status
    assert "careful median" in naive_md
    sections = {row[0] for row in table["data"]}
    assert sections == {"matmul", "copy", "add", "crossover"}
    assert out[11] is not None  # JSON download

    with pytest.raises(AppError, match="not a whole number"):
        client.predict("cpu", "64, lots", ["fp32"], "1", "torch.utils.benchmark", 0.05, True, False, False,
                       api_name="/cuda_benchmark_run")
    with pytest.raises(AppError, match="Choose smaller sizes"):
        client.predict("cpu", "32768", ["fp64"], "1", "torch.utils.benchmark", 0.05, False, False, False,
                       api_name="/cuda_benchmark_run")

    summary, plot, table = client.predict(handle_file(str(SHIPPED)), None, api_name="/cuda_benchmark_compare")
    # The run above lives in this client's session state, so the saved run is compared with it.
    assert "Saved run" in summary and "shared measurements" in summary
    table = table.get("value", table)  # returned as a component update (it becomes visible)
    assert {"this_machine", "saved", "speedup"} <= set(table["headers"])
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2, 3]")
    with pytest.raises(AppError, match="not a cuda_benchmark results file"):
        client.predict(handle_file(str(junk)), None, api_name="/cuda_benchmark_compare")


def test_a_run_can_be_cancelled_and_the_server_keeps_serving(app_module, client_for):
    import time

    from gradio_client.utils import Status

    client = client_for(app_module.demo)
    job = client.submit("cpu", "64, 128, 256, 512, 1024", ["fp32", "bf16", "fp64"], "1, 16",
                        "torch.utils.benchmark", 0.5, False, True, False, api_name="/cuda_benchmark_run")
    deadline = time.time() + 120
    while len(job.outputs()) < 2 and time.time() < deadline:  # wait for the first finished step
        time.sleep(0.1)
    assert job.outputs(), "the run never reported a step"
    job.cancel()
    while not job.done() and time.time() < deadline:
        time.sleep(0.1)
    assert job.status().code == Status.CANCELLED
    assert "Finished" not in job.outputs()[-1][0]  # stopped between steps, before the end
    card, _ = client.predict(api_name="/cuda_benchmark_detect")
    assert "### CPU" in card


# ---- GPU path (runs only where torch sees CUDA) --------------------------------------------------

@pytest.mark.gpu
def test_gpu_suite_runs_every_step():
    import torch

    cap = torch.cuda.get_device_capability()
    dtypes = ("fp32", "tf32", "bf16") + (("fp8",) if cap >= (8, 9) else ())
    rows, ctx = run_all(BenchConfig(device="cuda", sizes=(256, 1024), dtypes=dtypes, bandwidth_mib=(16,),
                                    min_run_time=0.1))
    assert ctx["device"] == "cuda"
    assert {r["dtype"] for r in rows if r["section"] == "matmul"} == set(dtypes)
    transfers = {r["variant"] for r in rows if r["section"] == "transfer"}
    assert transfers == {"h2d pinned", "h2d pageable", "d2h pinned", "d2h pageable"}
    variants = {r["variant"] for r in rows if r["section"] == "crossover"}
    assert {"GPU kernel only", "GPU incl. transfers"} <= variants
    for r in rows:
        if r["section"] == "matmul" and r.get("peak_tflops"):
            assert r["tflops"] < 1.05 * r["peak_tflops"]  # synchronised timing never beats the spec sheet


@pytest.mark.gpu
def test_cuda_events_agree_with_synchronised_perf_counter():
    import torch

    from labs.cuda_benchmark.timing import measure_cuda_events

    work = make_matmul(2048, "fp32", "cuda")
    events = measure_cuda_events(work.fn, warmup=3, repeats=10)
    synced = measure(work.fn, warmup=3, repeats=10, sync=torch.cuda.synchronize)
    assert events.median == pytest.approx(synced.median, rel=0.5)
    assert naive_time(work.fn) < events.median  # no sync: only the launch is timed


@pytest.mark.gpu
def test_hardware_card_lists_the_gpu():
    report = hardware_report()
    dev = report["cuda"]["devices"][0]
    assert dev["properties"]["multi_processor_count"] > 0 and dev["total_memory"] > 0
    assert "cuda:0" in report_markdown(report)
