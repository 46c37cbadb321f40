"""Scores and clocks that do not depend on any framework, so every column is measured the same way."""

from __future__ import annotations

import statistics
import time
from typing import Callable

import numpy as np


def loss_and_accuracy(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Framework-neutral metrics from logits, so both columns are scored by the same code."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-log_probs[np.arange(len(y)), y].mean())
    return loss, float((logits.argmax(axis=1) == y).mean())


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def time_calls(fn: Callable[[], object], *, warmup: int = 3, repeats: int = 20,
               budget_s: float = 2.0) -> float:
    """Median seconds of `fn()` after `warmup` untimed calls.

    Warm-up calls absorb one-time costs (tracing, compiling, allocator growth). `fn` must return
    only after its work is done (convert the output to NumPy). The median resists the odd slow
    call caused by other processes; at most `budget_s` seconds are spent timing.
    """
    for _ in range(warmup):
        fn()
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(times) < repeats and (len(times) < 3 or time.perf_counter() < deadline):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
