"""Matplotlib figures for the simulator and the local load test (rendered off-screen with Agg)."""

from __future__ import annotations

import numpy as np

COLORS = ("#4f46e5", "#db2777")  # setting A, setting B


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _axis(n: int) -> tuple[np.ndarray, str, float]:
    """Time axis in the unit that reads best for n seconds."""
    if n > 3 * 3600:
        return np.arange(n) / 3600, "time (h)", 3600
    if n > 600:
        return np.arange(n) / 60, "time (min)", 60
    return np.arange(n), "time (s)", 1


def _bucket(values: np.ndarray, size: int, how: str = "mean") -> np.ndarray:
    """Shrink long series for plotting (a day is 86,400 points): mean or max per bucket."""
    if size <= 1:
        return values
    cut = len(values) // size * size
    blocks = values[:cut].reshape(-1, size)
    return blocks.max(axis=1) if how == "max" else blocks.mean(axis=1)


def simulation_figure(results: dict, title: str = ""):
    """Three stacked panels: traffic and metric, replicas per setting, queue wait per setting."""
    plt = _pyplot()
    first = next(iter(results.values()))
    n = len(first.traffic)
    size = max(1, n // 2000)
    t, label, _ = _axis(n)
    t = _bucket(t, size)
    fig, axes = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True, constrained_layout=True)
    axes[0].fill_between(t, _bucket(first.traffic, size), color="#94a3b8", alpha=0.6, label="requests/s")
    axes[0].set_ylabel("requests / s")
    axes[0].legend(loc="upper right")
    for (name, res), color in zip(results.items(), COLORS):
        axes[1].step(t, _bucket(res.replicas.astype(float), size, "max"), where="post", color=color, label=f"{name}: replicas")
        axes[1].step(t, _bucket(res.ready.astype(float), size, "max"), where="post", color=color, alpha=0.35, linestyle="--",
                     label=f"{name}: ready")
        axes[2].plot(t, _bucket(res.wait_s, size, "max"), color=color, label=f"{name}: queue wait")
    axes[1].set_ylabel("replicas")
    axes[1].legend(loc="upper right", fontsize=8)
    axes[2].set_ylabel("queue wait (s)")
    axes[2].set_xlabel(label)
    axes[2].legend(loc="upper right", fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig


def loadtest_figure(timeline: list[dict], *, target: int, max_replicas: int):
    """Measured: in-flight requests and requests/s against replicas running on 127.0.0.1."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True, constrained_layout=True)
    t = [row["t"] for row in timeline]
    ax1.plot(t, [row["in_flight"] for row in timeline], color="#94a3b8", label="in flight (measured)")
    ax1.plot(t, [row["offered_rps"] for row in timeline], color="#0ea5e9", alpha=0.7, label="offered requests/s")
    ax1.set_ylabel("requests")
    ax1.legend(loc="upper right")
    ax2.step(t, [row["replicas"] for row in timeline], where="post", color=COLORS[0], label="replica processes")
    ax2.step(t, [row["ready"] for row in timeline], where="post", color=COLORS[0], alpha=0.4, linestyle="--", label="ready")
    ax2.step(t, [row["desired"] for row in timeline], where="post", color=COLORS[1], alpha=0.7, label="scaler's desired")
    ax2.axhline(max_replicas, color="gray", linestyle=":", label=f"max {max_replicas}")
    ax2.set_ylabel("replicas")
    ax2.set_xlabel("wall time (s)")
    ax2.legend(loc="upper right", fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.suptitle(f"Local KEDA-style scaler, target {target} in flight per replica")
    return fig


def patterns_figure(rows: list[dict]):
    """Latency percentiles per coordination pattern (bar chart)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.2), constrained_layout=True)
    names = [r["pattern"] for r in rows]
    x = np.arange(len(names))
    for i, (key, color) in enumerate((("p50_ms", "#94a3b8"), ("p95_ms", "#4f46e5"), ("p99_ms", "#db2777"))):
        ax.bar(x + (i - 1) * 0.27, [r[key] for r in rows], 0.27, color=color, label=key.replace("_ms", ""))
    ax.set_xticks(x, names)
    ax.set_ylabel("latency (ms)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return fig


def calibration_figure(cal: dict):
    """Simulated vs measured on one chart: replicas over wall time, and per-second mean latency."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True, constrained_layout=True)
    ax1.step(cal["t"], cal["measured_replicas"], where="post", color=COLORS[0], label="measured (processes on 127.0.0.1)")
    ax1.step(cal["t"], cal["simulated_replicas"], where="post", color=COLORS[1], linestyle="--", label="simulated")
    ax1.set_ylabel("replicas")
    ax1.set_title(f"replicas: mean absolute error {cal['replicas_mae']}")
    ax1.legend(loc="upper right", fontsize=8)
    ax2.plot(cal["seconds"], cal["measured_latency_ms"], "o-", color=COLORS[0], label="measured")
    ax2.plot(cal["seconds"], cal["simulated_latency_ms"], "s--", color=COLORS[1], label="simulated")
    ax2.set_ylabel("mean latency (ms)")
    ax2.set_xlabel("wall time (s); latency by the second the request was sent")
    ax2.set_title(f"latency: mean absolute error {cal['latency_mae_ms']} ms")
    ax2.legend(loc="upper right", fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.suptitle("Simulator calibrated against the local load test")
    return fig
