"""Training settings shared by both frameworks, with their limits and the reasons for them.

One `TrainConfig` drives PyTorch, TensorFlow and Keras-on-PyTorch alike, so a setting can never
differ between the columns by accident. The UI sliders read their ranges from the constants here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

ARCHITECTURES = ("mlp", "cnn")  # a 3-layer perceptron and a 2-conv CNN, written once per framework
OPTIMIZERS = ("adam", "sgd")  # Adam, or SGD with momentum 0.9
MODES = ("eager", "compiled")  # compiled = torch.compile / tf.function (graph) in the training view

DEFAULT_EPOCHS = 3  # digits reaches ~90 % test accuracy in 3 epochs with Adam: one click, seconds
MAX_EPOCHS = 30  # bounded work: 30 epochs of 20,000 images is still minutes, not hours
DEFAULT_BATCH = 32
MIN_BATCH, MAX_BATCH = 1, 1024
DEFAULT_LR = 1e-3  # Adam's usual default; use ~0.05 for SGD
MIN_LR, MAX_LR = 1e-6, 1.0  # beyond 1.0 every optimiser here diverges on this data
ADAM_EPS = 1e-7  # Keras' default; PyTorch's is 1e-8. We set both to one value explicitly.
SGD_MOMENTUM = 0.9
DEFAULT_SEED = 42
MAX_STEPS = 20_000  # epochs x batches per epoch: batch size 1 on 20,000 images would be 600,000
RACE_EXTRA_VARIANTS = ("tf.function", "tf.function+XLA", "torch.compile")  # eager and fit always run
DEFAULT_LATENCY_BATCH = 256
MAX_LATENCY_BATCH = 4096


class SettingsError(ValueError):
    """A training setting is out of range; the message says the allowed range."""


@dataclass(frozen=True)
class TrainConfig:
    """What to train and how; identical for every framework.

    Attributes:
        arch: One of `ARCHITECTURES`.
        epochs: Full passes over the training set.
        batch_size: Images per optimiser step.
        lr: Learning rate.
        optimizer: One of `OPTIMIZERS`.
        seed: Seeds the initial weights and the batch order (both shared by all frameworks).
        mode: One of `MODES`.
    """

    arch: str = "mlp"
    epochs: int = DEFAULT_EPOCHS
    batch_size: int = DEFAULT_BATCH
    lr: float = DEFAULT_LR
    optimizer: str = "adam"
    seed: int = DEFAULT_SEED
    mode: str = "eager"

    def to_dict(self) -> dict:
        return asdict(self)


def _number(value, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a number, got {value!r}.") from None
    if not math.isfinite(number):
        raise SettingsError(f"{name} must be a finite number, got {value!r}.")
    return number


def _whole(value, name: str, lo: int, hi: int) -> int:
    number = _number(value, name)
    if number != int(number):
        raise SettingsError(f"{name} must be a whole number, got {value!r}.")
    if not lo <= number <= hi:
        raise SettingsError(f"{name} must be between {lo} and {hi}, got {int(number)}.")
    return int(number)


def make_config(*, arch="mlp", epochs=DEFAULT_EPOCHS, batch_size=DEFAULT_BATCH, lr=DEFAULT_LR,
                optimizer="adam", seed=DEFAULT_SEED, mode="eager",
                train_size: int | None = None) -> TrainConfig:
    """Validate raw values (from the UI or the API) into a `TrainConfig`.

    Args:
        train_size: Number of training images, to bound the total number of steps.

    Raises:
        SettingsError: Naming the setting, its allowed range and the value given.
    """
    arch = str(arch).lower()
    if arch not in ARCHITECTURES:
        raise SettingsError(f"Model must be one of {', '.join(ARCHITECTURES)}, got {arch!r}.")
    optimizer = str(optimizer).lower()
    if optimizer not in OPTIMIZERS:
        raise SettingsError(f"Optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}.")
    mode = str(mode).lower()
    if mode not in MODES:
        raise SettingsError(f"Mode must be one of {', '.join(MODES)}, got {mode!r}.")
    epochs = _whole(epochs, "Epochs", 1, MAX_EPOCHS)
    batch_size = _whole(batch_size, "Batch size", MIN_BATCH, MAX_BATCH)
    lr = _number(lr, "Learning rate")
    if not MIN_LR <= lr <= MAX_LR:
        raise SettingsError(f"Learning rate must be between {MIN_LR:g} and {MAX_LR:g}, got {lr:g}.")
    seed = _whole(seed, "Seed", 0, 2**31 - 1)
    if train_size is not None:
        steps = epochs * math.ceil(train_size / batch_size)
        if steps > MAX_STEPS:
            raise SettingsError(
                f"{epochs} epochs of batch size {batch_size} on {train_size} images is {steps} steps; "
                f"the limit is {MAX_STEPS}. Use a larger batch size or fewer epochs.")
    return TrainConfig(arch, epochs, batch_size, lr, optimizer, seed, mode)


def check_threads(value, cpu_count: int) -> int:
    """CPU threads per framework: a whole number from 1 to the machine's cores."""
    return _whole(value, "Threads", 1, cpu_count)


def check_race(cfg: TrainConfig, latency_batch, variants, *, have_compiler: bool) -> tuple[int, set[str]]:
    """Validate the race's own options.

    Returns:
        (latency batch size, the chosen extra variants).

    Raises:
        SettingsError: Too few epochs, a bad batch N, an unknown variant, or torch.compile
            without a C++ compiler.
    """
    if cfg.epochs < 2:
        raise SettingsError("The race needs at least 2 epochs: epoch 1 is warm-up and is not timed.")
    latency_batch = _whole(latency_batch, "Batch N", 1, MAX_LATENCY_BATCH)
    chosen = set(variants or [])
    unknown = chosen - set(RACE_EXTRA_VARIANTS)
    if unknown:
        raise SettingsError(f"Unknown variants {sorted(unknown)}; choose from "
                            f"{', '.join(RACE_EXTRA_VARIANTS)}.")
    if "torch.compile" in chosen and not have_compiler:
        raise SettingsError("torch.compile needs a C++ compiler on the CPU and none was found. "
                            "Install one (apt-get install g++) or untick torch.compile.")
    return latency_batch, chosen
