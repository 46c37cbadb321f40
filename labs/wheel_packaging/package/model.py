"""Load the packaged weights and run the tiny model with the Python standard library only.

The weights were trained with PyTorch and saved as `weights/model.safetensors`; what the layers
are, how inputs are encoded and what the outputs mean is in `weights/config.json`. Both files are
package data inside the wheel, found with `importlib.resources` (works from a zip or a folder).

No torch and no numpy at run time: `pip install` of this wheel needs nothing else, and a model
this small answers in microseconds in pure Python. `torch_module.load_module()` rebuilds the same
network in PyTorch when you install the `[torch]` extra.
"""

from __future__ import annotations

import json
import math
import re
import struct
from functools import lru_cache
from importlib import resources
from typing import Any, Sequence

try:  # the "native" build ships a C shared library for the dense layers
    from . import _native as _backend
except ImportError:  # every other build computes them in Python
    _backend = None

BACKEND = "native C library (ctypes)" if _backend is not None else "pure Python"
WORD = re.compile(r"[a-z']+")  # how text inputs are split into words (must match training)
SAFETENSORS_DTYPES = {"F32": ("f", 4), "F64": ("d", 8)}  # the dtypes this reader understands


def read_safetensors(data: bytes) -> dict[str, tuple[list[int], list[float]]]:
    """Parse a safetensors file: an 8-byte header length, a JSON header, then raw tensor bytes.

    Returns:
        ``{name: (shape, flat values)}`` for every tensor.
    """
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    body = data[8 + header_len :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        code, size = SAFETENSORS_DTYPES[info["dtype"]]
        start, end = info["data_offsets"]
        values = list(struct.unpack(f"<{(end - start) // size}{code}", body[start:end]))
        tensors[name] = (info["shape"], values)
    return tensors


def dense(x: Sequence[float], weight: list[list[float]], bias: list[float], relu: bool) -> list[float]:
    """One fully connected layer: ``y = W x + b`` (then ReLU if asked). W is (out, in)."""
    if _backend is not None:
        return _backend.dense(x, weight, bias, relu)
    y = [sum(w * v for w, v in zip(row, x)) + b for row, b in zip(weight, bias)]
    return [max(0.0, v) for v in y] if relu else y


class TinyModel:
    """The trained network plus its input encoding and output meaning."""

    def __init__(self, config: dict[str, Any], tensors: dict[str, tuple[list[int], list[float]]]):
        self.config = config
        self.layers = []
        for layer in config["layers"]:
            (n_out, n_in), flat = tensors[layer["weight"]]
            weight = [flat[r * n_in : (r + 1) * n_in] for r in range(n_out)]  # (out, in)
            self.layers.append((weight, tensors[layer["bias"]][1], layer["activation"] == "relu"))

    def encode(self, x: Any) -> list[float]:
        """Turn a user input (numbers or text) into the feature vector the first layer expects."""
        spec = self.config["input"]
        if spec["kind"] == "text":
            if not isinstance(x, str):
                raise TypeError("this model reads text: pass a string")
            words = set(WORD.findall(x.lower()))
            return [1.0 if word in words else 0.0 for word in spec["vocab"]]  # bag of words
        values = [x] if isinstance(x, (int, float)) else list(x)
        if len(values) != len(spec["names"]):
            raise ValueError(f"this model needs {len(spec['names'])} number(s): {', '.join(spec['names'])}")
        return [(float(v) - m) / s for v, m, s in zip(values, spec["mean"], spec["std"])]  # standardise

    def forward(self, features: Sequence[float]) -> list[float]:
        """Run the layers in order; returns the raw outputs (logits or standardised values)."""
        h = list(features)
        for weight, bias, relu in self.layers:
            h = dense(h, weight, bias, relu)
        return h

    def predict(self, x: Any) -> dict[str, Any]:
        """Encode `x`, run the network and decode the result into labels or values."""
        out = self.forward(self.encode(x))
        spec = self.config["output"]
        if spec["kind"] == "classification":
            top = max(out)
            exps = [math.exp(v - top) for v in out]  # softmax, shifted for stability
            probs = [e / sum(exps) for e in exps]
            best = probs.index(max(probs))
            return {"label": spec["labels"][best],
                    "probabilities": {lab: round(p, 6) for lab, p in zip(spec["labels"], probs)}}
        return {name: round(v * s + m, 6) for name, v, m, s in zip(spec["names"], out, spec["mean"], spec["std"])}


@lru_cache(maxsize=1)
def load() -> TinyModel:
    """Load the weights shipped inside this package (once; later calls reuse them)."""
    folder = resources.files(__package__) / "weights"
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return TinyModel(config, read_safetensors((folder / "model.safetensors").read_bytes()))


def predict(x: Any) -> dict[str, Any]:
    """Predict with the packaged model, e.g. ``predict([0.5, 0.2])`` or ``predict("great fun")``."""
    return load().predict(x)
