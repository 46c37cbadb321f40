"""The automated benchmark: validate the settings, plan the steps, run them one by one.

`parse_sizes` and `plan_suite` check everything *before* any memory is allocated: sizes in range,
dtypes the device can run, memory that fits, calls that finish in reasonable time. `run_suite`
then runs the plan and yields after every step (so the UI shows progress, partial plots, and a
run can be cancelled between steps):

1. matmul sweep: every size x dtype, with the naive ``time.time()`` next to the real timing if
   asked;
2. memory bandwidth: copy and vector add over buffer sizes (small ones fit in cache, large ones
   show DRAM/HBM bandwidth);
3. host<->device transfers, pinned and pageable (CUDA only);
4. the crossover: from which size a GPU beats the CPU on the same fp32 matmul, counting the
   transfers. Without a GPU the same code compares 1 CPU thread against all of them, the closest
   real stand-in for "a wider, parallel device with a start-up cost".

On ZeroGPU the whole run happens inside one `shared.device.gpu` call, where CUDA exists.
"""

from __future__ import annotations

import gc
import os
import platform
from dataclasses import dataclass, field, replace
from typing import Any, Iterator

from labs.cuda_benchmark.specs import DTYPE_KEYS, match_gpu, over_peak_reason
from labs.cuda_benchmark.timing import Timing, measure, measure_cuda_events, measure_torch_benchmark, naive_time
from labs.cuda_benchmark.workloads import (
    BenchInputError, Work, check_fits, dtype_support, make_add, make_copy, make_matmul,
    make_matmul_roundtrip, make_transfer, matmul_bytes, matmul_precision, sync_for,
)
from shared.device import gpu
from shared.serving import BudgetExceeded, Deadline, is_shared, request_budget

# ---- Defaults and limits (the UI reads its ranges from here) ----------------------------------
DEFAULT_SIZES = "128, 256, 512, 1024"  # a one-click CPU run of a few seconds on 2 cores
DEFAULT_GPU_SIZES = "256, 512, 1024, 2048, 4096, 8192"  # GPUs need big matrices to fill their SMs
DEFAULT_DTYPES = ("fp32", "bf16", "fp64")
DEFAULT_BANDWIDTH_MIB = "1, 16, 256"  # in L2, in L3, in DRAM on a typical server CPU
MIN_SIZE, MAX_SIZE = 16, 32768  # below 16 nothing is measurable; above, memory refuses anyway
MAX_SIZES = 10  # sizes per run: more only makes one user hold the device longer
MIN_MIB, MAX_MIB = 1, 8192
MIN_RUN_TIME = (0.05, 2.0)  # seconds torch.utils.benchmark spends per point: (lowest, highest)
DEFAULT_MIN_RUN_TIME = 0.2
MANUAL_REPEATS, MANUAL_WARMUP = 10, 2  # the manual loop's counts
MAX_SECONDS_PER_CALL = 30.0  # refuse single calls estimated slower than this (keeps runs interactive)
SHARED_MAX_SECONDS_PER_CALL = 5.0  # the same on a shared server, where a whole run has SHARED_BUDGET_S
# A whole run's time budget: checked between steps and between repeats; a run that reaches it stops
# with the results so far. On a shared server a plan estimated over it is refused before it starts.
LOCAL_BUDGET_S = 600.0
SHARED_BUDGET_S = 60.0
ASSUMED_EFFICIENCY = 0.25  # pessimistic share of peak used to estimate that time up front
CROSSOVER_CPU_MAX_S = 2.0  # on a GPU machine, skip crossover sizes whose CPU call would take longer
METHODS = ("torch.utils.benchmark", "manual loop")


@dataclass(frozen=True)
class BenchConfig:
    """Everything a run needs; build it with `make_config` from user input."""

    device: str = "auto"
    sizes: tuple[int, ...] = (128, 256, 512, 1024)
    dtypes: tuple[str, ...] = DEFAULT_DTYPES
    bandwidth_mib: tuple[int, ...] = (1, 16, 256)
    method: str = METHODS[0]
    min_run_time: float = DEFAULT_MIN_RUN_TIME
    naive: bool = True
    crossover: bool = True
    transfers: bool = True


@dataclass
class Plan:
    """A validated run: the device, what will run, what was skipped and why."""

    config: BenchConfig
    device: str
    device_name: str
    peaks_tflops: dict[str, float]
    peak_gbps: float | None
    peak_source: str
    dtypes: tuple[str, ...]
    notes: list[str] = field(default_factory=list)
    steps: int = 0
    estimate_s: float = 0.0
    budget_s: float = LOCAL_BUDGET_S
    clock: dict[str, Any] | None = None  # the CPU clock reading behind the peaks (None on a GPU)


def run_budget() -> float:
    """Seconds one benchmark run may take: `SHARED_BUDGET_S` on a shared server, else `LOCAL_BUDGET_S`."""
    return request_budget(local=LOCAL_BUDGET_S, shared=SHARED_BUDGET_S)


def max_seconds_per_call() -> float:
    """The longest single call a plan may contain (estimated): shorter on a shared server."""
    return SHARED_MAX_SECONDS_PER_CALL if is_shared() else MAX_SECONDS_PER_CALL


def parse_sizes(text: str, *, lo: int, hi: int, what: str, max_count: int = MAX_SIZES) -> tuple[int, ...]:
    """Parse "128, 256 512" into sorted unique ints within [lo, hi].

    Raises:
        BenchInputError: For empty input, non-integers, out-of-range values or too many values.
    """
    parts = [p for p in str(text or "").replace(",", " ").split() if p]
    if not parts:
        raise BenchInputError(f"No {what} given. Type numbers separated by commas, e.g. {lo * 8}, {lo * 16}.")
    values = []
    for p in parts:
        try:
            values.append(int(p))
        except ValueError:
            raise BenchInputError(f"'{p}' is not a whole number. Type {what} as integers, e.g. 256, 512.") from None
    bad = [v for v in values if not lo <= v <= hi]
    if bad:
        raise BenchInputError(f"{what.capitalize()} must be between {lo} and {hi}; got {', '.join(map(str, bad))}.")
    unique = tuple(sorted(set(values)))
    if len(unique) > max_count:
        raise BenchInputError(f"At most {max_count} {what} per run (got {len(unique)}); drop some.")
    return unique


def make_config(*, device: str, sizes: str, dtypes: list[str] | tuple[str, ...], bandwidth_mib: str,
                method: str, min_run_time: float, naive: bool, crossover: bool, transfers: bool) -> BenchConfig:
    """Validate raw UI values into a `BenchConfig`.

    Raises:
        BenchInputError: With a message naming the bad value and the allowed ones.
    """
    if device not in {"auto", "cpu", "cuda", "mps"}:
        raise BenchInputError(f"Device must be auto, cpu, cuda or mps, not {device!r}.")
    dtypes = tuple(dtypes or ())
    if not dtypes:
        raise BenchInputError("Pick at least one dtype (fp32 is a good start).")
    unknown = [d for d in dtypes if d not in DTYPE_KEYS]
    if unknown:
        raise BenchInputError(f"Unknown dtype(s) {', '.join(unknown)}; choose from {', '.join(DTYPE_KEYS)}.")
    if method not in METHODS:
        raise BenchInputError(f"Timing method must be one of {', '.join(METHODS)}, not {method!r}.")
    try:
        mrt = float(min_run_time)
    except (TypeError, ValueError):
        raise BenchInputError(f"Time per point must be a number of seconds, not {min_run_time!r}.") from None
    if not MIN_RUN_TIME[0] <= mrt <= MIN_RUN_TIME[1]:
        raise BenchInputError(f"Time per point must be between {MIN_RUN_TIME[0]} and {MIN_RUN_TIME[1]} s; got {mrt}.")
    return BenchConfig(
        device=device,
        sizes=parse_sizes(sizes, lo=MIN_SIZE, hi=MAX_SIZE, what="matrix sizes"),
        dtypes=tuple(d for d in DTYPE_KEYS if d in dtypes),
        bandwidth_mib=parse_sizes(bandwidth_mib, lo=MIN_MIB, hi=MAX_MIB, what="buffer sizes (MiB)"),
        method=method, min_run_time=mrt, naive=bool(naive), crossover=bool(crossover), transfers=bool(transfers),
    )


def resolve_device(requested: str) -> str:
    """Turn "auto" into the best device torch can use; refuse one that is not there."""
    import torch

    has_cuda = False
    try:
        has_cuda = torch.cuda.is_available()
    except Exception:  # a broken driver reads as "no CUDA"
        has_cuda = False
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps is not None and mps.is_available())
    if requested == "auto":
        return "cuda" if has_cuda else ("mps" if has_mps else "cpu")
    if requested == "cuda" and not has_cuda:
        raise BenchInputError("No CUDA GPU is visible to torch on this machine. Choose 'auto' or 'cpu' "
                              "(the hardware card says why CUDA is missing).")
    if requested == "mps" and not has_mps:
        raise BenchInputError("Apple MPS is not available here. Choose 'auto' or 'cpu'.")
    return requested


def _device_facts(device: str) -> tuple[str, dict[str, float], float | None, str, tuple[int, int] | None,
                                        dict[str, Any] | None]:
    """Name, peak TFLOP/s per dtype, peak GB/s, where the peaks come from, CUDA capability, CPU clock reading."""
    import torch

    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        spec = match_gpu(props.name, sms=props.multi_processor_count, memory_bytes=props.total_memory)
        cap = (props.major, props.minor)
        if spec is None:
            return props.name, {}, None, "not in the spec table", cap, None
        return props.name, dict(spec.tflops), spec.bandwidth_gbs, f"{spec.name}: {spec.source}", cap, None
    if device == "mps":
        return "Apple GPU (MPS)", {}, None, "no public peak table for Apple GPUs", None, None
    from labs.cuda_benchmark.clock import achieved_clock
    from labs.cuda_benchmark.hardware import cpu_info, cpu_peak_for, peak_cores

    cpu = cpu_info()
    # The peak's clock is measured with as many cores busy as the matmul will use (turbo included).
    clock = achieved_clock(peak_cores(cpu, torch.get_num_threads()))
    peak = cpu_peak_for(cpu, torch.get_num_threads(), ghz=clock.ghz)
    reading = {**clock.as_dict(), "reported_ghz": cpu.get("clock_ghz"), "error_note": clock.error_note}
    if peak is None:
        return cpu["model"], {}, None, "clock unknown: no CPU peak", None, reading
    return (cpu["model"] or platform.machine(), {k: v / 1000 for k, v in peak.gflops.items()}, None,
            f"estimate: {peak.basis[0]} ({peak.basis[1]})", None, reading)


def plan_suite(config: BenchConfig) -> Plan:
    """Check a config against this machine before allocating anything.

    Drops dtypes the device cannot run (with a note), refuses sizes that would not fit in memory
    or whose single call would take longer than `max_seconds_per_call()`, counts the steps and
    estimates the run's time against its budget (`run_budget()`).

    Raises:
        BenchInputError: If nothing can run or a size is too big; the message says what to choose.
        BudgetExceeded: On a shared server, if the estimate exceeds the run's time budget.
    """
    import torch

    device = resolve_device(config.device)
    name, peaks, peak_gbps, source, cap, clock = _device_facts(device)
    notes: list[str] = []
    if clock is not None and clock.get("ghz"):
        notes.append(f"CPU peak from the achieved clock {clock['ghz']:.2f} GHz (reported: {clock['reported_ghz'] or '?'} "
                     f"GHz), measured with {clock['threads']} core(s) busy.")
    elif clock is not None:
        notes.append(f"Achieved clock not measured ({clock['reason']}): the CPU peak uses the reported clock, "
                     "so points may read above 100 %.")
    dtypes = []
    for d in config.dtypes:
        why = dtype_support(d, device, capability=cap)
        if why:
            notes.append(f"Skipped {d}: {why}.")
        else:
            dtypes.append(d)
    if not dtypes:
        raise BenchInputError(f"None of the chosen dtypes can run on {device}: " + " ".join(notes)
                              + " Pick fp32 (or bf16).")
    if "fp8" in dtypes and any(n % 16 for n in config.sizes):
        notes.append("fp8 runs only at sizes that are multiples of 16 (a _scaled_mm requirement).")

    # Memory: the largest matrix of the widest dtype, and the largest buffers, must fit.
    n_max = max(config.sizes)
    # The crossover multiplies fp32 matrices on the device (and on the CPU), whatever dtypes were chosen.
    widest = max(dtypes + (["fp32"] if config.crossover else []), key=lambda d: matmul_bytes(n_max, d))
    check_fits(matmul_bytes(n_max, widest), device, f"A {widest} matmul at n={n_max} (A, B and C)")
    if device != "cpu":  # the operands are made in fp32 on the host, one at a time, then moved
        check_fits(n_max * n_max * 4, "cpu", f"The host staging buffer for n={n_max}")
    if device == "cuda" and config.crossover:
        check_fits(matmul_bytes(n_max, "fp32"), "cpu", f"The CPU side of the crossover at n={n_max}")
    big = max(config.bandwidth_mib) * 2**20
    check_fits(3 * big, device, f"The {max(config.bandwidth_mib)} MiB bandwidth test (three buffers for add)")
    if device == "cuda" and config.transfers:
        check_fits(big, "cpu", f"The {max(config.bandwidth_mib)} MiB host buffer for transfers")

    # Time: estimate one call from the peak at a pessimistic efficiency; refuse hour-long points.
    max_call = max_seconds_per_call()
    estimate = 0.0
    for d in dtypes:
        peak = peaks.get(d) or peaks.get("fp32")
        # Unknown peak: a CPU is assumed slow (20 GFLOP/s); an unknown GPU is not refused at all.
        guard = peak is not None or device == "cpu"
        gflops = (peak or (0.02 if device == "cpu" else 10.0)) * 1e3 * ASSUMED_EFFICIENCY
        for n in config.sizes:
            per_call = 2 * n**3 / (gflops * 1e9)
            if guard and per_call > max_call:
                raise BenchInputError(
                    f"One {d} matmul at n={n} would take about {per_call:.0f} s on {name} (estimated from its "
                    f"peak); the lab limits a single call to {max_call:.0f} s so runs stay "
                    "interactive. Choose smaller sizes.")
            estimate += max(config.min_run_time, 6 * per_call) + (per_call if config.naive else 0)
    steps = len(dtypes) * len(config.sizes) + len(config.bandwidth_mib)
    estimate += len(config.bandwidth_mib) * 2 * config.min_run_time
    if device == "cuda" and config.transfers:
        steps += len(config.bandwidth_mib)
    elif config.transfers:
        notes.append("Host<->device transfers need a CUDA GPU: not measured here (a CPU has no separate "
                     "device memory to copy to).")
    if config.crossover:
        if device == "cpu" and torch.get_num_threads() < 2:
            notes.append("Crossover skipped: torch has a single CPU thread, so there is nothing to compare "
                         "1 thread against (and no GPU).")
        else:
            steps += len(config.sizes)
            estimate += len(config.sizes) * 3 * config.min_run_time
            if device == "cpu":  # the 1-thread side runs each call about `threads` times slower
                estimate += sum(5 * _cpu_call_seconds(n) * torch.get_num_threads() for n in config.sizes)
            if device != "cuda":
                notes.append(f"No CUDA GPU: the crossover compares 1 CPU thread with all {torch.get_num_threads()} "
                             "threads on the same fp32 matmul (the same code path as CPU vs GPU).")
            else:
                slow = [n for n in config.sizes if _cpu_call_seconds(n) > CROSSOVER_CPU_MAX_S]
                if slow:
                    notes.append(f"Crossover skips n = {', '.join(map(str, slow))}: one CPU call there would take "
                                 f"over {CROSSOVER_CPU_MAX_S:.0f} s (estimated), and the GPU has long won by then.")
    budget = run_budget()
    if estimate > budget:
        if is_shared():
            raise BudgetExceeded(
                f"This run would take about {estimate:.0f} s (estimated), over this shared server's {budget:g} s "
                "budget per run. Choose fewer sizes, dtypes or buffer sizes, or fewer seconds per point.")
        notes.append(f"Estimated {estimate:.0f} s, over the {budget:g} s budget per run: the run stops after "
                     f"{budget:g} s and keeps the steps finished by then.")
    busy = machine_load()
    if busy:
        notes.append(busy)
    return Plan(config, device, name, peaks, peak_gbps, source, tuple(dtypes), notes, steps, estimate, budget, clock)


def _cpu_call_seconds(n: int) -> float:
    """Pessimistic estimate of one fp32 n x n matmul on this CPU (25 % of its peak, 20 GFLOP/s if unknown)."""
    import torch

    from labs.cuda_benchmark.hardware import cpu_info, cpu_peak_for

    peak = cpu_peak_for(cpu_info(), torch.get_num_threads())
    gflops = (peak.gflops["fp32"] if peak else 20.0) * ASSUMED_EFFICIENCY
    return 2 * n**3 / (gflops * 1e9)


def machine_load() -> str | None:
    """A warning when other processes keep the CPUs busy (their work makes every timing noisy)."""
    try:
        load1 = os.getloadavg()[0]
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    if load1 > 0.75 * cpus:
        return (f"This machine is busy (load average {load1:.1f} on {cpus} CPUs): other processes compete for the "
                "cores, so expect noisy timings, wide IQRs and multi-thread results below single-thread ones. "
                "Run again when it is quieter, or raise the seconds per point.")
    return None


def _timed(work: Work, plan: Plan, *, num_threads: int | None = None, stop: Any = None) -> Timing:
    """Time ``work`` with the configured method on the plan's device (``stop()`` True ends repeats early)."""
    cfg = plan.config
    # torch.utils.benchmark only knows how to synchronise CUDA, so MPS always uses the manual loop.
    if cfg.method == "manual loop" or plan.device == "mps":
        if plan.device == "cuda":
            return measure_cuda_events(work.fn, warmup=MANUAL_WARMUP, repeats=MANUAL_REPEATS, stop=stop)
        return measure(work.fn, warmup=MANUAL_WARMUP, repeats=MANUAL_REPEATS, sync=sync_for(plan.device), stop=stop)
    return measure_torch_benchmark(work.fn, min_run_time=cfg.min_run_time, num_threads=num_threads, stop=stop)


def _row(plan: Plan, section: str, variant: str, dtype: str, size: int, size_label: str, work: Work,
         timing: Timing, *, device: str | None = None, device_name: str | None = None,
         naive: tuple[float, float] | None = None) -> dict[str, Any]:
    """One result row (plain types only: it travels through JSON, CSV and ZeroGPU's pickling)."""
    median = timing.median
    tflops = work.flops / median / 1e12 if work.flops else None
    gbps = work.bytes / median / 1e9
    peak_t = plan.peaks_tflops.get(dtype) if section in {"matmul"} else None
    peak_b = plan.peak_gbps if section in {"copy", "add"} else None
    pct = (100 * tflops / peak_t) if (tflops and peak_t) else ((100 * gbps / peak_b) if peak_b else None)
    # Over 100 % of a peak is impossible: the row says so, with the likely reason.
    flag = None if pct is None or pct <= 100 else over_peak_reason(
        dtype, device=device or plan.device, clock_measured=bool(plan.clock and plan.clock.get("ghz")))
    cold, warm = naive if naive else (None, None)

    def implied(seconds: float | None) -> float | None:
        return work.flops / seconds / 1e12 if (seconds and work.flops) else None
    return {
        "section": section, "variant": variant, "device": device or plan.device,
        "device_name": device_name or plan.device_name,
        "dtype": dtype, "size": size, "size_label": size_label,
        "median_s": median, "iqr_s": timing.iqr, "best_s": timing.best, "repeats": timing.repeats,
        "method": timing.method, "flops": work.flops, "bytes": work.bytes,
        "tflops": tflops, "gbps": gbps, "peak_tflops": peak_t, "peak_gbps": peak_b, "pct_peak": pct, "flag": flag,
        "naive_cold_s": cold, "naive_cold_tflops": implied(cold),
        "naive_nosync_s": warm, "naive_nosync_tflops": implied(warm),
    }


def _free(device: str) -> None:
    gc.collect()
    if device == "cuda":
        import torch

        torch.cuda.empty_cache()


@gpu(duration=lambda config: gpu_seconds(config))  # ZeroGPU: sized from the plan (below)
def run_suite(config: BenchConfig) -> Iterator[dict[str, Any]]:
    """Run the benchmark; yield one event per finished step.

    Each event is a dict: ``done``/``total`` steps, a ``message``, the new result ``rows``; the
    first event also carries ``context`` (device, peaks, notes). Consumers stop early by closing
    the generator (that is how a cancelled run stops between steps).

    The run has a time budget (`run_budget()`), checked between steps and between repeats. A run
    that reaches it ends with one last event: no rows, ``stopped`` True, and ``context`` again with
    a note saying how far it got; the rows yielded before are the partial results.

    Raises:
        BenchInputError: If the config cannot run here (raised before anything is allocated).
        BudgetExceeded: On a shared server, if the plan's estimate exceeds the budget.
    """
    import torch

    deadline = Deadline(run_budget(), what="the benchmark")
    plan = plan_suite(config)
    context = {"device": plan.device, "device_name": plan.device_name, "peaks_tflops": plan.peaks_tflops,
               "peak_gbps": plan.peak_gbps, "peak_source": plan.peak_source, "notes": plan.notes, "clock": plan.clock,
               "dtypes": list(plan.dtypes), "threads": torch.get_num_threads(), "estimate_s": plan.estimate_s,
               "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(config).items()}}
    done = 0
    yield {"done": done, "total": plan.steps, "rows": [], "context": context,
           "message": f"Planned {plan.steps} steps on {plan.device} ({plan.device_name}), about {plan.estimate_s:.0f} s."}
    for event in _steps(config, plan, deadline):
        if deadline.expired():
            note = (f"Stopped after step {event['done']} of {plan.steps}: the run reached its {deadline.seconds:g} s "
                    f"time budget{' on this shared server' if is_shared() else ''}. The results so far are kept; "
                    "choose fewer sizes or dtypes to measure the rest.")
            context["notes"] = [*context["notes"], note]
            context["stopped"] = True
            yield event
            yield {"done": event["done"], "total": plan.steps, "rows": [], "context": context, "stopped": True,
                   "message": note}
            return
        yield event


def _steps(config: BenchConfig, plan: Plan, deadline: Deadline) -> Iterator[dict[str, Any]]:
    """The steps of `run_suite`, one event each; repeats end early once ``deadline`` has expired."""
    import torch

    stop = deadline.expired
    done = 0
    # 1. Matmul sweep.
    for dtype in plan.dtypes:
        for n in config.sizes:
            done += 1
            if dtype == "fp8" and n % 16:
                continue
            with matmul_precision(dtype):
                work = make_matmul(n, dtype, plan.device)
                naive = None
                if config.naive:
                    # The naive numbers first, as a first attempt would take them: one cold call,
                    # then one more call, both with time.time() and no synchronisation.
                    naive = (naive_time(work.fn), naive_time(work.fn))
                timing = _timed(work, plan, stop=stop)
            row = _row(plan, "matmul", dtype, dtype, n, str(n), work, timing, naive=naive)
            del work
            _free(plan.device)
            yield {"done": done, "total": plan.steps, "rows": [row],
                   "message": f"matmul {dtype} n={n}: {row['tflops'] * 1e3:,.1f} GFLOP/s"}

    # 2. Memory bandwidth: copy and add per buffer size.
    for mib in config.bandwidth_mib:
        done += 1
        rows = []
        for section, maker in (("copy", make_copy), ("add", make_add)):
            work = maker(mib * 2**20, plan.device)
            rows.append(_row(plan, section, section, "fp32", mib * 2**20, f"{mib} MiB", work,
                             _timed(work, plan, stop=stop)))
            del work
        _free(plan.device)
        yield {"done": done, "total": plan.steps, "rows": rows,
               "message": f"copy {mib} MiB: {rows[0]['gbps']:,.1f} GB/s"}

    # 3. Host <-> device transfers (CUDA only).
    if plan.device == "cuda" and config.transfers:
        for mib in config.bandwidth_mib:
            done += 1
            rows = []
            for direction in ("h2d", "d2h"):
                for pinned in (True, False):
                    work = make_transfer(mib * 2**20, direction, pinned=pinned)
                    timing = measure(work.fn, warmup=MANUAL_WARMUP, repeats=MANUAL_REPEATS,
                                     sync=torch.cuda.synchronize, stop=stop)
                    variant = f"{direction} {'pinned' if pinned else 'pageable'}"
                    rows.append(_row(plan, "transfer", variant, "fp32", mib * 2**20, f"{mib} MiB", work, timing))
                    del work
            _free(plan.device)
            yield {"done": done, "total": plan.steps, "rows": rows,
                   "message": f"transfers {mib} MiB: h2d pinned {rows[0]['gbps']:,.1f} GB/s"}

    # 4. Crossover on the same fp32 matmul.
    if config.crossover and not (plan.device == "cpu" and torch.get_num_threads() < 2):
        threads = torch.get_num_threads()
        for n in config.sizes:
            done += 1
            rows = []
            if plan.device == "cuda" and _cpu_call_seconds(n) > CROSSOVER_CPU_MAX_S:
                continue  # noted in the plan: the CPU side would take too long
            cpu_work = make_matmul(n, "fp32", "cpu")
            if plan.device == "cuda":
                rows.append(_row(plan, "crossover", f"CPU ({threads} threads)", "fp32", n, str(n), cpu_work,
                                 measure_torch_benchmark(cpu_work.fn, min_run_time=config.min_run_time, stop=stop),
                                 device="cpu", device_name="CPU"))
                gpu_work = make_matmul(n, "fp32", "cuda")
                rows.append(_row(plan, "crossover", "GPU kernel only", "fp32", n, str(n), gpu_work,
                                 _timed(gpu_work, plan, stop=stop)))
                trip = make_matmul_roundtrip(n, "cuda")
                rows.append(_row(plan, "crossover", "GPU incl. transfers", "fp32", n, str(n), trip,
                                 measure(trip.fn, warmup=MANUAL_WARMUP, repeats=MANUAL_REPEATS,
                                         sync=torch.cuda.synchronize, stop=stop)))
                del gpu_work, trip
            else:
                # Stand-in: the same matmul with 1 thread (the "small device") and all threads.
                for label, nt in (("1 thread", 1), (f"{threads} threads", threads)):
                    rows.append(_row(plan, "crossover", label, "fp32", n, str(n), cpu_work,
                                     measure_torch_benchmark(cpu_work.fn, min_run_time=config.min_run_time,
                                                             num_threads=nt, stop=stop), device="cpu"))
            del cpu_work
            _free(plan.device)
            yield {"done": done, "total": plan.steps, "rows": rows, "message": f"crossover n={n}"}


def run_all(config: BenchConfig) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run the whole suite and return (rows, context): for scripts, tests and the benchmark."""
    rows: list[dict[str, Any]] = []
    context: dict[str, Any] = {}
    for event in run_suite(config):
        context = event.get("context", context)
        rows.extend(event["rows"])
    return rows, context


def quick_config(**overrides: Any) -> BenchConfig:
    """The shipped one-click example's settings, optionally changed."""
    return replace(BenchConfig(), **overrides)


# ---- ZeroGPU: ask for the GPU time the planned run needs, never more than a visitor can have --------
# A ZeroGPU call reserves `duration` seconds up front and is refused when the visitor's remaining
# daily quota (2 minutes without an account) is smaller, so a fixed 180 s could never run for them.
ZEROGPU_MAX_S = 60  # the most one run asks for (ZeroGPU's own default duration)
ZEROGPU_MIN_S = 15
ZEROGPU_OVERHEAD_S = 10.0  # CUDA start-up, the device card and the first allocations inside the call


def gpu_seconds(config: BenchConfig) -> int:
    """Seconds of GPU time to ask ZeroGPU for to run `config`: the plan's estimate plus start-up.

    Called by `spaces.GPU` with run_suite's arguments before the GPU is attached.

    Raises:
        BudgetExceeded: If the planned run needs more than `ZEROGPU_MAX_S`; refused before any GPU
            time is spent.
        BenchInputError: If the config cannot run at all (as `plan_suite`).
    """
    try:
        estimate = plan_suite(config).estimate_s
    except (BenchInputError, BudgetExceeded):
        raise
    except Exception:  # no device facts outside the GPU call: count the steps at their minimum time
        points = len(config.dtypes) * len(config.sizes) + 2 * len(config.bandwidth_mib)
        estimate = points * max(config.min_run_time, 0.05) * 2 + len(config.sizes) * 3 * config.min_run_time
    needed = estimate + ZEROGPU_OVERHEAD_S
    if needed > ZEROGPU_MAX_S:
        raise BudgetExceeded(
            f"This run needs about {needed:.0f} s of GPU time (estimated), more than the {ZEROGPU_MAX_S} s one "
            "run may ask for on this ZeroGPU Space (a visitor's daily GPU quota is a few minutes). Choose fewer "
            "sizes, dtypes or buffer sizes, or fewer seconds per point.")
    return int(min(ZEROGPU_MAX_S, max(ZEROGPU_MIN_S, needed + 0.999)))
