"""A CUDA kernel built by torch's load_inline, its time on the GPU apart from the copies to and from it.

`build_torch_cuda` compiles `kernels/saxpy_cuda_torch.cu` with
`torch.utils.cpp_extension.load_inline(cuda_sources=...)`: torch runs nvcc and the host compiler
through ninja and binds `saxpy_into(a, x, y, out)`, which works on tensors already on the GPU.
`measure` then allocates the three device buffers once, outside every timed region, and times
three things separately with CUDA events (timestamps taken on the GPU itself, on torch's current
stream):

- host -> device: copying x and y from pinned (page-locked) host memory to the GPU;
- kernel: `saxpy_into` alone, in batches of launches so the GPU never waits for Python;
- device -> host: copying the result back.

For SAXPY the copies move 24 bytes per element across PCIe while the kernel moves the same 24
bytes through GPU memory that is ~50x faster: the kernel is a few percent of the end-to-end time.
The older nvcc + ctypes way (`build.build_cuda`, `wrapping.saxpy_cuda`) times only that end-to-end
call, copies and allocations included.

References: torch.utils.cpp_extension.load_inline; torch.cuda.Event (elapsed_time in ms);
CUDA C++ Best Practices Guide, "Using CUDA GPU Timers".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from labs.cpp_wrapping import build, wrapping

SOURCE = build.KERNEL_DIR / "saxpy_cuda_torch.cu"
# load_inline builds its own main.cpp from these declarations and binds the names in `functions`.
CPP_DECLARATION = "void saxpy_into(double a, torch::Tensor x, torch::Tensor y, torch::Tensor out);"
CUDA_CFLAGS = ("-O2",)
REPEATS = 20  # timings per measurement; the fastest is reported
KERNEL_BATCH = 10  # launches between two events: queued launches keep the GPU busy, hiding launch latency
N = 10_000_000  # 80 MB per array: long enough for every step to take well over the event resolution (~0.5 µs)
# Loaded CUDA extension modules by name (the name holds the hash of source and flags).
_LOADED: dict[str, Any] = {}
TABLE_HEADERS = ["GPU", "Elements", "Host→device x, y (ms)", "Kernel alone (ms)", "Device→host out (ms)",
                 "Kernel GB/s", "Host→device GB/s", "Device→host GB/s", "Kernel share of end-to-end",
                 "vs NumPy"]


@dataclass
class CudaTiming:
    """What one measurement found; times are the fastest of `REPEATS`, in milliseconds."""

    device: str
    n: int
    h2d_ms: float
    kernel_ms: float
    d2h_ms: float
    max_abs_diff: float
    compile_s: float
    cached: bool
    log: str

    @property
    def kernel_gbps(self) -> float:
        return 3 * 8 * self.n / (self.kernel_ms * 1e-3) / 1e9  # reads x and y, writes out

    @property
    def h2d_gbps(self) -> float:
        return 2 * 8 * self.n / (self.h2d_ms * 1e-3) / 1e9

    @property
    def d2h_gbps(self) -> float:
        return 8 * self.n / (self.d2h_ms * 1e-3) / 1e9


def gpu_status() -> tuple[bool, str]:
    """Whether this machine can build and run the load_inline CUDA kernel, and a sentence saying why.

    Checks, in order: torch is installed, it is a CUDA build, it sees a GPU, and nvcc is found
    (torch's CUDA_HOME). Each missing piece gets its own plain message.
    """
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return False, "torch is not installed, so load_inline is not available: `pip install torch`."
    import torch

    if torch.version.cuda is None:
        return False, (f"No GPU here: this torch ({torch.__version__}) is a CPU-only build, so the CUDA kernel is "
                       "not compiled or run. The code below is what runs on a machine with an NVIDIA GPU and a "
                       "CUDA build of torch.")
    if not torch.cuda.is_available():
        return False, (f"No GPU here: torch {torch.__version__} was built for CUDA {torch.version.cuda}, but no "
                       "CUDA device or driver is visible (torch.cuda.is_available() is False).")
    from torch.utils.cpp_extension import CUDA_HOME

    if CUDA_HOME is None:
        return False, ("A GPU is present, but nvcc (the CUDA toolkit) was not found: install it and set "
                       "$CUDA_HOME so load_inline can compile the kernel.")
    return True, f"GPU: {torch.cuda.get_device_name()} (torch {torch.__version__}, CUDA {torch.version.cuda})."


def quick_gpu_line() -> str:
    """A first guess without importing torch (cheap enough for building the page): the torch build and the driver.

    `gpu_status` gives the definitive answer when the button is pressed.
    """
    import importlib.metadata

    try:
        version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "torch is not installed: `pip install torch` for load_inline."
    if "+cpu" in version:
        return (f"**No GPU here:** torch {version} is a CPU-only build, so this section shows the code and what it "
                "would measure; on a machine with an NVIDIA GPU and a CUDA build of torch the button runs it.")
    if not Path("/proc/driver/nvidia/gpus").is_dir() and not any(Path("/dev").glob("nvidia[0-9]*")):
        return (f"**No GPU here:** no NVIDIA driver or device was found (torch {version}), so this section shows "
                "the code; the button says what torch itself reports.")
    return f"An NVIDIA driver is present (torch {version}): press the button to compile and time the kernel."


def build_dir() -> Any:
    """The cache folder load_inline builds the CUDA extension in (named by a hash of source and flags)."""
    return build.cache_root() / f"torch_cuda-{build.cache_key('torch_cuda', SOURCE.read_text(), CUDA_CFLAGS)}"


def build_torch_cuda() -> build.BuildResult:
    """Compile the shipped CUDA source with `load_inline(cuda_sources=...)` (cached) and return the module.

    Only the shipped source is ever compiled here, so this is safe on a shared server.

    Raises:
        build.CompileFailed: With nvcc's/ninja's output when the build fails.
    """
    build._require("ninja", "torch.utils.cpp_extension (it drives the build with ninja)")
    from torch.utils import cpp_extension

    folder = build_dir()
    name = f"saxpy_cuda_torch_{folder.name.split('-', 1)[1]}"
    if name in _LOADED:  # an extension module is loaded once per process; ninja need not even look again
        return build.BuildResult("torch_cuda", folder, 0.0, True, f"# already loaded from {folder}\n", _LOADED[name])
    with build._locked(folder):
        cached = any(folder.glob(f"{name}*.so"))
        start = time.perf_counter()
        try:
            module = cpp_extension.load_inline(
                name=name, cpp_sources=[CPP_DECLARATION], cuda_sources=[SOURCE.read_text()],
                functions=["saxpy_into"], extra_cflags=list(build.TORCH_CFLAGS),
                extra_cuda_cflags=list(CUDA_CFLAGS), build_directory=str(folder), verbose=False)
        except RuntimeError as exc:
            raise build.CompileFailed(f"torch load_inline (CUDA) failed: {str(exc).splitlines()[0]}", str(exc)) from exc
        seconds = time.perf_counter() - start
    _LOADED[name] = module
    ninja = folder / "build.ninja"
    log = (f"# load_inline(name='{name}', cuda_sources=[saxpy_cuda_torch.cu], functions=['saxpy_into'], "
           f"extra_cuda_cflags={list(CUDA_CFLAGS)}, build_directory='{folder}')\n"
           + ("# cache hit\n" if cached else f"# compiled and loaded in {seconds:.1f} s\n")
           + (ninja.read_text() if ninja.exists() else ""))
    return build.BuildResult("torch_cuda", folder, 0.0 if cached else seconds, cached, log, module)


def event_ms(fn: Callable[[], Any], repeats: int = REPEATS, batch: int = 1) -> float:
    """Milliseconds per call of `fn` on the GPU: the fastest of `repeats` event pairs around `batch` calls.

    Both events are recorded on torch's current stream, where `fn` enqueues its work; `end.synchronize()`
    waits for the GPU, and `elapsed_time` is the GPU's own time between the two events.
    """
    import torch

    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    best = float("inf")
    for _ in range(repeats):
        start.record()
        for _ in range(batch):
            fn()
        end.record()
        end.synchronize()
        best = min(best, start.elapsed_time(end) / batch)
    return best


def measure(n: int = N, a: float = wrapping.DEFAULT_A,
            progress: Callable[[str], None] | None = None) -> CudaTiming:
    """Build the kernel, then time host->device, the kernel alone and device->host separately.

    Raises:
        ValueError: For a size outside 1..wrapping.MAX_N, or when no GPU can run it (the message says which).
    """
    import numpy as np

    from shared import serving

    wrapping.check_sizes(wrapping.SMALL_N, n)
    n = int(n)
    # x, y, the reference and three pinned host copies: 6 arrays of n doubles in host memory.
    if 6 * 8 * n > serving.memory_budget():
        raise ValueError(f"{n:,} elements need {6 * 8 * n / 2**20:,.0f} MB of host memory, above this server's "
                         f"budget of {serving.memory_budget() / 2**20:,.0f} MB. Pick a smaller size.")
    ok, message = gpu_status()
    if not ok:
        raise ValueError(message)
    import torch

    if progress:
        progress("compiling the CUDA kernel with load_inline" if not any(build_dir().glob("*.so"))
                 else "loading the CUDA kernel")
    built = build_torch_cuda()
    x_np, y_np = wrapping.make_inputs(n, seed=4)
    reference = wrapping.saxpy_numpy(a, x_np, y_np)
    # Pinned host memory: the GPU copies it by DMA at full PCIe speed (pageable memory is staged first).
    x_host, y_host = torch.from_numpy(x_np).pin_memory(), torch.from_numpy(y_np).pin_memory()
    out_host = torch.empty(n, dtype=torch.float64).pin_memory()
    # The device buffers are allocated once, here, so no timed region includes cudaMalloc.
    x_dev, y_dev, out_dev = (torch.empty(n, dtype=torch.float64, device="cuda") for _ in range(3))

    def h2d():
        x_dev.copy_(x_host, non_blocking=True)
        y_dev.copy_(y_host, non_blocking=True)

    def kernel():
        built.module.saxpy_into(a, x_dev, y_dev, out_dev)

    def d2h():
        out_host.copy_(out_dev, non_blocking=True)

    if progress:
        progress("timing host→device copies")
    h2d_ms = event_ms(h2d)
    kernel()  # the first launch loads the module onto the GPU: not a steady-state figure
    torch.cuda.synchronize()
    if progress:
        progress("timing the kernel alone")
    kernel_ms = event_ms(kernel, batch=KERNEL_BATCH)
    if progress:
        progress("timing device→host copy")
    d2h_ms = event_ms(d2h)
    torch.cuda.synchronize()
    diff = float(np.max(np.abs(out_host.numpy() - reference)))
    return CudaTiming(torch.cuda.get_device_name(), n, h2d_ms, kernel_ms, d2h_ms, diff,
                      built.seconds, built.cached, built.log)


def table(t: CudaTiming) -> list[list[Any]]:
    """One row for the UI table (`TABLE_HEADERS`)."""
    total = t.h2d_ms + t.kernel_ms + t.d2h_ms
    return [[t.device, t.n, round(t.h2d_ms, 3), round(t.kernel_ms, 4), round(t.d2h_ms, 3), round(t.kernel_gbps, 1),
             round(t.h2d_gbps, 1), round(t.d2h_gbps, 1), f"{t.kernel_ms / total:.1%}",
             "identical" if t.max_abs_diff == 0 else f"{t.max_abs_diff:.1e}"]]
