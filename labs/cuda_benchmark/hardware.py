"""The hardware card: what is this machine, what did torch get built with, which GPUs are there.

Everything is read from the operating system and from torch's own queries, nothing is assumed:

* CPU: model, vendor, cores and threads, the cores this process may use, clock, SIMD flags
  (AVX2, AVX-512, AMX...), cache sizes, memory (and a container's memory limit, which is what really counts);
* torch build: versions of torch, CUDA, cuDNN, the BLAS library, threads, oneDNN;
* every CUDA device with *all* fields of ``torch.cuda.get_device_properties`` plus free/total memory
  and the matching spec-sheet entry; Apple MPS when present.

On a Hugging Face ZeroGPU Space CUDA exists only inside functions decorated with ``spaces.GPU``,
so `hardware_report` carries the `shared.device.gpu` decorator. A broken CUDA install is reported
in the card, never raised.
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path
from typing import Any

from labs.cuda_benchmark.specs import CpuPeak, cpu_peak, match_gpu
from shared.device import gpu, on_zerogpu

# The feature flags worth showing: the vector extensions matmul kernels are built on.
SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
              "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16",
              "amx_int8", "asimd", "sve", "sve2")


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def parse_cpuinfo(text: str) -> dict[str, Any]:
    """Parse /proc/cpuinfo text: model, vendor, family, flags, MHz, logical and physical cores."""
    blocks = [b for b in text.strip().split("\n\n") if b.strip()]
    model = vendor = ""
    family: int | None = None
    flags: set[str] = set()
    mhz: float | None = None
    cores: set[tuple[str, str]] = set()
    for block in blocks:
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        model = model or fields.get("model name", "") or fields.get("hardware", "")
        vendor = vendor or fields.get("vendor_id", "") or fields.get("cpu implementer", "")
        if family is None and fields.get("cpu family", "").isdigit():
            family = int(fields["cpu family"])
        flags |= set((fields.get("flags") or fields.get("features") or "").split())
        if mhz is None and fields.get("cpu mhz"):
            try:
                mhz = float(fields["cpu mhz"])
            except ValueError:
                pass
        if "core id" in fields:
            cores.add((fields.get("physical id", "0"), fields["core id"]))
    return {"model": model, "vendor": vendor, "family": family, "flags": flags, "mhz": mhz,
            "logical": len(blocks), "physical": len(cores) or None}


def cpu_caches(root: str | Path = "/sys/devices/system/cpu/cpu0/cache") -> list[dict[str, Any]]:
    """The caches CPU 0 sees (Linux sysfs): level, type, size in bytes and which CPUs share each one.

    Returns an empty list where sysfs has no cache folder (macOS, Windows, some containers).
    """
    caches = []
    for index in sorted(Path(root).glob("index*")):
        level = _read(str(index / "level")).strip()
        match = re.fullmatch(r"(\d+)([KMG]?)", _read(str(index / "size")).strip())
        if not level.isdigit() or not match:
            continue
        size = int(match.group(1)) * {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}[match.group(2)]
        caches.append({"level": int(level), "type": _read(str(index / "type")).strip() or "Unified",
                       "size": size, "shared_cpus": _read(str(index / "shared_cpu_list")).strip()})
    return caches


def caches_text(caches: list[dict[str, Any]]) -> str:
    """One line for the card, e.g. ``L1d 48 KiB, L1i 64 KiB, L2 2 MiB, L3 480 MiB (shared by CPUs 0-1)``."""
    parts = []
    for cache in caches:
        kind = {"Data": "d", "Instruction": "i"}.get(cache["type"], "")
        size = cache["size"]
        shown = f"{size / 2**20:g} MiB" if size >= 2**20 else f"{size / 2**10:g} KiB"
        shared = f" (shared by CPUs {cache['shared_cpus']})" if re.search(r"[-,]", cache["shared_cpus"]) else ""
        parts.append(f"L{cache['level']}{kind} {shown}{shared}")
    return ", ".join(parts)


def memory_bytes() -> dict[str, int | None]:
    """Total and available RAM, and the container (cgroup) limit if one is set."""
    info = {}
    for line in _read("/proc/meminfo").splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            info[key] = int(parts[0]) * 1024
    total = info.get("MemTotal")
    available = info.get("MemAvailable")
    if total is None:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            pass
    limit = None
    raw = _read("/sys/fs/cgroup/memory.max").strip() or _read("/sys/fs/cgroup/memory/memory.limit_in_bytes").strip()
    if raw.isdigit() and total and int(raw) < total:
        limit = int(raw)
        used = _read("/sys/fs/cgroup/memory.current").strip()
        if used.isdigit():
            available = min(available or limit, limit - int(used))
    return {"total": total, "available": available, "cgroup_limit": limit}


def cpu_info() -> dict[str, Any]:
    """Facts about the CPU and its memory, from /proc and the standard library."""
    parsed = parse_cpuinfo(_read("/proc/cpuinfo"))
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    max_khz = _read("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").strip()
    ghz = int(max_khz) / 1e6 if max_khz.isdigit() else (parsed["mhz"] or 0) / 1000
    return {
        "model": parsed["model"] or platform.processor() or platform.machine(),
        "vendor": parsed["vendor"],
        "family": parsed["family"],
        "arch": platform.machine(),
        "logical_cpus": os.cpu_count() or parsed["logical"] or 1,
        "physical_cores": parsed["physical"],
        "usable_cpus": usable,
        "clock_ghz": round(ghz, 3) if ghz else None,
        "clock_source": "cpuinfo_max_freq" if max_khz.isdigit() else "/proc/cpuinfo 'cpu MHz'",
        "simd": [f for f in SIMD_FLAGS if f in parsed["flags"]],
        "flags": sorted(parsed["flags"]),
        "memory": memory_bytes(),
        "caches": cpu_caches(),
    }


def torch_build() -> dict[str, Any]:
    """What torch was built with: versions, BLAS, threads, accelerator toolkits."""
    import torch

    config = torch.__config__.show()
    blas = re.search(r"BLAS_INFO=(\w+)", config)
    capability = torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else None
    cudnn = None
    try:
        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    except Exception:  # a broken cuDNN install must not break the card
        cudnn = None
    return {
        "torch": torch.__version__,
        "cuda_build": torch.version.cuda,
        "hip_build": getattr(torch.version, "hip", None),
        "cudnn": cudnn,
        "blas": blas.group(1) if blas else None,
        "mkl": torch.backends.mkl.is_available(),
        "onednn": torch.backends.mkldnn.is_available(),
        "cpu_capability": capability,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }


def _properties(props: Any) -> dict[str, Any]:
    """Every public, non-callable field of a CUDA device-properties object."""
    out = {}
    for name in dir(props):
        if name.startswith("_"):
            continue
        value = getattr(props, name, None)
        if callable(value):
            continue
        out[name] = value if isinstance(value, (int, float, str, bool, type(None))) else str(value)
    return out


def cuda_devices() -> dict[str, Any]:
    """Every CUDA device torch sees, with all its properties; errors are reported, not raised."""
    import torch

    try:
        available = torch.cuda.is_available()
    except Exception as exc:
        return {"available": False, "error": f"{type(exc).__name__}: {exc}", "devices": []}
    if not available:
        why = ("this torch build has no CUDA support (a CPU wheel)" if torch.version.cuda is None
               else "torch was built with CUDA but no GPU/driver is visible")
        return {"available": False, "error": None, "reason": why, "devices": []}
    devices = []
    try:
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            fields = _properties(props)
            free, total = torch.cuda.mem_get_info(index)
            entry = {"index": index, "name": props.name,
                     "compute_capability": f"{props.major}.{props.minor}",
                     "free_memory": free, "total_memory": total, "properties": fields}
            # Theoretical bandwidth from the properties themselves: DDR transfers twice per clock.
            clock_khz, bus_bits = fields.get("memory_clock_rate"), fields.get("memory_bus_width")
            if clock_khz and bus_bits:
                entry["bandwidth_from_properties_gbs"] = round(2 * clock_khz * 1e3 * bus_bits / 8 / 1e9, 1)
            spec = match_gpu(props.name, sms=props.multi_processor_count, memory_bytes=props.total_memory)
            entry["spec"] = None if spec is None else {
                "name": spec.name, "tflops": spec.tflops, "bandwidth_gbs": spec.bandwidth_gbs,
                "source": spec.source, "note": spec.note}
            devices.append(entry)
    except Exception as exc:
        return {"available": True, "error": f"{type(exc).__name__}: {exc}", "devices": devices}
    return {"available": True, "error": None, "devices": devices}


def mps_info() -> dict[str, Any]:
    """Apple's Metal backend (MPS): available and built?"""
    import torch

    mps = getattr(torch.backends, "mps", None)
    if mps is None:
        return {"available": False, "built": False}
    return {"available": bool(mps.is_available()), "built": bool(mps.is_built())}


def peak_cores(cpu: dict[str, Any], threads: int) -> int:
    """Cores a run with ``threads`` torch threads can keep busy (at most the physical, usable ones)."""
    return max(1, min(threads, cpu.get("physical_cores") or cpu["usable_cpus"], cpu["usable_cpus"]))


def cpu_peak_for(cpu: dict[str, Any], threads: int, *, ghz: float | None = None) -> CpuPeak | None:
    """The CPU peak for the cores torch's threads can use (None when the clock is unknown).

    Args:
        ghz: The achieved clock (`labs.cuda_benchmark.clock.achieved_clock`); None uses the clock the OS reports.
    """
    clock = ghz or cpu.get("clock_ghz")
    if not clock:
        return None
    return cpu_peak(cores=peak_cores(cpu, threads), ghz=clock, flags=set(cpu["flags"]), vendor=cpu["vendor"] or "",
                    family=cpu["family"], arch=cpu["arch"], measured=bool(ghz))


@gpu(duration=30)
def hardware_report() -> dict[str, Any]:
    """Collect the whole hardware card (inside the GPU context on ZeroGPU)."""
    from labs.cuda_benchmark.clock import achieved_clock

    cpu = cpu_info()
    build = torch_build()
    clock = achieved_clock(peak_cores(cpu, build["threads"]))
    peak = cpu_peak_for(cpu, build["threads"], ghz=clock.ghz)
    return {
        "cpu": cpu,
        "clock": {**clock.as_dict(), "error_note": clock.error_note},
        "cpu_peak": None if peak is None else {"gflops": peak.gflops, "cores": peak.cores, "ghz": peak.ghz,
                                               "flops_per_cycle": peak.flops_per_cycle, "basis": list(peak.basis)},
        "torch": build,
        "cuda": cuda_devices(),
        "mps": mps_info(),
        "zerogpu": on_zerogpu(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _gb(value: int | None) -> str:
    return "?" if not value else f"{value / 2**30:.1f} GiB"


def report_markdown(report: dict[str, Any]) -> str:
    """The hardware card as Markdown."""
    cpu, build, cuda = report["cpu"], report["torch"], report["cuda"]
    mem = cpu["memory"]
    limit = f" (container limit {_gb(mem['cgroup_limit'])})" if mem.get("cgroup_limit") else ""
    lines = [
        "### CPU",
        f"- **{cpu['model']}** ({cpu['arch']}, vendor {cpu['vendor'] or '?'}, family {cpu['family']})",
        f"- {cpu['physical_cores'] or '?'} physical cores, {cpu['logical_cpus']} logical CPUs, "
        f"{cpu['usable_cpus']} usable by this process; clock {cpu['clock_ghz'] or '?'} GHz ({cpu['clock_source']})",
        f"- SIMD: {', '.join(cpu['simd']) or 'none detected'}",
        f"- Caches (CPU 0): {caches_text(cpu.get('caches') or []) or 'not reported by this OS'}",
        f"- Memory: {_gb(mem['total'])} total, {_gb(mem['available'])} available{limit}",
    ]
    clock = report.get("clock") or {}
    if clock.get("ghz"):
        lines.append(f"- Achieved clock: **{clock['ghz']:.2f} GHz** with {clock['threads']} core(s) busy "
                     f"(reported: {cpu['clock_ghz'] or '?'} GHz) — {clock['method']}. {clock.get('error_note', '')}")
    elif clock:
        lines.append(f"- Achieved clock not measured: {clock.get('reason')}. The peak uses the reported clock.")
    peak = report.get("cpu_peak")
    if peak:
        figures = ", ".join(f"{k} {v:,.0f}" for k, v in peak["gflops"].items())
        lines.append(f"- Theoretical peak (GFLOP/s): {figures} — {peak['basis'][0]}; {peak['basis'][1]}")
    lines += [
        "### torch build",
        f"- torch {build['torch']}, CUDA {build['cuda_build'] or '— (CPU build)'}, cuDNN {build['cudnn'] or '—'}, "
        f"BLAS {build['blas'] or '?'}, oneDNN {'yes' if build['onednn'] else 'no'}",
        f"- {build['threads']} intra-op threads, {build['interop_threads']} inter-op threads, "
        f"CPU kernels use {build['cpu_capability'] or '?'}, float32 matmul precision '{build['float32_matmul_precision']}'",
        "### Accelerators",
    ]
    if cuda.get("error"):
        lines.append(f"- ⚠️ CUDA query failed: `{cuda['error']}`")
    if not cuda["devices"]:
        why = cuda.get("reason") or "no CUDA device"
        lines.append(f"- **No CUDA GPU here**: {why}. Every GPU step of the benchmark is replaced by the "
                     "CPU stand-in named next to it.")
    for dev in cuda["devices"]:
        p = dev["properties"]
        spec = dev.get("spec")
        lines.append(
            f"- **cuda:{dev['index']} {dev['name']}** · compute capability {dev['compute_capability']} · "
            f"{p.get('multi_processor_count', '?')} SMs · {_gb(dev['total_memory'])} "
            f"({_gb(dev['free_memory'])} free) · L2 {p.get('L2_cache_size', 0) / 2**20:.0f} MiB"
        )
        if spec:
            peaks = ", ".join(f"{k} {v:,.1f}" for k, v in spec["tflops"].items())
            lines.append(f"  - Spec peaks (TFLOP/s, dense): {peaks}; {spec['bandwidth_gbs']:,.0f} GB/s "
                         f"({spec['source']}) {spec['note']}")
        else:
            lines.append("  - Not in the lab's spec table: throughput is shown without a % of peak.")
    if report["mps"]["available"]:
        lines.append("- **Apple MPS** (Metal) is available.")
    if report.get("zerogpu"):
        lines.append("- Running on a **ZeroGPU** Space: CUDA is queried inside the `@spaces.GPU` function.")
    return "\n".join(lines)
