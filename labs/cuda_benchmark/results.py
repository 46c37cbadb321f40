"""Turn result rows into tables and plot data, save them, and compare runs across machines.

Rows are plain dicts (see `labs.cuda_benchmark.suite._row`). This module shapes them for
``gr.LinePlot``/``gr.BarPlot`` (long "tidy" frames: one row per point, a ``series`` column for the
colour), finds the crossover size, draws the roofline, and writes/reads the portable JSON file
that lets you compare this machine with a run saved elsewhere.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

SCHEMA = "ml-labs/cuda_benchmark/v1"
RESULTS_DIR = Path(tempfile.gettempdir()) / "ml_labs_cuda_benchmark"  # this lab's downloads, nothing else
KEEP_S = 3600  # saved runs older than an hour are deleted when a new run is saved
FILE_PREFIX = "cuda_benchmark-"
MAX_RESULTS_BYTES = 5 * 1024 * 1024  # a saved run is a few kB; anything this big is not one
REQUIRED_ROW_KEYS = ("section", "variant", "dtype", "size", "median_s")
ROW_TEXT_KEYS = ("device", "device_name", "size_label", "method", "flag")  # optional; text or null
ROW_NUMBER_KEYS = ("iqr_s", "best_s", "repeats", "flops", "bytes", "tflops", "gbps", "peak_tflops", "peak_gbps",
                   "pct_peak", "naive_cold_s", "naive_cold_tflops", "naive_nosync_s", "naive_nosync_tflops")
TABLE_COLUMNS = ("section", "variant", "device", "dtype", "size_label", "median_ms", "iqr_ms", "repeats",
                 "gflops", "gbps", "pct_peak", "flag", "naive_cold_ms", "naive_nosync_ms", "method")


class ResultsFileError(ValueError):
    """A results file cannot be read; the message says why and what to do."""


# Columns that hold text; every other plotted column is numeric, even when a frame is still empty
# (an empty object-typed column would make the browser draw that axis as categories).
TEXT_COLUMNS = {"section", "variant", "device", "dtype", "size_label", "method", "series", "size", "unit", "flag"}


def _frame(records: list[dict[str, Any]], columns: list[str], *, plotted: bool = True):
    import pandas as pd

    df = pd.DataFrame.from_records(records, columns=columns)
    for column in (columns if plotted else []):
        if column not in TEXT_COLUMNS:
            df[column] = pd.to_numeric(df[column], errors="coerce").astype(float)
    return df


def table_frame(rows: list[dict[str, Any]]):
    """All rows as a readable table: milliseconds, GFLOP/s, GB/s, % of peak."""
    def r(x: float | None, k: int = 3) -> float | None:
        return None if x is None else round(x, k)

    records = [{
        "section": row["section"], "variant": row["variant"], "device": row.get("device"),
        "dtype": row["dtype"], "size_label": row.get("size_label", str(row["size"])),
        "median_ms": r(row["median_s"] * 1e3, 4), "iqr_ms": r((row.get("iqr_s") or 0) * 1e3, 4),
        "repeats": row.get("repeats"),
        "gflops": r(row["tflops"] * 1e3, 1) if row.get("tflops") else None,
        "gbps": r(row.get("gbps"), 2), "pct_peak": r(row.get("pct_peak"), 1),
        "flag": ("⚠️ " + row["flag"]) if row.get("flag") else None,
        "naive_cold_ms": r(row["naive_cold_s"] * 1e3, 4) if row.get("naive_cold_s") else None,
        "naive_nosync_ms": r(row["naive_nosync_s"] * 1e3, 4) if row.get("naive_nosync_s") else None,
        "method": row.get("method"),
    } for row in rows]
    return _frame(records, list(TABLE_COLUMNS), plotted=False)


def size_order(rows: list[dict[str, Any]], section: str) -> list[str]:
    """The x-axis order for a section's size labels (numeric order, not alphabetical)."""
    seen = sorted({(row["size"], row.get("size_label", str(row["size"]))) for row in rows if row["section"] == section})
    return [label for _, label in seen]


def flops_unit(*devices: str) -> tuple[str, float]:
    """("TFLOP/s", 1.0) when any device is a GPU, else ("GFLOP/s", 1e3): the factor turns TFLOP/s into it."""
    return ("TFLOP/s", 1.0) if any(d in {"cuda", "mps"} for d in devices) else ("GFLOP/s", 1e3)


def matmul_frame(rows: list[dict[str, Any]], *, peaks_tflops: dict[str, float] | None = None,
                 naive: bool = False, label: str = "", scale: float = 1e3):
    """Throughput vs matrix size, one series per dtype, plus a flat "peak" series per dtype.

    Args:
        rows: Result rows (only ``section == "matmul"`` is used).
        peaks_tflops: Peak TFLOP/s per dtype; each measured dtype with a peak gets a peak line.
        naive: Also add the GFLOP/s the naive cold ``time.time()`` would report.
        label: Prefix for series names (to tell machines apart when comparing).
        scale: Multiplies TFLOP/s into the plotted unit (1e3: GFLOP/s, see `flops_unit`).
    """
    pre = f"{label} · " if label else ""
    records = []
    for row in rows:
        if row["section"] != "matmul" or not row.get("tflops"):
            continue
        size = row.get("size_label", str(row["size"]))
        records.append({"size": size, "throughput": row["tflops"] * scale, "series": f"{pre}{row['dtype']}"})
        if naive and row.get("naive_cold_tflops"):
            records.append({"size": size, "throughput": row["naive_cold_tflops"] * scale,
                            "series": f"{pre}{row['dtype']} naive cold time.time()"})
        peak = (peaks_tflops or {}).get(row["dtype"])
        if peak:
            records.append({"size": size, "throughput": peak * scale, "series": f"{pre}{row['dtype']} peak"})
    return _frame(records, ["size", "throughput", "series"])


def pct_peak_frame(rows: list[dict[str, Any]]):
    """Best % of peak reached per dtype (one bar each)."""
    best: dict[str, float] = {}
    for row in rows:
        if row["section"] == "matmul" and row.get("pct_peak") is not None:
            best[row["dtype"]] = max(best.get(row["dtype"], 0.0), row["pct_peak"])
    return _frame([{"dtype": k, "pct_of_peak": round(v, 1)} for k, v in best.items()], ["dtype", "pct_of_peak"])


def flag_rows(rows: list[dict[str, Any]], context: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows with a ``flag`` on every point above 100 % of its peak (runs saved before flags existed get one too)."""
    from labs.cuda_benchmark.specs import over_peak_reason

    measured = bool((context.get("clock") or {}).get("ghz"))
    out = []
    for row in rows:
        if (row.get("pct_peak") or 0) > 100 and not row.get("flag"):
            row = {**row, "flag": over_peak_reason(row["dtype"], device=row.get("device") or context.get("device", "cpu"),
                                                   clock_measured=measured)}
        out.append(row)
    return out


def over_peak_text(rows: list[dict[str, Any]]) -> str:
    """Markdown lines for the points above 100 % of their peak (empty when there are none)."""
    flagged = [r for r in rows if r.get("flag")]
    if not flagged:
        return ""
    lines = [f"- ⚠️ **{r['section']} {r['dtype']} n={r.get('size_label', r['size'])}: {r['pct_peak']:.0f} % of peak** "
             f"({r['tflops'] * 1e3:,.1f} GFLOP/s vs {r['peak_tflops'] * 1e3:,.1f}): {r['flag'].removeprefix('above 100 % of peak: ')}."
             for r in flagged[:6] if r.get("tflops") and r.get("peak_tflops")]
    more = f"\n- … and {len(flagged) - 6} more (see the table's *flag* column)." if len(flagged) > 6 else ""
    return "**Impossible numbers (above 100 % of peak), read them as such:**\n" + "\n".join(lines) + more


def bandwidth_frame(rows: list[dict[str, Any]]):
    """GB/s vs buffer size for copy, add and transfers."""
    records = [{"size": row.get("size_label", str(row["size"])), "gbps": row["gbps"], "series": row["variant"]}
               for row in rows if row["section"] in {"copy", "add", "transfer"}]
    return _frame(records, ["size", "gbps", "series"])


def crossover_frame(rows: list[dict[str, Any]], *, scale: float = 1e3):
    """Throughput vs size for each crossover variant (CPU vs GPU, or 1 thread vs all threads)."""
    records = [{"size": row.get("size_label", str(row["size"])), "throughput": row["tflops"] * scale,
                "series": row["variant"]} for row in rows if row["section"] == "crossover" and row.get("tflops")]
    return _frame(records, ["size", "throughput", "series"])


def crossover_size(rows: list[dict[str, Any]], *, fast: str, slow: str) -> int | None:
    """Smallest size from which variant ``fast`` beats ``slow`` at that size and every larger one.

    Returns:
        The size, or None if ``fast`` never stays ahead (or there is no data).
    """
    times: dict[str, dict[int, float]] = {fast: {}, slow: {}}
    for row in rows:
        if row["section"] == "crossover" and row["variant"] in times:
            times[row["variant"]][row["size"]] = row["median_s"]
    sizes = sorted(set(times[fast]) & set(times[slow]))
    answer = None
    for n in reversed(sizes):
        if times[fast][n] < times[slow][n]:
            answer = n
        else:
            break
    return answer


def roofline_frame(rows: list[dict[str, Any]], *, peaks_tflops: dict[str, float], bandwidth_gbs: float | None,
                   points: int = 40):
    """Roofline data on log10 axes: one roof per measured dtype, min(peak, bandwidth x intensity), and
    the measured points.

    Arithmetic intensity (AI) is FLOPs per byte of memory traffic. Below a roof's ridge point
    ``peak / bandwidth`` a kernel is memory-bound; above it, compute-bound. Matmul's intensity
    grows with n (``2n / (3 x bytes per element)``), vector add's is fixed at 1/12.

    Args:
        rows: Result rows (matmul and add points are plotted).
        peaks_tflops: Compute roof (TFLOP/s) per dtype; roofs are drawn for the measured dtypes.
        bandwidth_gbs: Memory roof (GB/s): the spec on a GPU, the measured copy on a CPU; None draws
            only the measured points.
    """
    records = []
    measured = [r for r in rows if r["section"] in {"matmul", "add"} and r.get("tflops") and r.get("bytes")]
    ais = [r["flops"] / r["bytes"] for r in measured]
    dtypes = sorted({r["dtype"] for r in measured if r["section"] == "matmul"} & set(peaks_tflops))
    if dtypes and bandwidth_gbs:
        ridges = [peaks_tflops[d] * 1e3 / bandwidth_gbs for d in dtypes]
        lo = min(ais + [min(ridges) / 100, 1 / 16])
        hi = max(ais + [max(ridges) * 10])
        for dtype in dtypes:
            for i in range(points):
                ai = 10 ** (math.log10(lo) + (math.log10(hi) - math.log10(lo)) * i / (points - 1))
                gf = min(peaks_tflops[dtype] * 1e3, bandwidth_gbs * ai)
                records.append({"log10_ai": math.log10(ai), "log10_gflops": math.log10(gf),
                                "series": f"roof {dtype}", "ai": round(ai, 3), "gflops": round(gf, 1)})
    for r, ai in sorted(zip(measured, ais), key=lambda p: p[1]):
        name = f"matmul {r['dtype']}" if r["section"] == "matmul" else "vector add"
        gf = r["tflops"] * 1e3
        records.append({"log10_ai": math.log10(ai), "log10_gflops": math.log10(gf), "series": name,
                        "ai": round(ai, 3), "gflops": round(gf, 1)})
    return _frame(records, ["log10_ai", "log10_gflops", "series", "ai", "gflops"])


def best_copy_gbps(rows: list[dict[str, Any]]) -> float | None:
    """The copy bandwidth at the largest buffer measured (the DRAM/HBM figure, past the caches)."""
    copies = [r for r in rows if r["section"] == "copy"]
    return max(copies, key=lambda r: r["size"])["gbps"] if copies else None


NEVER = "never (in these sizes)"


def crossover_text(rows: list[dict[str, Any]], context: dict[str, Any]) -> str:
    """Markdown: from which size the parallel device beats the serial one (GPU vs CPU, or all threads vs 1)."""
    variants = {r["variant"] for r in rows if r["section"] == "crossover"}
    if not variants:
        return "Tick **Find the crossover size** to compare a serial and a parallel device on the same matmul."
    if context.get("device") == "cuda":
        cpu = next((v for v in variants if v.startswith("CPU")), None)
        kernel = crossover_size(rows, fast="GPU kernel only", slow=cpu) if cpu else None
        trip = crossover_size(rows, fast="GPU incl. transfers", slow=cpu) if cpu else None
        return (f"GPU kernel beats the CPU from n = **{kernel or NEVER}**; counting the copies "
                f"to and from the GPU, from n = **{trip or NEVER}**. Small matrices are faster "
                "where they already are.")
    many = next((v for v in sorted(variants) if v != "1 thread"), None)
    n = crossover_size(rows, fast=many, slow="1 thread") if many else None
    return (f"**CPU stand-in (no CUDA GPU here):** {many} beat 1 thread from n = **{n or NEVER}**. "
            "Below that, starting and synchronising threads costs more than it saves: the same reason a GPU "
            "loses on small matrices (launch latency, transfers). On a GPU machine this plot shows CPU vs GPU.")


def roofline_text(rows: list[dict[str, Any]], context: dict[str, Any]) -> tuple[float | None, str]:
    """The memory roof for the roofline (spec sheet on a GPU, measured copy on a CPU) and its caption."""
    peaks = context.get("peaks_tflops") or {}
    if context.get("device", "cpu") == "cuda":
        bw, bw_src = context.get("peak_gbps"), "the spec-sheet memory bandwidth"
    else:
        bw, bw_src = best_copy_gbps(rows), "the measured copy bandwidth (largest buffer)"
    measured = sorted({r["dtype"] for r in rows if r["section"] == "matmul"} & set(peaks))
    if measured and bw:
        ridges = ", ".join(f"{d} at {peaks[d] * 1e3 / bw:,.1f}" for d in measured)
        return bw, (f"Memory roof: {bw_src}, {bw:,.1f} GB/s. Ridge points (FLOP/byte): {ridges}. Left of a ridge "
                    "a kernel is memory-bound, right of it compute-bound. Axes are log10; hover for real values.")
    return bw, "Run matmul and bandwidth steps (on a device with known peaks) to draw the roofline."


def plot_data(rows: list[dict[str, Any]], context: dict[str, Any]) -> dict[str, Any]:
    """Everything the plots of one run need: frames, x-axis orders, units, limits and captions.

    Returns:
        A dict with ``unit`` (y-axis title for throughput), ``matmul``/``matmul_order``, ``pct``/``pct_ylim``,
        ``bandwidth``/``bandwidth_order``, ``roofline``/``roofline_text``, ``crossover``/``crossover_order``
        and ``crossover_text``.
    """
    device = context.get("device", "cpu")
    peaks = context.get("peaks_tflops") or {}
    unit, scale = flops_unit(device)
    pct = pct_peak_frame(rows)
    top = float(pct["pct_of_peak"].max()) if len(pct) else 100.0
    bw, roof_md = roofline_text(rows, context)
    band_sizes = {(r["size"], r.get("size_label", str(r["size"]))) for r in rows
                  if r["section"] in {"copy", "add", "transfer"}}
    band_order = list(dict.fromkeys(label for _, label in sorted(band_sizes)))  # by bytes, not by label text
    return {
        "unit": unit,
        "matmul": matmul_frame(rows, peaks_tflops=peaks, scale=scale), "matmul_order": size_order(rows, "matmul"),
        "pct": pct, "pct_ylim": [0, max(100.0, top * 1.1)],
        "bandwidth": bandwidth_frame(rows), "bandwidth_order": band_order,
        "roofline": roofline_frame(rows, peaks_tflops=peaks, bandwidth_gbs=bw), "roofline_text": roof_md,
        "crossover": crossover_frame(rows, scale=scale), "crossover_order": size_order(rows, "crossover"),
        "crossover_text": crossover_text(rows, context),
    }


def naive_lesson(rows: list[dict[str, Any]], device: str) -> str:
    """Markdown: how far the naive timings were from the careful ones, and why."""
    matmuls = [r for r in rows if r["section"] == "matmul" and r.get("naive_cold_s")]
    if not matmuls:
        return "Tick **Show the naive timing** and run again to compare `time.time()` with the careful method."
    lines = ["| dtype | n | careful median (ms) | naive cold call (ms) | x | naive 2nd call, no sync (ms) | x |",
             "|---|---|---|---|---|---|---|"]
    worst_cold = worst_fast = None
    for r in matmuls:
        cold = r["naive_cold_s"] / r["median_s"]
        warm = r["naive_nosync_s"] / r["median_s"]
        lines.append(f"| {r['dtype']} | {r['size']} | {r['median_s'] * 1e3:.3f} | {r['naive_cold_s'] * 1e3:.3f} | "
                     f"{cold:.1f} | {r['naive_nosync_s'] * 1e3:.3f} | {warm:.2f} |")
        worst_cold = max(worst_cold or 0, cold)
        worst_fast = min(worst_fast or 1e9, warm)
    over_peak = [r for r in matmuls if r.get("peak_tflops") and (r.get("naive_nosync_tflops") or 0) > r["peak_tflops"]]
    text = ["\n".join(lines), ""]
    text.append(f"The cold call was up to **{worst_cold:.1f}x** the careful median: the first call pays one-time "
                "costs (thread start-up, page faults, kernel selection/JIT).")
    if device == "cuda":
        text.append(f"Without `torch.cuda.synchronize()` the second call 'took' as little as **{worst_fast:.3f}x** "
                    "the real time: `time.time()` stopped when the kernel was *queued*, not when it ran.")
        if over_peak:
            text.append(f"{len(over_peak)} naive measurement(s) imply **more TFLOP/s than the GPU's spec peak**, "
                        "which is impossible: proof the clock stopped too early.")
    else:
        text.append("On a CPU torch operations finish before they return, so the no-sync number is a real but "
                    "*single* sample: compare it with the median and IQR to see how much one sample can be off. "
                    "On a CUDA GPU the same line would measure only the kernel launch (microseconds), because "
                    "launches are asynchronous.")
    return "\n\n".join(text)


# ---- Saving and loading ------------------------------------------------------------------------

def results_document(rows: list[dict[str, Any]], context: dict[str, Any], machine: dict[str, Any] | None = None,
                     *, label: str = "") -> dict[str, Any]:
    """The portable JSON document of one run."""
    return {"schema": SCHEMA, "label": label or context.get("device_name", "run"),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "context": context, "machine": machine or {}, "rows": rows}


def prune_results(directory: str | Path = RESULTS_DIR, *, keep_s: float = KEEP_S, now: float | None = None) -> int:
    """Delete this lab's saved result files (``cuda_benchmark-*``) older than ``keep_s``; returns how many."""
    directory = Path(directory)
    now = time.time() if now is None else now
    removed = 0
    if directory.is_dir():
        for path in directory.glob(f"{FILE_PREFIX}*"):
            try:
                if path.is_file() and now - path.stat().st_mtime > keep_s:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:  # another request pruned it first
                pass
    return removed


def save_results(rows: list[dict[str, Any]], context: dict[str, Any], directory: str | Path = RESULTS_DIR,
                 machine: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write the run as CSV (the table) and JSON (everything, loadable by `load_results`).

    File names carry a timestamp and a random part, so two runs never overwrite each other; this
    lab's files in ``directory`` older than `KEEP_S` are deleted first.

    Returns:
        (csv_path, json_path).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    prune_results(directory)
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:12]}"
    csv_path = directory / f"{FILE_PREFIX}{stamp}.csv"
    json_path = directory / f"{FILE_PREFIX}{stamp}.json"
    table_frame(rows).to_csv(csv_path, index=False)
    json_path.write_text(json.dumps(results_document(rows, context, machine), indent=1, default=str))
    return csv_path, json_path


def load_results(path: str | Path | None) -> dict[str, Any]:
    """Read and check a results JSON written by `save_results`.

    Raises:
        ResultsFileError: If the file is missing, too big, not JSON, or not a results file.
    """
    if not path:
        raise ResultsFileError("No results file given. Upload a .json saved by this lab (Download JSON).")
    p = Path(path)
    if not p.is_file():
        raise ResultsFileError(f"The results file '{p.name}' was not found on the server. Upload it again.")
    if p.stat().st_size > MAX_RESULTS_BYTES:
        raise ResultsFileError(f"'{p.name}' is {p.stat().st_size / 1e6:.1f} MB; a saved run is a few kB "
                               f"(limit {MAX_RESULTS_BYTES / 1e6:.0f} MB). Upload the JSON this lab saved.")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsFileError(f"'{p.name}' is not valid JSON ({exc}). Upload the .json file this lab saved, "
                               "not the CSV.") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ResultsFileError(f"'{p.name}' is JSON but not a cuda_benchmark results file (expected "
                               f"\"schema\": \"{SCHEMA}\"). Upload a file saved with this lab's Download JSON.")
    rows = doc.get("rows")
    if not isinstance(rows, list) or not rows:
        raise ResultsFileError(f"'{p.name}' holds no result rows. Run a benchmark and save it again.")
    for i, row in enumerate(rows):
        missing = [k for k in REQUIRED_ROW_KEYS if not isinstance(row, dict) or k not in row]
        if missing:
            raise ResultsFileError(f"Row {i} of '{p.name}' lacks {', '.join(missing)}; the file is damaged. "
                                   "Save the run again.")
        problem = _row_problem(row)
        if problem:
            raise ResultsFileError(f"Row {i} of '{p.name}' {problem}; the file is damaged. Save the run again.")
    context = doc.get("context", {})
    if not isinstance(context, dict) or not isinstance(context.get("device", ""), str):
        raise ResultsFileError(f"'{p.name}' has a damaged \"context\" (expected an object with a text \"device\"). "
                               "Save the run again.")
    return doc


def _is_number(value: Any) -> bool:
    """A finite int or float (JSON's NaN and Infinity, and true/false, are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _shown(value: Any) -> str:
    """A value for an error message, cut short (a damaged file can hold anything)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _row_problem(row: dict[str, Any]) -> str | None:
    """What is wrong with one saved row's types (as `_row` in suite.py writes them), or None."""
    for key in ("section", "variant", "dtype"):
        if not isinstance(row[key], str):
            return f"has a {key} that is not text ({_shown(row[key])})"
    if not isinstance(row["size"], int) or isinstance(row["size"], bool) or row["size"] <= 0:
        return f"has an invalid size {_shown(row['size'])} (a positive whole number)"
    if not _is_number(row["median_s"]) or row["median_s"] <= 0:
        return f"has an invalid median_s {_shown(row['median_s'])} (a positive number of seconds)"
    for key in ROW_TEXT_KEYS:
        if row.get(key) is not None and not isinstance(row[key], str):
            return f"has a {key} that is not text ({_shown(row[key])})"
    for key in ROW_NUMBER_KEYS:
        if row.get(key) is not None and not _is_number(row[key]):
            return f"has an invalid {key} {_shown(row[key])} (a number or null)"
    if row["section"] == "matmul" and row.get("size_label", str(row["size"])) != str(row["size"]):
        return f"has a matmul size_label {_shown(row['size_label'])} that is not its size {row['size']}"
    return None


def compare_frame(live: list[dict[str, Any]], saved: list[dict[str, Any]], *, saved_label: str = "saved"):
    """Side-by-side table of the rows two runs share (same section, variant, dtype and size).

    ``speedup`` is saved median / live median: above 1 this machine is faster.
    """
    def key(r: dict[str, Any]) -> tuple:
        return (r["section"], r["variant"], r["dtype"], r["size"])

    theirs = {key(r): r for r in saved}
    records = []
    for r in live:
        other = theirs.get(key(r))
        if other is None:
            continue
        value = "GFLOP/s" if r.get("tflops") else "GB/s"
        mine_v = r["tflops"] * 1e3 if r.get("tflops") else r.get("gbps")
        their_v = other["tflops"] * 1e3 if other.get("tflops") else other.get("gbps")
        records.append({"section": r["section"], "variant": r["variant"], "dtype": r["dtype"],
                        "size": r.get("size_label", str(r["size"])), "unit": value,
                        "this_machine": round(mine_v, 2) if mine_v else None,
                        saved_label: round(their_v, 2) if their_v else None,
                        "speedup": round(other["median_s"] / r["median_s"], 2)})
    return _frame(records, ["section", "variant", "dtype", "size", "unit", "this_machine", saved_label, "speedup"],
                  plotted=False)


def compare_data(doc: dict[str, Any], live: dict[str, Any] | None) -> dict[str, Any]:
    """A saved run (from `load_results`) next to the live one: summary, plot frame, x order and table.

    Returns:
        A dict with ``summary`` (Markdown), ``plot`` (matmul throughput of both runs, a ``series`` per
        machine and dtype), ``order`` (sizes in numeric order), ``unit`` and ``table``.
    """
    import pandas as pd

    label = str(doc.get("label") or "saved")[:80]
    ctx = doc.get("context", {})
    saved_rows = flag_rows(doc["rows"], ctx)
    live_rows = (live or {}).get("rows") or []
    unit, scale = flops_unit(ctx.get("device", "cpu"), (live or {}).get("context", {}).get("device", "cpu"))
    frames = [matmul_frame(saved_rows, label="saved", scale=scale)]
    if live_rows:
        frames.append(matmul_frame(live_rows, label="this machine", scale=scale))
        table = compare_frame(live_rows, saved_rows, saved_label="saved")
        note = (f"{len(table)} shared measurements. **speedup** = saved median / this machine's median "
                "(above 1: this machine is faster).")
    else:
        table = table_frame(saved_rows)
        note = "Run the benchmark on this machine to see both side by side; below is the saved run alone."
    plot = pd.concat(frames, ignore_index=True)
    summary = (f"**Saved run:** {label} · device {ctx.get('device', '?')} ({ctx.get('device_name', '?')}) · "
               f"created {doc.get('created', '?')} · {len(saved_rows)} rows. {note}")
    if over_peak_text(saved_rows):
        summary += "\n\nIn the saved run: " + over_peak_text(saved_rows)
    return {"summary": summary, "plot": plot, "order": sorted(set(plot["size"]), key=int), "unit": unit,
            "table": table}
