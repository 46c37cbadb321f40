"""Where dispatch overhead stops mattering: time per training step against work per step.

Every framework pays a fixed cost per op it launches from Python (argument checks, dispatch,
bookkeeping; for Keras also its layer and optimiser machinery) on top of the arithmetic. On the
lab's 8x8-digit MLP a step is ~0.3 MFLOP, so that fixed cost *is* the step time and a race
measures dispatch, not maths. The sweep widens the MLP (64-W-W-10) and grows the batch, times one
training step at each point in each framework, and plots ms per step against MFLOP per step.
On the left the curves are flat and far apart (dispatch); on the right they rise together and
converge (the same BLAS-like kernels do the work).

The timing itself runs in the workers (`worker.Worker.sweep_point`); this module holds the grid,
its limits and the table/plot maths, with no framework import.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

DEFAULT_WIDTHS = (32, 128, 512)  # hidden width W of the MLP 64-W-W-10
DEFAULT_BATCHES = (8, 64, 512)
MAX_WIDTH = 2048
MAX_BATCH = 4096
MAX_POINTS = 25  # grid points per framework, locally
SHARED_MAX_POINTS = 9  # on a shared server: a 3x3 grid at most...
SHARED_MAX_MFLOP = 2_000.0  # ...and no point heavier than ~2 GFLOP per step
DEFAULT_STEPS = 10  # timed steps per point (after 2 untimed warm-up steps); the median is reported
MAX_STEPS = 50
SWEEP_COLUMNS = ("torch", "tf-raw", "tensorflow")  # eager only: dispatch overhead is the subject


class SweepError(ValueError):
    """A sweep setting is out of range; the message says the allowed range."""


def step_flops(inputs: int, hidden: tuple[int, ...], classes: int, batch: int) -> float:
    """Floating-point operations of one training step of an MLP (forward ~2*in*out per row per
    layer; backward ~twice the forward: gradients for inputs and for weights)."""
    sizes = (inputs, *hidden, classes)
    forward = sum(2 * a * b for a, b in zip(sizes[:-1], sizes[1:])) * batch
    return 3.0 * forward


def synthetic_batch(batch: int, features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One batch of random inputs in [0, 1] and labels 0..9 (the maths does not care what they are)."""
    rng = np.random.default_rng(seed)
    return rng.random((batch, features), dtype=np.float32), rng.integers(0, 10, batch).astype(np.int64)


def parse_sizes(text, name: str, hi: int) -> tuple[int, ...]:
    """'8, 64, 512' -> (8, 64, 512): whole numbers from 1 to `hi`, at least one."""
    parts = [p for p in str(text or "").replace(";", ",").replace(" ", ",").split(",") if p]
    if not parts:
        raise SweepError(f"{name}: give at least one whole number, e.g. 8, 64, 512.")
    values = []
    for part in parts:
        try:
            value = int(part)
        except ValueError:
            shown = part if len(part) <= 20 else part[:20] + "…"
            raise SweepError(f"{name}: {shown!r} is not a whole number; use e.g. 8, 64, 512.") from None
        if not 1 <= value <= hi:
            raise SweepError(f"{name}: every value must be between 1 and {hi}, got {value}.")
        values.append(value)
    return tuple(sorted(set(values)))


def check_grid(widths, batches, steps, *, shared: bool) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """Validate the sweep grid; tighter on a shared server (points and work per point).

    Raises:
        SweepError: Naming the setting and its limit.
    """
    widths = parse_sizes(widths, "Widths", MAX_WIDTH)
    batches = parse_sizes(batches, "Batch sizes", MAX_BATCH)
    try:
        steps = int(steps)
    except (TypeError, ValueError, OverflowError):
        raise SweepError(f"Steps must be a whole number from 1 to {MAX_STEPS}, got {steps!r}.") from None
    if not 1 <= steps <= MAX_STEPS:
        raise SweepError(f"Steps must be between 1 and {MAX_STEPS}, got {steps}.")
    points = len(widths) * len(batches)
    limit = SHARED_MAX_POINTS if shared else MAX_POINTS
    if points > limit:
        raise SweepError(f"{len(widths)} widths x {len(batches)} batch sizes is {points} points; the limit "
                         f"{'on this shared server ' if shared else ''}is {limit}. Remove some values.")
    if shared:
        heaviest = step_flops(64, (max(widths),) * 2, 10, max(batches)) / 1e6
        if heaviest > SHARED_MAX_MFLOP:
            raise SweepError(f"Width {max(widths)} with batch {max(batches)} is {heaviest:,.0f} MFLOP per "
                             f"step; on this shared server the limit is {SHARED_MAX_MFLOP:,.0f}. "
                             "Use smaller widths or batches.")
    return widths, batches, steps


SWEEP_TABLE_COLUMNS = ["framework", "width", "batch", "MFLOP per step", "ms per step",
                       "GFLOP/s", "x PyTorch eager"]


def sweep_frame(points: list[dict]) -> pd.DataFrame:
    """One row per (framework, width, batch); the ratio is against PyTorch eager at the same point."""
    base = {(p["width"], p["batch"]): p["step_ms"] for p in points if p["framework"] == "PyTorch"}
    rows = []
    for p in points:
        ref = base.get((p["width"], p["batch"]))
        rows.append([p["framework"], p["width"], p["batch"], round(p["mflop_per_step"], 3),
                     round(p["step_ms"], 4), round(p["mflop_per_step"] / p["step_ms"], 3) if p["step_ms"] else None,
                     round(p["step_ms"] / ref, 2) if ref else None])
    return pd.DataFrame(rows, columns=SWEEP_TABLE_COLUMNS)


def plot_frame(points: list[dict]) -> pd.DataFrame:
    """What the plot draws: log10 of work per step against log10 of ms per step, per framework."""
    rows = [(p["framework"], math.log10(p["mflop_per_step"]), math.log10(max(p["step_ms"], 1e-6)))
            for p in sorted(points, key=lambda p: p["mflop_per_step"])]
    return pd.DataFrame(rows, columns=["framework", "log10 MFLOP per step", "log10 ms per step"])


def crossover_note(points: list[dict]) -> str:
    """A sentence reading the sweep: the gap to PyTorch at the lightest and the heaviest point."""
    frame = sweep_frame(points)
    if frame.empty or frame["x PyTorch eager"].isna().all():
        return ""
    light, heavy = frame["MFLOP per step"].min(), frame["MFLOP per step"].max()
    lines = []
    for name, group in frame.groupby("framework", sort=False):
        if name == "PyTorch":
            continue
        lo = group[group["MFLOP per step"] == light]["x PyTorch eager"]
        hi = group[group["MFLOP per step"] == heavy]["x PyTorch eager"]
        if len(lo) and len(hi):
            lines.append(f"**{name}**: {lo.iloc[0]:.1f}x PyTorch's step time at {light:g} MFLOP per step, "
                         f"{hi.iloc[0]:.1f}x at {heavy:g} MFLOP.")
    return ("Ratios near 1 on the right mean the arithmetic dominates and the frameworks cost the same; "
            "large ratios on the left are per-op dispatch overhead.\n\n" + "\n\n".join(lines))
