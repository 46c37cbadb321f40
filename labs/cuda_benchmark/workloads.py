"""The work being timed: matrix multiplies, memory copies, vector adds and host<->device transfers.

Each ``make_*`` function allocates its operands once and returns a `Work`: a no-argument callable
plus the FLOPs and bytes one call performs, so throughput is ``flops / seconds`` (TFLOP/s) or
``bytes / seconds`` (GB/s). Allocation happens outside the timed call on purpose: we time the
arithmetic, not ``malloc``.

Counting conventions (the usual ones, so numbers compare with published ones):

* matmul of two n x n matrices: ``2 n^3`` FLOPs (one multiply and one add per term); minimum
  traffic ``3 n^2`` elements (read A and B once, write C once);
* copy: ``2 x size`` bytes (read + write, as STREAM counts it);
* vector add ``c = a + b``: one FLOP per element, ``3 x size`` bytes;
* transfer: ``size`` bytes over the bus (PCIe/NVLink-C2C).

Memory is checked *before* anything is allocated (`check_fits`), so a size that cannot fit gets a
clear message instead of an out-of-memory crash.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from shared.serving import is_shared, memory_budget

# Bytes per element of each dtype key (tf32 is stored as fp32; it only changes how the GPU multiplies).
ELEMENT_BYTES = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "fp64": 8}
# Only this share of the free memory is planned for: the allocator, the OS and other users need the rest.
MEMORY_SAFETY = 0.7
# On a shared server one workload may use at most this much, whatever is free: the benchmark runs
# inside the web server, next to every other visitor's request.
SHARED_HOST_BYTES = 1 << 30  # RAM (the CPU path, host buffers, staging for the GPU)
SHARED_GPU_BYTES = 8 << 30  # GPU memory


class BenchInputError(ValueError):
    """A benchmark setting cannot be used; the message says why and what to choose instead."""


@dataclass
class Work:
    """One timed operation.

    Attributes:
        fn: Runs the operation once.
        flops: Floating-point operations per call (0 for pure data movement).
        bytes: Bytes moved per call (minimum traffic, see the module docstring).
        label: Short description for tables.
    """

    fn: Callable[[], Any]
    flops: float
    bytes: float
    label: str


def dtype_support(dtype_key: str, device: str, *, capability: tuple[int, int] | None = None) -> str | None:
    """Return None if ``dtype_key`` matmuls can run fast on ``device``, else the reason they cannot.

    Args:
        dtype_key: One of ``ELEMENT_BYTES``.
        device: ``"cpu"``, ``"cuda"`` or ``"mps"``.
        capability: CUDA compute capability (major, minor); fp8 needs 8.9 (Ada) or 9.0 (Hopper).
    """
    if dtype_key not in ELEMENT_BYTES:
        return f"unknown dtype '{dtype_key}' (choose from {', '.join(ELEMENT_BYTES)})"
    if device == "cpu":
        if dtype_key == "tf32":
            return "TF32 is a GPU tensor-core format; CPUs have no TF32 mode"
        if dtype_key == "fp8":
            return "fp8 matmul (torch._scaled_mm) needs an NVIDIA GPU of compute capability 8.9 or newer"
        if dtype_key == "fp16":
            return ("torch has no fast fp16 matmul on most CPUs (about 1-3 GFLOP/s, minutes per size); "
                    "bf16 is the CPU's 16-bit type")
    if device == "mps" and dtype_key in {"fp64", "tf32", "fp8"}:
        return f"{dtype_key} is not supported by Apple MPS"
    if device == "cuda" and dtype_key == "fp8" and (capability is None or capability < (8, 9)):
        cc = "?" if capability is None else f"{capability[0]}.{capability[1]}"
        return f"fp8 matmul needs compute capability 8.9+ (Ada/Hopper); this GPU has {cc}"
    return None


def matmul_bytes(n: int, dtype_key: str) -> int:
    """Memory the matmul benchmark allocates for size n: A, B and the output C."""
    if dtype_key == "fp8":
        return 2 * n * n * 1 + n * n * 2  # fp8 inputs, bf16 output
    return 3 * n * n * ELEMENT_BYTES[dtype_key]


def available_memory(device: str) -> int:
    """Bytes that may be allocated on ``device`` now (free GPU memory, or available RAM)."""
    if device == "cuda":
        import torch

        return int(torch.cuda.mem_get_info()[0])
    from labs.cuda_benchmark.hardware import memory_bytes

    mem = memory_bytes()
    return int(mem["available"] or mem["total"] or 0)


def check_fits(needed: int, device: str, what: str, *, available: int | None = None) -> None:
    """Refuse, before allocating, work that would not fit in the device's free memory.

    On a shared server a workload is also held to a fixed cap (`SHARED_HOST_BYTES` of RAM,
    `SHARED_GPU_BYTES` of GPU memory), whatever the machine has free.

    Raises:
        BenchInputError: If ``needed`` exceeds `MEMORY_SAFETY` of the available memory, or the
            shared cap.
    """
    free = available_memory(device) if available is None else available
    budget = int(free * MEMORY_SAFETY)
    if needed > budget:
        raise BenchInputError(
            f"{what} needs {needed / 2**30:.2f} GiB on {device}, but only {free / 2**30:.2f} GiB is free "
            f"there and the lab plans for at most {MEMORY_SAFETY:.0%} of it ({budget / 2**30:.2f} GiB). "
            "Choose smaller sizes."
        )
    if is_shared():
        cap = SHARED_GPU_BYTES if device == "cuda" else memory_budget(fraction=MEMORY_SAFETY,
                                                                      shared_cap=SHARED_HOST_BYTES)
        if needed > cap:
            raise BenchInputError(
                f"{what} needs {needed / 2**30:.2f} GiB on {device}, over this shared server's limit of "
                f"{cap / 2**30:.2f} GiB per workload. Choose smaller sizes, or run the lab on your own machine."
            )


def torch_dtype(dtype_key: str) -> Any:
    """The torch dtype that stores ``dtype_key`` (tf32 is stored as float32)."""
    import torch

    return {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16,
            "fp64": torch.float64, "fp8": torch.float8_e4m3fn}[dtype_key]


@contextlib.contextmanager
def matmul_precision(dtype_key: str) -> Iterator[None]:
    """Allow TF32 tensor cores for float32 matmuls only while timing the ``tf32`` dtype.

    torch multiplies float32 matrices in full fp32 by default ("highest"); "high" lets cuBLAS use
    TF32 (10-bit mantissa inputs, fp32 accumulate), several times faster on Ampere and newer.
    """
    import torch

    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high" if dtype_key == "tf32" else "highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


def make_matmul(n: int, dtype_key: str, device: str) -> Work:
    """C = A @ B for random n x n matrices of ``dtype_key`` on ``device``.

    The output buffer is allocated once and reused (``out=``), so each call is pure arithmetic.
    fp8 goes through ``torch._scaled_mm`` (per-tensor scales of 1, bf16 output), which needs the
    second matrix in column-major layout: the transpose of a row-major matrix is exactly that.
    """
    import torch

    gen = torch.Generator(device="cpu").manual_seed(n)
    if dtype_key == "fp8":
        a = torch.randn(n, n, generator=gen).to(device=device, dtype=torch.float8_e4m3fn)
        b = torch.randn(n, n, generator=gen).to(device=device, dtype=torch.float8_e4m3fn).t()
        one = torch.ones((), device=device, dtype=torch.float32)

        def fn() -> Any:
            return torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
    else:
        dt = torch_dtype(dtype_key)
        a = torch.randn(n, n, generator=gen, dtype=torch.float32).to(device=device, dtype=dt)
        b = torch.randn(n, n, generator=gen, dtype=torch.float32).to(device=device, dtype=dt)
        c = torch.empty(n, n, device=device, dtype=dt)

        def fn() -> Any:
            return torch.mm(a, b, out=c)
    return Work(fn, flops=2.0 * n**3, bytes=float(matmul_bytes(n, dtype_key)), label=f"matmul {dtype_key} n={n}")


def make_copy(nbytes: int, device: str) -> Work:
    """dst.copy_(src) of an fp32 buffer of ``nbytes``: device memory bandwidth (read + write)."""
    import torch

    numel = max(1, nbytes // 4)
    src = torch.ones(numel, device=device, dtype=torch.float32)
    dst = torch.empty_like(src)
    return Work(lambda: dst.copy_(src), flops=0.0, bytes=2.0 * numel * 4, label=f"copy {nbytes / 2**20:g} MiB")


def make_add(nbytes: int, device: str) -> Work:
    """c = a + b on fp32 buffers of ``nbytes`` each: 1 FLOP per 12 bytes, the memory-bound extreme."""
    import torch

    numel = max(1, nbytes // 4)
    a = torch.ones(numel, device=device)
    b = torch.ones(numel, device=device)
    c = torch.empty_like(a)
    return Work(lambda: torch.add(a, b, out=c), flops=float(numel), bytes=3.0 * numel * 4,
                label=f"add {nbytes / 2**20:g} MiB")


def make_transfer(nbytes: int, direction: str, *, pinned: bool, device: str = "cuda") -> Work:
    """Copy ``nbytes`` host->device (``"h2d"``) or device->host (``"d2h"``), pinned or pageable.

    Pageable host memory must first be staged by the driver into a pinned bounce buffer; pinned
    (page-locked) memory can be read by the GPU's DMA engines directly, so it is faster.
    """
    import torch

    if direction not in {"h2d", "d2h"}:
        raise BenchInputError(f"transfer direction must be 'h2d' or 'd2h', not {direction!r}.")
    numel = max(1, nbytes // 4)
    host = torch.ones(numel, dtype=torch.float32, pin_memory=pinned)
    dev = torch.empty(numel, dtype=torch.float32, device=device)
    fn = (lambda: dev.copy_(host)) if direction == "h2d" else (lambda: host.copy_(dev))
    kind = "pinned" if pinned else "pageable"
    return Work(fn, flops=0.0, bytes=float(numel * 4), label=f"{direction} {kind} {nbytes / 2**20:g} MiB")


def make_matmul_roundtrip(n: int, device: str) -> Work:
    """fp32 matmul on ``device`` including the trip there and back: copy A and B in, multiply, copy C out.

    This is what offloading a single CPU matmul to a GPU really costs, and why small matrices are
    faster on the CPU.
    """
    import torch

    gen = torch.Generator(device="cpu").manual_seed(n)
    a = torch.randn(n, n, generator=gen)
    b = torch.randn(n, n, generator=gen)

    def fn() -> Any:
        return torch.mm(a.to(device), b.to(device)).cpu()
    return Work(fn, flops=2.0 * n**3, bytes=float(3 * n * n * 4), label=f"matmul fp32 n={n} with transfers")


def sync_for(device: str) -> Callable[[], None] | None:
    """The function that waits for ``device`` to finish queued work (None on the CPU)."""
    import torch

    if device == "cuda":
        return torch.cuda.synchronize
    if device == "mps":
        return torch.mps.synchronize
    return None
