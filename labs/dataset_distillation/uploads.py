"""Uploads: a CSV table or a ZIP of class folders, read with care and checked before anything trains.

Both readers return a `data.Dataset` and refuse bad input with a `data.DataError` whose message
says what was wrong and what to do. The CSV's class column is found by its usual names (`label`,
`target` as in scikit-learn's `as_frame` tables, `class`, `y`) or named by the user; a table is
never refused for what its class column is called. ZIPs are read in memory: nothing is extracted.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np

from .data import DataError, Dataset, draw_digit

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
# Names a class column usually has, in the order they are tried (case-insensitive): ours, then
# scikit-learn's `as_frame=True` ("target"), then the other common spellings.
LABEL_NAMES = ("label", "labels", "target", "class", "y")
AUTO = "(auto)"  # the "find it by its name" choice of the label-column picker


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


def read_csv(path: str | os.PathLike[str] | None, *, label_column: str | None = None) -> Dataset:
    """Read an uploaded CSV: one header row, numeric feature columns, one label column.

    Rows with a missing value (empty, NA, nan, ?, ...) are dropped and counted in the notes.
    Labels may be numbers or words; classes are sorted by their text.

    Args:
        path: The uploaded file.
        label_column: Name of the class column (case-insensitive). None, "" or `AUTO` find it by
            its usual names (`LABEL_NAMES`: label, target, class, y); see `find_label_column`.

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
                        "column (see the template); the class column is found by its name (label, target, class, y).")
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
    li = find_label_column(header, label_column)
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


def find_label_column(header: list[str], label_column: str | None = None) -> int:
    """Index of the class column in `header`: the one the user named, else the first usual name.

    Args:
        header: The CSV's column names.
        label_column: The user's pick (case-insensitive). None, "" or `AUTO` try `LABEL_NAMES`
            (label, labels, target, class, y) in that order.

    Raises:
        DataError: If the named column is not there, or no column has a usual name; the message
            lists the columns found and says how to pick one.
    """
    names_lower = [h.strip().lower() for h in header]
    found = f"{', '.join(header[:20])}{' ...' if len(header) > 20 else ''}"
    picked = (label_column or "").strip()
    if picked and picked != AUTO:
        if picked.lower() not in names_lower:
            raise DataError(f"No label column called '{picked[:60]}'. Columns found: {found}. Pick one of them in "
                            f"'Label column', or choose '{AUTO}' to find label/target/class/y by name.")
        return names_lower.index(picked.lower())
    for name in LABEL_NAMES:
        if name in names_lower:
            return names_lower.index(name)
    raise DataError(f"Which column holds the classes? None is called {', '.join(LABEL_NAMES)}. Columns found: "
                    f"{found}. Pick yours in 'Label column' (the list shows this file's columns).")


def csv_columns(path: str | os.PathLike[str] | None) -> tuple[list[str], str]:
    """The column names of an uploaded CSV (read from its first line) and the label column guess.

    For the label-column picker: returns ([], AUTO) for anything that is not a readable CSV
    header, and leaves the explaining to `read_csv` when the user reads the file.
    """
    try:
        p = Path(path) if path else None
        if p is None or not p.is_file() or p.stat().st_size > MAX_CSV_BYTES:
            return [], AUTO
        with open(p, encoding="utf-8-sig", errors="strict", newline="") as fh:
            first = fh.readline(64_000)
        try:
            delimiter = csv.Sniffer().sniff(first, delimiters=",;\t").delimiter
        except csv.Error:
            delimiter = ","
        header = [h.strip() for h in next(csv.reader([first], delimiter=delimiter), [])][:MAX_COLUMNS]
    except (OSError, UnicodeDecodeError, ValueError):
        return [], AUTO
    header = [h for h in header if h]
    try:
        guess = header[find_label_column(header)]
    except DataError:
        guess = AUTO
    return header, guess


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


