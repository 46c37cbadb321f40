"""From image to height map: brightness becomes millimetres.

What it teaches:

* How to read *any* PNG safely: 8-bit grey (L), grey + alpha (LA), RGB, RGBA,
  palette (P) and 16-bit grey (I;16), with a pixel limit against decompression
  bombs and a clear message for files that are not images.
* How brightness is measured: luma with the Rec. 709 weights
  ``Y' = 0.2126 R + 0.7152 G + 0.0722 B`` applied to the stored (gamma-encoded)
  values, computed with torch so it runs on a GPU when there is one.
* The small image-processing steps that shape a relief: area downsampling,
  a gamma curve, inversion, Gaussian smoothing as a torch convolution.
* Which pixels count as "black" (luma at or below a threshold, or fully
  transparent) and why they are kept at exactly 0 mm, so they can be welded
  into one flat plane by ``mesh.py``.

Height of a pixel that is not black: ``base_mm + brightness * max_height_mm``,
where brightness is in [0, 1] after gamma, invert and smoothing.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from shared.uploads import MAX_UPLOAD_BYTES

# Rec. 709 (sRGB) luma weights for R, G, B. They sum to 1, so white is exactly 1
# and a grey pixel's luma equals its grey value.
LUMA_WEIGHTS = (0.2126, 0.7152, 0.0722)

# Largest image accepted, in pixels (width * height). 40 megapixels covers any
# phone photo; above that a PNG of a few kilobytes could unpack to gigabytes
# (a "decompression bomb"), so we refuse before decoding.
MAX_INPUT_PIXELS = 40_000_000

# Largest file accepted, in bytes: the suite's one upload limit (shared/uploads.py), far above
# any sensible PNG. The decoding below stays this lab's own: it reads formats (16-bit grey, PPM,
# TGA, ICO, QOI...) that the shared image check does not.
MAX_FILE_BYTES = MAX_UPLOAD_BYTES

# Raster formats Pillow may open. PNG is the intended input; the others are
# accepted with a note. Formats that run external programs (EPS runs
# Ghostscript) or are not rasters (PDF) are deliberately left out.
ALLOWED_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM", "TGA", "ICO", "QOI")

# Vertices sit at pixel centres and two neighbouring pixels make one cell, so an
# image needs at least 2 pixels on each side; smaller images are enlarged.
MIN_GRID_SIDE = 2


class ImageInputError(ValueError):
    """The input is not an image we can use; the message says what to do."""


@dataclass(frozen=True)
class LoadedImage:
    """Pixels as read from the file, before any processing.

    Attributes:
        pixels: (H, W, C) array, C in {1, 2, 3, 4} (grey, grey+alpha, RGB, RGBA).
        max_value: the value that means "full" (255 for 8-bit, 65535 for 16-bit, 1.0 for float).
        mode: the Pillow mode of the file (e.g. "RGBA", "P", "I;16").
        format: the file format Pillow detected (e.g. "PNG"), or "array".
        notes: things the user should know (format was not PNG, first frame used...).
    """

    pixels: np.ndarray
    max_value: float
    mode: str
    format: str
    notes: tuple[str, ...] = ()

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, like Pillow."""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])

    @property
    def has_alpha(self) -> bool:
        return self.pixels.shape[2] in (2, 4)


@dataclass(frozen=True)
class HeightMap:
    """Everything the mesh builder needs, on a grid of ``(H, W)`` vertices.

    Attributes:
        heights_mm: (H, W) float32; black pixels are exactly 0.0.
        black: (H, W) bool; True where the pixel is welded to the flat plane.
        brightness: (H, W) float32 in [0, 1], after gamma/invert/smoothing.
        colors: (H, W, 3) uint8 sRGB colours (composited over black), or None.
        pixel_mm: distance between neighbouring vertices in millimetres.
        source_size: (width, height) of the input image.
        notes: messages for the user.
    """

    heights_mm: np.ndarray
    black: np.ndarray
    brightness: np.ndarray
    colors: np.ndarray | None
    pixel_mm: float
    source_size: tuple[int, int]
    notes: tuple[str, ...] = ()

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.heights_mm.shape[0]), int(self.heights_mm.shape[1])


def torch_device() -> str:
    """The torch device to use: the GPU when there is one, else the CPU."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _pixels_from_pil(img: Image.Image) -> tuple[np.ndarray, float, list[str]]:
    """Turn a Pillow image of any mode into (pixels, max_value, notes)."""
    notes: list[str] = []
    mode = img.mode
    # 16-bit grey PNGs open as I;16 (or I;16B/L). Keep all 16 bits: that is finer
    # height resolution than 8-bit, which is the point of a 16-bit height map.
    if mode.startswith("I;16"):
        arr = np.asarray(img).astype(np.float32)
        return arr[..., None], 65535.0, notes
    if mode == "I":
        arr = np.asarray(img).astype(np.float64)
        top = 65535.0 if arr.max(initial=0) <= 65535 else float(arr.max())
        if top != 65535.0:
            notes.append("32-bit integer image: values scaled so that the largest counts as white.")
        return np.clip(arr, 0, None).astype(np.float32)[..., None], top, notes
    if mode == "F":
        arr = np.nan_to_num(np.asarray(img, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        top = 1.0 if arr.max(initial=0) <= 1.0 else float(arr.max())
        return np.clip(arr, 0, None)[..., None], top, notes
    # Modes that already are what we need: no conversion, no copy of the meaning.
    if mode in ("L", "LA", "RGB", "RGBA"):
        arr = np.asarray(img)
        return (arr[..., None] if arr.ndim == 2 else arr), 255.0, notes
    # Palette images may carry transparency (a tRNS chunk); RGBA keeps it.
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in img.info
        arr = np.asarray(img.convert("RGBA" if has_alpha else "RGB"))
        return arr, 255.0, notes
    # Everything else (1-bit, CMYK, YCbCr, LAB, premultiplied...) goes through RGB(A).
    target = "RGBA" if ("A" in mode or "a" in mode or "transparency" in img.info) else "RGB"
    notes.append(f"Image mode {mode} converted to {target}.")
    return np.asarray(img.convert(target)), 255.0, notes


def load_image(source: Any) -> LoadedImage:
    """Read an image from a path, bytes, a Pillow image or a NumPy array.

    Args:
        source: a file path (str or Path), raw file bytes, a ``PIL.Image.Image``,
            or an array of shape (H, W), (H, W, 3) or (H, W, 4) (uint8, uint16 or float in [0, 1]).

    Returns:
        The pixels with their mode and notes.

    Raises:
        ImageInputError: (a ValueError) for missing, empty, non-image, truncated or
            too-large input, each with what to do about it.
    """
    if source is None:
        raise ImageInputError("No image given: upload a PNG file or pick an example.")
    if isinstance(source, np.ndarray):
        return _load_array(source)
    if isinstance(source, Image.Image):
        return _load_pil(source, fmt=source.format or "image")

    # Bytes and paths go through the same guarded decoder.
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        name = "the uploaded data"
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ImageInputError(f"File not found: {path}. Upload the image again.")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageInputError(
                f"{path.name} is {size / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES / 1e6:.1f} MB. "
                "Resize the image or save it as a PNG first."
            )
        data = path.read_bytes()
        name = path.name
    else:
        raise ImageInputError(f"Cannot read an image from a {type(source).__name__}; give a file path or bytes.")
    if len(data) == 0:
        raise ImageInputError(f"{name} is empty (0 bytes): upload the PNG again.")
    if len(data) > MAX_FILE_BYTES:
        raise ImageInputError(f"{name} is larger than the limit of {MAX_FILE_BYTES / 1e6:.1f} MB; use a smaller image.")
    return _decode(data, name)


def _decode(data: bytes, name: str) -> LoadedImage:
    """Open and decode image bytes with every failure turned into a clear message."""
    # Pillow's own bomb check only warns up to twice its limit; turn the warning
    # into an error so the limit below is the only one that matters.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise ImageInputError(
                f"{name} is not an image Pillow can read ({type(exc).__name__}). "
                "Upload a PNG file (other rasters such as JPEG, WebP, BMP, TIFF also work)."
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageInputError(
                f"{name} declares an enormous size (a possible decompression bomb); "
                f"the limit is {MAX_INPUT_PIXELS:,} pixels. Resize the image first."
            ) from None
        # Check the declared size before decoding: the header is all that was read so far.
        w, h = img.size
        if w * h > MAX_INPUT_PIXELS:
            raise ImageInputError(
                f"{name} is {w} x {h} = {w * h:,} pixels; the limit is {MAX_INPUT_PIXELS:,}. "
                "Resize it (the model uses at most a few thousand pixels per side anyway)."
            )
        if w < 1 or h < 1:
            raise ImageInputError(f"{name} has no pixels ({w} x {h}).")
        fmt = img.format or "image"
        try:
            img.load()
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageInputError(
                f"{name} looks like a {fmt} but could not be decoded ({exc}). "
                "The file is probably truncated or corrupt: export it again."
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageInputError(f"{name} is too large to decode safely; resize it first.") from None
    return _load_pil(img, fmt=fmt)


def _load_pil(img: Image.Image, fmt: str) -> LoadedImage:
    """Convert a decoded Pillow image, adding notes for non-PNG or animated input."""
    notes: list[str] = []
    w, h = img.size
    if w * h > MAX_INPUT_PIXELS:
        raise ImageInputError(f"The image is {w} x {h} pixels; the limit is {MAX_INPUT_PIXELS:,}. Resize it first.")
    if fmt not in ("PNG", "array", "image"):
        notes.append(f"The file is a {fmt}, not a PNG; Pillow read it and it is used as is.")
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)
        notes.append("The image is animated; only the first frame is used.")
    try:
        pixels, max_value, more = _pixels_from_pil(img)
    except (OSError, ValueError) as exc:
        raise ImageInputError(f"Could not convert the image (mode {img.mode}): {exc}. Save it as an RGB PNG.") from None
    notes.extend(more)
    # Pillow hands out read-only buffers; torch wants writable memory, so copy once here.
    pixels = np.ascontiguousarray(pixels)
    if not pixels.flags.writeable:
        pixels = pixels.copy()
    return LoadedImage(pixels=pixels, max_value=max_value, mode=img.mode, format=fmt, notes=tuple(notes))


def _load_array(arr: np.ndarray) -> LoadedImage:
    """Accept a NumPy image array (as Gradio's numpy image type gives)."""
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ImageInputError(f"Expected an image array of shape (H, W) or (H, W, 1-4), got {arr.shape}.")
    if arr.shape[0] * arr.shape[1] > MAX_INPUT_PIXELS:
        raise ImageInputError(
            f"The image has {arr.shape[0] * arr.shape[1]:,} pixels; the limit is {MAX_INPUT_PIXELS:,}."
        )
    if arr.dtype == np.uint8:
        top = 255.0
    elif arr.dtype == np.uint16:
        top = 65535.0
    elif arr.dtype == np.bool_:
        arr, top = arr.astype(np.uint8), 1.0
    elif np.issubdtype(arr.dtype, np.floating):
        arr = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        top = 1.0 if float(arr.max(initial=0)) <= 1.0 else 255.0
    elif np.issubdtype(arr.dtype, np.integer):
        arr, top = np.clip(arr, 0, 255).astype(np.uint8), 255.0
    else:
        raise ImageInputError(f"Unsupported array type {arr.dtype}; use uint8, uint16 or float.")
    arr = np.ascontiguousarray(arr)
    if not arr.flags.writeable:
        arr = arr.copy()
    return LoadedImage(pixels=arr, max_value=top, mode=f"array{arr.shape[2]}", format="array")


def to_rgb8(image: LoadedImage, max_side: int | None = None) -> Image.Image:
    """The image as 8-bit RGB composited over black (what a depth model expects).

    Args:
        image: from ``load_image``.
        max_side: if given, shrink (never enlarge) so the long side is at most this.
    """
    px = image.pixels.astype(np.float32) * (1.0 / image.max_value)
    color = px[..., :-1] if image.has_alpha else px
    if image.has_alpha:
        # Transparent pixels count as black, exactly as in the height map.
        color = color * px[..., -1:]
    if color.shape[2] == 1:
        color = np.repeat(color, 3, axis=2)
    img = Image.fromarray(np.clip(np.round(color * 255.0), 0, 255).astype(np.uint8), mode="RGB")
    if max_side is not None and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.BOX)
    return img


def grid_size(width: int, height: int, resolution: int) -> tuple[int, int, bool]:
    """Output grid (H, W) for an image: the long side is cut down to ``resolution``.

    Images are never enlarged, except that each side gets at least
    ``MIN_GRID_SIDE`` pixels so there is at least one cell.

    Returns:
        (grid_h, grid_w, downsampled)
    """
    long_side = max(width, height)
    scale = min(1.0, resolution / long_side)
    gw = max(MIN_GRID_SIDE, int(round(width * scale)))
    gh = max(MIN_GRID_SIDE, int(round(height * scale)))
    return gh, gw, scale < 1.0


def gaussian_kernel(sigma: float):
    """1-D Gaussian weights as a torch tensor, radius 3 sigma, summing to 1."""
    import torch

    radius = max(1, int(math.ceil(3.0 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def smooth(values, sigma: float):
    """Blur a (H, W) torch tensor with a separable Gaussian convolution.

    A 2-D Gaussian is the product of two 1-D ones, so a row pass then a column
    pass costs 2k instead of k*k multiply-adds per pixel. Each pass is written
    as a weighted sum of shifted copies of the padded image - exactly what a
    convolution computes - because for a single-channel image this is many
    times faster on a CPU than ``F.conv2d`` (which is tuned for many channels)
    and just as fast on a GPU. Reflect padding keeps the edges from darkening.
    """
    import torch.nn.functional as F

    if sigma <= 0:
        return values
    k = [float(v) for v in gaussian_kernel(sigma)]
    r = (len(k) - 1) // 2
    h, w = values.shape
    # Reflect padding needs the padding smaller than the side; fall back to replicate.
    mode = "reflect" if min(h, w) > r else "replicate"
    p = F.pad(values[None, None], (r, r, r, r), mode=mode)[0, 0]  # (H + 2r, W + 2r)
    # Column pass (along the image's height): sum of k row-shifted slices.
    acc = p[0:h] * k[0]
    for i in range(1, len(k)):
        acc.add_(p[i : i + h], alpha=k[i])
    # Row pass (along the width): sum of k column-shifted slices.
    out = acc[:, 0:w] * k[0]
    for i in range(1, len(k)):
        out.add_(acc[:, i : i + w], alpha=k[i])
    return out


def compute_heightmap(
    image: LoadedImage,
    *,
    resolution: int = 256,
    size_mm: float = 100.0,
    max_height_mm: float = 10.0,
    base_mm: float = 1.0,
    gamma: float = 1.0,
    invert: bool = False,
    smoothing: float = 0.0,
    black_threshold: float = 0,
    colors: bool = True,
    height_source: np.ndarray | None = None,
) -> HeightMap:
    """Turn pixels into heights in millimetres, plus the black mask and colours.

    Args:
        image: from ``load_image``.
        resolution: longest side of the vertex grid; larger images are area-averaged down.
        size_mm: length of the model's long side (first to last vertex).
        max_height_mm: extra height of a white pixel above a dark one.
        base_mm: height of the darkest pixel that is not black.
        gamma: brightness is raised to this power (1 = linear, >1 flattens darks).
        invert: bright becomes low and dark becomes high (black stays welded at 0).
        smoothing: Gaussian sigma in grid pixels (0 = off).
        black_threshold: 8-bit luma at or below which a pixel is black (0 = pure black only).
        colors: also return the image colours on the grid.
        height_source: optional 2-D array in [0, 1] used instead of luma for the
            heights (the depth model's output, any size: it is resampled to the
            grid); the black mask still comes from the image.

    Returns:
        The height map on the grid.
    """
    import torch
    import torch.nn.functional as F

    device = torch_device()
    notes = list(image.notes)
    px = image.pixels
    h0, w0, channels = px.shape
    has_alpha = channels in (2, 4)
    n_color = channels - 1 if has_alpha else channels
    to255 = 255.0 / image.max_value

    # Pixels to torch as float32, channels last: (H0, W0, C). No copy of the
    # numpy array is made on the CPU; the conversion to float is the one pass.
    t = torch.from_numpy(px).to(device).to(torch.float32)

    # Luma on the 0..255 scale: Rec. 709 weights (folded together with the scale
    # to 8-bit) in one matrix product over the colour channels.
    if n_color == 3:
        w = torch.tensor(LUMA_WEIGHTS, dtype=torch.float32, device=device) * to255
        luma = t[..., :3] @ w  # (H0, W0)
    else:
        luma = t[..., 0] * to255
    # Composite over black: a half-transparent pixel is half as bright, a fully
    # transparent one is black whatever colour it stores (luma is linear in RGB,
    # so multiplying the luma equals compositing first).
    alpha = None
    if has_alpha:
        alpha = t[..., -1] * (1.0 / image.max_value)
        luma = luma * alpha

    # Black at full resolution: luma at or below the threshold, or fully
    # transparent. A tiny tolerance absorbs float rounding of the weighted sum.
    black0 = luma <= float(black_threshold) + 1e-3
    if alpha is not None:
        black0 |= alpha <= 0.0

    gh, gw, down = grid_size(w0, h0, int(resolution))
    resample = down or (gh, gw) != (h0, w0)
    rgb8 = None
    if resample:
        # Stack what must be resampled together: luma, black, and the colours.
        layers = [luma, black0.to(torch.float32)]
        if colors:
            rgb = t[..., :n_color] * to255
            if alpha is not None:
                rgb = rgb * alpha[..., None]
            layers.extend(rgb.unbind(-1))
        stack = torch.stack(layers)[None]  # (1, L, H0, W0)
        if down:
            # Area averaging: each grid pixel is the mean of the source pixels it
            # covers, which avoids the aliasing of point sampling.
            stack = F.interpolate(stack, size=(gh, gw), mode="area")
            notes.append(f"Downsampled from {w0} x {h0} to {gw} x {gh} pixels (resolution {resolution}).")
        else:
            # Tiny images (a side of 1 pixel) are enlarged by repetition so a cell exists.
            stack = F.interpolate(stack, size=(gh, gw), mode="nearest")
            notes.append(f"The image is only {w0} x {h0}; enlarged to {gw} x {gh} so it has at least one cell.")
        stack = stack[0]
        luma = stack[0]
        # After averaging, a grid pixel is black when most of its source pixels were.
        black = stack[1] >= 0.5
        if colors:
            rgb8 = stack[2:].permute(1, 2, 0)
    else:
        black = black0
        if colors:
            if image.max_value == 255.0 and alpha is None and n_color == 3:
                # The common case: the colours are the 8-bit pixels as they are.
                rgb8 = px[..., :3]
            else:
                rgb8 = t[..., :n_color] * to255
                if alpha is not None:
                    rgb8 = rgb8 * alpha[..., None]
    if rgb8 is not None and not isinstance(rgb8, np.ndarray):
        rgb8 = rgb8.round().clamp_(0, 255).to(torch.uint8)
        if rgb8.shape[-1] == 1:
            rgb8 = rgb8.expand(-1, -1, 3)
        rgb8 = np.ascontiguousarray(rgb8.cpu().numpy())

    value = luma * (1.0 / 255.0)
    if height_source is not None:
        # The depth map may come at any size (models work at their own resolution);
        # resample it straight to the grid: area-average when shrinking, bilinear when growing.
        src = np.nan_to_num(np.asarray(height_source, np.float32))
        if src.ndim != 2 or min(src.shape) < 1:
            raise ValueError(f"height_source must be a 2-D array, got shape {src.shape}.")
        st = torch.from_numpy(src).to(device)[None, None]
        if st.shape[-2:] != (gh, gw):
            shrink = src.shape[0] >= gh and src.shape[1] >= gw
            st = (
                F.interpolate(st, size=(gh, gw), mode="area")
                if shrink
                else F.interpolate(st, size=(gh, gw), mode="bilinear", align_corners=False)
            )
        value = st[0, 0]

    # Shape the brightness: gamma curve, then invert, then smoothing.
    b = value.clamp(0.0, 1.0)
    if gamma != 1.0:
        b = b.pow_(float(gamma))
    if invert:
        b = b.neg_().add_(1.0)
    if smoothing > 0:
        b = smooth(b, float(smoothing)).clamp_(0.0, 1.0)

    # Heights: base + brightness * max height; black pixels exactly 0 mm.
    heights = (b * float(max_height_mm)).add_(float(base_mm)).masked_fill_(black, 0.0)

    pixel_mm = float(size_mm) / (max(gh, gw) - 1)
    black_np = black.cpu().numpy()
    if black_np.all():
        notes.append("Every pixel is black: the model is one flat plane.")
    return HeightMap(
        heights_mm=heights.cpu().numpy(),
        black=black_np,
        brightness=b.cpu().numpy(),
        colors=rgb8,
        pixel_mm=pixel_mm,
        source_size=(w0, h0),
        notes=tuple(notes),
    )
