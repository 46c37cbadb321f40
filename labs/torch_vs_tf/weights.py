"""One set of initial weights for every framework, and the layout rules that move it between them.

Same seed is not enough: PyTorch and Keras draw different random numbers and even use different
default initialisers (PyTorch `Linear`: Kaiming-uniform weights *and* biases; Keras `Dense`:
Glorot-uniform weights, zero biases). So the weights are drawn once here, in NumPy, and copied in.

The copy teaches the layout differences that bite when porting models:

| layer        | PyTorch                      | Keras                          |
|--------------|------------------------------|--------------------------------|
| dense kernel | (out, in)                    | (in, out)                      |
| conv kernel  | (out, in, kh, kw)  (NCHW)    | (kh, kw, in, out)  (NHWC)      |
| flatten      | channel-major (c, h, w)      | channel-last (h, w, c)         |

The canonical layout here is PyTorch's; `to_keras` converts it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HIDDEN_MLP = (128, 64)  # two hidden layers: ~17k parameters on 8x8 digits
CONV_CHANNELS = (16, 32)  # two 3x3 convolutions, each followed by 2x2 max-pooling
HIDDEN_CNN = 64
KERNEL = 3


@dataclass(frozen=True)
class Layer:
    """One trainable layer in PyTorch layout.

    Attributes:
        name: ``dense1``, ``conv1``...
        kind: ``"dense"`` or ``"conv"``.
        weight: (out, in) for dense, (out, in, kh, kw) for conv.
        bias: (out,).
        flatten_from: For the first dense layer after a conv stack: (C, H, W) of its input.
    """

    name: str
    kind: str
    weight: np.ndarray
    bias: np.ndarray
    flatten_from: tuple[int, int, int] | None = None


def layer_shapes(arch: str, side: int, classes: int = 10,
                 hidden: tuple[int, ...] = HIDDEN_MLP) -> list[tuple[str, str, tuple, tuple | None]]:
    """(name, kind, PyTorch weight shape, flatten_from) for every trainable layer.

    `hidden` sets the MLP's hidden widths (the sweep widens them to add work per step).
    """
    if arch == "mlp":
        sizes = (side * side, *hidden, classes)
        return [(f"dense{i + 1}", "dense", (sizes[i + 1], sizes[i]), None) for i in range(len(sizes) - 1)]
    if arch == "cnn":
        c1, c2 = CONV_CHANNELS
        pooled = side // 4  # two 2x2 poolings, rounding down like both frameworks
        return [
            ("conv1", "conv", (c1, 1, KERNEL, KERNEL), None),
            ("conv2", "conv", (c2, c1, KERNEL, KERNEL), None),
            ("dense1", "dense", (HIDDEN_CNN, c2 * pooled * pooled), (c2, pooled, pooled)),
            ("dense2", "dense", (classes, HIDDEN_CNN), None),
        ]
    raise ValueError(f"unknown architecture {arch!r}; use 'mlp' or 'cnn'")


def init_weights(arch: str, side: int, seed: int, hidden: tuple[int, ...] = HIDDEN_MLP) -> list[Layer]:
    """Glorot-uniform weights and zero biases (Keras' defaults), drawn once with NumPy."""
    rng = np.random.default_rng(seed)
    layers = []
    for name, kind, shape, flatten_from in layer_shapes(arch, side, hidden=hidden):
        receptive = int(np.prod(shape[2:])) if kind == "conv" else 1
        fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weight = rng.uniform(-limit, limit, size=shape).astype(np.float32)
        layers.append(Layer(name, kind, weight, np.zeros(shape[0], np.float32), flatten_from))
    return layers


def mlp_hidden(layers: list[Layer]) -> tuple[int, ...]:
    """The hidden widths of an MLP's weight list (every layer's output but the last)."""
    return tuple(layer.weight.shape[0] for layer in layers[:-1])


def count_params(layers: list[Layer]) -> int:
    return int(sum(layer.weight.size + layer.bias.size for layer in layers))


def to_keras(layer: Layer) -> list[np.ndarray]:
    """The same layer as Keras `set_weights` expects it: [kernel, bias]."""
    w = layer.weight
    if layer.kind == "conv":
        return [w.transpose(2, 3, 1, 0), layer.bias]  # (out,in,kh,kw) -> (kh,kw,in,out)
    if layer.flatten_from is not None:
        c, h, wd = layer.flatten_from
        out = w.shape[0]
        # PyTorch flattens (c, h, w); Keras flattens (h, w, c). Reorder the kernel's input rows.
        w = w.reshape(out, c, h, wd).transpose(0, 2, 3, 1).reshape(out, h * wd * c)
    return [w.T, layer.bias]  # (out, in) -> (in, out)


def from_keras(kind: str, kernel: np.ndarray, bias: np.ndarray,
               flatten_from: tuple[int, int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of `to_keras`: Keras [kernel, bias] back to PyTorch layout (for checks)."""
    if kind == "conv":
        return kernel.transpose(3, 2, 0, 1), bias
    w = kernel.T
    if flatten_from is not None:
        c, h, wd = flatten_from
        out = w.shape[0]
        w = w.reshape(out, h, wd, c).transpose(0, 3, 1, 2).reshape(out, c * h * wd)
    return w, bias
