"""Device detection (CPU, CUDA, Apple MPS) and a `gpu` decorator that works everywhere.

On a Hugging Face ZeroGPU Space a GPU exists only inside functions decorated with `spaces.GPU`;
`gpu` applies that decorator there and is a no-op elsewhere, so lab code stays the same on a
laptop, a GPU Space and a ZeroGPU Space.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from typing import Any, Callable

ZEROGPU_ENV = "SPACES_ZERO_GPU"  # set by Hugging Face on ZeroGPU Spaces


@dataclass(frozen=True)
class DeviceInfo:
    """What accelerator torch can use here.

    Attributes:
        kind: ``"cuda"``, ``"mps"`` or ``"cpu"``.
        name: Human name of the device (GPU model, or the CPU's platform string).
        count: Number of devices of that kind.
        zerogpu: True on a ZeroGPU Space (CUDA is only visible inside `@gpu` functions).
        torch_version: The installed torch version, or None if torch is missing.
        notes: Extra facts worth showing to a user.
    """

    kind: str
    name: str
    count: int
    zerogpu: bool
    torch_version: str | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        """One line for a lab header, e.g. ``"CPU (x86_64), torch 2.13.0"``."""
        torch_part = f"torch {self.torch_version}" if self.torch_version else "torch not installed"
        label = {"cuda": "CUDA GPU", "mps": "Apple MPS", "cpu": "CPU"}[self.kind]
        many = f" x{self.count}" if self.count > 1 else ""
        return f"{label}{many}: {self.name} · {torch_part}"


def on_zerogpu() -> bool:
    """True when running on a Hugging Face ZeroGPU Space."""
    return os.environ.get(ZEROGPU_ENV, "").lower() in {"1", "true"}


def detect() -> DeviceInfo:
    """Detect the best torch device; imports torch (call it from a handler, not at import)."""
    try:
        import torch
    except ImportError:
        return DeviceInfo("cpu", platform.machine() or "cpu", 1, on_zerogpu(), None,  # one CPU device, as torch counts
                          ("torch is not installed, so only CPU code paths without torch can run",))
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        return DeviceInfo("cuda", torch.cuda.get_device_name(0), count, on_zerogpu(), torch.__version__)
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return DeviceInfo("mps", "Apple GPU", 1, False, torch.__version__)
    return DeviceInfo("cpu", platform.processor() or platform.machine() or "cpu", 1, on_zerogpu(),
                      torch.__version__)


def torch_device() -> str:
    """The device string to pass to torch: ``"cuda"``, ``"mps"`` or ``"cpu"``."""
    return detect().kind


def gpu(fn: Callable[..., Any] | None = None, *, duration: int = 60) -> Any:
    """Mark a function that wants the GPU.

    On a ZeroGPU Space this is ``spaces.GPU(duration=duration)``; everywhere else it returns the
    function unchanged. Use it bare (``@gpu``) or with options (``@gpu(duration=120)``).

    Args:
        fn: The function to decorate (when used bare).
        duration: Seconds of GPU time ZeroGPU should reserve per call.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        if not on_zerogpu():
            return func
        try:
            import spaces  # Hugging Face's ZeroGPU package; only present on Spaces.
        except ImportError:
            return func
        return spaces.GPU(duration=duration)(func)

    return decorate(fn) if fn is not None else decorate
