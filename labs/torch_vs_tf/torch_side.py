"""The PyTorch column: the models, the training loop, evaluation, inference and export.

Read it next to `keras_side.py`: the same two models, the same loop, the same optimiser settings,
written the way each framework expects. PyTorch is imported inside the functions so the lab (and
the launcher) start without paying for it.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from labs.torch_vs_tf.metrics import loss_and_accuracy
from labs.torch_vs_tf.settings import ADAM_EPS, SGD_MOMENTUM, TrainConfig
from labs.torch_vs_tf.weights import CONV_CHANNELS, HIDDEN_CNN, HIDDEN_MLP, KERNEL, Layer, mlp_hidden


def build_torch_model(arch: str, side: int, classes: int = 10, hidden: tuple[int, int] = HIDDEN_MLP):
    """The MLP or the CNN as an `nn.Sequential`; input is (N, side*side) floats in [0, 1]."""
    from torch import nn

    if arch == "mlp":
        h1, h2 = hidden
        return nn.Sequential(
            nn.Linear(side * side, h1), nn.ReLU(),  # (N, 64) -> (N, 128)
            nn.Linear(h1, h2), nn.ReLU(),  # -> (N, 64)
            nn.Linear(h2, classes),  # -> (N, 10) logits
        )
    c1, c2 = CONV_CHANNELS
    pooled = side // 4
    return nn.Sequential(
        nn.Unflatten(1, (1, side, side)),  # (N, 64) -> (N, 1, 8, 8): channels FIRST
        nn.Conv2d(1, c1, KERNEL, padding="same"), nn.ReLU(), nn.MaxPool2d(2),  # -> (N, 16, 4, 4)
        nn.Conv2d(c1, c2, KERNEL, padding="same"), nn.ReLU(), nn.MaxPool2d(2),  # -> (N, 32, 2, 2)
        nn.Flatten(),  # -> (N, 128), in (c, h, w) order
        nn.Linear(c2 * pooled * pooled, HIDDEN_CNN), nn.ReLU(),
        nn.Linear(HIDDEN_CNN, classes),
    )


def load_torch_weights(model, layers: list[Layer]) -> None:
    """Copy the shared NumPy weights (already in PyTorch layout) into the model's layers."""
    import torch

    trainable = [m for m in model if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    assert len(trainable) == len(layers), "model and weight list disagree"
    with torch.no_grad():
        for module, layer in zip(trainable, layers):
            module.weight.copy_(torch.from_numpy(layer.weight))
            module.bias.copy_(torch.from_numpy(layer.bias))


def make_torch_optimizer(model, cfg: TrainConfig):
    """Adam (eps set to Keras' 1e-7, not PyTorch's 1e-8) or SGD with momentum."""
    import torch

    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, eps=ADAM_EPS)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=SGD_MOMENTUM)


class TorchRunner:
    """One PyTorch model with its optimiser, trained on shared NumPy batches.

    Args:
        cfg: Training settings.
        side: Image side.
        layers: Shared initial weights.
        compiled: Wrap the model in `torch.compile` (the first steps compile C++ code).
    """

    framework = "PyTorch"

    def __init__(self, cfg: TrainConfig, side: int, layers: list[Layer], *, compiled: bool = False):
        import torch

        torch.manual_seed(cfg.seed)  # nothing random remains (no dropout), but be explicit
        self.cfg = cfg
        hidden = mlp_hidden(layers) if cfg.arch == "mlp" else HIDDEN_MLP
        self.model = build_torch_model(cfg.arch, side, hidden=hidden)
        load_torch_weights(self.model, layers)
        self.optimizer = make_torch_optimizer(self.model, cfg)
        self.loss_fn = torch.nn.CrossEntropyLoss()  # softmax + NLL on logits, mean over the batch
        self.compiled = compiled
        # torch.compile returns a wrapper that shares parameters with the eager model.
        self.forward = torch.compile(self.model) if compiled else self.model
        self.variant = "torch.compile" if compiled else "eager"

    @property
    def params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def train_epoch(self, x: np.ndarray, y: np.ndarray, batches: list[np.ndarray]) -> tuple[float, float]:
        """One pass over `batches` (index arrays into x, y).

        Returns:
            (mean training loss weighted by batch size, seconds). The clock stops only after the
            last step has finished (`_sync`), so queued work is not left out.
        """
        import torch

        self.model.train()
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        losses = []  # kept as tensors: calling .item() every step would force a sync each time
        start = time.perf_counter()
        for idx in batches:
            index = torch.from_numpy(idx)
            xb, yb = xt[index], yt[index]
            logits = self.forward(xb)
            loss = self.loss_fn(logits, yb)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            losses.append(loss.detach() * len(idx))
        total = torch.stack(losses).sum().item()  # .item() waits for the last step
        _sync()
        seconds = time.perf_counter() - start
        return total / sum(len(i) for i in batches), seconds

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Inference: eval mode, no autograd bookkeeping."""
        import torch

        self.model.eval()
        with torch.inference_mode():
            return self.forward(torch.from_numpy(x)).numpy()

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """(mean cross-entropy, accuracy) on a held-out set."""
        return loss_and_accuracy(self.logits(x), y)

    def export(self, folder: Path, example: np.ndarray) -> dict[str, Path]:
        """Save the trained model as a `torch.export` program (.pt2), a state_dict (.pt) and ONNX."""
        import torch

        self.model.eval()
        folder.mkdir(parents=True, exist_ok=True)
        # A symbolic batch dimension, so the exported program serves any batch size; traced on
        # two rows because torch.export treats a size of 1 as a constant.
        two = torch.from_numpy(np.resize(example, (2, example.shape[1])))
        batch = torch.export.Dim("batch", max=65536)
        program = torch.export.export(self.model, (two,), dynamic_shapes=({0: batch},))
        pt2 = folder / "torch_model.pt2"
        torch.export.save(program, pt2)
        state = folder / "torch_state_dict.pt"
        torch.save(self.model.state_dict(), state)
        files = {"torch.export (.pt2)": pt2, "state_dict (.pt)": state}
        from labs.torch_vs_tf.exports import ONNX_NEEDS, torch_to_onnx
        from shared.optional import missing

        if not missing(ONNX_NEEDS):  # optional: without onnx/onnxscript/onnxruntime the row says so
            files["ONNX (onnxruntime)"] = torch_to_onnx(self.model, example, folder / "torch_model.onnx")
        return files


def load_torch_export(path: Path):
    """Load a .pt2 program back into a callable module (no Python model class needed)."""
    import torch

    return torch.export.load(path).module()


def _sync() -> None:
    """Wait for queued device work; a no-op on the CPU, essential on a GPU before reading a clock."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()
