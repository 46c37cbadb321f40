"""The native build's dense layer: a C shared library shipped inside the wheel, loaded with ctypes.

The library is also there for *other* packages: `lib_path()` gives its location, so a second
project can `ctypes.CDLL(lib_path())` (or link against it) without compiling anything. That is
the other meaning of "distribute libraries, not code": the wheel carries a compiled `.so`.
"""

from __future__ import annotations

import ctypes
import sys
from importlib import resources
from typing import Sequence

LIB_NAME = {"win32": "tinymodel.dll", "darwin": "libtinymodel.dylib"}.get(sys.platform, "libtinymodel.so")


def lib_path() -> str:
    """Absolute path of the packaged shared library (for other packages to load)."""
    return str(resources.files(__package__) / LIB_NAME)


try:
    _lib = ctypes.CDLL(lib_path())
except OSError as exc:  # not built for this platform: model.py falls back to pure Python
    raise ImportError(f"native library {LIB_NAME} could not be loaded: {exc}") from exc

_FloatPtr = ctypes.POINTER(ctypes.c_float)
_lib.tm_dense.argtypes = [_FloatPtr, _FloatPtr, _FloatPtr, _FloatPtr, ctypes.c_int, ctypes.c_int, ctypes.c_int]
_lib.tm_dense.restype = ctypes.c_int
_lib.tm_version.restype = ctypes.c_char_p


def version() -> str:
    """The version string compiled into the library."""
    return _lib.tm_version().decode()


def dense(x: Sequence[float], weight: list[list[float]], bias: list[float], relu: bool) -> list[float]:
    """``y = W x + b`` (then ReLU) computed by `tm_dense` in C on float32 buffers."""
    n_out, n_in = len(weight), len(x)
    xs = (ctypes.c_float * n_in)(*x)
    ws = (ctypes.c_float * (n_out * n_in))(*[w for row in weight for w in row])  # row-major
    bs = (ctypes.c_float * n_out)(*bias)
    ys = (ctypes.c_float * n_out)()
    if _lib.tm_dense(xs, ws, bs, ys, n_in, n_out, int(relu)) != 0:
        raise ValueError("tm_dense rejected the layer sizes")
    return list(ys)
