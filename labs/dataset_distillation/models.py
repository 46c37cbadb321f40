"""Small torch models, one training loop, evaluation, and safetensors export.

Everything here is small on purpose: a dataset of a few thousand rows and a model of a few
thousand weights train in seconds on a 2-core CPU, so the lessons (what the data shows the model,
what distillation keeps) are visible without waiting.

- `MLP`: a multi-layer perceptron for any table (and for flattened images).
- `ConvNet`: the small ConvNet of the dataset-distillation papers (conv-norm-ReLU-pool blocks),
  shrunk for 8x8 to 32x32 images.
- `train`: Adam with optional knowledge-distillation targets (see `distill.kd_loss`).
- `save_model`: weights as safetensors plus a JSON config that says how to rebuild and feed it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

MODEL_KINDS = ("MLP", "ConvNet")
HIDDEN_RANGE = (4, 512)  # units per hidden layer
EPOCH_RANGE = (1, 500)
LR_RANGE = (1e-4, 0.5)
DEFAULT_EPOCHS = 60  # digits reaches ~97% with the default MLP in ~60 passes
DEFAULT_LR = 3e-3  # Adam's usual 1e-3 is slow for tiny models; 3e-3 converges in a few seconds
DEFAULT_BATCH = 128  # the largest batch; small datasets use ~10 batches per epoch (see `train`)
WEIGHT_DECAY = 5e-4  # a little L2 keeps tiny models from memorising tiny datasets


_THREADS_LOCK = threading.Lock()
_THREADS_USERS = 0
_THREADS_SAVED = 0


@contextlib.contextmanager
def one_thread():
    """Run torch on one CPU thread while any of this lab's work is running.

    The models here are tiny (a 128x64 matmul per layer): splitting that over threads costs more
    in hand-offs than it saves, and when other processes share the 2 cores, OpenMP's spin-waiting
    makes it 3-10x slower (measured: 0.75 ms/step on one thread vs 2-9 ms on two). The setting is
    process-wide, so it is reference-counted: the first user sets it, the last one restores it.
    """
    import torch

    global _THREADS_USERS, _THREADS_SAVED
    with _THREADS_LOCK:
        if _THREADS_USERS == 0:
            _THREADS_SAVED = torch.get_num_threads()
            torch.set_num_threads(1)
        _THREADS_USERS += 1
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _THREADS_USERS -= 1
            if _THREADS_USERS == 0:
                torch.set_num_threads(_THREADS_SAVED)


@dataclass
class Scaler:
    """Standardisation fitted on training data only (the test set must not leak into it).

    Tables are scaled per column; images by one mean and std over all pixels, so the picture keeps
    its contrast and a ConvNet sees the same scale everywhere.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray, *, per_feature: bool) -> "Scaler":
        if per_feature:
            mean, std = X.mean(0), X.std(0)
        else:
            mean, std = np.full(X.shape[1], X.mean()), np.full(X.shape[1], X.std())
        std = np.where(std < 1e-6, 1.0, std)  # constant columns (e.g. blank corner pixels) stay 0
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def transform(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean) / self.std).astype(np.float32)

    def inverse(self, Z: np.ndarray) -> np.ndarray:
        return (Z * self.std + self.mean).astype(np.float32)


@dataclass
class ModelSpec:
    """How to rebuild a model: written next to the weights as config.json."""

    kind: str  # "MLP" or "ConvNet"
    in_features: int
    n_classes: int
    hidden: int = 64  # MLP: units per hidden layer; ConvNet: channels per conv block
    layers: int = 2  # MLP: hidden layers; ConvNet: conv blocks
    image_shape: tuple[int, int, int] | None = None  # (C, H, W) for ConvNet
    class_names: list[str] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    scaler_mean: list[float] = field(default_factory=list)
    scaler_std: list[float] = field(default_factory=list)


def check_spec(spec: ModelSpec) -> None:
    """Raise ValueError with a clear message if the spec cannot be built."""
    if spec.kind not in MODEL_KINDS:
        raise ValueError(f"Model must be one of {', '.join(MODEL_KINDS)} (got {spec.kind!r}).")
    if not HIDDEN_RANGE[0] <= spec.hidden <= HIDDEN_RANGE[1]:
        raise ValueError(f"Hidden size must be between {HIDDEN_RANGE[0]} and {HIDDEN_RANGE[1]} (got {spec.hidden}).")
    if not 1 <= spec.layers <= 4:
        raise ValueError(f"Layers must be between 1 and 4 (got {spec.layers}).")
    if spec.kind == "ConvNet" and spec.image_shape is None:
        raise ValueError("A ConvNet needs image data (digits, drawn digits or an image ZIP). "
                         "Choose MLP for tables and point clouds.")


def build_model(spec: ModelSpec, *, seed: int = 0):
    """Build a fresh, randomly initialised torch model from `spec` (seeded, so runs repeat)."""
    import torch
    from torch import nn

    check_spec(spec)
    torch.manual_seed(int(seed))
    if spec.kind == "MLP":
        dims = [spec.in_features] + [spec.hidden] * spec.layers
        blocks: list[nn.Module] = []
        for a, b in zip(dims, dims[1:]):
            blocks += [nn.Linear(a, b), nn.ReLU()]
        return nn.Sequential(*blocks, nn.Linear(dims[-1], spec.n_classes))
    return ConvNet(spec.image_shape, spec.n_classes, width=spec.hidden, depth=spec.layers)


@functools.cache  # one class object, so several ConvNets can be stacked for torch.func.vmap
def _convnet_class():
    import torch
    from torch import nn

    class _ConvNet(nn.Module):
        """Conv3x3 -> GroupNorm(instance) -> ReLU -> AvgPool blocks, then one linear layer.

        This is the ConvNet of Zhao et al. (DC) and Zhao & Bilen (DM), with fewer blocks so 8x8
        digits still have pixels left after pooling. Instance norm (GroupNorm with one channel per
        group) has no batch statistics, so it behaves the same on 10 synthetic images as on 1,000 real.
        """

        def __init__(self, image_shape, n_classes, width=32, depth=2):
            super().__init__()
            c, h, w = image_shape
            self.image_shape = tuple(image_shape)
            layers: list[nn.Module] = []
            for _ in range(depth):
                layers += [nn.Conv2d(c, width, 3, padding=1), nn.GroupNorm(width, width, affine=True), nn.ReLU()]
                if min(h, w) >= 4:  # pool while at least 2x2 pixels remain
                    layers.append(nn.AvgPool2d(2))
                    h, w = h // 2, w // 2
                c = width
            self.features = nn.Sequential(*layers)
            self.classifier = nn.Linear(width * h * w, n_classes)

        def embed(self, x: torch.Tensor) -> torch.Tensor:
            """Features before the classifier, (B, width*h*w): what distribution matching compares."""
            return self.features(x.view(-1, *self.image_shape)).flatten(1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, C*H*W) flattened images
            return self.classifier(self.embed(x))

    return _ConvNet


def ConvNet(image_shape, n_classes, *, width=32, depth=2):
    """Build the lab's small ConvNet (class defined lazily so this module imports without torch)."""
    return _convnet_class()(image_shape, n_classes, width, depth)


def embed(model, x):
    """The model's features before its last linear layer (for distribution matching)."""
    if hasattr(model, "embed"):
        return model.embed(x)
    return model[:-1](x)  # an MLP: everything but the classifier


def count_params(model) -> int:
    """Number of trainable weights."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


@dataclass
class History:
    """What `train` recorded, one entry per epoch."""

    epoch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: float = 0.0


def train(model, X: np.ndarray, y: np.ndarray, *, epochs: int = DEFAULT_EPOCHS, lr: float = DEFAULT_LR,
          batch_size: int | None = None, weight_decay: float = WEIGHT_DECAY, seed: int = 0,
          X_test: np.ndarray | None = None, y_test: np.ndarray | None = None,
          teacher_logits: np.ndarray | None = None, temperature: float = 4.0, alpha: float = 0.9,
          record: bool = True, on_epoch: Callable[[int, int], None] | None = None) -> History:
    """Train `model` with Adam on standardised `X` and labels `y`.

    Args:
        model: A torch module from `build_model`.
        X, y: Training inputs (n, d) float32 and labels (n,).
        epochs: Passes over the data.
        batch_size: Rows per step; None picks n/10 between 16 and `DEFAULT_BATCH`, so a 150-row table
            still gets ~10 updates per epoch instead of one.
        teacher_logits: If given, (n, K) logits of a teacher for the same rows: the loss becomes
            the knowledge-distillation loss `distill.kd_loss` with `temperature` and `alpha`.
        X_test, y_test: If given, test accuracy is recorded every epoch (for the curves).
        record: If False, skip per-epoch accuracy (faster; used when training many models).
        on_epoch: Called as on_epoch(epoch, epochs) after each epoch (for progress bars).

    Returns:
        The training `History`.
    """
    import torch
    import torch.nn.functional as F

    if not EPOCH_RANGE[0] <= epochs <= EPOCH_RANGE[1]:
        raise ValueError(f"Epochs must be between {EPOCH_RANGE[0]} and {EPOCH_RANGE[1]} (got {epochs}).")
    if not LR_RANGE[0] <= lr <= LR_RANGE[1]:
        raise ValueError(f"Learning rate must be between {LR_RANGE[0]} and {LR_RANGE[1]} (got {lr}).")
    from .distill import kd_loss

    start = time.perf_counter()
    gen = torch.Generator().manual_seed(int(seed))
    Xt, yt = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    Tt = None if teacher_logits is None else torch.as_tensor(teacher_logits, dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    hist = History()
    n = len(yt)
    if batch_size is None:
        batch_size = min(DEFAULT_BATCH, max(16, n // 10))
    for ep in range(1, int(epochs) + 1):
        model.train()
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            logits = model(Xt[idx])
            if Tt is None:
                loss = F.cross_entropy(logits, yt[idx])
            else:
                loss = kd_loss(logits, Tt[idx], yt[idx], temperature=temperature, alpha=alpha)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        if record:
            hist.epoch.append(ep)
            hist.loss.append(total / n)
            hist.train_acc.append(accuracy(model, X, y))
            if X_test is not None:
                hist.test_acc.append(accuracy(model, X_test, y_test))
        if on_epoch:
            on_epoch(ep, epochs)
    hist.seconds = time.perf_counter() - start
    return hist


def logits_of(model, X: np.ndarray) -> np.ndarray:
    """The model's raw outputs for `X`, (n, K), computed without gradients."""
    import torch

    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(X, dtype=torch.float32)).numpy()


def predict(model, X: np.ndarray) -> np.ndarray:
    """Predicted labels for `X`."""
    return logits_of(model, X).argmax(1)


def accuracy(model, X: np.ndarray, y: np.ndarray) -> float:
    """Share of rows whose predicted label equals `y` (0..1)."""
    if len(y) == 0:
        return float("nan")
    return float((predict(model, X) == np.asarray(y)).mean())


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion matrix C with C[true, predicted] = count."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def save_model(model, spec: ModelSpec, folder: str | os.PathLike[str], *, name: str = "model",
               metrics: dict | None = None) -> list[str]:
    """Save weights as `<name>.safetensors` and how to rebuild them as `<name>.config.json`.

    Returns:
        The two file paths.
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / f"{name}.safetensors"
    config = folder / f"{name}.config.json"
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(tensors, str(weights), metadata={"format": "pt", "kind": spec.kind})
    body = asdict(spec) | {"parameters": count_params(model), "metrics": metrics or {},
                           "how_to_load": "spec = ModelSpec(**config minus parameters/metrics/how_to_load); "
                                          "model = build_model(spec); model.load_state_dict("
                                          "safetensors.torch.load_file(weights)); feed (X - scaler_mean) / scaler_std"}
    config.write_text(json.dumps(body, indent=2))
    return [str(weights), str(config)]


def load_model(weights: str | os.PathLike[str], config: str | os.PathLike[str]):
    """Rebuild a model saved by `save_model`; returns (model, spec)."""
    from safetensors.torch import load_file

    body = json.loads(Path(config).read_text())
    for extra in ("parameters", "metrics", "how_to_load"):
        body.pop(extra, None)
    if body.get("image_shape") is not None:
        body["image_shape"] = tuple(body["image_shape"])
    spec = ModelSpec(**body)
    model = build_model(spec)
    model.load_state_dict(load_file(str(weights)))
    model.eval()
    return model, spec
