"""How to time code on a CPU or a GPU without fooling yourself.

Three rules, each one a function below:

1. **Warm up first.** The first call pays one-time costs: thread-pool start-up, page faults on
   fresh memory, kernel selection or JIT (oneDNN, cuBLAS heuristics), CUDA context creation.
   `measure` runs ``warmup`` calls it does not count.
2. **Wait for the device.** A CUDA launch returns as soon as the kernel is *queued*; the GPU
   runs it later. ``time.time()`` around a launch measures the launch (microseconds), not the
   work. Synchronise before reading the clock (`measure` with ``sync``), or let the GPU time
   itself with CUDA events (`measure_cuda_events`).
3. **Repeat and report the median and the spread.** One number is noise: other processes, clock
   changes and caches move single runs. `Timing` keeps every repeat and reports the median and
   the interquartile range (IQR). `measure_torch_benchmark` does all three with
   ``torch.utils.benchmark.Timer``, which also pins the thread count.

`naive_time` is the wrong way on purpose: one cold call, ``time.time()``, no sync. The lab runs
it next to the right way so you can see how far off it is.

References: PyTorch "Benchmark" recipe (torch.utils.benchmark); NVIDIA, "How to Implement
Performance Metrics in CUDA C/C++" (CUDA events).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable

Clock = Callable[[], float]


@dataclass(frozen=True)
class Timing:
    """Seconds per call over repeats, with the method that produced them.

    Attributes:
        times: Seconds of each counted repeat (warm-up excluded).
        warmup: Calls run before counting.
        method: How the times were taken (shown in the results table).
    """

    times: tuple[float, ...]
    warmup: int
    method: str

    def __post_init__(self) -> None:
        if not self.times:
            raise ValueError("a Timing needs at least one measured repeat")

    @property
    def median(self) -> float:
        """Median seconds per call: robust to the odd slow repeat."""
        return statistics.median(self.times)

    @property
    def iqr(self) -> float:
        """Interquartile range (75th - 25th percentile) in seconds: the spread."""
        if len(self.times) < 2:
            return 0.0
        q = statistics.quantiles(self.times, n=4, method="inclusive")
        return q[2] - q[0]

    @property
    def best(self) -> float:
        """Fastest repeat in seconds."""
        return min(self.times)

    @property
    def repeats(self) -> int:
        """Number of counted repeats."""
        return len(self.times)


def measure(fn: Callable[[], Any], *, warmup: int = 2, repeats: int = 10,
            sync: Callable[[], None] | None = None, clock: Clock = time.perf_counter,
            stop: Callable[[], bool] | None = None) -> Timing:
    """Time ``fn`` the careful way: warm up, synchronise, repeat, keep every sample.

    Args:
        fn: The work to time, called with no arguments.
        warmup: Calls run first and not counted (one-time costs land there).
        repeats: Counted calls.
        sync: Waits until the device has finished all queued work (``torch.cuda.synchronize``);
            None on a CPU, where torch operations finish before they return.
        clock: A monotonic, high-resolution clock in seconds (``time.perf_counter``).
        stop: Asked before each repeat after the first; True ends the repeats early (a run's time
            budget is spent), so the `Timing` may hold fewer than ``repeats`` samples.

    Returns:
        A `Timing` with one entry per counted repeat.

    Raises:
        ValueError: If ``warmup`` is negative or ``repeats`` is below 1.
    """
    if warmup < 0 or repeats < 1:
        raise ValueError(f"measure needs warmup >= 0 and repeats >= 1 (got warmup={warmup}, repeats={repeats}).")
    for _ in range(warmup):
        fn()
    times: list[float] = []
    for _ in range(repeats):
        if times and stop is not None and stop():
            break
        # Drain anything still queued, so this repeat's clock starts on an idle device.
        if sync is not None:
            sync()
        start = clock()
        fn()
        # Wait for this repeat's work to finish before reading the clock again.
        if sync is not None:
            sync()
        times.append(clock() - start)
    return Timing(tuple(times), warmup, "measure (perf_counter + sync)" if sync else "measure (perf_counter)")


def measure_cuda_events(fn: Callable[[], Any], *, warmup: int = 2, repeats: int = 10,
                        device: Any = None, stop: Callable[[], bool] | None = None) -> Timing:
    """Time GPU work with CUDA events: the GPU timestamps the start and end of each repeat itself.

    Events are recorded into the same stream as the kernels, so the elapsed time is what the GPU
    spent between them, without Python or launch overhead in between; one synchronise at the end
    waits for all of them.
    """
    import torch

    if warmup < 0 or repeats < 1:
        raise ValueError(f"measure_cuda_events needs warmup >= 0 and repeats >= 1 (got {warmup}, {repeats}).")
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize(device)
    pairs = []
    for _ in range(repeats):
        if pairs and stop is not None and stop():
            break
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        pairs.append((start, end))
    torch.cuda.synchronize(device)
    # elapsed_time is in milliseconds.
    return Timing(tuple(s.elapsed_time(e) / 1e3 for s, e in pairs), warmup, "CUDA events")


def measure_torch_benchmark(fn: Callable[[], Any], *, min_run_time: float = 0.2, min_repeats: int = 5,
                            num_threads: int | None = None, timer: Clock | None = None,
                            stop: Callable[[], bool] | None = None) -> Timing:
    """Time ``fn`` with ``torch.utils.benchmark.Timer.blocked_autorange``.

    ``blocked_autorange`` first runs the statement a few times to choose a block size (that is its
    warm-up), then times blocks of calls until ``min_run_time`` seconds are spent; on CUDA its
    default timer synchronises the device before reading the clock. Its ``num_threads`` defaults to
    **1**, a classic trap when comparing with numpy, so this function passes torch's thread count.

    Args:
        fn: The work to time.
        min_run_time: Seconds to spend measuring (more = tighter numbers).
        min_repeats: If a call is so slow that fewer blocks fit in ``min_run_time``, run single
            calls until there are this many samples.
        num_threads: Threads torch may use while timing (default: ``torch.get_num_threads()``).
        timer: Clock override (tests pass a fake one).
        stop: Asked before each extra single call; True ends them early (a run's time budget is spent).
    """
    import torch
    from torch.utils import benchmark

    kwargs: dict[str, Any] = {"timer": timer} if timer is not None else {}
    t = benchmark.Timer(stmt="fn()", globals={"fn": fn},
                        num_threads=num_threads or torch.get_num_threads(), **kwargs)
    m = t.blocked_autorange(min_run_time=min_run_time)
    times = list(m.times)
    while len(times) < min_repeats and not (stop is not None and stop()):
        times.extend(t.timeit(number=1).times)
    return Timing(tuple(times), 1, f"torch.utils.benchmark ({m.number_per_run} call(s)/block)")


def naive_time(fn: Callable[[], Any], *, clock: Clock = time.time) -> float:
    """The WRONG way, kept to learn from: one cold call, wall clock, no warm-up, no sync.

    On a CPU this includes one-time start-up costs (often several times the real cost). On a GPU
    it stops the clock when the kernel is *queued*, long before it has run, so it reports
    impossibly high TFLOP/s.
    """
    start = clock()
    fn()
    return clock() - start
