"""Example images for the PNG-to-GLB lab, drawn by code.

What it teaches: a height map is just an image, so good test inputs can be drawn
with a few lines of Pillow and NumPy instead of being downloaded. Each example
shows one idea of the lab:

* ``logo_on_black`` - a coloured emblem on pure black: the black turns into one
  flat, transparent plane welded to the relief.
* ``gradient`` - a left-to-right ramp from black to white: height grows linearly
  with brightness, and the first column is pure black.
* ``text`` - white letters on black: thin shapes, many small flat pieces.
* ``texture`` - a photo-like, colourful noise texture with no black at all: a
  full relief, and colours carried into the GLB.
* ``transparent_badge`` - an RGBA image whose background is fully transparent:
  transparent pixels count as black.
* ``dome`` - a shaded sphere: a smooth relief, and a good input for "depth from
  a model".

Everything is deterministic (fixed seeds, no fonts from the system), so the same
call always writes the same files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# The default side length in pixels: small enough that one click on an example
# converts in a fraction of a second on a 2-core CPU, big enough to look good.
DEFAULT_SIZE = 256

# Seed for the noise texture, so the example is the same on every machine.
TEXTURE_SEED = 7

# One line per example for the UI: what to look at when it is converted.
DESCRIPTIONS = {
    "logo_on_black": "A coloured emblem on pure black: black becomes one flat, transparent plane.",
    "gradient": "A black-to-white ramp: height grows linearly with brightness.",
    "text": "White letters on black: thin shapes welded to a flat plane.",
    "texture": "A colourful photo-like texture with no black: a full relief with colours.",
    "transparent_badge": "An RGBA badge on a fully transparent background (transparent counts as black).",
    "dome": "A shaded sphere: a smooth dome, and a good test for depth from a model.",
}


def _logo(size: int) -> Image.Image:
    """Draw a ring, a star and a bar in graded colours on pure black."""
    # Pure black background, so every background pixel is exactly 0 and gets welded flat.
    img = Image.new("RGB", (size, size), (0, 0, 0))
    draw = ImageDraw.Draw(img)
    s = size / 256.0
    # A ring in orange: a closed shape with a black hole in the middle.
    draw.ellipse([28 * s, 28 * s, 228 * s, 228 * s], outline=(255, 150, 30), width=max(2, int(22 * s)))
    # A five-pointed star in a light blue, so it stands taller than the ring (brighter).
    cx, cy, r_out, r_in = 128 * s, 124 * s, 70 * s, 28 * s
    angles = np.arange(10) * np.pi / 5 - np.pi / 2
    radii = np.where(np.arange(10) % 2 == 0, r_out, r_in)
    points = [(float(cx + r * np.cos(a)), float(cy + r * np.sin(a))) for r, a in zip(radii, angles)]
    draw.polygon(points, fill=(150, 220, 255))
    # A darker red bar under the star, so three heights are visible at once.
    draw.rectangle([78 * s, 190 * s, 178 * s, 204 * s], fill=(170, 30, 40))
    return img


def _gradient(size: int) -> Image.Image:
    """A horizontal ramp from pure black (left) to white (right)."""
    # One row of values 0..255 repeated down the image; column 0 is exactly black.
    ramp = np.round(np.linspace(0, 255, size)).astype(np.uint8)
    return Image.fromarray(np.tile(ramp, (size, 1)), mode="L")


def _text(size: int) -> Image.Image:
    """White text on black, drawn with Pillow's bundled font (no system fonts)."""
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    # Pillow ships a scalable default font, so the drawing is the same everywhere.
    font = ImageFont.load_default(size=max(8, int(size * 0.30)))
    for row, word in enumerate(("PNG", "GLB")):
        box = draw.textbbox((0, 0), word, font=font)
        x = (size - (box[2] - box[0])) / 2 - box[0]
        y = size * (0.12 + 0.45 * row) - box[1]
        draw.text((x, y), word, fill=255, font=font)
    return img


def _texture(size: int) -> Image.Image:
    """A smooth, colourful noise texture (a few octaves of upsampled random values)."""
    rng = np.random.default_rng(TEXTURE_SEED)
    field = np.zeros((size, size), np.float32)
    # Add octaves of coarse random grids upsampled with bicubic filtering: large
    # blobs plus finer detail, which is what a photo of a surface looks like.
    for octave, cells in enumerate((4, 8, 16, 32)):
        coarse = rng.random((cells, cells), dtype=np.float32)
        layer = Image.fromarray(coarse, mode="F").resize((size, size), Image.Resampling.BICUBIC)
        field += np.asarray(layer, np.float32) / (2**octave)
    field = (field - field.min()) / max(float(np.ptp(field)), 1e-6)
    # Map the field to colours (blue valleys, green slopes, warm peaks) and keep
    # it away from pure black so the whole image becomes relief.
    t = field[..., None]
    low, mid, high = np.array([30, 60, 140]), np.array([70, 160, 80]), np.array([240, 210, 150])
    rgb = np.where(t < 0.5, low + (mid - low) * (t / 0.5), mid + (high - mid) * ((t - 0.5) / 0.5))
    return Image.fromarray(np.clip(np.round(rgb), 0, 255).astype(np.uint8), mode="RGB")


def _badge(size: int) -> Image.Image:
    """An RGBA badge: an opaque coloured disc with a white ring, transparent around it."""
    img = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    draw = ImageDraw.Draw(img)
    s = size / 256.0
    # The background is white but fully transparent: it must still count as black.
    draw.ellipse([24 * s, 24 * s, 232 * s, 232 * s], fill=(40, 120, 200, 255))
    draw.ellipse([64 * s, 64 * s, 192 * s, 192 * s], outline=(255, 255, 255, 255), width=max(2, int(16 * s)))
    draw.rectangle([112 * s, 96 * s, 144 * s, 160 * s], fill=(250, 200, 60, 255))
    return img


def _dome(size: int) -> Image.Image:
    """A sphere shaded by height: brightness is the dome's height, black outside."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2.0
    r2 = ((xx - c) ** 2 + (yy - c) ** 2) / (0.45 * size) ** 2
    # Height of a unit sphere, zero (pure black) outside the disc.
    h = np.sqrt(np.clip(1.0 - r2, 0.0, 1.0))
    return Image.fromarray(np.round(h * 255).astype(np.uint8), mode="L")


_DRAWERS = {
    "logo_on_black": _logo,
    "gradient": _gradient,
    "text": _text,
    "texture": _texture,
    "transparent_badge": _badge,
    "dome": _dome,
}


def draw_example(name: str, size: int = DEFAULT_SIZE) -> Image.Image:
    """Draw one example image in memory.

    Args:
        name: one of the keys of ``DESCRIPTIONS``.
        size: side length in pixels (the images are square).

    Returns:
        The Pillow image (mode L, RGB or RGBA depending on the example).

    Raises:
        ValueError: if the name is unknown or the size is below 8 pixels.
    """
    if name not in _DRAWERS:
        raise ValueError(f"Unknown example {name!r}; choose one of: {', '.join(_DRAWERS)}.")
    if int(size) < 8:
        raise ValueError(f"Example size must be at least 8 pixels, got {size}.")
    return _DRAWERS[name](int(size))


def draw_examples(out_dir: str | Path, size: int = DEFAULT_SIZE) -> dict[str, Path]:
    """Draw every example and save it as a PNG in ``out_dir``.

    Args:
        out_dir: folder to write into (created if missing).
        size: side length in pixels.

    Returns:
        A mapping from example name to the PNG path, in a stable order.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name in _DRAWERS:
        path = out / f"{name}.png"
        # PNG is lossless, so the heights computed from the file equal the drawing.
        draw_example(name, size).save(path, format="PNG")
        paths[name] = path
    return paths
