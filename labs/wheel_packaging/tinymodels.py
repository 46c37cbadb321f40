"""Three tiny models trained for real with PyTorch on a CPU in about a second.

Each model is small enough to run in pure Python once packaged (see `package/model.py`), yet it is
a real network trained by gradient descent on data drawn here:

- ``moons``: a 2-16-16-2 MLP that separates two interleaved half-moons (classification).
- ``temperature``: linear regression that rediscovers F = 1.8 C + 32 from noisy readings.
- ``sentiment``: a bag-of-words logistic regression on a small hand-written review corpus.

`train()` returns the weights as a dict of tensors plus a JSON-able config that tells the packaged
code how to encode inputs and decode outputs; `save_weights()` writes them as safetensors.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.optional import require

MODELS = {
    "moons": "Two-moons classifier (MLP 2-16-16-2)",
    "temperature": "Celsius to Fahrenheit regression (linear 1-1)",
    "sentiment": "Review sentiment (bag of words, logistic regression)",
}
SEED = 0  # fixed: the same inputs always give the same weights, so builds are reproducible
STEPS = {"moons": 150, "temperature": 300, "sentiment": 300}  # full-batch Adam steps: < 1 s each on one core
LEARNING_RATE = {"moons": 0.02, "temperature": 0.1, "sentiment": 0.1}
WORD = re.compile(r"[a-z']+")  # must match package/model.py's tokenizer

# A tiny review corpus written for this lab (label 1 = positive).
REVIEWS = [
    ("a great film with a wonderful cast", 1), ("i loved every minute of it", 1),
    ("brilliant acting and a clever story", 1), ("fun and charming from start to end", 1),
    ("the best movie i have seen this year", 1), ("beautiful music and great pacing", 1),
    ("a delightful and moving story", 1), ("excellent direction and superb acting", 1),
    ("funny clever and warm", 1), ("i enjoyed it a lot and would watch it again", 1),
    ("an amazing and touching film", 1), ("wonderful fun for the whole family", 1),
    ("strong performances and a smart script", 1), ("a joy to watch", 1),
    ("lovely pictures and a great ending", 1), ("it was good and often brilliant", 1),
    ("a boring film with a weak cast", 0), ("i hated every minute of it", 0),
    ("terrible acting and a silly story", 0), ("dull and tedious from start to end", 0),
    ("the worst movie i have seen this year", 0), ("awful music and slow pacing", 0),
    ("a dreary and pointless story", 0), ("poor direction and wooden acting", 0),
    ("bad jokes and a cold heart", 0), ("i regret watching it and would never again", 0),
    ("an awful and empty film", 0), ("a waste of time for the whole family", 0),
    ("weak performances and a lazy script", 0), ("a pain to watch", 0),
    ("ugly pictures and a terrible ending", 0), ("it was bad and often boring", 0),
]


@dataclass
class TrainedModel:
    """What training produced.

    Attributes:
        kind: Key of `MODELS`.
        tensors: Parameter name -> float32 torch tensor (what goes into model.safetensors).
        config: JSON-able description the packaged code reads (layers, input encoding, outputs,
            and examples recorded from the torch model, which the generated tests replay).
        metrics: Human-readable training figures (loss, accuracy, seconds...).
    """

    kind: str
    tensors: dict[str, Any]
    config: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)


def _moons_data(torch, n: int = 400):
    """Two interleaved half circles with a little noise: (n, 2) points and their 0/1 labels."""
    g = torch.Generator().manual_seed(SEED)
    t = torch.rand(n // 2, generator=g) * torch.pi
    upper = torch.stack([torch.cos(t), torch.sin(t)], dim=1)  # (n/2, 2)
    lower = torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], dim=1)  # (n/2, 2)
    x = torch.cat([upper, lower]) + 0.1 * torch.randn(n, 2, generator=g)
    y = torch.cat([torch.zeros(n // 2), torch.ones(n // 2)]).long()
    return x, y


def _temperature_data(torch, n: int = 200):
    """Noisy thermometer readings: Celsius in [-40, 110] and Fahrenheit = 1.8 C + 32 + noise."""
    g = torch.Generator().manual_seed(SEED)
    c = torch.rand(n, 1, generator=g) * 150 - 40
    f = 1.8 * c + 32 + torch.randn(n, 1, generator=g)
    return c, f


def _sentiment_data(torch):
    """Binary bag-of-words features of `REVIEWS` over their sorted vocabulary."""
    vocab = sorted({w for text, _ in REVIEWS for w in WORD.findall(text)})
    index = {w: i for i, w in enumerate(vocab)}
    x = torch.zeros(len(REVIEWS), len(vocab))
    for row, (text, _) in enumerate(REVIEWS):
        for w in WORD.findall(text):
            x[row, index[w]] = 1.0
    y = torch.tensor([label for _, label in REVIEWS])
    return vocab, x, y


def _fit(torch, net, x, y, loss_fn, steps: int, lr: float) -> float:
    """Full-batch Adam: every step sees all the (tiny) data. Returns the final loss."""
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
    return float(loss.detach())


def train(kind: str) -> TrainedModel:
    """Train the tiny model `kind` (a key of `MODELS`) with torch on the CPU.

    Raises:
        ValueError: For an unknown kind; the message lists the known ones.
    """
    if kind not in MODELS:
        raise ValueError(f"Unknown model {kind!r}. Pick one of: {', '.join(MODELS)}.")
    torch = require("torch", slug="wheel_packaging", purpose="training the tiny model")

    torch.manual_seed(SEED)
    start = time.perf_counter()
    nn = torch.nn
    threads = torch.get_num_threads()
    # One thread: for tensors this small, thread hand-offs cost more than they save, and on a
    # busy 2-core machine several threads per request thrash (measured: 18 s instead of 0.1 s).
    torch.set_num_threads(1)
    try:
        net, input_spec, output_spec, examples, metrics = _train(torch, kind)
    finally:
        torch.set_num_threads(threads)
    return _package(torch, kind, net, input_spec, output_spec, examples, metrics, start)


def _train(torch, kind: str):
    """Build and fit the network `kind`; returns it with its input/output specs and examples."""
    nn = torch.nn
    with torch.enable_grad():
        if kind == "moons":
            x, y = _moons_data(torch)
            mean, std = x.mean(0), x.std(0)
            net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
            loss = _fit(torch, net, (x - mean) / std, y, nn.functional.cross_entropy, STEPS[kind], LEARNING_RATE[kind])
            accuracy = float((net((x - mean) / std).argmax(1) == y).float().mean())
            input_spec = {"kind": "numbers", "names": ["x", "y"], "mean": mean.tolist(), "std": std.tolist()}
            output_spec = {"kind": "classification", "labels": ["upper moon", "lower moon"]}
            examples = [[0.0, 1.0], [1.0, -0.5], [0.5, 0.25]]
            metrics = {"cross-entropy": round(loss, 4), "train accuracy": f"{accuracy:.1%}", "points": len(y)}
        elif kind == "temperature":
            c, f = _temperature_data(torch)
            c_mean, c_std, f_mean, f_std = c.mean(0), c.std(0), f.mean(0), f.std(0)
            net = nn.Sequential(nn.Linear(1, 1))
            loss = _fit(torch, net, (c - c_mean) / c_std, (f - f_mean) / f_std, nn.functional.mse_loss,
                        STEPS[kind], LEARNING_RATE[kind])
            # Undo the standardisation to read the learned line in real units.
            slope = float(net[0].weight.detach()) * float(f_std) / float(c_std)
            intercept = float(f_mean) + float(f_std) * float(net[0].bias.detach()) - slope * float(c_mean)
            input_spec = {"kind": "numbers", "names": ["celsius"], "mean": c_mean.tolist(), "std": c_std.tolist()}
            output_spec = {"kind": "regression", "names": ["fahrenheit"], "mean": f_mean.tolist(), "std": f_std.tolist()}
            examples = [[100.0], [0.0], [-40.0]]
            metrics = {"mse (standardised)": round(loss, 5), "learned": f"F = {slope:.3f} C + {intercept:.2f}",
                       "truth": "F = 1.8 C + 32", "readings": len(c)}
        else:
            vocab, x, y = _sentiment_data(torch)
            net = nn.Sequential(nn.Linear(len(vocab), 2))
            loss = _fit(torch, net, x, y, nn.functional.cross_entropy, STEPS[kind], LEARNING_RATE[kind])
            accuracy = float((net(x).argmax(1) == y).float().mean())
            input_spec = {"kind": "text", "vocab": vocab}
            output_spec = {"kind": "classification", "labels": ["negative", "positive"]}
            examples = ["what a wonderful and clever film", "boring and awful", "great music but a weak story"]
            metrics = {"cross-entropy": round(loss, 4), "train accuracy": f"{accuracy:.1%}",
                       "reviews": len(y), "vocabulary": len(vocab)}
    return net, input_spec, output_spec, examples, metrics


def _package(torch, kind, net, input_spec, output_spec, examples, metrics, start) -> TrainedModel:
    """Collect the trained weights and the config the packaged code reads."""
    nn = torch.nn
    net.eval()
    tensors = {}
    layers = []
    for i, module in enumerate(net):
        if isinstance(module, nn.Linear):
            # Names follow nn.Sequential's state_dict ("0.weight"), prefixed for readability.
            tensors[f"layers.{i}.weight"] = module.weight.detach().float().contiguous()  # (out, in)
            tensors[f"layers.{i}.bias"] = module.bias.detach().float().contiguous()  # (out,)
            follows_relu = i + 1 < len(net) and isinstance(net[i + 1], nn.ReLU)
            layers.append({"weight": f"layers.{i}.weight", "bias": f"layers.{i}.bias",
                           "activation": "relu" if follows_relu else "none"})
    config = {"name": kind, "description": MODELS[kind], "layers": layers,
              "input": input_spec, "output": output_spec, "examples": []}
    model = TrainedModel(kind, tensors, config, metrics)
    # Record what the *torch* network answers; the generated tests check the package agrees.
    for example in examples:
        config["examples"].append({"input": example, "output": torch_predict(model, net, example)})
    metrics["parameters"] = sum(t.numel() for t in tensors.values())
    metrics["seconds"] = round(time.perf_counter() - start, 2)
    return model


def torch_predict(model: TrainedModel, net: Any, x: Any) -> dict[str, Any]:
    """Predict with the torch network itself, decoding outputs exactly as the package does."""
    import torch

    spec = model.config["input"]
    if spec["kind"] == "text":
        words = set(WORD.findall(x.lower()))
        features = torch.tensor([[1.0 if w in words else 0.0 for w in spec["vocab"]]])
    else:
        values = torch.tensor([x if isinstance(x, list) else [x]], dtype=torch.float32)
        features = (values - torch.tensor(spec["mean"])) / torch.tensor(spec["std"])
    with torch.no_grad():
        out = net(features)[0]
    out_spec = model.config["output"]
    if out_spec["kind"] == "classification":
        probs = torch.softmax(out, dim=0).tolist()
        best = max(range(len(probs)), key=probs.__getitem__)
        return {"label": out_spec["labels"][best],
                "probabilities": {lab: round(p, 6) for lab, p in zip(out_spec["labels"], probs)}}
    return {name: round(float(v) * s + m, 6)
            for name, v, m, s in zip(out_spec["names"], out, out_spec["mean"], out_spec["std"])}


def save_weights(model: TrainedModel, folder: Path, *, license_expression: str) -> list[Path]:
    """Write ``model.safetensors`` and ``config.json`` into `folder`; returns the two paths.

    The licence goes into the safetensors header metadata too, so the weights file says under
    which terms it is shared even when it travels without the wheel.
    """
    import json

    save_file = require("safetensors.torch", slug="wheel_packaging", purpose="writing model.safetensors").save_file

    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / "model.safetensors"
    save_file(model.tensors, str(weights), metadata={"format": "pt", "model": model.kind,
                                                      "license": license_expression})
    config = folder / "config.json"
    config.write_text(json.dumps(model.config, indent=2) + "\n", encoding="utf-8")
    return [weights, config]
