"""The data both frameworks see: one array, one split, one batch order.

A fair comparison starts with identical inputs. Everything here is plain NumPy, so PyTorch and
TensorFlow receive the very same float32 arrays and the very same list of batch indices; neither
framework's own loader or shuffler is used.

Data sources:
- the scikit-learn *digits* set (1,797 handwritten digits, 8x8 pixels, values 0..16), which ships
  inside the scikit-learn wheel, so nothing is downloaded;
- or an uploaded ``.npz`` file with two arrays, ``x`` (N x H x W or N x H*W, numbers, square
  images, 0 = background) and ``y`` (N integer labels 0..9). It is read with
  ``allow_pickle=False``: an ``.npz`` can otherwise carry pickled Python objects that run code.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.uploads import UploadError, check_file

# Images are square, SIDE x SIDE. digits is 8x8; uploads may be up to MNIST's 28x28.
MIN_SIDE, MAX_SIDE = 4, 28
# Bounded work on a 2-core CPU: at most 20,000 images, at least enough for a 20 % test split.
MIN_SAMPLES, MAX_SAMPLES = 50, 20_000
NUM_CLASSES = 10
TEST_FRACTION = 0.2  # 20 % held out; the same rows for both frameworks
SPLIT_SEED = 0  # the split never changes with the training seed, so runs stay comparable
MAX_NPZ_BYTES = 50 * 1024 * 1024  # 20,000 x 28 x 28 float32 is ~63 MB raw, ~50 MB compressed
# The most bytes 'x' and 'y' may hold once decompressed: the largest accepted arrays in float64.
# A tiny .npz can expand to gigabytes (a "zip bomb"), so these are checked before anything is
# decompressed, both against the sizes the archive declares and the shapes the .npy headers declare.
MAX_X_BYTES = MAX_SAMPLES * MAX_SIDE * MAX_SIDE * 8  # ~125 MB
MAX_Y_BYTES = MAX_SAMPLES * 8
NPY_HEADER_ROOM = 64 * 1024  # an .npy member is its header (normally 128 bytes) plus the raw array


class DataError(UploadError):
    """The data cannot be used; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Dataset:
    """A train/test split of square grey images, flattened, float32 in [0, 1].

    Attributes:
        x_train: (N_train, SIDE*SIDE) float32.
        y_train: (N_train,) int64 labels 0..9.
        x_test: (N_test, SIDE*SIDE) float32.
        y_test: (N_test,) int64.
        side: Image side in pixels.
        name: Where the data came from, for the UI.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    side: int
    name: str

    @property
    def features(self) -> int:
        return self.side * self.side

    def describe(self) -> str:
        return (f"{self.name}: {len(self.x_train)} training and {len(self.x_test)} test images, "
                f"{self.side}x{self.side} pixels, classes {sorted(set(self.y_train.tolist()))}")

    def save(self, path: str | Path) -> Path:
        """Write the split to an ``.npz`` file (how the Keras worker process receives it)."""
        path = Path(path)
        np.savez(path, x_train=self.x_train, y_train=self.y_train, x_test=self.x_test,
                 y_test=self.y_test, side=np.int64(self.side), name=np.str_(self.name))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Dataset":
        with np.load(path, allow_pickle=False) as z:
            return cls(z["x_train"], z["y_train"], z["x_test"], z["y_test"], int(z["side"]),
                       str(z["name"]))


def split(x: np.ndarray, y: np.ndarray, *, side: int, name: str) -> Dataset:
    """Split into train/test with a fixed permutation (stratification is not needed at this size)."""
    rng = np.random.default_rng(SPLIT_SEED)
    order = rng.permutation(len(x))
    n_test = max(1, int(round(len(x) * TEST_FRACTION)))
    test, train = order[:n_test], order[n_test:]
    return Dataset(x[train], y[train], x[test], y[test], side, name)


def load_digits() -> Dataset:
    """The scikit-learn digits set, scaled from 0..16 to 0..1 (shipped in the wheel: no download)."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = (bunch.data / 16.0).astype(np.float32)  # (1797, 64)
    y = bunch.target.astype(np.int64)  # (1797,)
    return split(x, y, side=8, name="scikit-learn digits")


def validate_arrays(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Check user arrays and bring them to (N, SIDE*SIDE) float32 in [0, 1] and int64 labels.

    Returns:
        (x, y, side).

    Raises:
        DataError: For a wrong shape, dtype, size, non-finite pixels or bad labels.
    """
    if x.dtype.kind not in "biuf":
        raise DataError(f"'x' has dtype {x.dtype}; it must hold numbers (uint8 or float). "
                        "Save it with np.savez('data.npz', x=images.astype('float32'), y=labels).")
    if x.ndim == 3:
        if x.shape[1] != x.shape[2]:
            raise DataError(f"'x' has shape {x.shape}; images must be square (N, S, S).")
        side = x.shape[1]
        x = x.reshape(len(x), -1)
    elif x.ndim == 2:
        side = math.isqrt(x.shape[1])
        if side * side != x.shape[1]:
            raise DataError(f"'x' has {x.shape[1]} values per image, which is not a square number; "
                            "give (N, S*S) or (N, S, S) arrays of square images.")
    else:
        raise DataError(f"'x' has shape {x.shape}; expected (N, S, S) or (N, S*S).")
    if not MIN_SIDE <= side <= MAX_SIDE:
        raise DataError(f"Images are {side}x{side}; this lab accepts {MIN_SIDE}x{MIN_SIDE} to "
                        f"{MAX_SIDE}x{MAX_SIDE}. Resize them first.")
    n = len(x)
    if not MIN_SAMPLES <= n <= MAX_SAMPLES:
        raise DataError(f"'x' holds {n} images; this lab accepts {MIN_SAMPLES} to {MAX_SAMPLES} "
                        "so that training stays quick on a CPU.")
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"'y' has shape {y.shape}; it must be one label per image, shape ({n},).")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DataError("'y' holds non-integer values; labels must be the integers 0..9.")
    elif y.dtype.kind not in "iub":
        raise DataError(f"'y' has dtype {y.dtype}; labels must be integers 0..9.")
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= NUM_CLASSES:
        raise DataError(f"Labels range from {y.min()} to {y.max()}; they must be 0..{NUM_CLASSES - 1}.")
    if len(np.unique(y)) < 2:
        raise DataError("All labels are the same; a classifier needs at least two classes.")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise DataError("'x' contains NaN or infinite values; clean them before uploading.")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0:
        raise DataError(f"'x' has negative values (min {lo:g}); use 0 for background and "
                        "positive values for ink.")
    if hi > 0:
        x = x / hi  # scale to [0, 1] whatever the original range (0..16, 0..255, 0..1)
    return x, y, side


def check_unpacked_sizes(path: str | Path) -> None:
    """Refuse an ``.npz`` whose ``x`` or ``y`` would decompress beyond the lab's limits.

    Reads only the zip directory (each member's declared ``file_size``; Python's zip reader never
    returns more bytes than that) and the few bytes of each ``.npy`` header (its shape and dtype,
    from which NumPy would size the array it allocates).

    Raises:
        DataError: An array is too large, or the file is not a readable .npz archive.
    """
    from numpy.lib import format as npy_format

    name = Path(path).name
    # np.load's z["x"] reads a member named "x" (raw bytes) or else "x.npy": check both names.
    limits = {f"{key}{ext}": (key, limit) for key, limit in (("x", MAX_X_BYTES), ("y", MAX_Y_BYTES))
              for ext in ("", ".npy")}

    def too_big(key: str, size: int, limit: int) -> DataError:
        return DataError(
            f"'{name}': array '{key}' would take {size / 1e6:,.1f} MB once decompressed; this lab "
            f"accepts at most {limit / 1e6:,.1f} MB ({MAX_SAMPLES:,} images of up to "
            f"{MAX_SIDE}x{MAX_SIDE}). Upload fewer or smaller images.")

    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename not in limits:
                    continue  # np.load only decompresses the members that are asked for
                key, limit = limits[info.filename]
                if info.file_size > limit + NPY_HEADER_ROOM:
                    raise too_big(key, info.file_size, limit)
                with archive.open(info) as member:
                    version = npy_format.read_magic(member)
                    if version == (1, 0):
                        shape, _, dtype = npy_format.read_array_header_1_0(member)
                    elif version == (2, 0):
                        shape, _, dtype = npy_format.read_array_header_2_0(member)
                    else:
                        raise DataError(f"'{name}': array '{key}' uses .npy format {version}; save "
                                        "plain numeric arrays with np.savez.")
                declared = math.prod(int(n) for n in shape) * dtype.itemsize
                if declared > limit:
                    raise too_big(key, declared, limit)
    except DataError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise DataError(f"'{name}' is not a readable .npz file ({exc}). Save it with np.savez.") from exc


def load_upload(path: str | Path | None) -> Dataset:
    """Read and validate an uploaded ``.npz`` (arrays ``x`` and ``y``); see the module docstring.

    Raises:
        UploadError/DataError: With a message that names the problem and the fix.
    """
    check_file(path, kinds=("zip",), max_bytes=MAX_NPZ_BYTES, what="data file (.npz)")
    name = Path(path).name
    check_unpacked_sizes(path)  # before np.load decompresses anything
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            if not {"x", "y"} <= keys:
                raise DataError(f"'{name}' holds arrays {sorted(keys)}; it needs 'x' (images) and "
                                "'y' (labels): np.savez('data.npz', x=images, y=labels).")
            x, y = z["x"], z["y"]
    except DataError:
        raise
    except ValueError as exc:  # object arrays refused by allow_pickle=False
        raise DataError(f"'{name}' contains Python objects, which are not loaded for safety "
                        f"({exc}). Save plain numeric arrays.") from exc
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"'{name}' is not a readable .npz file ({exc}). Save it with np.savez.") from exc
    x, y, side = validate_arrays(np.asarray(x), np.asarray(y))
    return split(x, y, side=side, name=f"upload '{name}'")


def choose_dataset(source: str, path: str | Path | None) -> Dataset:
    """The UI's data choice: ``"digits"`` or ``"upload"`` (then `path` must be an .npz)."""
    if source == "digits":
        return load_digits()
    if source == "upload":
        if not path:
            raise DataError("Data is set to 'upload' but no .npz file was uploaded. Upload one "
                            "(arrays x and y) or choose 'digits'.")
        return load_upload(path)
    raise DataError(f"Data must be 'digits' or 'upload', got {source!r}.")


def batch_order(n: int, batch_size: int, epochs: int, seed: int) -> list[list[np.ndarray]]:
    """The exact batches, as index arrays, for every epoch: one list shared by all frameworks.

    Each epoch is a fresh permutation from one NumPy generator seeded with `seed`. The last batch
    of an epoch may be smaller (no rows are dropped), as in both frameworks' default loaders.
    """
    rng = np.random.default_rng(seed)
    epochs_batches = []
    for _ in range(epochs):
        perm = rng.permutation(n)
        epochs_batches.append([perm[i:i + batch_size] for i in range(0, n, batch_size)])
    return epochs_batches


def image_to_input(img, side: int) -> np.ndarray:
    """Turn a drawn or uploaded digit (PIL image, any size) into one model input row.

    Steps, as the digits set was made: grey, ink = bright, crop to the ink, pad to a square (the
    longer side fills the frame, as every digit of the set touches its top and bottom rows),
    shrink to SIDE x SIDE with area averaging, scale to [0, 1].

    Returns:
        (1, SIDE*SIDE) float32.

    Raises:
        DataError: If the image is blank.
    """
    from PIL import Image

    if img.mode in ("RGBA", "LA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        alpha = np.asarray(rgba, dtype=np.float32)[..., 3] / 255.0
        grey = np.asarray(rgba.convert("L"), dtype=np.float32) / 255.0
        # Sketchpad strokes are opaque on a transparent canvas: ink = alpha where paint is dark.
        ink = alpha * (1.0 - grey) if alpha.min() < 0.99 else 1.0 - grey
    else:
        grey = np.asarray(img.convert("L"), dtype=np.float32) / 255.0
        ink = grey if grey.mean() < 0.5 else 1.0 - grey  # dark background: ink is bright already
    mask = ink > 0.15
    if not mask.any():
        raise DataError("The image is blank. Draw a digit (thick strokes work best) or upload one.")
    rows, cols = np.where(mask)
    crop = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = crop.shape
    size = max(h, w)  # no margin: digits in the set span the full height of the frame
    square = np.zeros((size, size), np.float32)
    top, left = (size - h) // 2, (size - w) // 2
    square[top:top + h, left:left + w] = crop
    small = Image.fromarray((square * 255).astype(np.uint8)).resize((side, side), Image.Resampling.BOX)
    arr = np.asarray(small, dtype=np.float32) / 255.0
    if arr.max() > 0:
        arr = arr / arr.max()  # digits' strokes reach the top of the scale
    return arr.reshape(1, side * side)
