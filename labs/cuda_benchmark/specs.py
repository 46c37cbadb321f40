"""Peak numbers: what the hardware could do at best, so a measurement can say "x % of peak".

A throughput figure means little alone: 150 GFLOP/s is excellent for two CPU cores and terrible
for an H100. This module holds

* `GPU_SPECS`: dense (no 2:4 sparsity) peak TFLOP/s per data type and peak memory bandwidth of the
  GPUs people meet most (A100, H100, H200, L4, T4, A10G, RTX 4090), each with its public source;
* `match_gpu`: maps the name CUDA reports (``torch.cuda.get_device_name``) to an entry, scaled
  down for MIG slices (ZeroGPU hands out H200 slices);
* `cpu_peak`: the CPU's theoretical peak, cores x clock x FLOPs per cycle, where FLOPs per cycle
  follow from the vector units (SSE, AVX2+FMA, AVX-512, AVX512-BF16, AMX) the CPU reports.

Vendors quote tensor-core numbers "with sparsity" in large print: those are twice the dense
numbers and no dense matmul can reach them, so every figure below is the dense one.

No gradio here, no heavy imports: plain data and arithmetic, easy to test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Data types the lab knows, in the order the UI lists them.
DTYPE_KEYS = ("fp32", "tf32", "fp16", "bf16", "fp8", "fp64")


@dataclass(frozen=True)
class GpuSpec:
    """Published peak figures of one GPU model.

    Attributes:
        name: Marketing name.
        tflops: Dense peak TFLOP/s per dtype key (``"fp32"``, ``"tf32"``, ...); a dtype the GPU
            has no fast path for is absent.
        bandwidth_gbs: Peak memory bandwidth in GB/s (1 GB = 1e9 bytes).
        sms: Streaming multiprocessors of the full product (used to scale MIG slices).
        memory_gb: Memory of the full product in GB.
        source: Where the numbers come from.
        note: Caveats worth showing next to the numbers.
    """

    name: str
    tflops: dict[str, float]
    bandwidth_gbs: float
    sms: int
    memory_gb: float
    source: str
    note: str = ""

    def scaled(self, fraction_sms: float, fraction_memory: float, name: str) -> "GpuSpec":
        """This spec scaled to a slice (MIG) with a fraction of the SMs and memory."""
        return GpuSpec(
            name=name,
            tflops={k: v * fraction_sms for k, v in self.tflops.items()},
            bandwidth_gbs=self.bandwidth_gbs * fraction_memory,
            sms=round(self.sms * fraction_sms),
            memory_gb=self.memory_gb * fraction_memory,
            source=self.source,
            note=(f"MIG slice: peaks scaled by its share of SMs ({fraction_sms:.0%}) and of memory "
                  f"({fraction_memory:.0%}); approximate. " + self.note).strip(),
        )


# fmt: off
GPU_SPECS: dict[str, GpuSpec] = {
    # NVIDIA A100 Tensor Core GPU datasheet (nvidia.com/a100, "NVIDIA A100 datasheet", 2021):
    # FP64 9.7 (FP64 Tensor Core 19.5; cuBLAS DGEMM uses the tensor cores), FP32 19.5,
    # TF32 156 | 312*, BF16/FP16 312 | 624* (* = with sparsity), 2,039 GB/s (80 GB SXM4).
    "A100 SXM4 80GB": GpuSpec("A100 SXM4 80GB",
        {"fp64": 19.5, "fp32": 19.5, "tf32": 156.0, "fp16": 312.0, "bf16": 312.0},
        2039.0, 108, 80, "NVIDIA A100 datasheet (2021)"),
    # Same datasheet, A100 80GB PCIe column: same compute, 1,935 GB/s.
    "A100 PCIe 80GB": GpuSpec("A100 PCIe 80GB",
        {"fp64": 19.5, "fp32": 19.5, "tf32": 156.0, "fp16": 312.0, "bf16": 312.0},
        1935.0, 108, 80, "NVIDIA A100 datasheet (2021)"),
    # A100 40GB (SXM4 and PCIe): NVIDIA A100 datasheet (2020), 1,555 GB/s HBM2.
    "A100 40GB": GpuSpec("A100 40GB",
        {"fp64": 19.5, "fp32": 19.5, "tf32": 156.0, "fp16": 312.0, "bf16": 312.0},
        1555.0, 108, 40, "NVIDIA A100 datasheet (2020)"),
    # NVIDIA H100 Tensor Core GPU datasheet, SXM column: FP64 Tensor Core 67, FP32 67,
    # TF32 989*, BF16/FP16 1,979*, FP8 3,958* (* = with sparsity; dense is half), 3.35 TB/s.
    # Per-clock detail: NVIDIA Hopper architecture whitepaper (TF32 494.7 / BF16 989.4 / FP8 1978.9).
    "H100 SXM": GpuSpec("H100 SXM",
        {"fp64": 67.0, "fp32": 67.0, "tf32": 494.7, "fp16": 989.4, "bf16": 989.4, "fp8": 1978.9},
        3350.0, 132, 80, "NVIDIA H100 datasheet + Hopper whitepaper"),
    # H100 datasheet, PCIe column: FP64 TC 51, FP32 51, TF32 756*, BF16 1,513*, FP8 3,026*, 2 TB/s.
    "H100 PCIe": GpuSpec("H100 PCIe",
        {"fp64": 51.0, "fp32": 51.0, "tf32": 378.0, "fp16": 756.5, "bf16": 756.5, "fp8": 1513.0},
        2000.0, 114, 80, "NVIDIA H100 datasheet"),
    # H100 datasheet, NVL column: FP64 TC 60, FP32 60, TF32 835*, BF16 1,671*, FP8 3,341*, 3.9 TB/s.
    "H100 NVL": GpuSpec("H100 NVL",
        {"fp64": 60.0, "fp32": 60.0, "tf32": 417.5, "fp16": 835.5, "bf16": 835.5, "fp8": 1670.5},
        3900.0, 132, 94, "NVIDIA H100 datasheet"),
    # NVIDIA H200 Tensor Core GPU datasheet, SXM column: same compute as H100 SXM (FP64 TC 67,
    # FP32 67, TF32 989*, BF16 1,979*, FP8 3,958*), 141 GB HBM3e at 4.8 TB/s.
    "H200 SXM": GpuSpec("H200 SXM",
        {"fp64": 67.0, "fp32": 67.0, "tf32": 494.7, "fp16": 989.4, "bf16": 989.4, "fp8": 1978.9},
        4800.0, 132, 141, "NVIDIA H200 datasheet"),
    # H200 datasheet, NVL column: FP64 TC 60, FP32 60, TF32 835*, BF16 1,671*, FP8 3,341*, 4.8 TB/s.
    "H200 NVL": GpuSpec("H200 NVL",
        {"fp64": 60.0, "fp32": 60.0, "tf32": 417.5, "fp16": 835.5, "bf16": 835.5, "fp8": 1670.5},
        4800.0, 132, 141, "NVIDIA H200 datasheet"),
    # NVIDIA L4 Tensor Core GPU datasheet: FP32 30.3, TF32 120*, BF16/FP16 242*, FP8 485*
    # (* = with sparsity), 300 GB/s GDDR6. FP64 is not published (1/64 rate: about 0.47).
    "L4": GpuSpec("L4",
        {"fp32": 30.3, "tf32": 60.0, "fp16": 121.0, "bf16": 121.0, "fp8": 242.5},
        300.0, 58, 24, "NVIDIA L4 datasheet"),
    # NVIDIA T4 Tensor Core GPU datasheet: FP32 8.1, mixed-precision FP16/FP32 tensor 65,
    # 320 GB/s. Turing tensor cores have no BF16/TF32/FP8; torch runs bf16 there without them.
    "T4": GpuSpec("T4",
        {"fp32": 8.1, "fp16": 65.0},
        320.0, 40, 16, "NVIDIA T4 datasheet",
        note="Turing has no BF16/TF32 tensor cores: bf16 and tf32 runs have no peak to compare with."),
    # NVIDIA publishes no A10G datasheet (it is an AWS-only variant of the A10). Figures as
    # published by AWS (EC2 G5) and compared in Baseten's "NVIDIA A10 vs A10G for ML model
    # inference": FP32 35, TF32 35, BF16/FP16 70 dense tensor TFLOP/s, 600 GB/s, 80 SMs.
    "A10G": GpuSpec("A10G",
        {"fp32": 35.0, "tf32": 35.0, "fp16": 70.0, "bf16": 70.0},
        600.0, 80, 24, "AWS EC2 G5 / Baseten A10 vs A10G (no NVIDIA datasheet)",
        note="No official NVIDIA datasheet exists for the A10G; treat its peaks as approximate."),
    # NVIDIA A10 datasheet (for completeness, the non-AWS card): FP32 31.2, TF32 62.5,
    # BF16/FP16 125, 600 GB/s, 72 SMs.
    "A10": GpuSpec("A10",
        {"fp32": 31.2, "tf32": 62.5, "fp16": 125.0, "bf16": 125.0},
        600.0, 72, 24, "NVIDIA A10 datasheet"),
    # NVIDIA Ada Lovelace architecture whitepaper (v2.1), GeForce RTX 4090 column: FP32 82.6,
    # FP16/BF16 tensor with FP32 accumulate 165.2 (330.4*), TF32 82.6 (165.2*), FP8 with FP32
    # accumulate 330.3 (660.6*), FP64 1.3, 1,008 GB/s GDDR6X, 128 SMs. torch accumulates fp16/bf16
    # matmuls in fp32, so the FP32-accumulate figures are the right peaks.
    "RTX 4090": GpuSpec("RTX 4090",
        {"fp64": 1.3, "fp32": 82.6, "tf32": 82.6, "fp16": 165.2, "bf16": 165.2, "fp8": 330.3},
        1008.0, 128, 24, "NVIDIA Ada Lovelace architecture whitepaper v2.1"),
}
# fmt: on


def match_gpu(name: str, *, sms: int | None = None, memory_bytes: int | None = None) -> GpuSpec | None:
    """Return the spec entry for a CUDA device name, or None if the model is not in the table.

    Args:
        name: What ``torch.cuda.get_device_name`` reports, e.g. ``"NVIDIA H100 80GB HBM3"``.
        sms: ``multi_processor_count`` of the device; fewer SMs than the full product (a MIG
            slice, such as ZeroGPU's) scales the peaks down by the same share.
        memory_bytes: ``total_memory`` of the device, used to scale bandwidth for slices.

    Returns:
        The matching `GpuSpec` (scaled for slices), or None.
    """
    up = name.upper().replace("-", " ")
    key: str | None = None
    if "H200" in up:
        key = "H200 NVL" if "NVL" in up else "H200 SXM"
    elif "H100" in up:
        key = "H100 NVL" if "NVL" in up else ("H100 PCIe" if "PCIE" in up else "H100 SXM")
    elif "A100" in up:
        if "80GB" in up.replace(" ", ""):
            key = "A100 SXM4 80GB" if "SXM" in up else "A100 PCIe 80GB"
        else:
            key = "A100 40GB"
    elif "A10G" in up:
        key = "A10G"
    elif "RTX 4090" in up:
        key = "RTX 4090"
    elif "L4" in up.split() or up.endswith(" L4"):
        key = "L4"
    elif "T4" in up.split() or up.endswith(" T4"):
        key = "T4"
    elif "A10" in up.split() or up.endswith(" A10"):
        key = "A10"
    if key is None:
        return None
    spec = GPU_SPECS[key]
    frac_sms = min(1.0, sms / spec.sms) if sms else 1.0
    frac_mem = min(1.0, memory_bytes / (spec.memory_gb * 1e9)) if memory_bytes else 1.0
    # Memory of a full card reads a little under its marketing size (GiB vs GB, reserved pages):
    # only a clearly smaller share means a slice.
    if frac_sms < 0.97 or "MIG" in up:
        return spec.scaled(frac_sms, frac_mem if frac_mem < 0.9 else 1.0, f"{spec.name} ({name})")
    return spec


# ----------------------------------------------------------------------------------------------
# CPU peak: cores x clock x FLOPs per cycle per core.
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CpuPeak:
    """A CPU's theoretical peak, with the assumptions that produced it.

    Attributes:
        gflops: Peak GFLOP/s per dtype key.
        cores: Cores counted (the threads torch uses, at most the physical cores).
        ghz: Clock used.
        flops_per_cycle: FLOPs per cycle per core per dtype key.
        basis: One sentence per assumption, shown to the user.
    """

    gflops: dict[str, float]
    cores: int
    ghz: float
    flops_per_cycle: dict[str, float]
    basis: tuple[str, ...] = field(default_factory=tuple)


def flops_per_cycle(flags: set[str] | frozenset[str], *, vendor: str = "", family: int | None = None,
                    arch: str = "x86_64") -> tuple[dict[str, float], str]:
    """FLOPs per cycle per core for fp32, fp64 and bf16, from the CPU's feature flags.

    One fused multiply-add (FMA) is 2 FLOPs per vector lane. A core with two FMA units of W bits
    does ``2 units x (W / 32) lanes x 2`` fp32 FLOPs per cycle: 64 for AVX-512, 32 for AVX2.

    Args:
        flags: Feature flags as in /proc/cpuinfo (``avx2``, ``fma``, ``avx512f``, ``amx_bf16``...).
        vendor: ``"AuthenticAMD"``, ``"GenuineIntel"``... (AMD Zen 4 runs AVX-512 at half rate).
        family: CPU family number (AMD: 0x19 = Zen 3/4, 0x1A = Zen 5).
        arch: Machine architecture (``platform.machine()``).

    Returns:
        (FLOPs per cycle per dtype key, the assumption in words).
    """
    if arch in {"aarch64", "arm64"}:
        fp32, why = 16.0, "Arm NEON: assumed 2 x 128-bit FMA pipes (16 fp32 FLOPs/cycle)"
    elif "avx512f" in flags:
        if "AMD" in vendor.upper() and family is not None and family < 0x1A:
            fp32, why = 32.0, "AVX-512 on AMD Zen 4: 256-bit datapaths, so 32 fp32 FLOPs/cycle"
        else:
            fp32, why = 64.0, "AVX-512 with two 512-bit FMA units: 64 fp32 FLOPs/cycle"
    elif "avx2" in flags and "fma" in flags:
        fp32, why = 32.0, "AVX2 + FMA, two 256-bit FMA units: 32 fp32 FLOPs/cycle"
    elif "avx" in flags:
        fp32, why = 16.0, "AVX without FMA: 16 fp32 FLOPs/cycle"
    else:
        fp32, why = 8.0, "SSE: 8 fp32 FLOPs/cycle"
    per = {"fp32": fp32, "fp64": fp32 / 2}
    if "amx_bf16" in flags:
        # Intel AMX: one TMUL per core, 1,024 bf16 FLOPs per cycle (Intel's published figure).
        per["bf16"] = 1024.0
        why += "; AMX-BF16 tiles: 1,024 bf16 FLOPs/cycle"
    elif "avx512_bf16" in flags:
        # VDPBF16PS: a dot product of bf16 pairs, twice the fp32 FMA rate.
        per["bf16"] = 2 * fp32
        why += "; AVX512-BF16 dot products: 2x the fp32 rate for bf16"
    else:
        per["bf16"] = fp32
        why += "; no bf16 instructions: bf16 computed at the fp32 rate at best"
    return per, why


def cpu_peak(*, cores: int, ghz: float, flags: set[str] | frozenset[str], vendor: str = "",
             family: int | None = None, arch: str = "x86_64", measured: bool = False) -> CpuPeak:
    """The CPU's theoretical peak GFLOP/s per dtype: cores x GHz x FLOPs/cycle.

    Args:
        measured: True when ``ghz`` is the achieved clock (`labs.cuda_benchmark.clock`), False when
            it is the clock the OS reports (often the base clock in a VM).

    Raises:
        ValueError: If cores or clock are not positive.
    """
    if cores < 1 or ghz <= 0:
        raise ValueError(f"cpu_peak needs cores >= 1 and a clock > 0 GHz (got {cores} cores, {ghz} GHz).")
    per, why = flops_per_cycle(flags, vendor=vendor, family=family, arch=arch)
    gflops = {k: cores * ghz * v for k, v in per.items()}
    clock = "measured" if measured else "reported"
    basis = (
        f"{cores} core(s) x {ghz:.2f} GHz ({clock}) x FLOPs/cycle",
        why,
        ("The clock was measured with all counted cores busy (a dependent-add loop), turbo included."
         if measured else
         "The clock is what the OS reports (in a VM often the base clock, not the boost clock), "
         "so more than 100 % of this peak can mean the CPU ran faster than that clock."),
    )
    return CpuPeak(gflops=gflops, cores=cores, ghz=ghz, flops_per_cycle=per, basis=basis)


# Reasons a measurement can read above its peak, most likely first for each case.
OVER_PEAK_REASONS = {
    "turbo": "turbo: the peak uses the clock the OS reports, and the cores ran faster than it",
    "formula": "wrong peak formula: this CPU does more FLOPs per cycle than its flags suggest",
    "less_work": "a dtype path that does less work than counted (e.g. a narrower internal format or a "
                 "skipped computation), so 2n^3 overstates the FLOPs",
    "gpu_spec": "the spec-sheet entry does not match this card (another variant, clocks, or a MIG slice "
                "scaled wrongly), or the timing did not wait for the GPU",
}


def over_peak_reason(dtype: str, *, device: str, clock_measured: bool) -> str:
    """Why a point above 100 % of its peak is likely wrong, as one line for the table and the UI.

    Args:
        dtype: The dtype key of the point.
        device: ``"cpu"``, ``"cuda"`` or ``"mps"``.
        clock_measured: Whether the CPU peak used the achieved clock (`labs.cuda_benchmark.clock`).
    """
    if device != "cpu":
        keys = ["gpu_spec", "less_work"]
    elif not clock_measured:
        keys = ["turbo", "formula", "less_work"]
    elif dtype in {"bf16", "fp16", "fp8", "tf32"}:
        keys = ["less_work", "formula"]
    else:
        keys = ["formula", "less_work"]
    return "above 100 % of peak: likely " + "; or ".join(OVER_PEAK_REASONS[k] for k in keys)
