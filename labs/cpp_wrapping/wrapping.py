"""One numeric function, SAXPY (out = a*x + y), called from Python six ways, checked and timed.

SAXPY is the "hello world" of numeric kernels (it is level-1 BLAS): one multiply and one add per
element, so it is memory-bound and every way computes bit-for-bit the same doubles. That makes
it a fair ruler for what each wrapping technique costs:

- per-call overhead: time for a tiny input, where the arithmetic is nothing and the crossing
  between Python and native code is everything;
- throughput: elements per second for a large input, where the loop dominates.

The ways: pure Python (a list comprehension), NumPy (vectorised C inside NumPy), C++ through
ctypes, C++ through pybind11 and through nanobind, C++ through torch's load_inline, and a CUDA
kernel built by nvcc and called through ctypes (copies included) when nvcc and a GPU are present.
`cuda_torch.py` times a CUDA kernel alone, apart from its transfers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from labs.cpp_wrapping import build, prebuild

# Order in tables and charts: slowest crossing first.
WAYS = ("python", "numpy", "ctypes", "pybind11", "nanobind", "torch", "cuda")
LABELS = {
    "python": "Pure Python",
    "numpy": "NumPy",
    "ctypes": "C++ via ctypes",
    "pybind11": "C++ via pybind11",
    "nanobind": "C++ via nanobind",
    "torch": "C++ via torch load_inline",
    "cuda": "CUDA via nvcc + ctypes",
}
# Ways whose compile takes long on a 2-core machine; the quick example skips them unless cached.
SLOW_BUILDS = ("pybind11", "nanobind", "torch")
DEFAULT_A = 2.5
SMALL_N = 16  # tiny input: measures the Python-to-native crossing, not the arithmetic
LARGE_N = 1_000_000  # large input: 8 MB per array, well past the caches, measures the loop
MAX_N = 20_000_000  # 160 MB per array; beyond that a shared 2-core box would swap
TIME_BUDGET_S = 0.12  # seconds of repeated calls per measurement; best call wins


def saxpy_python(a: float, x: list[float], y: list[float]) -> list[float]:
    """Pure Python: the interpreter dispatches every multiply and add on boxed floats."""
    return [a * xi + yi for xi, yi in zip(x, y)]


def saxpy_numpy(a: float, x: Any, y: Any) -> Any:
    """NumPy: two vectorised loops in C (a*x makes a temporary, + y makes the result)."""
    return a * x + y


def saxpy_ctypes(lib: Any, a: float, x: Any, y: Any) -> Any:
    """ctypes: allocate the output in NumPy, pass raw pointers; argtypes check each array."""
    import numpy as np

    out = np.empty_like(x)
    lib.saxpy(x.size, a, x, y, out)
    return out


def saxpy_pybind11(module: Any, a: float, x: Any, y: Any) -> Any:
    """pybind11: the extension takes and returns NumPy arrays itself."""
    return module.saxpy(a, x, y)


def saxpy_nanobind(module: Any, a: float, x: Any, y: Any) -> Any:
    """nanobind: the same call as pybind11; the ndarray type checks dtype, shape and layout."""
    return module.saxpy(a, x, y)


def saxpy_torch(module: Any, a: float, x: Any, y: Any) -> Any:
    """torch extension: tensors in and out (torch.from_numpy shares memory, no copy)."""
    return module.saxpy(a, x, y)


def saxpy_cuda(lib: Any, a: float, x: Any, y: Any) -> Any:
    """CUDA: copy to the GPU, launch the kernel, copy back (the copies dominate for SAXPY)."""
    import ctypes

    import numpy as np

    out = np.empty_like(x)
    msg = ctypes.create_string_buffer(256)
    ptr = ctypes.POINTER(ctypes.c_double)
    code = lib.saxpy_cuda(ctypes.c_int64(x.size), ctypes.c_double(a), x.ctypes.data_as(ptr),
                          y.ctypes.data_as(ptr), out.ctypes.data_as(ptr), msg, len(msg))
    if code != 0:
        raise RuntimeError(f"CUDA error {code}: {msg.value.decode()}")
    return out


@dataclass
class WayResult:
    """One row of the comparison table."""

    way: str
    status: str  # "ok", "skipped" or "failed"
    note: str = ""
    compile_s: float | None = None
    cached: bool | None = None
    overhead_us: float | None = None
    throughput_meps: float | None = None  # million elements per second at the large size
    max_abs_diff: float | None = None
    log: str = ""


@dataclass
class Comparison:
    """Everything one run produced."""

    n_small: int
    n_large: int
    a: float
    rows: list[WayResult] = field(default_factory=list)

    def row(self, way: str) -> WayResult:
        return next(r for r in self.rows if r.way == way)


def best_time(fn: Callable[[], Any], budget_s: float = TIME_BUDGET_S, min_reps: int = 3,
              max_reps: int = 100_000) -> float:
    """Seconds per call of `fn`: the fastest of repeated calls within a time budget.

    The minimum, not the mean, is the usual estimate for a deterministic function: slower calls
    were interrupted by something else on the machine (timeit's documentation argues the same).
    """
    best = float("inf")
    reps = 0
    start = time.perf_counter()
    while reps < min_reps or (time.perf_counter() - start < budget_s and reps < max_reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        reps += 1
    return best


def make_inputs(n: int, seed: int = 0) -> tuple[Any, Any]:
    """Two float64 arrays of `n` standard-normal numbers (reproducible with `seed`)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.standard_normal(n), rng.standard_normal(n)


def check_sizes(n_small: int, n_large: int) -> None:
    """Reject sizes that are empty, not positive integers or would not fit a small machine."""
    for name, n, example in (("tiny size", n_small, SMALL_N), ("large size", n_large, LARGE_N)):
        if n is None:
            raise ValueError(f"The {name} box is empty: enter a whole number of elements, e.g. {example:,}.")
        if isinstance(n, float) and n.is_integer():
            n = int(n)
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"The {name} must be a whole number of at least 1 (got {n!r}).")
        if n > MAX_N:
            raise ValueError(f"The {name} {n:,} is above the limit of {MAX_N:,} elements "
                             "(160 MB per array). Pick a smaller size.")


def prepare(way: str, progress: Callable[[str], None] | None = None,
            compile_slow: bool = True, sources: dict[str, str] | None = None) -> tuple[Callable, WayResult]:
    """Build (or fetch from the cache) what `way` needs and return its call plus a result row.

    Args:
        way: One of `WAYS`.
        progress: Called with a short message before slow steps.
        compile_slow: When False, the ways in `SLOW_BUILDS` run only if already cached.
        sources: Edited sources per way (only used when edits are allowed by the operator).

    Returns:
        (call, row): `call(a, x, y)` takes NumPy arrays and returns a NumPy array; row.status is
        "ok" or "skipped" (with the reason in row.note).
    """
    import numpy as np

    sources = sources or {}
    row = WayResult(way, "ok")
    if way == "python":
        # Lists, not arrays: pure Python is fast on lists and very slow on NumPy scalars.
        return (lambda a, x, y: np.asarray(saxpy_python(a, x.tolist(), y.tolist()))), row
    if way == "numpy":
        return saxpy_numpy, row
    source = sources.get(way)
    if way in SLOW_BUILDS and not build.is_built(way, source) and prebuild.state(way) in ("queued", "compiling"):
        # Compiled in the background since the lab started: wait for it, saying how long it has taken.
        from shared import serving

        prebuild.wait(way, progress, serving.request_budget(local=build.COMPILE_TIMEOUT_S))
    if way in SLOW_BUILDS and not compile_slow and not build.is_built(way, source):
        row.status, row.note = "skipped", "not compiled yet: press 'Compile & run all'"
        return None, row
    if way == "cuda":
        try:
            build.find_compiler("cuda")
        except build.CompilerMissing as exc:
            row.status, row.note = "skipped", str(exc)
            return None, row
    if progress:
        progress(f"{'loading' if build.is_built(way, source) else 'compiling'} {LABELS[way]}")
    builder = {"ctypes": build.build_ctypes, "pybind11": build.build_pybind11, "nanobind": build.build_nanobind,
               "torch": build.build_torch, "cuda": build.build_cuda}[way]
    result = builder(source)
    row.compile_s, row.cached, row.log = result.seconds, result.cached, result.log
    if way == "ctypes":
        return (lambda a, x, y: saxpy_ctypes(result.module, a, x, y)), row
    if way == "pybind11":
        return (lambda a, x, y: saxpy_pybind11(result.module, a, x, y)), row
    if way == "nanobind":
        return (lambda a, x, y: saxpy_nanobind(result.module, a, x, y)), row
    if way == "torch":
        import torch

        # Convert once outside the timed call: from_numpy shares memory, .numpy() too.
        def call_torch(a, x, y):
            xt = x if isinstance(x, torch.Tensor) else torch.from_numpy(x)
            yt = y if isinstance(y, torch.Tensor) else torch.from_numpy(y)
            return saxpy_torch(result.module, a, xt, yt).numpy()
        return call_torch, row
    count, message = build.cuda_devices(result.module)
    if count <= 0:
        row.status = "skipped"
        row.note = (f"compiled with nvcc ({'cache' if result.cached else f'{result.seconds:.1f} s'}), "
                    f"not run: the CUDA runtime says \"{message or 'no CUDA device'}\"")
        return None, row
    return (lambda a, x, y: saxpy_cuda(result.module, a, x, y)), row


def native_args(way: str, x: Any, y: Any) -> tuple[Any, Any]:
    """Inputs in the form each way takes, so conversions are not counted in its timing."""
    if way == "python":
        return x.tolist(), y.tolist()
    if way == "torch":
        import torch

        return torch.from_numpy(x), torch.from_numpy(y)
    return x, y


def timed_call(way: str, call: Callable, a: float, x: Any, y: Any) -> Callable[[], Any]:
    """A zero-argument function that runs `way` once on inputs already in its native form."""
    xs, ys = native_args(way, x, y)
    if way == "python":
        return lambda: saxpy_python(a, xs, ys)
    if way == "torch":
        module_call = call  # call_torch accepts tensors directly and converts the result back
        return lambda: module_call(a, xs, ys)
    return lambda: call(a, xs, ys)


def compare(ways: tuple[str, ...] | list[str] = WAYS, *, a: float = DEFAULT_A, n_small: int = SMALL_N,
            n_large: int = LARGE_N, compile_slow: bool = False,
            progress: Callable[[str], None] | None = None,
            sources: dict[str, str] | None = None) -> Comparison:
    """Run SAXPY every selected way: check each result against NumPy, time overhead and throughput.

    Args:
        ways: Subset of `WAYS`.
        a: The scalar in a*x + y.
        n_small: Elements for the per-call overhead measurement.
        n_large: Elements for the throughput measurement.
        compile_slow: Compile pybind11, nanobind and torch if not cached yet (~10 s, ~16 s, ~1 min).
        progress: Called with a short message per step (the UI maps it to gr.Progress).
        sources: Edited C++ sources per way (ignored unless the operator allowed edits).

    Returns:
        A `Comparison` with one `WayResult` per way; a failed build becomes a "failed" row with
        the compiler's message and log, so the others still run.
    """
    import numpy as np

    unknown = [w for w in ways if w not in WAYS]
    if unknown or not ways:
        raise ValueError(f"Choose at least one technique from: {', '.join(WAYS)} (got {list(ways)}).")
    check_sizes(n_small, n_large)
    n_small, n_large = int(n_small), int(n_large)
    if a is None:
        raise ValueError(f"The box for the scalar a is empty: enter a number, e.g. {DEFAULT_A}.")
    a = float(a)
    if not np.isfinite(a):
        raise ValueError(f"The scalar a must be a finite number (got {a}).")
    x_small, y_small = make_inputs(n_small, seed=1)
    x_large, y_large = make_inputs(n_large, seed=2)
    reference = saxpy_numpy(a, x_large, y_large)
    result = Comparison(n_small, n_large, a)
    for way in [w for w in WAYS if w in ways]:
        try:
            call, row = prepare(way, progress, compile_slow, sources)
        except build.CompileFailed as exc:
            result.rows.append(WayResult(way, "failed", str(exc), log=exc.log))
            continue
        except build.BuildError as exc:
            result.rows.append(WayResult(way, "failed", str(exc)))
            continue
        result.rows.append(row)
        if call is None:
            continue
        if progress:
            progress(f"timing {LABELS[way]}")
        # Correctness first: the same doubles as NumPy (SAXPY has one rounding per operation).
        out = np.asarray(call(a, x_large, y_large))
        if out.shape != reference.shape:
            row.status, row.note = "failed", f"returned shape {out.shape}, expected {reference.shape}"
            continue
        row.max_abs_diff = float(np.max(np.abs(out - reference)))
        row.overhead_us = best_time(timed_call(way, call, a, x_small, y_small)) * 1e6
        large = timed_call(way, call, a, x_large, y_large)
        row.throughput_meps = n_large / best_time(large, min_reps=2 if way == "python" else 3) / 1e6
        if row.max_abs_diff > 1e-12:
            row.status, row.note = "failed", f"results differ from NumPy by up to {row.max_abs_diff:.3g}"
    return result


def table(result: Comparison) -> list[list[Any]]:
    """Rows for the UI table: way, status, compile, overhead, throughput, ratios to pure Python.

    The reasons for skipped or failed ways are in `summary`, which keeps the table narrow.
    """
    base = next((r for r in result.rows if r.way == "python" and r.status == "ok"), None)
    rows = []
    for r in result.rows:
        compile_cell = ("cached" if r.cached else f"{r.compile_s:.2f} s") if r.compile_s is not None else "—"
        speed = (f"{base.overhead_us / r.overhead_us:.1f}x" if base and r.overhead_us else "—")
        through = (f"{r.throughput_meps / base.throughput_meps:.1f}x" if base and r.throughput_meps else "—")
        diff = "—" if r.max_abs_diff is None else ("identical" if r.max_abs_diff == 0 else f"{r.max_abs_diff:.1e}")
        rows.append([
            LABELS[r.way], r.status, compile_cell,
            None if r.overhead_us is None else round(r.overhead_us, 2), speed,
            None if r.throughput_meps is None else round(r.throughput_meps, 1), through, diff,
        ])
    return rows


TABLE_HEADERS = ["Technique", "Status", "Compile", f"Overhead µs/call (tiny n)", "Call speed vs Python",
                 "Throughput M elem/s (large n)", "Throughput vs Python", "vs NumPy"]


def chart_frames(result: Comparison) -> tuple[Any, Any]:
    """Two pandas DataFrames for the bar charts: overhead (µs) and throughput (M elements/s)."""
    import pandas as pd

    ok = [r for r in result.rows if r.overhead_us is not None]
    overhead = pd.DataFrame({"technique": [LABELS[r.way] for r in ok],
                             "microseconds per call": [r.overhead_us for r in ok]})
    throughput = pd.DataFrame({"technique": [LABELS[r.way] for r in ok],
                               "million elements per second": [r.throughput_meps for r in ok]})
    return overhead, throughput


def summary(result: Comparison) -> str:
    """A few sentences of Markdown that read the table for the user."""
    ok = [r for r in result.rows if r.status == "ok" and r.overhead_us]
    if not ok:
        return "No technique ran. Check the Status column."
    lowest = min(ok, key=lambda r: r.overhead_us)
    fastest = max(ok, key=lambda r: r.throughput_meps)
    same = all(r.max_abs_diff == 0 for r in ok)
    lines = [
        f"**{len(ok)} techniques ran** on {result.n_large:,} elements (a = {result.a}); results "
        + ("are **bit-for-bit identical** to NumPy." if same else "match NumPy within 1e-12."),
        f"- Lowest per-call overhead: **{LABELS[lowest.way]}** ({lowest.overhead_us:.2f} µs for {result.n_small} elements).",
        f"- Highest throughput: **{LABELS[fastest.way]}** ({fastest.throughput_meps:,.0f} M elements/s).",
    ]
    skipped = [r for r in result.rows if r.status != "ok"]
    for r in skipped:
        lines.append(f"- {LABELS[r.way]}: {r.status}: {r.note}")
    return "\n".join(lines)
