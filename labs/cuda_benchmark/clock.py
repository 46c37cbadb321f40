"""The clock the CPU really runs at, measured: the denominator of every CPU "% of peak".

A CPU peak is cores x clock x FLOPs per cycle. The clock the OS reports is often the wrong one:
inside a VM ``/proc/cpuinfo`` shows the *base* (nominal) clock, while the cores boost well above
it, so a well-tuned matmul reads "more than 100 % of peak". This module measures the achieved
clock instead:

1. `build_kernel` compiles ``kernels/add_chain.c`` (a chain of dependent integer adds, 16 per
   loop iteration) with the system C compiler into a shared library, once per process and source
   version, and loads it with ``ctypes``;
2. `measure_clock` calibrates the iteration count to about `TARGET_S` seconds per call, then runs
   the chain on ``threads`` cores at once (``ctypes`` releases the GIL, so Python threads run in
   parallel, and the cores are as busy as during a multi-threaded matmul), and keeps each thread's
   fastest of `REPEATS` calls, timed in the thread's own CPU time;
3. one add waits for the previous one (1 cycle of latency on every current x86-64 and Arm core),
   so ``adds / seconds`` is cycles per second: the achieved clock.

Error bound, stated where the number is shown (`ClockReading.error_note`): each call is timed with
the thread's own CPU time (``time.thread_time``, CLOCK_THREAD_CPUTIME_ID, nanosecond resolution),
so time the OS gave to other processes is not counted (3.67 GHz at a load average of 6 on 2 cores,
where a wall clock read 2.0 GHz); the timer over ~2 ms is below 0.01 %; the loop counter and branch
run on other ALUs beside the chain (under 1 %: 3.67-3.69 GHz measured on a Zen 4 EPYC rated 3.7 GHz
boost). What is left (a VM's stolen time, interrupts) can only make the clock read *lower*, never
higher. The loop is scalar: a CPU that lowers its clock for wide vector code (some Intel AVX-512
parts) runs a matmul below this clock, so the resulting % of peak is then a lower bound.

Without a C compiler (``cc``, ``gcc`` or ``clang`` on PATH) nothing is measured and the lab says
so: the peak then uses the reported clock and over-100 % points are flagged with that reason.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "kernels" / "add_chain.c"
BUILD_DIR = Path(tempfile.gettempdir()) / "ml_labs_cuda_benchmark_build"  # this lab's compiled kernel only
TARGET_S = 0.002  # seconds per timed call: 20,000x the timer resolution, and short enough to often run between two preemptions on a busy machine
REPEATS = 40  # calls per thread; the fastest one is kept (the one least disturbed by other processes)
CALIBRATE_ITERATIONS = 20_000  # the first call, which sizes the timed ones (about 0.1 ms at 3 GHz)
MAX_ITERATIONS = 50_000_000  # a hard cap whatever the calibration says (0.2 s at 4 GHz)
PLAUSIBLE_GHZ = (0.2, 8.0)  # a reading outside this range means the method failed on this core
CACHE_S = 300.0  # a reading is reused this long (the clock is a property of the machine, not of a run)
COMPILE_TIMEOUT_S = 60

_lock = threading.Lock()
_kernel: ctypes.CDLL | None = None
_cache: tuple[float, int, "ClockReading"] | None = None


@dataclass(frozen=True)
class ClockReading:
    """A clock measurement, or why there is none.

    Attributes:
        ghz: Achieved clock in GHz (median over threads of each thread's best call); None when not measured.
        threads: Cores measured at once.
        per_thread_ghz: Each thread's best reading.
        method: How it was measured, in words.
        reason: Why nothing was measured (None when ``ghz`` is set).
    """

    ghz: float | None
    threads: int
    per_thread_ghz: tuple[float, ...] = field(default_factory=tuple)
    method: str = ("dependent integer-add chain (kernels/add_chain.c via ctypes), fastest of 40 calls per thread "
                   "in thread CPU time")
    reason: str | None = None

    @property
    def error_note(self) -> str:
        """The error bound in one sentence, for the card and the results."""
        return ("Error bound: under ~1 % (timer and loop overhead); interruptions can only make it read low. "
                "A scalar loop: CPUs that slow down for wide vector code run matmuls below it.")

    def as_dict(self) -> dict:
        """Plain types, for the run's JSON context."""
        return {"ghz": self.ghz, "threads": self.threads, "per_thread_ghz": list(self.per_thread_ghz),
                "method": self.method, "reason": self.reason}


def adds_per_iteration(source: Path = SOURCE) -> int:
    """The ``ADDS`` constant of the C source (the number of adds one loop iteration performs)."""
    match = re.search(r"#define ADDS (\d+)", source.read_text())
    if not match:
        raise RuntimeError(f"{source.name} defines no ADDS constant")
    return int(match.group(1))


def find_compiler() -> str | None:
    """The first C compiler on PATH (``cc``, ``gcc``, ``clang``), or None."""
    for name in ("cc", "gcc", "clang"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _build_dir() -> Path:
    """A build folder only this user can write to (another user's folder of that name is not trusted)."""
    BUILD_DIR.mkdir(mode=0o700, exist_ok=True)
    info = BUILD_DIR.lstat()
    if BUILD_DIR.is_symlink() or (hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022)):
        return Path(tempfile.mkdtemp(prefix="ml_labs_cuda_benchmark_build_"))
    return BUILD_DIR


def build_kernel() -> ctypes.CDLL:
    """Compile ``kernels/add_chain.c`` (once per source version) and load it.

    Raises:
        RuntimeError: If there is no C compiler or the compile fails; the message says what to install.
    """
    global _kernel
    if _kernel is not None:
        return _kernel
    compiler = find_compiler()
    if compiler is None:
        raise RuntimeError("no C compiler on PATH (install gcc: `apt-get install gcc libc6-dev`)")
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    folder = _build_dir()
    library = folder / f"add_chain-{digest}.so"
    if not library.is_file():
        partial = folder / f"add_chain-{digest}.{os.getpid()}.{threading.get_ident()}.tmp.so"
        try:
            done = subprocess.run([compiler, "-O2", "-shared", "-fPIC", "-o", str(partial), str(SOURCE)],
                                  capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"compiling add_chain.c failed ({type(exc).__name__})") from None
        if done.returncode != 0:
            raise RuntimeError(f"compiling add_chain.c failed: {(done.stderr or '').strip()[:200]}")
        os.replace(partial, library)  # atomic: another process never loads a half-written file
    lib = ctypes.CDLL(str(library))
    lib.add_chain.restype = ctypes.c_uint64
    lib.add_chain.argtypes = [ctypes.c_uint64, ctypes.c_uint64]
    _kernel = lib
    return lib


def _best_seconds(lib: ctypes.CDLL, iterations: int, repeats: int) -> float:
    """The fastest of ``repeats`` calls, in seconds of this thread's own CPU time.

    ``time.thread_time`` counts only the time this thread was running, so moments when the OS ran
    another process on this core are not counted: on a busy machine the wall clock would make the
    CPU look slower than it is.
    """
    best = float("inf")
    for _ in range(repeats):
        start = time.thread_time()
        lib.add_chain(iterations, 3)  # ctypes releases the GIL: other threads run their chains meanwhile
        best = min(best, time.thread_time() - start)
    return best


def measure_clock(threads: int = 1, *, target_s: float = TARGET_S, repeats: int = REPEATS) -> ClockReading:
    """Measure the achieved clock with ``threads`` cores busy at once (see the module docstring).

    Never raises for a missing compiler or a failed build: the reading then has ``ghz`` None and a
    ``reason``.
    """
    threads = max(1, int(threads))
    try:
        lib = build_kernel()
        adds = adds_per_iteration()
    except (RuntimeError, OSError) as exc:
        return ClockReading(None, threads, reason=str(exc))
    # Calibrate: size the calls to about target_s on this core.
    probe = max(_best_seconds(lib, CALIBRATE_ITERATIONS, 2), 1e-6)
    iterations = int(min(MAX_ITERATIONS, max(CALIBRATE_ITERATIONS, CALIBRATE_ITERATIONS * target_s / probe)))
    results: list[float] = [0.0] * threads
    barrier = threading.Barrier(threads)

    def worker(slot: int) -> None:
        barrier.wait()  # start together, so every core is busy during every timed call
        results[slot] = _best_seconds(lib, iterations, repeats)

    workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    per_thread = tuple(round(iterations * adds / s / 1e9, 3) for s in results if s > 0)
    ghz = statistics.median(per_thread) if per_thread else None
    if ghz is None or not PLAUSIBLE_GHZ[0] <= ghz <= PLAUSIBLE_GHZ[1]:
        return ClockReading(None, threads, per_thread,
                            reason=f"the add chain read {ghz} GHz, outside {PLAUSIBLE_GHZ} (method not valid here)")
    return ClockReading(round(ghz, 3), threads, per_thread)


def achieved_clock(threads: int = 1) -> ClockReading:
    """`measure_clock`, reused for `CACHE_S` seconds per thread count (the card and every run ask for it)."""
    global _cache
    with _lock:
        now = time.monotonic()
        if _cache is not None and _cache[1] == threads and now - _cache[0] < CACHE_S:
            return _cache[2]
        reading = measure_clock(threads)
        _cache = (now, threads, reading)
        return reading
