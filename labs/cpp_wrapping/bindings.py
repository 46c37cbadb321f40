"""pybind11 and nanobind side by side: compile time, .so size, per-call overhead and SAXPY throughput.

nanobind (https://nanobind.readthedocs.io) is a binding library by pybind11's author that keeps
pybind11's style (`m.def(...)`) but moves the shared machinery into one core library (here
`libnanobind.o`, compiled once from the sources the wheel ships) and trims what each call does.
Both modules here are built by `build.py` with the same g++ and the same flags, and both expose the
same two functions: `saxpy(a, x, y)` and a trivial `add(i, j)`. Calling `add(1, 2)` many times
measures the binding's own cost per call, since the C++ work is one addition.

Compile times are what the compiler took when the module was built (recorded beside it in the
cache, so a cached module still shows its figure); `benchmarks/cpp_wrapping.py --cold` compiles both
in a fresh cache in the same run.
"""

from __future__ import annotations

import timeit
from dataclasses import dataclass
from typing import Any, Callable

from labs.cpp_wrapping import build, wrapping

BINDINGS = ("pybind11", "nanobind")
TRIVIAL_CALLS = 100_000  # calls of add(1, 2) per repeat: ~10-50 ms, long enough for a stable figure
TRIVIAL_REPEATS = 5  # best of these repeats (the others were interrupted by the rest of the machine)
TABLE_HEADERS = ["Binding", "Module compile (s)", "One-off core compile (s)", ".so size (KB)",
                 "ns per add(1, 2) call", "µs per saxpy call (tiny n)", "SAXPY M elem/s (large n)",
                 "Same result as pybind11"]


@dataclass
class BindingRow:
    """One binding library's figures."""

    way: str
    compile_s: float | None  # the module's own compile, as recorded when it was built
    core_s: float | None  # nanobind's one-off core compile (None for pybind11, which is header-only)
    so_bytes: int
    add_ns: float  # nanoseconds per call of the trivial add(1, 2)
    saxpy_us: float  # microseconds per saxpy call on the tiny input
    throughput_meps: float  # million elements per second on the large input
    same_as_pybind11: bool


def per_call_ns(fn: Callable[..., Any], calls: int = TRIVIAL_CALLS, repeats: int = TRIVIAL_REPEATS) -> float:
    """Nanoseconds per call of `fn(1, 2)`: the best of `repeats` timeit loops of `calls` calls each."""
    timer = timeit.Timer("fn(1, 2)", globals={"fn": fn})
    return min(timer.repeat(repeat=repeats, number=calls)) / calls * 1e9


def python_add(i: int, j: int) -> int:
    """The same trivial function in Python: the baseline for the per-call figures."""
    return i + j


def compare_bindings(*, n_small: int = wrapping.SMALL_N, n_large: int = wrapping.LARGE_N, a: float = wrapping.DEFAULT_A,
                     calls: int = TRIVIAL_CALLS,
                     progress: Callable[[str], None] | None = None) -> tuple[list[BindingRow], float]:
    """Build (or load) both modules and measure them in this run.

    Args:
        n_small: Elements for the per-call saxpy timing.
        n_large: Elements for the throughput timing (also the input of the equality check).
        a: The scalar in a*x + y.
        calls: Calls of `add(1, 2)` per repeat.
        progress: Called with a short message per step.

    Returns:
        (rows, python_ns): one `BindingRow` per binding (pybind11 first) and the nanoseconds per
        call of the same `add` written in Python, measured in the same run.

    Raises:
        build.BuildError: When a module cannot be built (the message says why).
    """
    import numpy as np

    result = wrapping.compare(BINDINGS, a=a, n_small=n_small, n_large=n_large, compile_slow=True, progress=progress)
    failed = [r for r in result.rows if r.status != "ok"]
    if failed:
        raise build.BuildError(f"{wrapping.LABELS[failed[0].way]} did not run: {failed[0].note}")
    built = {"pybind11": build.build_pybind11(), "nanobind": build.build_nanobind()}
    x, y = wrapping.make_inputs(n_large, seed=3)
    # Same doubles out of both bindings, bit for bit (one multiply and one add per element in each).
    same = bool(np.array_equal(built["pybind11"].module.saxpy(a, x, y), built["nanobind"].module.saxpy(a, x, y)))
    rows = []
    for way in BINDINGS:
        if progress:
            progress(f"timing {calls:,} calls of {way}'s add(1, 2)")
        module = built[way].module
        core_s = None
        if way == "nanobind":
            core_path = build.build_nanobind_core()[0]
            core_s = build.recorded_compile_seconds(core_path)
        row = result.row(way)
        rows.append(BindingRow(way, build.recorded_compile_seconds(built[way].artefact), core_s,
                               built[way].artefact.stat().st_size, per_call_ns(module.add, calls),
                               row.overhead_us, row.throughput_meps, same))
    return rows, per_call_ns(python_add, calls)


def table(rows: list[BindingRow]) -> list[list[Any]]:
    """Rows for the UI table (`TABLE_HEADERS`)."""
    def seconds(s: float | None) -> Any:
        return "—" if s is None else round(s, 2)

    return [[wrapping.LABELS[r.way], seconds(r.compile_s), seconds(r.core_s), round(r.so_bytes / 1024, 1),
             round(r.add_ns, 1), round(r.saxpy_us, 2), round(r.throughput_meps, 1),
             "identical" if r.same_as_pybind11 else "differs"] for r in rows]


def summary(rows: list[BindingRow], python_ns: float) -> str:
    """A few sentences of Markdown that read the table as ratios nanobind : pybind11."""
    pb, nb = (next(r for r in rows if r.way == w) for w in BINDINGS)
    lines = [
        f"**nanobind vs pybind11, measured in this run** (same g++ flags: `{' '.join(build.CXXFLAGS)} -fvisibility=hidden`):",
        f"- Trivial call `add(1, 2)`: {nb.add_ns:.0f} ns vs {pb.add_ns:.0f} ns "
        f"(**{pb.add_ns / nb.add_ns:.2f}x** pybind11's speed; the same function in Python: {python_ns:.0f} ns).",
        f"- `.so` size: {nb.so_bytes / 1024:.0f} KB vs {pb.so_bytes / 1024:.0f} KB "
        f"(nanobind's includes its whole core library, linked in statically).",
    ]
    if pb.compile_s and nb.compile_s:
        lines.append(f"- Module compile: {nb.compile_s:.1f} s vs {pb.compile_s:.1f} s, plus nanobind's one-off core "
                     f"compile ({nb.core_s or 0:.1f} s) that every later module reuses.")
    lines.append(f"- SAXPY on the large input: {nb.throughput_meps:,.0f} vs {pb.throughput_meps:,.0f} M elements/s: "
                 "the same loop, so the binding does not matter once the arrays are large. Results are "
                 + ("**identical**." if nb.same_as_pybind11 else "**different** (a bug: check the sources)."))
    return "\n".join(lines)
