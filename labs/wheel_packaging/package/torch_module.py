"""Rebuild the packaged network as a PyTorch module (needs the extra: ``pip install <package>[torch]``)."""

from __future__ import annotations

from importlib import resources

from .model import load


def load_module():
    """Return a ``torch.nn.Sequential`` with the packaged weights, in eval mode."""
    try:
        import torch
        from safetensors.torch import load_file
    except ImportError as exc:
        raise ImportError(f"{exc.name} is missing: install the extra with pip install '{__package__}[torch]'") from exc

    config = load().config
    state = load_file(str(resources.files(__package__) / "weights" / "model.safetensors"))
    parts = []
    for layer in config["layers"]:
        n_out, n_in = state[layer["weight"]].shape
        linear = torch.nn.Linear(n_in, n_out)
        linear.load_state_dict({"weight": state[layer["weight"]], "bias": state[layer["bias"]]})
        parts.append(linear)
        if layer["activation"] == "relu":
            parts.append(torch.nn.ReLU())
    return torch.nn.Sequential(*parts).eval()
