"""Datasets for the lab: built-in real data, generated data, and uploads read with care.

A model only knows what its training data shows it, so this module is deliberately explicit about
what it read: every loader returns a `Dataset` with its classes, feature names, and notes on
anything it changed (rows dropped for missing values, images resized), and `preview` turns that
into the tables the user sees before anything is trained.

Three ways in:
- `builtin(name)`: real datasets scikit-learn ships offline (digits, iris, wine, breast cancer).
- `generate(shape, ...)`: blobs, moons, spirals, or procedurally drawn digit images.
- `read_csv(path)` / `read_image_zip(path)`: uploads, checked for size, shape, types and safety
  (ZIPs are read in memory; nothing is ever extracted to disk).
"""

from __future__ import annotations

import csv
import io
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

# --- Limits, stated in the UI and enforced here -------------------------------------------------
MAX_CSV_BYTES = 20 * 1024 * 1024  # 20 MB of CSV is ~200k rows of 10 numbers: plenty for a CPU lab
MAX_ROWS = 100_000  # more rows only make the 2-core training slower, not the lesson clearer
MAX_COLUMNS = 1_000  # a 32x32 image flattened is 1024 values; tabular data rarely needs more
MAX_CLASSES = 50  # confusion matrices and per-class plots stop being readable beyond this
MIN_PER_CLASS = 2  # at least one training and one test sample per class
MAX_ZIP_BYTES = 50 * 1024 * 1024  # the compressed upload
MAX_ZIP_UNPACKED = 200 * 1024 * 1024  # sum of declared member sizes: stops zip bombs before reading
MAX_ZIP_RATIO = 100  # one member compressing better than 100:1 is a bomb, not a photo
MAX_IMAGES = 5_000  # enough for a real small dataset, small enough to load in seconds
MAX_IMAGE_PIXELS = 4_000_000  # per image, checked before decoding
IMAGE_SIZES = (8, 12, 16, 24, 32)  # images are resized to SIZE x SIZE; small keeps CPU training fast
DEFAULT_IMAGE_SIZE = 16
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MISSING_TOKENS = {"", "na", "n/a", "nan", "null", "none", "?", "-"}

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


# --- Uploads: CSV ---------------------------------------------------------------------------------
TEMPLATE_ROWS = [
    ["sepal_length", "sepal_width", "petal_length", "petal_width", "label"],
    ["5.1", "3.5", "1.4", "0.2", "setosa"],
    ["4.9", "3.0", "1.4", "0.2", "setosa"],
    ["7.0", "3.2", "4.7", "1.4", "versicolor"],
    ["6.4", "3.2", "4.5", "1.5", "versicolor"],
    ["6.3", "3.3", "6.0", "2.5", "virginica"],
    ["5.8", "2.7", "5.1", "1.9", "virginica"],
]


def template_csv() -> str:
    """The CSV template: a header row, numeric feature columns, and a `label` column last."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(TEMPLATE_ROWS)
    return buf.getvalue()


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def read_csv(path: str | os.PathLike[str] | None, *, label_column: str = "label") -> Dataset:
    """Read an uploaded CSV: one header row, numeric feature columns, one label column.

    Rows with a missing value (empty, NA, nan, ?, ...) are dropped and counted in the notes.
    Labels may be numbers or words; classes are sorted by their text.

    Args:
        path: The uploaded file.
        label_column: Name of the label column (case-insensitive); empty means "label".

    Raises:
        DataError: For a missing/empty/huge/binary file, no header, no label column, ragged rows,
            non-numeric features, fewer than 2 classes, or a class with fewer than 2 rows.
    """
    if path is None or str(path) == "":
        raise DataError("No CSV was uploaded. Upload one, or download the template to see the format.")
    p = Path(path)
    if not p.is_file():
        raise DataError(f"The file '{p.name}' could not be found on the server. Upload it again.")
    size = p.stat().st_size
    if size == 0:
        raise DataError(f"'{p.name}' is empty (0 bytes). Upload a CSV with a header row and data rows.")
    if size > MAX_CSV_BYTES:
        raise DataError(f"'{p.name}' is {size / 1e6:.1f} MB; the limit is {MAX_CSV_BYTES / 1e6:.0f} MB. "
                        "Upload a sample of the rows.")
    raw = p.read_bytes()
    from shared.uploads import sniff

    kind = sniff(p)
    if kind or b"\x00" in raw[:4096]:
        what = f"a {kind.upper()} file" if kind else "a binary file"
        raise DataError(f"'{p.name}' is {what}, not a CSV text file. Save your table as CSV (comma-separated).")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"'{p.name}' is not UTF-8 text (byte {exc.start}). Save it as 'CSV UTF-8'.") from exc
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise DataError(f"'{p.name}' has {len(rows)} non-empty line(s); it needs a header row and data rows.")
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    if len(header) > MAX_COLUMNS:
        raise DataError(f"'{p.name}' has {len(header)} columns; the limit is {MAX_COLUMNS}.")
    if len(body) > MAX_ROWS:
        raise DataError(f"'{p.name}' has {len(body):,} rows; the limit is {MAX_ROWS:,}. Upload a sample.")
    if all(_is_number(h) for h in header):
        raise DataError("The first row looks like data, not column names. Add a header row naming each "
                        "column (see the template), with the label column called 'label'.")
    if len(header) < 2:
        raise DataError(f"'{p.name}' has a single column. It needs at least one feature column and a label "
                        f"column, separated by commas.")
    if len(set(h.lower() for h in header)) != len(header):
        dupes = sorted({h for h in header if [x.lower() for x in header].count(h.lower()) > 1})
        raise DataError(f"Column names must be unique; repeated: {', '.join(dupes)}.")
    ragged = [(i + 2, len(r)) for i, r in enumerate(body) if len(r) != len(header)]
    if ragged:
        shown = "; ".join(f"line {ln} has {n}" for ln, n in ragged[:5])
        raise DataError(f"Ragged rows: the header has {len(header)} columns but {shown}"
                        f"{' (and more)' if len(ragged) > 5 else ''}. Every row needs one value per column.")
    wanted = (label_column or "label").strip().lower()
    names_lower = [h.lower() for h in header]
    if wanted not in names_lower:
        raise DataError(f"No label column called '{label_column or 'label'}'. Columns found: "
                        f"{', '.join(header[:20])}{' ...' if len(header) > 20 else ''}. Rename your label "
                        "column to 'label' or type its name in 'Label column'.")
    li = names_lower.index(wanted)
    feat_idx = [i for i in range(len(header)) if i != li]
    cells = np.array(body, dtype=object)
    missing = np.vectorize(lambda c: c.strip().lower() in MISSING_TOKENS)(cells).astype(bool)
    # Every non-missing feature value must be a number; name the first offenders.
    bad_cols = []
    for i in feat_idx:
        for r, c in enumerate(cells[:, i]):
            if not missing[r, i] and not _is_number(c):
                bad_cols.append(f"'{header[i]}' (e.g. {c.strip()!r} on line {r + 2})")
                break
    if bad_cols:
        raise DataError(f"Feature columns must be numbers; not numeric: {', '.join(bad_cols[:5])}. "
                        "Encode categories as numbers (one 0/1 column per category) or remove those columns.")
    keep = ~missing[:, feat_idx].any(1) & ~missing[:, li]
    notes = []
    dropped = int((~keep).sum())
    if dropped:
        notes.append(f"dropped {dropped} of {len(body)} rows with missing values")
    if not keep.any():
        raise DataError("Every row has a missing value, so nothing is left to learn from. Fill in the gaps.")
    X = np.array([[float(c) for c in row] for row in cells[keep][:, feat_idx]], dtype=np.float64)
    if not np.isfinite(X).all():
        raise DataError("Some feature values are infinite or too large for float32. Fix or remove them.")
    labels = [str(c).strip() for c in cells[keep][:, li]]
    # Integer-looking labels sort numerically ("2" before "10"); words sort alphabetically.
    uniq = sorted(set(labels), key=lambda s: (0, float(s), s) if _is_number(s) else (1, 0.0, s))
    if len(uniq) < 2:
        raise DataError(f"The label column '{header[li]}' has only one class ({uniq[0]!r}). A classifier "
                        "needs at least 2 classes: add rows of another class.")
    if len(uniq) > MAX_CLASSES:
        raise DataError(f"The label column '{header[li]}' has {len(uniq)} different values; the limit is "
                        f"{MAX_CLASSES} classes. Is it really the label (not a measurement)?")
    index = {c: i for i, c in enumerate(uniq)}
    y = np.array([index[c] for c in labels], dtype=np.int64)
    label_kind = ("numbers (sorted numerically)" if all(_is_number(c) for c in uniq)
                  else "text (classes sorted alphabetically)")
    if (~keep).any() and missing[:, li].any():
        notes.append(f"{int(missing[:, li].sum())} rows had no label")
    ds = Dataset(p.stem[:40] or "upload", X.astype(np.float32), y, uniq, [header[i] for i in feat_idx],
                 None, f"uploaded CSV '{p.name}': {len(body)} rows x {len(header)} columns, "
                       f"delimiter {delimiter!r}, label column '{header[li]}'", notes,
                 [int(missing[:, i].sum()) for i in feat_idx], label_kind)
    _check_class_sizes(ds)
    return ds


def _check_class_sizes(ds: Dataset) -> None:
    small = [f"{ds.class_names[c]!r} ({n})" for c, n in enumerate(ds.counts()) if n < MIN_PER_CLASS]
    if small:
        raise DataError(f"Every class needs at least {MIN_PER_CLASS} samples (one to train, one to test); "
                        f"too few: {', '.join(small[:10])}. Add samples or remove those classes.")


# --- Uploads: ZIP of class folders ----------------------------------------------------------------
def _class_and_file(name: str) -> tuple[str, str] | None:
    """Split a ZIP member name into (class folder, file) after safety checks; None to skip it."""
    if "\\" in name:
        name = name.replace("\\", "/")
    pure = PurePosixPath(name)
    if name.startswith("/") or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        raise DataError(f"The ZIP contains an unsafe path {name!r} (absolute or with '..'). "
                        "Re-create the ZIP from the folder itself; nothing was extracted.")
    parts = [p for p in pure.parts if p not in ("", ".")]
    if not parts or name.endswith("/") or parts[0] == "__MACOSX" or parts[-1].startswith("."):
        return None
    return ("/".join(parts[:-1]), parts[-1])


def read_image_zip(path: str | os.PathLike[str] | None, *, size: int = DEFAULT_IMAGE_SIZE,
                   grayscale: bool = True) -> Dataset:
    """Read a ZIP of class folders (`cat/001.png`, `dog/002.jpg`, ...) into an image Dataset.

    One wrapping folder (`pets/cat/001.png`) is accepted. Images are read in memory (nothing is
    extracted to disk), converted to grey (or RGB) and resized to `size` x `size`.

    Raises:
        DataError: For a non-ZIP, a zip bomb, unsafe or nested paths, files outside class folders,
            non-image files, too many images, fewer than 2 classes or tiny classes.
    """
    from PIL import Image

    from shared.uploads import UploadError, check_file

    if size not in IMAGE_SIZES:
        raise DataError(f"Image size must be one of {', '.join(map(str, IMAGE_SIZES))} (got {size}).")
    try:
        check_file(path, kinds=("zip",), max_bytes=MAX_ZIP_BYTES, what="ZIP of class folders")
    except UploadError as exc:
        raise DataError(str(exc)) from exc
    p = Path(path)
    try:
        zf = zipfile.ZipFile(p)
    except zipfile.BadZipFile as exc:
        raise DataError(f"'{p.name}' is not a readable ZIP ({exc}). Re-create it and upload again.") from exc
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        total = sum(i.file_size for i in infos)
        if total > MAX_ZIP_UNPACKED:
            raise DataError(f"The ZIP would unpack to {total / 1e6:.0f} MB; the limit is "
                            f"{MAX_ZIP_UNPACKED / 1e6:.0f} MB. Use smaller or fewer images.")
        members = []
        for info in infos:
            split = _class_and_file(info.filename)
            if split is None:
                continue
            if info.compress_size and info.file_size / info.compress_size > MAX_ZIP_RATIO and info.file_size > 1e6:
                raise DataError(f"'{info.filename}' compresses {info.file_size / info.compress_size:.0f}:1, "
                                "which looks like a zip bomb. Upload ordinary image files.")
            members.append((info, *split))
        if not members:
            raise DataError("The ZIP has no files. Put images in one folder per class, e.g. cat/1.png, dog/2.png.")
        if len(members) > MAX_IMAGES:
            raise DataError(f"The ZIP has {len(members):,} files; the limit is {MAX_IMAGES:,} images.")
        # One wrapping folder around all class folders is fine: strip it.
        tops = {folder.split("/")[0] for _, folder, _ in members}
        if len(tops) == 1 and all(folder.count("/") == 1 for _, folder, _ in members):
            members = [(i, folder.split("/", 1)[1], f) for i, folder, f in members]
        loose = [f for _, folder, f in members if folder == ""]
        if loose:
            raise DataError(f"Files must be inside one folder per class; found at the top: "
                            f"{', '.join(loose[:5])}. Layout: cat/1.png, dog/2.png (the folder name is the label).")
        nested = [f"{folder}/{f}" for _, folder, f in members if "/" in folder]
        if nested:
            raise DataError(f"Nested folders are not read (the label would be ambiguous): "
                            f"{', '.join(nested[:3])}. Put images directly in one folder per class.")
        not_images = [f"{folder}/{f}" for _, folder, f in members if not f.lower().endswith(IMAGE_EXTENSIONS)]
        if not_images:
            raise DataError(f"Only images are allowed ({', '.join(IMAGE_EXTENSIONS)}); found: "
                            f"{', '.join(not_images[:5])}. Remove the other files.")
        classes = sorted({folder for _, folder, _ in members})
        if len(classes) < 2:
            raise DataError(f"Only one class folder ({classes[0]!r}). A classifier needs at least 2 folders.")
        if len(classes) > MAX_CLASSES:
            raise DataError(f"{len(classes)} class folders; the limit is {MAX_CLASSES}.")
        mode = "L" if grayscale else "RGB"
        images, labels = [], []
        for info, folder, fname in sorted(members, key=lambda m: m[0].filename):
            data = zf.read(info)
            try:
                img = Image.open(io.BytesIO(data))
                w, h = img.size
                if w * h > MAX_IMAGE_PIXELS:
                    raise DataError(f"'{folder}/{fname}' is {w}x{h}; the limit is "
                                    f"{MAX_IMAGE_PIXELS / 1e6:.0f} megapixels per image. Downscale it.")
                img = img.convert(mode).resize((size, size), Image.Resampling.BILINEAR)
            except DataError:
                raise
            except Exception as exc:
                raise DataError(f"'{folder}/{fname}' is not a readable image ({type(exc).__name__}). "
                                "Remove it or re-export it.") from exc
            arr = np.asarray(img, dtype=np.float32) / 255.0
            images.append(arr[None] if grayscale else arr.transpose(2, 0, 1))
            labels.append(classes.index(folder))
    X = np.stack(images).reshape(len(images), -1)
    c = 1 if grayscale else 3
    ds = Dataset(p.stem[:40] or "images", X, np.array(labels, dtype=np.int64), classes,
                 [f"px{i}" for i in range(X.shape[1])], (c, size, size),
                 f"uploaded ZIP '{p.name}': {len(images)} images in {len(classes)} class folders",
                 [f"images converted to {'grey' if grayscale else 'RGB'} and resized to {size}x{size}"],
                 label_kind="class folder names")
    _check_class_sizes(ds)
    return ds


def template_zip(path: str | os.PathLike[str], *, per_class: int = 5) -> str:
    """Write a small example ZIP of class folders (drawn digits 0, 1, 2 as PNGs) to `path`."""
    from PIL import Image

    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for digit in range(3):
            for i in range(per_class):
                img = Image.fromarray((draw_digit(digit, rng, 0.2, 32) * 255).astype(np.uint8))
                buf = io.BytesIO()
                img.save(buf, format="PNG")
                zf.writestr(f"digit_{digit}/{i:03d}.png", buf.getvalue())
    return str(path)


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
