"""The model every target of this lab deploys: a small MLP that reads 8x8 handwritten digits.

Trained here, in about a second on a 2-core CPU, on scikit-learn's digits dataset (1,797 real 8x8
scans from the UCI handwritten digits set, shipped inside scikit-learn: no download). Saved as
safetensors (the weights plus metadata in the file's JSON header). The served side is
`replica.py`: it reads that file with NumPy alone and runs the forward pass, so a replica, a
container image or a cog model needs NumPy and nothing else (no scikit-learn, no torch).

    train()            fit, evaluate on the held-out split, serialise: a `TrainedModel`
    trained()          the same, once per process (cached; every click reuses it)
    write_weights(dir) the safetensors file, where a replica / image / cog model expects it
    pixels_from_image  a drawing (any size, dark on light or light on dark) to the dataset's 8x8, 0-16 form

Reference: scikit-learn `MLPClassifier` (ReLU hidden layer, softmax output); the safetensors format
(8-byte little-endian header length, a JSON header, then the raw tensors).
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from labs.docker_mlops.replica import N_PIXELS, PIXEL_MAX, WEIGHTS_NAME, DigitsModel

# One hidden layer of 64 ReLU units: ~4,800 weights (19 KB as float32), ~97% held out, <1 s to train.
HIDDEN = 64
# Enough Adam epochs to converge on 1,347 images; more adds time, not accuracy.
MAX_ITER = 300
# A quarter of the images, stratified by digit, never seen in training: the accuracy shown is on these.
TEST_FRACTION = 0.25
# Fixed seeds: the same split and the same weights in every process (and every test run).
SEED = 0


class ModelUnavailable(ValueError):
    """scikit-learn or safetensors is missing; the message says what to install."""


@dataclass(frozen=True)
class TrainedModel:
    """The trained model and how it was made.

    Attributes:
        weights: The safetensors file's bytes (what every target ships).
        accuracy: Held-out accuracy of the served forward pass (NumPy, float32 weights).
        sklearn_accuracy: Held-out accuracy of scikit-learn's own `predict` (float64): should agree.
        n_train / n_test: Images in each split.
        train_s: Seconds spent fitting.
        x_test / y_test: The held-out images (N, 64) in 0-16 and their labels.
    """

    weights: bytes
    accuracy: float
    sklearn_accuracy: float
    n_train: int
    n_test: int
    train_s: float
    x_test: object
    y_test: object

    def model(self) -> DigitsModel:
        """The served model, loaded from the safetensors bytes exactly as a replica loads its file."""
        return DigitsModel.from_bytes(self.weights)

    def sample(self, index: int) -> tuple[list[float], int]:
        """Held-out image `index` (wrapped around) as 64 pixel values and its true label."""
        i = int(index) % self.n_test
        return [float(v) for v in self.x_test[i]], int(self.y_test[i])


def train(*, hidden: int = HIDDEN, max_iter: int = MAX_ITER, seed: int = SEED) -> TrainedModel:
    """Fit the MLP on the training split, evaluate it on the held-out split, serialise it.

    Raises:
        ModelUnavailable: If scikit-learn or safetensors is not installed.
    """
    try:
        import numpy as np
        from safetensors.numpy import save
        from sklearn.datasets import load_digits
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier
    except ImportError as exc:
        raise ModelUnavailable(f"Training the lab's model needs {exc.name}: pip install scikit-learn safetensors "
                               "(both in requirements/docker_mlops.txt).") from None
    x, y = load_digits(return_X_y=True)  # (1797, 64) in 0..16, labels 0..9
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=TEST_FRACTION, random_state=seed, stratify=y)
    start = time.perf_counter()
    clf = MLPClassifier(hidden_layer_sizes=(hidden,), max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings():  # Adam stops at max_iter on purpose: the accuracy below is what counts
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x_train / PIXEL_MAX, y_train)  # the network sees pixels scaled to 0..1, as the replica does
    train_s = time.perf_counter() - start
    # Ship float32: half the bytes of scikit-learn's float64, and the same predictions (checked below).
    tensors = {"fc1.weight": clf.coefs_[0].astype(np.float32), "fc1.bias": clf.intercepts_[0].astype(np.float32),
               "fc2.weight": clf.coefs_[1].astype(np.float32), "fc2.bias": clf.intercepts_[1].astype(np.float32)}
    served = DigitsModel(tensors, {})
    accuracy = float((served.predict(x_test) == y_test).mean())
    sklearn_accuracy = float(clf.score(x_test / PIXEL_MAX, y_test))
    metadata = {"task": "8x8 handwritten digits (scikit-learn load_digits)", "input": f"{N_PIXELS} pixels, 0-16",
                "architecture": f"{N_PIXELS}-{hidden} ReLU-10 softmax", "held_out_accuracy": f"{accuracy:.4f}",
                "n_train": str(len(y_train)), "n_test": str(len(y_test)), "seed": str(seed)}
    return TrainedModel(weights=save(tensors, metadata=metadata), accuracy=accuracy, sklearn_accuracy=sklearn_accuracy,
                        n_train=len(y_train), n_test=len(y_test), train_s=train_s, x_test=x_test, y_test=y_test)


_lock = threading.Lock()
_trained: TrainedModel | None = None


def trained() -> TrainedModel:
    """`train()` once per process (about a second), then the same model for every request."""
    global _trained
    with _lock:
        if _trained is None:
            _trained = train()
        return _trained


def write_weights(folder: Path, model: TrainedModel | None = None) -> Path:
    """Write the safetensors file into `folder` (created) under the name replicas and images expect."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / WEIGHTS_NAME
    path.write_bytes((model or trained()).weights)
    return path


def pixels_from_image(image) -> list[float]:
    """Turn a drawing into the dataset's form: 8x8, 0 (background) to 16 (ink), digit centred.

    Accepts a PIL image or an array (H, W), (H, W, 3) or (H, W, 4). The ink is whichever side of the
    image's mean the corners are not (dark on light or light on dark both work); the digit is cropped
    to its bounding box, centred in a square (the scans' digits fill their frame) and averaged down to 8x8.

    Raises:
        ValueError: If the image is empty or has no ink.
    """
    import numpy as np
    from PIL import Image

    if image is None:
        raise ValueError("No image: draw a digit (thick strokes) or pick a held-out sample.")
    if isinstance(image, Image.Image):
        image = image.convert("RGBA")
    a = np.asarray(image, dtype=np.float64)
    if a.ndim == 3 and a.shape[2] == 4:  # transparent background = paper
        alpha = a[..., 3:4] / 255.0
        a = a[..., :3] * alpha + 255.0 * (1 - alpha)
    if a.ndim == 3:
        a = a[..., :3].mean(axis=2)
    if a.ndim != 2 or min(a.shape) < 8 or a.size > 4096 * 4096:
        raise ValueError(f"Expected a picture of at least 8x8 pixels (and at most 4096x4096), got shape {a.shape}.")
    corners = np.array([a[0, 0], a[0, -1], a[-1, 0], a[-1, -1]]).mean()
    ink = (a.max() - a) if corners > a.mean() else (a - a.min())  # ink is bright from here on
    if ink.max() <= 0 or (ink > 0.25 * ink.max()).sum() < 4:
        raise ValueError("The picture has no digit on it: draw one with thick strokes, then predict.")
    rows, cols = np.nonzero(ink > 0.25 * ink.max())
    ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    side = max(ink.shape)  # no margin: the dataset's digits fill their 8x8 frame (a margin costs ~40 points)
    square = np.zeros((side, side))
    top, left = (side - ink.shape[0]) // 2, (side - ink.shape[1]) // 2
    square[top:top + ink.shape[0], left:left + ink.shape[1]] = ink
    small = Image.fromarray((255 * square / square.max()).astype(np.uint8)).resize((8, 8), Image.Resampling.BOX)
    return [round(float(v), 3) for v in np.asarray(small, dtype=np.float64).ravel() * PIXEL_MAX / 255.0]


def digit_picture(pixels, scale: int = 24):
    """An 8x8 digit (0-16, ink bright) as a black-on-white uint8 picture `scale` times larger, for display."""
    import numpy as np

    grid = np.clip(np.asarray(pixels, dtype=np.float64).reshape(8, 8) / PIXEL_MAX, 0, 1)
    return np.kron((255 * (1 - grid)).astype(np.uint8), np.ones((scale, scale), dtype=np.uint8))
