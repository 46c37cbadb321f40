"""cuda_benchmark: the achieved clock, % of peak from it, over-100 % flags, and the best-shape search.

Timings are never asserted against thresholds; the tests check the method (what is counted, what
is refused, what is flagged) and the arithmetic around it. The GPU path is marked `gpu`.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from labs.cuda_benchmark import clock, shapes, suite
from labs.cuda_benchmark import results as res
from labs.cuda_benchmark.specs import cpu_peak, over_peak_reason
from labs.cuda_benchmark.timing import Timing
from labs.cuda_benchmark.workloads import BenchInputError, Work
from shared import serving

SHIPPED = Path(__file__).resolve().parents[1] / "labs" / "cuda_benchmark" / "examples" / "cpu-2core-amd-epyc.json"
needs_cc = pytest.mark.skipif(clock.find_compiler() is None, reason="no C compiler on PATH")


# ---- The achieved clock ------------------------------------------------------------------------

def test_the_c_loop_performs_the_adds_the_python_side_counts():
    source = clock.SOURCE.read_text()
    loop = source[source.index("for (uint64_t i"):source.index("return x;")]
    assert loop.count("ONE_ADD") == clock.adds_per_iteration() == 16


@needs_cc
def test_clock_is_measured_on_every_thread_and_is_plausible():
    from labs.cuda_benchmark.hardware import cpu_info

    reading = clock.measure_clock(2, target_s=0.001, repeats=5)
    assert reading.reason is None and reading.threads == 2 and len(reading.per_thread_ghz) == 2
    assert clock.PLAUSIBLE_GHZ[0] <= reading.ghz <= clock.PLAUSIBLE_GHZ[1]
    reported = cpu_info()["clock_ghz"]
    if reported:  # a boost clock is above the reported one, but not by 2.5x
        assert 0.4 * reported <= reading.ghz <= 2.5 * reported
    assert "Error bound" in reading.error_note


def test_no_compiler_is_reported_not_raised_and_the_plan_says_so(monkeypatch):
    monkeypatch.setattr(clock, "_kernel", None)
    monkeypatch.setattr(clock, "_cache", None)
    monkeypatch.setattr(clock, "find_compiler", lambda: None)
    reading = clock.measure_clock(1)
    assert reading.ghz is None and "install gcc" in reading.reason
    plan = suite.plan_suite(suite.quick_config(sizes=(32,), dtypes=("fp32",), bandwidth_mib=(1,), crossover=False))
    assert any(n.startswith("Achieved clock not measured") for n in plan.notes)
    assert "(reported)" in plan.peak_source and plan.clock["ghz"] is None


def test_an_implausible_reading_is_refused(monkeypatch):
    if clock.find_compiler() is None:
        pytest.skip("no C compiler on PATH")
    monkeypatch.setattr(clock, "adds_per_iteration", lambda: 10_000)  # pretend each iteration did 10,000 adds
    reading = clock.measure_clock(1, target_s=0.001, repeats=2)
    assert reading.ghz is None and "outside" in reading.reason


def test_peak_basis_says_which_clock():
    measured = cpu_peak(cores=2, ghz=3.7, flags={"avx2", "fma"}, measured=True)
    reported = cpu_peak(cores=2, ghz=2.6, flags={"avx2", "fma"})
    assert "(measured)" in measured.basis[0] and "(reported)" in reported.basis[0]
    assert measured.gflops["fp32"] == pytest.approx(2 * 3.7 * 32)


@needs_cc
def test_hardware_card_shows_the_achieved_clock():
    from labs.cuda_benchmark.hardware import hardware_report, report_markdown

    report = hardware_report()
    assert report["clock"]["ghz"] and "(measured)" in report["cpu_peak"]["basis"][0]
    assert "Achieved clock: **" in report_markdown(report)


# ---- Over-100 % flags ----------------------------------------------------------------------------

def test_over_peak_reasons_put_the_likely_one_first():
    assert over_peak_reason("fp32", device="cpu", clock_measured=False).startswith("above 100 % of peak: likely turbo")
    assert "likely a dtype path that does less work" in over_peak_reason("bf16", device="cpu", clock_measured=True)
    assert "likely wrong peak formula" in over_peak_reason("fp32", device="cpu", clock_measured=True)
    assert "spec-sheet" in over_peak_reason("bf16", device="cuda", clock_measured=False)


def _plan(peaks, measured=True):
    return suite.Plan(suite.BenchConfig(), "cpu", "test CPU", peaks, None, "test", ("fp32",),
                      clock={"ghz": 3.0 if measured else None})


def test_a_row_above_its_peak_is_flagged_in_the_table_and_the_status():
    work = Work(lambda: None, flops=2e9, bytes=1.0, label="x")  # 2 GFLOP in 1 ms: 2 TFLOP/s
    timing = Timing((1e-3,), 0, "test")
    over = suite._row(_plan({"fp32": 1.0}), "matmul", "fp32", "fp32", 64, "64", work, timing)
    under = suite._row(_plan({"fp32": 4.0}), "matmul", "fp32", "fp32", 64, "64", work, timing)
    assert over["pct_peak"] == pytest.approx(200) and "wrong peak formula" in over["flag"]
    assert under["pct_peak"] == pytest.approx(50) and under["flag"] is None
    table = res.table_frame([over, under])
    assert table["flag"].iloc[0].startswith("⚠️ above 100 %") and not isinstance(table["flag"].iloc[1], str)
    text = res.over_peak_text([over, under])
    assert "200 % of peak" in text and text.count("⚠️") == 1
    assert res.over_peak_text([under]) == ""


def test_a_run_saved_without_flags_gets_them_when_loaded(tmp_path):
    doc = json.loads(SHIPPED.read_text())
    doc["context"].pop("clock", None)
    row = next(r for r in doc["rows"] if r["section"] == "matmul")
    row.pop("flag", None)
    row["pct_peak"] = 105.0
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc))
    summary = res.compare_data(res.load_results(path), None)["summary"]
    assert "Impossible numbers" in summary and "likely turbo" in summary


def test_shipped_example_uses_the_measured_clock_and_flags_every_impossible_point():
    doc = res.load_results(SHIPPED)
    ctx = doc["context"]
    assert ctx["clock"]["ghz"] and "(measured)" in ctx["peak_source"]
    ghz = float(re.search(r"x ([\d.]+) GHz \(measured\)", ctx["peak_source"]).group(1))
    assert ghz == pytest.approx(ctx["clock"]["ghz"], abs=0.01)
    matmuls = [r for r in doc["rows"] if r["section"] == "matmul"]
    assert {r["dtype"] for r in matmuls} == {"fp32", "bf16", "fp64"}
    for r in matmuls:
        assert r["peak_tflops"] == pytest.approx(ctx["peaks_tflops"][r["dtype"]])
        assert r["pct_peak"] == pytest.approx(100 * r["tflops"] / r["peak_tflops"])
        assert (r["pct_peak"] > 100) == bool(r.get("flag"))


# ---- Best-shape search ------------------------------------------------------------------------

def test_around_gives_the_tile_multiple_and_its_near_misses():
    assert shapes.around([4090], 128) == (4095, 4096, 4097, 4160)
    assert shapes.around([250, 256], 64) == (255, 256, 257, 288)


@pytest.mark.parametrize("change, msg", [
    (dict(m="1, 2"), "between 16 and 32768"),
    (dict(m="16 17 18 19 20 21 22 23", n="16 17 18 19 20 21 22 23", k="16 17"), "128 shapes; at most 64"),
    (dict(dtype="fp8"), "runs fp32, tf32, fp16, bf16, fp64"),
    (dict(seconds_per_shape=math.nan), "Seconds per shape must be between"),
    (dict(seconds_per_shape="lots"), "must be a number"),
    (dict(device="tpu"), "auto, cpu or cuda"),
    (dict(k=""), "No k values given"),
])
def test_shape_config_refuses_bad_values(change, msg):
    raw = dict(device="cpu", dtype="fp32", m="64", n="64", k="64", seconds_per_shape=0.02) | change
    with pytest.raises(BenchInputError, match=msg):
        shapes.make_shape_config(**raw)


def test_shape_plan_refuses_what_cannot_run_here():
    with pytest.raises(BenchInputError, match="tf32 cannot run on cpu"):
        shapes.plan_shapes(shapes.ShapeConfig(device="cpu", dtype="tf32", m=(64,), n=(64,), k=(64,)))


def _run(config):
    rows, context = [], {}
    for event in shapes.run_shapes(config):
        context = event.get("context", context)
        rows += [event["row"]] if event["row"] else []
    return rows, context


def test_the_cpu_search_times_every_shape_and_names_the_best():
    config = shapes.make_shape_config(device="cpu", dtype="fp32", m="63, 64", n="64", k="64, 128",
                                      seconds_per_shape=0.02)
    rows, context = _run(config)
    assert [(r["m"], r["n"], r["k"]) for r in rows] == config.shapes and len(rows) == 4
    best = max(rows, key=lambda r: r["tflops"])
    for r in rows:
        assert r["tflops"] == pytest.approx(2 * r["m"] * r["n"] * r["k"] / r["median_s"] / 1e12)
        assert r["pct_peak"] == pytest.approx(100 * r["tflops"] / context["peak_tflops"])
        assert r["tiled"] == (r["m"] == 64)
    summary = shapes.shape_summary(rows, context)
    assert f"m={best['m']}, n={best['n']}, k={best['k']}" in summary and "of the CPU peak at the measured clock" in summary
    table = shapes.shape_table(rows)
    assert list(table["gflops"]) == sorted(table["gflops"], reverse=True)
    assert set(shapes.shape_plot_frame(rows)["kind"]) == {"tile multiple", "near-miss"}


def test_shape_search_over_the_shared_budget_is_refused_before_it_runs(shared_mode, monkeypatch):
    monkeypatch.setattr(suite, "SHARED_BUDGET_S", 0.1)
    config = shapes.make_shape_config(device="cpu", dtype="fp32", **shapes.DEFAULT_CPU, seconds_per_shape=0.05)
    with pytest.raises(serving.BudgetExceeded, match=r"over this shared server's 0.1 s budget per run"):
        next(iter(shapes.run_shapes(config)))


def test_shape_search_stops_at_its_budget_with_the_shapes_so_far(monkeypatch):
    class ShortDeadline(serving.Deadline):
        def __init__(self, seconds, *, what="this request"):
            super().__init__(0.15, what=what)

    monkeypatch.setattr(shapes, "Deadline", ShortDeadline)
    config = shapes.make_shape_config(device="cpu", dtype="fp32", m="64, 80, 96, 112", n="64, 80", k="64, 80",
                                      seconds_per_shape=0.05)
    rows, context = _run(config)
    assert context["stopped"] is True and 0 < len(rows) < len(config.shapes)
    assert context["notes"][-1].startswith(f"Stopped after {len(rows)} of 16 shapes")


def test_shape_search_memory_cap_in_shared_mode(shared_mode):
    config = shapes.ShapeConfig(device="cpu", dtype="fp64", m=(32768,), n=(32768,), k=(64,))
    with pytest.raises(BenchInputError, match="over this shared server's limit|Choose smaller"):
        shapes.plan_shapes(config)


def test_shape_search_through_the_app(client_for):
    import labs.cuda_benchmark.app as app

    client = client_for(app.demo)
    summary, table, _ = client.predict("cpu", "fp32", "32, 33", "32", "32", 0.02, api_name="/cuda_benchmark_shapes")
    assert "Finished" in summary and "Best shape (fp32, cpu)" in summary
    assert table["headers"][:5] == ["m", "n", "k", "gflops", "pct_peak"] and len(table["data"]) == 2


@pytest.mark.gpu
def test_gpu_shape_search_reports_percent_of_the_spec_peak():
    config = shapes.make_shape_config(device="cuda", dtype="bf16", m="4095, 4096", n="4096", k="4096",
                                      seconds_per_shape=0.05)
    rows, context = _run(config)
    assert context["device"] == "cuda" and len(rows) == 2
    if context["peak_tflops"]:
        for r in rows:
            assert 0 < r["pct_peak"] < 105  # synchronised timing never beats the spec sheet
    assert "of the spec peak" in shapes.shape_summary(rows, context) or context["peak_tflops"] is None


def test_zerogpu_duration_is_sized_from_the_search(monkeypatch):
    small = shapes.make_shape_config(device="cpu", dtype="fp32", m="64", n="64", k="64", seconds_per_shape=0.02)
    assert suite.ZEROGPU_MIN_S <= shapes.shape_gpu_seconds(small) <= suite.ZEROGPU_MAX_S
    monkeypatch.setattr(shapes, "ZEROGPU_MAX_S", 1)
    with pytest.raises(serving.BudgetExceeded, match="more than the 1 s one run may ask for"):
        shapes.shape_gpu_seconds(small)


def test_a_build_folder_others_can_write_to_is_not_used(tmp_path, monkeypatch):
    shared_dir = tmp_path / "build"
    shared_dir.mkdir(mode=0o777)
    shared_dir.chmod(0o777)  # group/world-writable: someone else could plant a library there
    monkeypatch.setattr(clock, "BUILD_DIR", shared_dir)
    chosen = clock._build_dir()
    assert chosen != shared_dir and oct(chosen.stat().st_mode & 0o777) == "0o700"
    chosen.rmdir()
    own = tmp_path / "own"
    monkeypatch.setattr(clock, "BUILD_DIR", own)
    assert clock._build_dir() == own
