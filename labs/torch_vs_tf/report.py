"""Turn the workers' events into the tables, curves and sentences the tab shows (no gradio here).

Ratios are always computed against a peer measured in the same run (PyTorch eager), never against
a number remembered from another machine.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

LOSS_COLUMNS = ["epoch", "framework", "train loss"]
ACC_COLUMNS = ["epoch", "framework", "test accuracy"]


def _fmt(value: float, digits: int = 3) -> float | None:
    """Rounded for display; None (an empty cell) for missing, NaN or infinite values."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return round(value, digits)


@dataclass
class TrainReport:
    """Accumulates `train_side_by_side` events; every property is ready for a gradio component."""

    started: dict[str, dict] = field(default_factory=dict)
    epochs: dict[str, list[dict]] = field(default_factory=dict)
    total_epochs: int = 0
    planned: int = 1  # how many frameworks take part
    run_id: str | None = None

    def add(self, event: dict) -> None:
        if event["event"] == "started":
            self.started[event["key"]] = event
            self.epochs.setdefault(event["key"], [])
        elif event["event"] == "epoch":
            self.epochs[event["key"]].append(event)
        elif event["event"] == "done":
            self.run_id = event["run_id"]

    def steps_done(self) -> int:
        return sum(len(v) for v in self.epochs.values())

    def loss_frame(self) -> pd.DataFrame:
        """Training loss per epoch; a diverged (inf/NaN) point is left out of the plot."""
        rows = [(e["epoch"], e["framework"], e["train_loss"]) for evs in self.epochs.values()
                for e in evs if math.isfinite(e["train_loss"])]
        return pd.DataFrame(rows, columns=LOSS_COLUMNS)

    def diverged(self) -> list[str]:
        return [evs[0]["framework"] for evs in self.epochs.values()
                if any(not math.isfinite(e["train_loss"]) for e in evs)]

    def accuracy_frame(self) -> pd.DataFrame:
        """Test accuracy from epoch 0 (the untrained, identically initialised models) onwards."""
        rows = [(0, s["framework"], s["test_acc"]) for s in self.started.values()]
        rows += [(e["epoch"], e["framework"], e["test_acc"]) for evs in self.epochs.values() for e in evs]
        return pd.DataFrame(rows, columns=ACC_COLUMNS)

    def summary_frame(self) -> pd.DataFrame:
        rows = []
        for key, s in self.started.items():
            evs = self.epochs.get(key, [])
            later = [e["seconds"] for e in evs[1:]] or [e["seconds"] for e in evs]
            rows.append({
                "framework": s["framework"], "variant": s["variant"], "parameters": s["params"],
                "epochs done": len(evs),
                "final train loss": _fmt(evs[-1]["train_loss"], 4) if evs else None,
                "final test accuracy": _fmt(evs[-1]["test_acc"]) if evs else _fmt(s["test_acc"]),
                "epoch s (median, after epoch 1)": _fmt(statistics.median(later), 4) if later else None,
                "worker": "shared, already running" if s.get("reused") else f"started (import {s['import_s']:.1f} s)",
                "peak RSS MB": _fmt(evs[-1]["peak_rss_mb"], 0) if evs else _fmt(s["base_rss_mb"], 0),
                "is a torch.nn.Module": bool(s.get("is_torch_module")) or s["framework"] == "PyTorch",
            })
        return pd.DataFrame(rows)

    def params_check(self) -> str:
        counts = {s["framework"]: s["params"] for s in self.started.values()}
        if not counts:
            return ""
        if len(set(counts.values())) == 1:
            return f"✅ Parameter counts are equal: {next(iter(counts.values())):,} in every framework."
        return "❌ Parameter counts differ: " + ", ".join(f"{k} {v:,}" for k, v in counts.items())

    def status(self, notes: list[str] = ()) -> str:
        lines = [self.params_check()] if self.started else []
        if self.run_id:
            accs = {k: v[-1]["test_acc"] for k, v in self.epochs.items() if v}
            spread = (max(accs.values()) - min(accs.values())) * 100 if accs else 0.0
            lines.append(f"Done: {self.total_epochs} epochs each. Final test accuracies differ by "
                         f"{spread:.1f} points: same weights and batches give near-identical curves "
                         "(the gaps are float rounding order and where Adam adds its ε).")
            lines.append("The trained models stay in the shared workers for **Draw & predict** for 15 idle "
                         "minutes, unless newer runs (from any user) need the room; you are told if so.")
        elif self.started:
            lines.append(f"Training… {self.steps_done()} of {self.total_epochs * self.planned} "
                         "framework-epochs done.")
        for name in self.diverged():
            lines.append(f"⚠️ {name} diverged: its loss is no longer a finite number. "
                         "Lower the learning rate.")
        lines += [f"ℹ️ {n}" for n in notes]
        return "\n\n".join(lines)


def prediction_view(probs: dict[str, np.ndarray], x: np.ndarray, columns: list[str],
                    note: str = "", pending: list[str] = ()) -> tuple[list[dict | None], np.ndarray, str]:
    """What the Draw & predict tab shows for one input row.

    Args:
        probs: {framework label: (1, 10) class probabilities}.
        x: The (1, SIDE*SIDE) input the models saw, in [0, 1].
        columns: The framework labels in the order of the tab's label outputs.
        note: A sentence to add to the verdict (why the default models answer).
        pending: Frameworks still to answer (their workers are starting).

    Returns:
        (one {class: probability} dict per column, None for a framework that did not run;
        the input scaled up 20x as a uint8 image; the verdict sentence).
    """
    labels = [{str(d): float(probs[name][0, d]) for d in range(10)} if name in probs else None
              for name in columns]
    votes = {name: int(p.argmax()) for name, p in probs.items()}
    if len(votes) == 1 and pending:  # the first answer of several
        name, digit = next(iter(votes.items()))
        verdict = f"{name} says **{digit}**."
    elif len(set(votes.values())) == 1:
        verdict = f"All {len(votes)} models agree: **{next(iter(votes.values()))}**."
    else:
        verdict = "The models disagree: " + ", ".join(f"{k} says **{v}**" for k, v in votes.items()) + "."
    if pending:
        verdict += f"\n\n⏳ Still starting: {', '.join(pending)}."
    if note:
        verdict += f"\n\nℹ️ {note}"
    side = int(round(x.shape[1] ** 0.5))
    seen = np.kron((x.reshape(side, side) * 255).astype(np.uint8), np.ones((20, 20), np.uint8))
    return labels, seen, verdict


RACE_COLUMNS = ["framework", "variant", "warm-up epoch s", "epoch s (median after warm-up)",
                "x PyTorch eager (epoch)", "latency batch 1 ms", "latency batch N ms",
                "x PyTorch eager (batch 1)", "test accuracy", "framework RSS MB", "peak RSS MB",
                "parameters"]


def race_frame(results: list[dict]) -> pd.DataFrame:
    """One row per variant; the ratio columns divide by PyTorch eager from the same race."""
    base = next((r for r in results if r["framework"] == "PyTorch" and r["variant"] == "eager"), None)

    def ratio(value: float, ref_key: str) -> float | None:
        if base is None or not base.get(ref_key) or value is None or math.isnan(value):
            return None
        return round(value / base[ref_key], 2)

    rows = []
    for r in results:
        rows.append([r["framework"], r["variant"], _fmt(r["first_epoch_s"], 4), _fmt(r["epoch_s"], 4),
                     ratio(r["epoch_s"], "epoch_s"), _fmt(r["latency_1_ms"], 3),
                     _fmt(r["latency_n_ms"], 3), ratio(r["latency_1_ms"], "latency_1_ms"),
                     _fmt(r["test_acc"]), _fmt(r["base_rss_mb"], 0), _fmt(r["peak_rss_mb"], 0),
                     r["params"]])
    return pd.DataFrame(rows, columns=RACE_COLUMNS)


EXPORT_COLUMNS = ["framework", "format", "size KB", "load + first call ms", "max |diff| vs trained",
                  "equal (≤ 1e-4)", "runtime latency batch 1 ms", "framework latency batch 1 ms"]
EXPORT_TOLERANCE = 1e-4  # float32 logits of a few hundred terms: round-off is ~1e-6


def export_frame(exports: list[dict]) -> pd.DataFrame:
    """One row per exported file: size, load time, equality with the trained model, latency."""
    rows = [[e["framework"], f["format"], round(f["bytes"] / 1024, 1), round(f["load_s"] * 1e3, 1),
             f["max_diff"], bool(f["max_diff"] <= EXPORT_TOLERANCE),
             _fmt(f.get("latency_1_ms"), 4), _fmt(f.get("framework_latency_1_ms"), 4)]
            for e in exports for f in e["files"]]
    return pd.DataFrame(rows, columns=EXPORT_COLUMNS)


def race_summary(results: list[dict], latency_batch: int) -> str:
    """A few sentences that read the table: fastest training, fastest single prediction."""
    timed = [r for r in results if r["epoch_s"] and not math.isnan(r["epoch_s"])]
    if not timed:
        return "The race needs at least 2 epochs: the first one is warm-up and is not timed."
    fastest = min(timed, key=lambda r: r["epoch_s"])
    quickest = min(results, key=lambda r: r["latency_1_ms"])
    slowest = max(timed, key=lambda r: r["epoch_s"])
    return (
        f"**Fastest epoch:** {fastest['framework']} · {fastest['variant']} "
        f"({fastest['epoch_s'] * 1e3:.1f} ms; the slowest, {slowest['framework']} · "
        f"{slowest['variant']}, took {slowest['epoch_s'] / fastest['epoch_s']:.1f}x as long). "
        f"**Fastest single prediction:** {quickest['framework']} · {quickest['variant']} "
        f"({quickest['latency_1_ms']:.3f} ms). Batch N = {latency_batch}.\n\n"
        "How it was measured: each framework ran in its own fresh process with the same thread "
        "count, one after another (never at the same time); every variant started from the same "
        "weights and saw the same batches; epoch 1 (tracing/compiling) is reported apart and "
        "excluded; the clock stops only after the framework has finished (`.item()`/`.numpy()`); "
        "latencies are medians after 3 warm-up calls. Every variant ran in its own fresh process, so "
        "its memory figures are its own: 'framework RSS' right after import, 'peak' the process' "
        "high-water mark (import + model + training + inference)."
    )
