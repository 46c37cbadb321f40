"""Datasets for the lab: the `Dataset` every step shares, built-in real data and generated data.

A model only knows what its training data shows it, so this module is deliberately explicit about
what it read: every loader returns a `Dataset` with its classes, feature names, and notes on
anything it changed (rows dropped for missing values, images resized), and `preview` turns that
into the tables the user sees before anything is trained.

Three ways in:
- `builtin(name)`: real datasets scikit-learn ships offline (digits, iris, wine, breast cancer).
- `generate(shape, ...)`: blobs, moons, spirals, or procedurally drawn digit images.
- uploads (CSV tables, ZIPs of class folders): read and checked in `uploads.py`.
Then `preview`, a stratified `split`, the "models only know their data" cut and CSV/NPZ export.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field

import numpy as np

# --- Settings of the built-in and generated data ------------------------------------------------
BUILTIN = ("digits", "iris", "wine", "breast_cancer")
SHAPES = ("blobs", "moons", "spirals", "drawn digits")
GEN_CLASSES = (2, 10)  # range of classes the generator accepts
GEN_SAMPLES = (10, 1_000)  # range of samples per class
GEN_NOISE = (0.0, 1.0)
SEED_RANGE = (0, 2**32 - 1)  # what numpy and torch both accept as a seed


class DataError(ValueError):
    """The data cannot be used; the message says what was wrong and what to do."""


@dataclass
class Dataset:
    """A labelled dataset in the one shape every part of the lab uses.

    Attributes:
        name: Short name shown in titles and file names.
        X: Features, float32, shape (n, d). Images are flattened (C*H*W) with values in [0, 1].
        y: Integer labels in 0..K-1, shape (n,).
        class_names: Name of each label, index = label.
        feature_names: Name of each column of X.
        image_shape: (C, H, W) when the rows are images, else None.
        source: Where the data came from, one line.
        notes: What the loader changed or noticed (shown in the preview).
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    class_names: list[str]
    feature_names: list[str]
    image_shape: tuple[int, int, int] | None = None
    source: str = ""
    notes: list[str] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)  # per feature: missing cells in the upload (before dropping)
    label_kind: str = "integer class ids"  # how the label column was read

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def is_image(self) -> bool:
        return self.image_shape is not None

    def counts(self) -> np.ndarray:
        """Samples per class, index = label."""
        return np.bincount(self.y, minlength=self.n_classes)

    def subset(self, mask: np.ndarray, name: str | None = None) -> "Dataset":
        """A new Dataset with the rows where `mask` is True (classes are kept, even if emptied)."""
        return Dataset(name or self.name, self.X[mask], self.y[mask], list(self.class_names),
                       list(self.feature_names), self.image_shape, self.source, list(self.notes),
                       list(self.missing), self.label_kind)


# --- Built-in real data ---------------------------------------------------------------------------
def builtin(name: str) -> Dataset:
    """Load a real dataset that scikit-learn ships inside its wheel (no network).

    Args:
        name: One of `BUILTIN`.

    Raises:
        DataError: For an unknown name.
    """
    from shared.optional import require

    if name not in BUILTIN:
        raise DataError(f"Unknown built-in dataset {name!r}. Choose one of: {', '.join(BUILTIN)}.")
    datasets = require("sklearn.datasets", slug="dataset_distillation", purpose="the built-in datasets")
    bunch = getattr(datasets, f"load_{name}")()
    X = np.asarray(bunch.data, dtype=np.float32)
    y = np.asarray(bunch.target, dtype=np.int64)
    classes = [str(c) for c in getattr(bunch, "target_names", sorted(set(y.tolist())))]
    if name == "digits":
        # 8x8 grey images with 17 levels (0..16): scale to [0, 1] like every other image here.
        X = X / 16.0
        return Dataset("digits", X, y, classes, [f"px{i}" for i in range(64)], (1, 8, 8),
                       "scikit-learn digits: 1,797 handwritten 8x8 digits (UCI, 1998)")
    sources = {
        "iris": "scikit-learn iris: 150 flowers, 4 measurements, 3 species (Fisher, 1936)",
        "wine": "scikit-learn wine: 178 wines, 13 chemical measurements, 3 cultivars",
        "breast_cancer": "scikit-learn breast cancer: 569 tumours, 30 features, 2 classes",
    }
    return Dataset(name, X, y, classes, [str(f) for f in bunch.feature_names], None, sources[name])


# --- Generated data -------------------------------------------------------------------------------
def _check_range(value: float, bounds: tuple[float, float], what: str) -> None:
    if value is None or not (bounds[0] <= value <= bounds[1]) or (isinstance(value, float) and math.isnan(value)):
        raise DataError(f"{what} must be between {bounds[0]} and {bounds[1]} (got {value}).")


def number(value, bounds: tuple[float, float], what: str, *, whole: bool = False) -> float | int:
    """`value` from a number field as an int (`whole`) or a float, checked against `bounds`.

    Raises:
        DataError: For an empty field (None), a non-number, a fraction where a whole number is
            needed, NaN, or a value out of range.
    """
    if value is None or value == "":
        raise DataError(f"{what} is empty. Type a number between {bounds[0]} and {bounds[1]}.")
    try:
        result = float(value)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"{what} must be a number between {bounds[0]} and {bounds[1]} (got {value!r}).") from None
    _check_range(result, bounds, what)
    if whole:
        if not result.is_integer():
            raise DataError(f"{what} must be a whole number (got {value}).")
        return int(result)
    return result


def generate(shape: str, *, classes: int = 3, per_class: int = 100, noise: float = 0.2,
             seed: int = 0) -> Dataset:
    """Generate a short labelled dataset.

    Args:
        shape: One of `SHAPES`: 2-D point clouds ("blobs", "moons", "spirals") or 16x16 images of
            procedurally drawn digits ("drawn digits", classes are the digits 0..classes-1).
        classes: Number of classes, within `GEN_CLASSES`.
        per_class: Samples per class, within `GEN_SAMPLES`.
        noise: 0 = clean, 1 = very noisy (scales jitter for points, distortion for digits).
        seed: Random seed, so the same settings give the same data.

    Raises:
        DataError: For an unknown shape or out-of-range numbers.
    """
    if shape not in SHAPES:
        raise DataError(f"Unknown shape {shape!r}. Choose one of: {', '.join(SHAPES)}.")
    _check_range(classes, GEN_CLASSES, "Classes")
    _check_range(per_class, GEN_SAMPLES, "Samples per class")
    _check_range(noise, GEN_NOISE, "Noise")
    classes, per_class = int(classes), int(per_class)
    rng = np.random.default_rng(int(seed))
    y = np.repeat(np.arange(classes), per_class)
    if shape == "drawn digits":
        X = np.stack([draw_digit(int(d), rng, noise) for d in y]).reshape(len(y), -1)
        return Dataset("drawn_digits", X.astype(np.float32), y, [str(d) for d in range(classes)],
                       [f"px{i}" for i in range(X.shape[1])], (1, DRAW_SIZE, DRAW_SIZE),
                       f"generated: {classes} drawn digits x {per_class}, noise {noise:g}, seed {seed}")
    t = rng.random(len(y))  # position along each class's curve, in [0, 1)
    if shape == "blobs":
        # Class centres evenly spaced on a circle; noise widens each Gaussian blob.
        angle = 2 * np.pi * y / classes
        centres = np.stack([np.cos(angle), np.sin(angle)], 1) * 3.0
        X = centres + rng.normal(size=(len(y), 2)) * (0.4 + 1.6 * noise)
    elif shape == "moons":
        # Interleaved half circles (scikit-learn's two moons, generalised to a row of K moons).
        theta = np.pi * t
        flip = np.where(y % 2 == 0, 1.0, -1.0)
        X = np.stack([np.cos(theta) * flip + y * 1.0, np.sin(theta) * flip - 0.5 * (y % 2) + 0.25], 1)
        X = X + rng.normal(size=X.shape) * (0.05 + 0.35 * noise)
    else:  # spirals
        # K arms of an Archimedean spiral, each rotated by 2*pi/K; radius grows along the arm.
        r = 0.3 + 2.7 * t
        theta = 2 * np.pi * y / classes + 1.75 * np.pi * t
        X = np.stack([r * np.cos(theta), r * np.sin(theta)], 1)
        X = X + rng.normal(size=X.shape) * (0.03 + 0.4 * noise) * (0.5 + r[:, None] / 3)
    return Dataset(shape, X.astype(np.float32), y, [f"class {c}" for c in range(classes)], ["x1", "x2"],
                   None, f"generated: {shape}, {classes} classes x {per_class}, noise {noise:g}, seed {seed}")


DRAW_SIZE = 16  # drawn digits are 16x16 grey images
# Each digit as pen strokes (polylines) in a unit box, x to the right, y down.
_STROKES: dict[int, list[list[tuple[float, float]]]] = {
    0: [[(0.5, 0.1), (0.25, 0.2), (0.2, 0.5), (0.25, 0.8), (0.5, 0.9), (0.75, 0.8), (0.8, 0.5),
         (0.75, 0.2), (0.5, 0.1)]],
    1: [[(0.35, 0.25), (0.55, 0.1), (0.55, 0.9)]],
    2: [[(0.25, 0.25), (0.45, 0.1), (0.7, 0.15), (0.75, 0.35), (0.25, 0.9), (0.8, 0.9)]],
    3: [[(0.25, 0.15), (0.7, 0.15), (0.45, 0.45), (0.75, 0.65), (0.65, 0.88), (0.25, 0.85)]],
    4: [[(0.65, 0.9), (0.65, 0.1), (0.2, 0.65), (0.85, 0.65)]],
    5: [[(0.75, 0.1), (0.3, 0.1), (0.25, 0.45), (0.65, 0.45), (0.75, 0.7), (0.6, 0.9), (0.25, 0.85)]],
    6: [[(0.7, 0.1), (0.35, 0.35), (0.25, 0.7), (0.45, 0.9), (0.7, 0.8), (0.7, 0.6), (0.45, 0.5),
         (0.27, 0.62)]],
    7: [[(0.2, 0.1), (0.8, 0.1), (0.4, 0.9)]],
    8: [[(0.5, 0.5), (0.28, 0.3), (0.5, 0.1), (0.72, 0.3), (0.5, 0.5), (0.25, 0.7), (0.5, 0.9),
         (0.75, 0.7), (0.5, 0.5)]],
    9: [[(0.73, 0.38), (0.5, 0.5), (0.28, 0.35), (0.5, 0.1), (0.73, 0.3), (0.7, 0.9)]],
}


def draw_digit(digit: int, rng: np.random.Generator, noise: float = 0.2, size: int = DRAW_SIZE) -> np.ndarray:
    """Draw one digit with a random pen: rotation, scale, shear, shift, stroke width, pixel noise.

    Returns:
        A (size, size) float32 array in [0, 1], ink = 1.
    """
    from PIL import Image, ImageDraw

    scale_up = 4  # draw at 4x and downsample: smooth, anti-aliased strokes
    big = size * scale_up
    angle = rng.normal(0, 0.12 + 0.25 * noise)
    shear = rng.normal(0, 0.1 + 0.25 * noise)
    zoom = 1 + rng.normal(0, 0.05 + 0.1 * noise)
    shift = rng.normal(0, 0.03 + 0.07 * noise, size=2)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    affine = rot @ np.array([[1, shear], [0, 1]]) * zoom
    img = Image.new("L", (big, big), 0)
    pen = ImageDraw.Draw(img)
    width = max(1, int(round(big * (0.09 + rng.uniform(-0.02, 0.03)))))
    for stroke in _STROKES[digit]:
        pts = (np.asarray(stroke) - 0.5) @ affine.T + 0.5 + shift
        pts = pts + rng.normal(0, 0.01 + 0.02 * noise, size=pts.shape)  # a shaky hand
        pen.line([tuple(p) for p in (pts * big)], fill=255, width=width, joint="curve")
    arr = np.asarray(img.resize((size, size), Image.Resampling.BOX), dtype=np.float32) / 255.0
    arr = arr + rng.normal(0, 0.15 * noise, size=arr.shape)
    return np.clip(arr, 0, 1).astype(np.float32)


# --- Preview, split, lessons, export --------------------------------------------------------------
def preview(ds: Dataset) -> tuple[str, list[list], list[list]]:
    """Say exactly how the data was read.

    Returns:
        (markdown summary, per-column rows [column, type, missing in the upload, min, mean, max],
        per-class rows [label, class name, count, share]).
    """
    n, d = ds.X.shape
    kind = (f"images {ds.image_shape[1]}x{ds.image_shape[2]} ({'grey' if ds.image_shape[0] == 1 else 'RGB'})"
            if ds.is_image else "tabular")
    lines = [f"**{ds.name}** - {ds.source}", "",
             f"{n:,} samples · {d} features ({kind}) · {ds.n_classes} classes · labels read as {ds.label_kind}"]
    lines += [f"- note: {note}" for note in ds.notes]
    counts = ds.counts()
    if counts.max() > 3 * max(counts.min(), 1):
        lines.append(f"- imbalanced: the biggest class has {counts.max()} samples, the smallest {counts.min()}")
    cols = []
    shown = range(d) if d <= 20 else list(range(10)) + list(range(d - 5, d))
    for i in shown:
        col = ds.X[:, i]
        cols.append([ds.feature_names[i], "number (float32)", ds.missing[i] if ds.missing else 0,
                     round(float(col.min()), 4),
                     round(float(col.mean()), 4), round(float(col.max()), 4)])
    if d > 20:
        lines.append(f"- showing 15 of {d} feature columns")
    classes = [[c, name, int(counts[c]), f"{counts[c] / n:.1%}"] for c, name in enumerate(ds.class_names)]
    return "\n".join(lines), cols, classes


def split(ds: Dataset, *, test_fraction: float = 0.25, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Stratified train/test split: each class keeps the same share in both parts.

    Raises:
        DataError: For a test fraction outside [0.1, 0.5].
    """
    if not 0.1 <= test_fraction <= 0.5:
        raise DataError(f"Test fraction must be between 0.1 and 0.5 (got {test_fraction}).")
    rng = np.random.default_rng(int(seed))
    test = np.zeros(len(ds.y), dtype=bool)
    for c in range(ds.n_classes):
        idx = np.flatnonzero(ds.y == c)
        if len(idx) == 0:
            continue
        rng.shuffle(idx)
        n_test = min(len(idx) - 1, max(1, int(round(len(idx) * test_fraction))))
        test[idx[:n_test]] = True
    return ds.subset(~test, f"{ds.name}_train"), ds.subset(test, f"{ds.name}_test")


def drop_from_training(train: Dataset, *, drop_class: int | None = None,
                       drop_region: float = 0.0) -> tuple[Dataset, np.ndarray | None, str]:
    """Remove a class or a region from the training data, for the "models only know their data" lesson.

    Args:
        train: The training split.
        drop_class: Label to remove entirely, or None.
        drop_region: Fraction (0..0.9) of the feature range, from the right of the first feature,
            whose training samples are removed. 0 keeps everything.

    Returns:
        (reduced training set, threshold on feature 0 or None, one-line description).

    Raises:
        DataError: If the class does not exist or nothing would be left.
    """
    keep = np.ones(len(train.y), dtype=bool)
    what = []
    threshold = None
    if drop_class is not None:
        if not 0 <= drop_class < train.n_classes:
            raise DataError(f"Class to drop must be between 0 and {train.n_classes - 1} (got {drop_class}).")
        keep &= train.y != drop_class
        what.append(f"class {train.class_names[drop_class]!r} removed from training")
    if drop_region:
        if not 0 < drop_region <= 0.9:
            raise DataError(f"Region to drop must be between 0 and 0.9 (got {drop_region}).")
        lo, hi = float(train.X[:, 0].min()), float(train.X[:, 0].max())
        threshold = hi - drop_region * (hi - lo)
        keep &= train.X[:, 0] <= threshold
        what.append(f"training samples with {train.feature_names[0]} > {threshold:.3g} removed")
    reduced = train.subset(keep)
    if len(np.unique(reduced.y)) < 2:
        raise DataError("Dropping that leaves fewer than 2 classes to train on. Drop less.")
    return reduced, threshold, "; ".join(what) or "nothing removed"


def to_csv(ds: Dataset, path: str | os.PathLike[str]) -> str:
    """Write the dataset as a CSV in the template's format (features, then `label` as class names)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*ds.feature_names, "label"])
        for row, label in zip(ds.X, ds.y):
            writer.writerow([f"{v:.6g}" for v in row] + [ds.class_names[label]])
    return str(path)


def to_npz(ds: Dataset, path: str | os.PathLike[str]) -> str:
    """Write the dataset as NumPy arrays (X, y, class_names, image_shape) in one .npz file."""
    np.savez_compressed(path, X=ds.X, y=ds.y, class_names=np.array(ds.class_names),
                        feature_names=np.array(ds.feature_names),
                        image_shape=np.array(ds.image_shape or (), dtype=np.int64))
    return str(path)
