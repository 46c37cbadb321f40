"""Best-shape search (MAMF-style): which m x k @ k x n shape gets closest to the peak?

A spec-sheet peak is reached, if ever, only by shapes that fill the hardware's tiles exactly.
GPU matmul kernels (cuBLAS, CUTLASS) work on tiles of 64, 128 or 256 rows/columns: a dimension of
4097 needs one more, almost empty, tile than 4096 and can lose a large share of the throughput.
CPU BLAS libraries block for registers and caches (multiples of 8, 16 and 64) and show the same
effect, smaller. Stas Bekman's "Maximum Achievable Matmul FLOPS" (MAMF) finder, from the
*Machine Learning Engineering* book, sweeps m, n and k over a range and reports the best: the
honest ceiling to compare a model's throughput with, instead of the spec sheet.

This module does the same, bounded:

1. `around` builds candidate sizes near a value: the multiple of the tile, and the near-misses
   one below and one above it, and half a tile on;
2. `make_shape_config` validates the user's m, n, k lists (at most `MAX_SHAPES` combinations) and
   `plan_shapes` refuses, before allocating, shapes that do not fit in memory, single calls that
   would be too slow, and (on a shared server) a search estimated over the run's time budget;
3. `run_shapes` is a generator: it times every shape (warm-up, sync, repeats, median; CUDA events
   on a GPU), yields after each one (so the UI shows progress and Cancel works between shapes) and
   stops at the run's time budget with the shapes measured so far;
4. `shape_summary` ranks the shapes and names the best one with its % of the spec peak
   (on a CPU: of the peak at the measured clock, see `labs.cuda_benchmark.clock`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Iterator

from labs.cuda_benchmark.specs import over_peak_reason
from labs.cuda_benchmark.suite import (
    ASSUMED_EFFICIENCY, MAX_SIZE, MIN_SIZE, ZEROGPU_MAX_S, ZEROGPU_MIN_S, ZEROGPU_OVERHEAD_S, _device_facts, _free,
    max_seconds_per_call, parse_sizes, resolve_device, run_budget,
)
from labs.cuda_benchmark.timing import measure, measure_cuda_events
from labs.cuda_benchmark.workloads import ELEMENT_BYTES, BenchInputError, Work, check_fits, matmul_precision, torch_dtype
from shared.device import gpu
from shared.serving import BudgetExceeded, Deadline, is_shared

# ---- Defaults and limits (the UI reads them from here) -------------------------------------------
CPU_TILE = 64  # a CPU BLAS blocks in multiples of 8-64; 64 is where misses show on a 2-core run
GPU_TILE = 128  # the common cuBLAS/CUTLASS tile edge on Ampere and Hopper
SHAPE_DTYPES = ("fp32", "tf32", "fp16", "bf16", "fp64")  # fp8 needs _scaled_mm's layout rules: not swept here
MAX_SHAPES = 64  # combinations per search: a bigger sweep only holds the device longer
MAX_VALUES = 8  # candidate values per dimension
SECONDS_PER_SHAPE = (0.02, 1.0)  # (lowest, highest) time spent timing each shape
DEFAULT_SECONDS_PER_SHAPE = 0.05
MIN_REPEATS, MAX_REPEATS = 3, 200
SHAPE_COLUMNS = ("m", "n", "k", "gflops", "pct_peak", "tile multiple", "median_ms", "iqr_ms", "repeats", "flag")
# One click on a 2-core CPU: 3 x 3 = 9 shapes around 256 (k = 256), about 1 s. Measured on the shipped
# 2-vCPU EPYC: 256x256x256 198 GFLOP/s (84 % of peak), n = 255 or 257 down to 147 (62 %).
DEFAULT_CPU = {"m": "255, 256, 257", "n": "255, 256, 257", "k": "256"}
# On a GPU: 4 x 4 x 2 = 32 shapes around 4096 (4095, 4096, 4097, 4160) and two depths.
DEFAULT_GPU = {"m": "4095, 4096, 4097, 4160", "n": "4095, 4096, 4097, 4160", "k": "4096, 8192"}


@dataclass(frozen=True)
class ShapeConfig:
    """A validated search; build it with `make_shape_config`."""

    device: str = "auto"
    dtype: str = "fp32"
    m: tuple[int, ...] = (255, 256, 257)
    n: tuple[int, ...] = (255, 256, 257)
    k: tuple[int, ...] = (256,)
    seconds_per_shape: float = DEFAULT_SECONDS_PER_SHAPE

    @property
    def shapes(self) -> list[tuple[int, int, int]]:
        """Every (m, n, k) combination, in sweep order."""
        return list(itertools.product(self.m, self.n, self.k))


@dataclass
class ShapePlan:
    """A checked search: the device, its peak for the dtype, the estimate and budget."""

    config: ShapeConfig
    device: str
    device_name: str
    peak_tflops: float | None
    peak_source: str
    clock: dict[str, Any] | None
    estimate_s: float
    budget_s: float
    notes: list[str] = field(default_factory=list)


def around(values: tuple[int, ...] | list[int], tile: int) -> tuple[int, ...]:
    """Candidate sizes near each value: its multiple of ``tile``, the near-misses one below and above,
    and half a tile on (a multiple of ``tile / 2`` only).

    >>> around([4090], 128)
    (4095, 4096, 4097, 4160)
    """
    out = set()
    for v in values:
        base = max(tile, round(v / tile) * tile)
        out |= {base - 1, base, base + 1, base + tile // 2}
    return tuple(sorted(x for x in out if MIN_SIZE <= x <= MAX_SIZE))


def make_shape_config(*, device: str, dtype: str, m: str, n: str, k: str, seconds_per_shape: float) -> ShapeConfig:
    """Validate raw UI values into a `ShapeConfig`.

    Raises:
        BenchInputError: With a message naming the bad value and the allowed ones.
    """
    if device not in {"auto", "cpu", "cuda"}:
        raise BenchInputError(f"Device must be auto, cpu or cuda, not {device!r}.")
    if dtype not in SHAPE_DTYPES:
        raise BenchInputError(f"The shape search runs {', '.join(SHAPE_DTYPES)}; got {dtype!r}.")
    try:
        seconds = float(seconds_per_shape)
    except (TypeError, ValueError):
        raise BenchInputError(f"Seconds per shape must be a number, not {seconds_per_shape!r}.") from None
    if not SECONDS_PER_SHAPE[0] <= seconds <= SECONDS_PER_SHAPE[1]:
        raise BenchInputError(f"Seconds per shape must be between {SECONDS_PER_SHAPE[0]} and {SECONDS_PER_SHAPE[1]}; "
                              f"got {seconds}.")
    dims = {name: parse_sizes(text, lo=MIN_SIZE, hi=MAX_SIZE, what=f"{name} values", max_count=MAX_VALUES)
            for name, text in (("m", m), ("n", n), ("k", k))}
    count = len(dims["m"]) * len(dims["n"]) * len(dims["k"])
    if count > MAX_SHAPES:
        raise BenchInputError(f"{len(dims['m'])} x {len(dims['n'])} x {len(dims['k'])} = {count} shapes; at most "
                              f"{MAX_SHAPES} per search. Drop some m, n or k values.")
    return ShapeConfig(device=device, dtype=dtype, seconds_per_shape=seconds, **dims)


def plan_shapes(config: ShapeConfig) -> ShapePlan:
    """Check a search against this machine before allocating anything.

    Raises:
        BenchInputError: If the dtype cannot run on the device, the largest shape does not fit in
            memory, or one call would be slower than `suite.max_seconds_per_call()`.
        BudgetExceeded: On a shared server, if the estimate exceeds the run's time budget.
    """
    from labs.cuda_benchmark.workloads import dtype_support

    device = resolve_device(config.device)
    if device == "mps":
        raise BenchInputError("The shape search runs on cpu or cuda. Choose one of those.")
    name, peaks, _, source, cap, clock = _device_facts(device)
    why = dtype_support(config.dtype, device, capability=cap)
    if why:
        raise BenchInputError(f"{config.dtype} cannot run on {device}: {why}. Pick fp32 or bf16.")
    size = ELEMENT_BYTES[config.dtype]
    mm, nn, kk = max(config.m), max(config.n), max(config.k)
    check_fits((mm * kk + kk * nn + mm * nn) * size, device, f"A {config.dtype} {mm}x{kk} @ {kk}x{nn} matmul")
    if device != "cpu":  # operands are made in fp32 on the host first
        check_fits(max(mm * kk, kk * nn) * 4, "cpu", "The host staging buffer")
    peak = peaks.get(config.dtype)
    # An unknown peak: a CPU is assumed slow (20 GFLOP/s), an unknown GPU is not refused.
    rate = (peak or (0.02 if device == "cpu" else 10.0)) * 1e12 * ASSUMED_EFFICIENCY
    max_call = max_seconds_per_call()
    estimate = 0.0
    for m, n, k in config.shapes:
        per_call = 2 * m * n * k / rate
        if (peak is not None or device == "cpu") and per_call > max_call:
            raise BenchInputError(f"One {config.dtype} {m}x{k} @ {k}x{n} matmul would take about {per_call:.0f} s on "
                                  f"{name} (estimated from its peak); the lab limits a single call to "
                                  f"{max_call:.0f} s. Choose smaller m, n or k.")
        estimate += max(config.seconds_per_shape, MIN_REPEATS * per_call) + 2 * per_call  # + warm-up
    budget = run_budget()
    notes = []
    if estimate > budget:
        if is_shared():
            raise BudgetExceeded(f"This search would take about {estimate:.0f} s (estimated), over this shared "
                                 f"server's {budget:g} s budget per run. Drop some m, n or k values, or lower the "
                                 "seconds per shape.")
        notes.append(f"Estimated {estimate:.0f} s, over the {budget:g} s budget: the search stops there and keeps "
                     "the shapes measured by then.")
    if peak is None:
        notes.append(f"No peak known for {config.dtype} on {name}: throughput is shown without a % of peak.")
    return ShapePlan(config, device, name, peak, source, clock, estimate, budget, notes)


def make_gemm(m: int, n: int, k: int, dtype_key: str, device: str) -> Work:
    """C (m x n) = A (m x k) @ B (k x n) with random operands; ``2 m n k`` FLOPs per call."""
    import torch

    gen = torch.Generator(device="cpu").manual_seed(m * 31 + n * 7 + k)
    dt = torch_dtype(dtype_key)
    a = torch.randn(m, k, generator=gen).to(device=device, dtype=dt)
    b = torch.randn(k, n, generator=gen).to(device=device, dtype=dt)
    c = torch.empty(m, n, device=device, dtype=dt)
    return Work(lambda: torch.mm(a, b, out=c), flops=2.0 * m * n * k,
                bytes=float((m * k + k * n + m * n) * ELEMENT_BYTES[dtype_key]), label=f"{m}x{k} @ {k}x{n}")


def time_shape(work: Work, device: str, seconds: float, *, stop: Any = None):
    """Time one shape for about ``seconds``: one timed warm-up call sizes the repeats, then the median."""
    import time

    sync = None
    if device == "cuda":
        import torch

        sync = torch.cuda.synchronize
    start = time.perf_counter()
    work.fn()  # the first call pays one-time costs (kernel choice, page faults): never counted
    if sync:
        sync()
    first = max(time.perf_counter() - start, 1e-7)
    repeats = int(min(MAX_REPEATS, max(MIN_REPEATS, seconds / first)))
    if device == "cuda":
        return measure_cuda_events(work.fn, warmup=1, repeats=repeats, stop=stop)
    return measure(work.fn, warmup=1, repeats=repeats, sync=sync, stop=stop)


def _shape_row(plan: ShapePlan, shape: tuple[int, int, int], work: Work, timing: Any) -> dict[str, Any]:
    m, n, k = shape
    tflops = work.flops / timing.median / 1e12
    pct = 100 * tflops / plan.peak_tflops if plan.peak_tflops else None
    flag = None if pct is None or pct <= 100 else over_peak_reason(
        plan.config.dtype, device=plan.device, clock_measured=bool(plan.clock and plan.clock.get("ghz")))
    return {"m": m, "n": n, "k": k, "dtype": plan.config.dtype, "device": plan.device, "median_s": timing.median,
            "iqr_s": timing.iqr, "repeats": timing.repeats, "tflops": tflops, "pct_peak": pct, "flag": flag,
            "tiled": all(v % (GPU_TILE if plan.device == "cuda" else CPU_TILE) == 0 for v in shape)}


def shape_gpu_seconds(config: ShapeConfig) -> int:
    """Seconds of GPU time to ask ZeroGPU for: the search's estimate plus start-up (as `suite.gpu_seconds`).

    Raises:
        BudgetExceeded: If the search needs more than `suite.ZEROGPU_MAX_S`; refused before any GPU time is spent.
    """
    try:
        estimate = plan_shapes(config).estimate_s
    except (BenchInputError, BudgetExceeded):
        raise
    except Exception:  # no device facts outside the GPU call: count the shapes at their time each
        estimate = len(config.shapes) * config.seconds_per_shape * 2
    needed = estimate + ZEROGPU_OVERHEAD_S
    if needed > ZEROGPU_MAX_S:
        raise BudgetExceeded(f"This search needs about {needed:.0f} s of GPU time (estimated), more than the "
                             f"{ZEROGPU_MAX_S} s one run may ask for on this ZeroGPU Space. Drop some m, n or k "
                             "values, or lower the seconds per shape.")
    return int(min(ZEROGPU_MAX_S, max(ZEROGPU_MIN_S, needed + 0.999)))


@gpu(duration=lambda config: shape_gpu_seconds(config))  # ZeroGPU: sized from the plan, like run_suite
def run_shapes(config: ShapeConfig) -> Iterator[dict[str, Any]]:
    """Time every shape of ``config``; yield one event per shape.

    The first event carries ``context`` (device, peak, clock, notes) and no row; each next event
    one ``row``. At the run's time budget the search ends with a last event: ``stopped`` True and
    a note; the rows yielded before are kept.

    Raises:
        BenchInputError, BudgetExceeded: As `plan_shapes`, before anything is allocated.
    """
    deadline = Deadline(run_budget(), what="the shape search")
    plan = plan_shapes(config)
    shapes = config.shapes
    context = {"device": plan.device, "device_name": plan.device_name, "dtype": config.dtype,
               "peak_tflops": plan.peak_tflops, "peak_source": plan.peak_source, "clock": plan.clock,
               "notes": list(plan.notes), "estimate_s": plan.estimate_s}
    yield {"done": 0, "total": len(shapes), "row": None, "context": context,
           "message": f"Planned {len(shapes)} shapes on {plan.device} ({plan.device_name}), about {plan.estimate_s:.0f} s."}
    for i, shape in enumerate(shapes, 1):
        if deadline.expired():
            note = (f"Stopped after {i - 1} of {len(shapes)} shapes: the search reached its {deadline.seconds:g} s time "
                    "budget. The shapes measured so far are kept.")
            context["notes"] = [*context["notes"], note]
            context["stopped"] = True
            yield {"done": i - 1, "total": len(shapes), "row": None, "context": context, "stopped": True,
                   "message": note}
            return
        with matmul_precision(config.dtype):
            work = make_gemm(*shape, config.dtype, plan.device)
            timing = time_shape(work, plan.device, config.seconds_per_shape, stop=deadline.expired)
        row = _shape_row(plan, shape, work, timing)
        del work
        _free(plan.device)
        yield {"done": i, "total": len(shapes), "row": row,
               "message": f"{shape[0]}x{shape[2]} @ {shape[2]}x{shape[1]}: {row['tflops'] * 1e3:,.1f} GFLOP/s"}


def shape_table(rows: list[dict[str, Any]]):
    """The measured shapes, best first: GFLOP/s, % of peak and the over-peak flag."""
    import pandas as pd

    records = [{"m": r["m"], "n": r["n"], "k": r["k"], "gflops": round(r["tflops"] * 1e3, 1),
                "pct_peak": None if r["pct_peak"] is None else round(r["pct_peak"], 1),
                "tile multiple": "yes" if r["tiled"] else "no", "median_ms": round(r["median_s"] * 1e3, 4),
                "iqr_ms": round(r["iqr_s"] * 1e3, 4), "repeats": r["repeats"],
                "flag": ("⚠️ " + r["flag"]) if r.get("flag") else None}
               for r in sorted(rows, key=lambda r: -r["tflops"])]
    return pd.DataFrame.from_records(records, columns=list(SHAPE_COLUMNS))


def shape_plot_frame(rows: list[dict[str, Any]]):
    """One bar per shape in sweep order (label ``m x n x k``), coloured by tile multiple or near-miss."""
    import pandas as pd

    records = [{"shape": f"{r['m']}x{r['n']}x{r['k']}", "gflops": float(r["tflops"] * 1e3),
                "kind": "tile multiple" if r["tiled"] else "near-miss"} for r in rows]
    return pd.DataFrame.from_records(records, columns=["shape", "gflops", "kind"]).astype({"gflops": float})


def shape_summary(rows: list[dict[str, Any]], context: dict[str, Any]) -> str:
    """Markdown: the best shape, its % of peak, the worst one, and what the near-misses cost."""
    if not rows:
        return "No shape measured yet."
    best = max(rows, key=lambda r: r["tflops"])
    worst = min(rows, key=lambda r: r["tflops"])
    peak = context.get("peak_tflops")
    on = "of the spec peak" if context.get("device") == "cuda" else "of the CPU peak at the measured clock"
    pct = f" = **{best['pct_peak']:.1f} %** {on} ({peak * 1e3:,.1f} GFLOP/s)" if best["pct_peak"] is not None else ""
    lines = [f"**Best shape ({context.get('dtype')}, {context.get('device')}):** m={best['m']}, n={best['n']}, "
             f"k={best['k']} at **{best['tflops'] * 1e3:,.1f} GFLOP/s**{pct}. This is the maximum achievable matmul "
             "throughput (MAMF) among the shapes tried: compare a model's throughput with it, not with the spec sheet.",
             f"Worst: m={worst['m']}, n={worst['n']}, k={worst['k']} at {worst['tflops'] * 1e3:,.1f} GFLOP/s "
             f"({worst['tflops'] / best['tflops']:.0%} of the best)."]
    tiled = [r["tflops"] for r in rows if r["tiled"]]
    untiled = [r["tflops"] for r in rows if not r["tiled"]]
    if tiled and untiled:
        lines.append(f"Mean of the shapes whose m, n, k are all tile multiples: {sum(tiled) / len(tiled) * 1e3:,.1f} "
                     f"GFLOP/s; of the others (near-misses): {sum(untiled) / len(untiled) * 1e3:,.1f} GFLOP/s.")
    flagged = [r for r in rows if r.get("flag")]
    if flagged:
        lines.append(f"⚠️ {len(flagged)} shape(s) read above 100 % of peak: {flagged[0]['flag']}.")
    lines += [f"- {note}" for note in context.get("notes", [])]
    return "\n\n".join(lines)
