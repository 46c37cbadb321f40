"""Lab 3 · CUDA/hardware benchmark: the UI. Logic lives in specs, hardware, timing, workloads,
suite and results beside this file; nothing here imports torch at module level."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gradio as gr

from labs import get
from labs.cuda_benchmark import results as res
from labs.cuda_benchmark import shapes as shp
from labs.cuda_benchmark.clock import measure_clock
from labs.cuda_benchmark.hardware import cpu_info, cuda_devices, hardware_report, report_markdown
from labs.cuda_benchmark.specs import DTYPE_KEYS, cpu_peak, flops_per_cycle, match_gpu, over_peak_reason
from labs.cuda_benchmark.suite import (
    DEFAULT_BANDWIDTH_MIB, DEFAULT_DTYPES, DEFAULT_GPU_SIZES, DEFAULT_MIN_RUN_TIME, DEFAULT_SIZES, METHODS,
    MIN_RUN_TIME, make_config, plan_suite, run_suite,
)
from labs.cuda_benchmark.timing import measure, measure_cuda_events, measure_torch_benchmark, naive_time
from labs.cuda_benchmark.workloads import check_fits, make_copy, make_matmul, make_matmul_roundtrip, make_transfer
from shared.ui import GPU, code_panel, friendly, header, missing_banner, serve

LAB = get("cuda_benchmark")
HERE = Path(__file__).resolve().parent
SHIPPED_RUN = HERE / "examples" / "cpu-2core-amd-epyc.json"

EXTRA = (
    "**Which device?** Whatever torch sees when you click: the hardware card says so. Without a CUDA GPU "
    "(a laptop, a free CPU Space, CI) the benchmark runs the same code on the CPU and says, step by step, "
    "which CPU stand-in replaces each GPU step: the crossover compares 1 CPU thread with all of them, and "
    "host↔device transfers are skipped because a CPU has no separate device memory. "
    "The CUDA steps (CUDA events, transfers, fp8, GPU crossover) follow torch's documented APIs and are "
    "tested by `pytest -m gpu` (skipped without a GPU); GPU figures come only from a run on a GPU. "
    "**% of peak on a CPU** uses the clock measured on this machine (a dependent-add loop in C, shown on the "
    "hardware card), not the nominal one; a point above 100 % is flagged ⚠️ with its likely reason. "
    "Section 4 searches for the matmul shape closest to the peak."
)

# (label, device, sizes, dtypes, bandwidth MiB, method, seconds per point, naive, crossover, transfers)
EXAMPLES = [
    ("Quick CPU check (~5 s)", "auto", "128, 256, 512", ["fp32", "bf16"], "1, 64", METHODS[0], 0.1, True, True, True),
    ("Full CPU sweep (~30 s)", "auto", DEFAULT_SIZES + ", 2048", ["fp32", "bf16", "fp64"], "1, 16, 64, 256",
     METHODS[0], 0.3, True, True, True),
    ("GPU sweep (needs CUDA)", "cuda", DEFAULT_GPU_SIZES, ["fp32", "tf32", "fp16", "bf16", "fp8"],
     "16, 256, 1024", METHODS[0], 0.2, True, True, True),
    ("Manual loop vs torch.utils.benchmark", "auto", "256, 512", ["fp32"], "64", METHODS[1], 0.2, True, False, False),
]


def _plots(rows: list[dict[str, Any]], context: dict[str, Any]) -> list[Any]:
    """The plot components, updated with this run's data (shaped by `results.plot_data`)."""
    data = res.plot_data(rows, context)
    return [gr.LinePlot(data["matmul"], y_title=data["unit"], sort=data["matmul_order"]),
            gr.BarPlot(data["pct"], y_lim=data["pct_ylim"]),
            gr.LinePlot(data["bandwidth"], sort=data["bandwidth_order"]),
            gr.LinePlot(data["roofline"]), data["roofline_text"],
            gr.LinePlot(data["crossover"], y_title=data["unit"], sort=data["crossover_order"]),
            data["crossover_text"]]


def _status(context: dict[str, Any], done: int, total: int, message: str, *, finished: bool,
            rows: list[dict[str, Any]] = ()) -> str:
    head = f"✅ **Finished.** {message}" if finished else f"⏳ **Step {done}/{total}**: {message}"
    lines = [head, f"Device: **{context.get('device', '?')}** · {context.get('device_name', '?')} · "
                    f"peaks from {context.get('peak_source', '?')}"]
    lines += [f"- {note}" for note in context.get("notes", [])]
    flagged = res.over_peak_text(rows)
    return "\n".join(lines + ([flagged] if flagged else []))


@friendly
def detect(progress: gr.Progress = gr.Progress()) -> tuple[str, dict[str, Any]]:
    """Build the hardware card."""
    progress(0.1, desc="querying CPU, torch and CUDA")
    report = hardware_report()
    return report_markdown(report), report


@friendly
def run_benchmark(device: str, sizes: str, dtypes: list[str], bandwidth: str, method: str, min_run_time: float,
                  naive: bool, crossover: bool, transfers: bool, progress: gr.Progress = gr.Progress()):
    """Run the suite step by step, updating every plot after each step."""
    config = make_config(device=device, sizes=sizes, dtypes=dtypes, bandwidth_mib=bandwidth, method=method,
                         min_run_time=min_run_time, naive=naive, crossover=crossover, transfers=transfers)
    rows: list[dict[str, Any]] = []
    context: dict[str, Any] = {}
    started = time.perf_counter()
    for event in run_suite(config):
        context = event.get("context", context)
        rows.extend(event["rows"])
        progress((event["done"], max(1, event["total"])), desc=event["message"])
        yield [_status(context, event["done"], event["total"], event["message"], finished=False, rows=rows),
               *_plots(rows, context), res.naive_lesson(rows, context.get("device", "cpu")),
               res.table_frame(rows), None, None, {"rows": rows, "context": context}]
    csv_path, json_path = res.save_results(rows, context, machine={"cpu": cpu_info()["model"]})
    done = f"{len(rows)} measurements in {time.perf_counter() - started:.1f} s; CSV/JSON under *All results and downloads*."
    if context.get("stopped"):
        done = f"Stopped at the time budget (see the note below). {done}"
    yield [_status(context, 0, 0, done, finished=True, rows=rows), *_plots(rows, context),
           res.naive_lesson(rows, context.get("device", "cpu")), res.table_frame(rows),
           str(csv_path), str(json_path), {"rows": rows, "context": context}]


# (label, device, dtype, m, n, k, seconds per shape)
SHAPE_EXAMPLES = [
    ("CPU: 9 shapes around 256 (~1 s)", "auto", "fp32", shp.DEFAULT_CPU["m"], shp.DEFAULT_CPU["n"],
     shp.DEFAULT_CPU["k"], shp.DEFAULT_SECONDS_PER_SHAPE),
    ("GPU: 32 shapes around 4096, bf16 (needs CUDA)", "cuda", "bf16", shp.DEFAULT_GPU["m"], shp.DEFAULT_GPU["n"],
     shp.DEFAULT_GPU["k"], 0.05),
]


@friendly
def search_shapes(device: str, dtype: str, m: str, n: str, k: str, seconds: float,
                  progress: gr.Progress = gr.Progress()):
    """Run the best-shape search shape by shape, updating the summary, table and plot after each."""
    config = shp.make_shape_config(device=device, dtype=dtype, m=m, n=n, k=k, seconds_per_shape=seconds)
    rows: list[dict[str, Any]] = []
    context: dict[str, Any] = {}
    for event in shp.run_shapes(config):
        context = event.get("context", context)
        if event["row"]:
            rows.append(event["row"])
        progress((event["done"], max(1, event["total"])), desc=event["message"])
        head = ("✅ **Finished.**" if event["done"] == event["total"] or event.get("stopped")
                else f"⏳ **Shape {event['done']}/{event['total']}**: {event['message']}")
        yield (f"{head}\n\n{shp.shape_summary(rows, context)}", shp.shape_table(rows),
               gr.BarPlot(shp.shape_plot_frame(rows), sort=None))


@friendly
def compare(path: str | None, live: dict[str, Any] | None) -> tuple[str, Any, Any]:
    """Load a saved run and put it next to the live one."""
    data = res.compare_data(res.load_results(path), live)
    return (data["summary"], gr.LinePlot(data["plot"], sort=data["order"], y_title=data["unit"], visible=True),
            gr.Dataframe(data["table"], visible=True))


with gr.Blocks(title=LAB.title) as demo:
    header(LAB, extra=EXTRA)
    missing_banner(LAB)

    gr.Markdown("## 1 · Hardware card")
    detect_btn = gr.Button("Detect hardware", elem_id="cuda_benchmark_detect")
    card = gr.Markdown("Click **Detect hardware** to read the CPU, the torch build and every GPU.",
                       elem_id="cuda_benchmark_card")
    with gr.Accordion("Everything torch reports (JSON, incl. all get_device_properties fields)", open=False):
        card_json = gr.JSON(show_label=False)

    gr.Markdown("## 2 · Benchmark\nWarm-up, synchronise, repeat, median and spread: the method is in "
                "*Show the code* at the bottom. Each step updates the plots; **Cancel** stops between steps.")
    with gr.Row():
        device_in = gr.Radio(["auto", "cpu", "cuda", "mps"], value="auto", label="Device")
        method_in = gr.Radio(list(METHODS), value=METHODS[0], label="Timing method")
        mrt_in = gr.Slider(MIN_RUN_TIME[0], MIN_RUN_TIME[1], value=DEFAULT_MIN_RUN_TIME, step=0.05,
                           label="Seconds per point (torch.utils.benchmark)")
    with gr.Row():
        sizes_in = gr.Textbox(DEFAULT_SIZES, label="Matrix sizes n (n×n @ n×n)", elem_id="cuda_benchmark_sizes")
        dtypes_in = gr.CheckboxGroup(list(DTYPE_KEYS), value=list(DEFAULT_DTYPES), label="dtypes")
        bw_in = gr.Textbox(DEFAULT_BANDWIDTH_MIB, label="Buffer sizes for bandwidth (MiB)")
    with gr.Row():
        naive_in = gr.Checkbox(True, label="Show the naive time.time() timing")
        cross_in = gr.Checkbox(True, label="Find the crossover size")
        transfers_in = gr.Checkbox(True, label="Host↔device transfers (CUDA only)")
    with gr.Row():
        run_btn = gr.Button("Run benchmark", variant="primary", elem_id="cuda_benchmark_run")
        cancel_btn = gr.Button("Cancel", variant="stop", elem_id="cuda_benchmark_cancel")
    inputs = [device_in, sizes_in, dtypes_in, bw_in, method_in, mrt_in, naive_in, cross_in, transfers_in]
    # Clicking an example fills the settings, then runs (wired below). No fn/caching here on purpose:
    # a benchmark measures the machine it runs on, so a cached result would be a lie.
    example_rows = gr.Examples(
        examples=[list(row[1:]) for row in EXAMPLES], example_labels=[row[0] for row in EXAMPLES],
        inputs=inputs, api_name="cuda_benchmark_example", label="Examples (click one to run it)",
        elem_id="cuda_benchmark_examples",
    )

    status = gr.Markdown(elem_id="cuda_benchmark_status")
    with gr.Row():
        matmul_plot = gr.LinePlot(x="size", y="throughput", color="series", title="Matmul throughput vs size",
                                  x_title="matrix size n", y_title="GFLOP/s", elem_id="cuda_benchmark_matmul_plot")
        pct_plot = gr.BarPlot(x="dtype", y="pct_of_peak", title="Best % of peak per dtype", y_title="% of peak")
    with gr.Row():
        bw_plot = gr.LinePlot(x="size", y="gbps", color="series", title="Memory bandwidth vs buffer size",
                              x_title="buffer", y_title="GB/s")
        roof_plot = gr.LinePlot(x="log10_ai", y="log10_gflops", color="series", title="Roofline (log10 axes)",
                                x_title="log10 arithmetic intensity (FLOP/byte)", y_title="log10 GFLOP/s",
                                tooltip=["series", "ai", "gflops"])
    roof_md = gr.Markdown()
    with gr.Row():
        cross_plot = gr.LinePlot(x="size", y="throughput", color="series", title="Crossover: same fp32 matmul",
                                 x_title="matrix size n", y_title="GFLOP/s")
        cross_md = gr.Markdown()
    with gr.Accordion("The naive-timing lesson", open=True):
        naive_md = gr.Markdown("Run the benchmark with **Show the naive timing** ticked.",
                               elem_id="cuda_benchmark_naive")
    with gr.Accordion("All results and downloads", open=False):
        table = gr.Dataframe(label="Results", interactive=False, wrap=True)
        with gr.Row():
            csv_file = gr.File(label="Download CSV", interactive=False)
            json_file = gr.File(label="Download JSON (load it on another machine to compare)", interactive=False)
    live_state = gr.State(None)
    outputs = [status, matmul_plot, pct_plot, bw_plot, roof_plot, roof_md, cross_plot, cross_md, naive_md,
               table, csv_file, json_file, live_state]

    gr.Markdown("## 3 · Compare with a saved run\nUpload a JSON saved by this lab on another machine "
                "(or the shipped one: a real run on a shared 2-vCPU AMD EPYC VM without a GPU).")
    with gr.Row():
        upload = gr.File(label="Saved results (.json)", file_types=[".json"], elem_id="cuda_benchmark_upload")
        compare_btn = gr.Button("Compare", elem_id="cuda_benchmark_compare")
    gr.Examples([[str(SHIPPED_RUN)]], inputs=[upload], label="Shipped run", api_name="cuda_benchmark_load_saved")
    compare_md = gr.Markdown()
    compare_plot = gr.LinePlot(x="size", y="throughput", color="series", title="Matmul: saved run vs this machine",
                               x_title="matrix size n", y_title="GFLOP/s", visible=False)
    compare_table = gr.Dataframe(interactive=False, wrap=True, visible=False)

    gr.Markdown(
        "## 4 · Best-shape search (MAMF)\nWhich m×k @ k×n shape gets closest to the peak? Matmul kernels work on "
        f"tiles (GPU: {shp.GPU_TILE}, CPU: {shp.CPU_TILE} here): a dimension one past a tile multiple needs an extra, "
        "almost empty tile. The search times every combination of the m, n and k values (at most "
        f"{shp.MAX_SHAPES}) and names the best shape with its % of peak (GPU: the spec sheet; CPU: the peak at the "
        "measured clock). On a CPU the sweep is kept tiny; the GPU example needs a CUDA GPU.")
    with gr.Row():
        shape_device = gr.Radio(["auto", "cpu", "cuda"], value="auto", label="Device")
        shape_dtype = gr.Dropdown(list(shp.SHAPE_DTYPES), value="fp32", label="dtype")
        shape_seconds = gr.Slider(shp.SECONDS_PER_SHAPE[0], shp.SECONDS_PER_SHAPE[1],
                                  value=shp.DEFAULT_SECONDS_PER_SHAPE, step=0.01, label="Seconds per shape")
    with gr.Row():
        shape_m = gr.Textbox(shp.DEFAULT_CPU["m"], label="m values (rows of A and C)", elem_id="cuda_benchmark_shape_m")
        shape_n = gr.Textbox(shp.DEFAULT_CPU["n"], label="n values (columns of B and C)")
        shape_k = gr.Textbox(shp.DEFAULT_CPU["k"], label="k values (the shared, summed dimension)")
    shape_inputs = [shape_device, shape_dtype, shape_m, shape_n, shape_k, shape_seconds]
    with gr.Row():
        shape_btn = gr.Button("Search shapes", variant="primary", elem_id="cuda_benchmark_shapes")
        shape_cancel = gr.Button("Cancel", variant="stop", elem_id="cuda_benchmark_shapes_cancel")
    shape_examples = gr.Examples(
        examples=[list(row[1:]) for row in SHAPE_EXAMPLES], example_labels=[row[0] for row in SHAPE_EXAMPLES],
        inputs=shape_inputs, api_name="cuda_benchmark_shapes_example", label="Shape searches (click one to run it)")
    shape_md = gr.Markdown(elem_id="cuda_benchmark_shape_summary")
    shape_plot = gr.BarPlot(x="shape", y="gflops", color="kind", title="Throughput per shape (m x n x k)",
                            x_title="shape", y_title="GFLOP/s")
    shape_table = gr.Dataframe(headers=list(shp.SHAPE_COLUMNS), label="Shapes, best first", interactive=False, wrap=True)

    code_panel(measure, measure_torch_benchmark, measure_cuda_events, naive_time, make_matmul, make_copy,
               make_transfer, make_matmul_roundtrip, check_fits, plan_suite, run_suite, cpu_peak,
               flops_per_cycle, measure_clock, over_peak_reason, match_gpu, cuda_devices, res.roofline_frame,
               res.crossover_size, res.crossover_text, shp.around, shp.plan_shapes, shp.run_shapes, shp.time_shape)

    detect_btn.click(detect, None, [card, card_json], api_name="cuda_benchmark_detect")
    run_event = run_btn.click(run_benchmark, inputs, outputs, api_name="cuda_benchmark_run", **GPU)
    example_event = example_rows.load_input_event.then(run_benchmark, inputs, outputs,
                                                       api_name="cuda_benchmark_example_run", **GPU)
    shape_outputs = [shape_md, shape_table, shape_plot]
    shape_event = shape_btn.click(search_shapes, shape_inputs, shape_outputs, api_name="cuda_benchmark_shapes", **GPU)
    shape_example_event = shape_examples.load_input_event.then(
        search_shapes, shape_inputs, shape_outputs, api_name="cuda_benchmark_shapes_example_run", **GPU)
    cancel_btn.click(None, None, None, cancels=[run_event, example_event], api_name="cuda_benchmark_cancel")
    shape_cancel.click(None, None, None, cancels=[shape_event, shape_example_event],
                       api_name="cuda_benchmark_shapes_cancel")
    compare_btn.click(compare, [upload, live_state], [compare_md, compare_plot, compare_table],
                      api_name="cuda_benchmark_compare")


if __name__ == "__main__":
    serve(demo)
