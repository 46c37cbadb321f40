"""Upload checks: size, type sniffed from the bytes (not the file name), and image pixel limits.

Every lab that accepts a file calls these before doing real work, so a wrong, corrupt or huge
upload gets a message that says what was wrong and what to do instead of a library traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # 50 MB: far above any sensible lab input, below memory trouble
MAX_IMAGE_PIXELS = 40_000_000  # ~6300x6300: decoding more would need GBs of RAM on a 2-core box

# Leading bytes ("magic numbers") of the formats labs accept.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"),
    "bmp": (b"BM",),
    "tiff": (b"II*\x00", b"MM\x00*"),
    "webp": (b"RIFF",),  # followed by WEBP at offset 8, checked below
    "zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "gzip": (b"\x1f\x8b",),
    "glb": (b"glTF",),
}
IMAGE_KINDS = ("png", "jpeg", "gif", "bmp", "tiff", "webp")


class UploadError(ValueError):
    """An upload cannot be used; the message says why and what to do."""


def sniff(path: str | os.PathLike[str]) -> str | None:
    """Return the kind of file at `path` from its first bytes (a key of `SIGNATURES`), or None."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    for kind, magics in SIGNATURES.items():
        if any(head.startswith(m) for m in magics):
            if kind == "webp" and head[8:12] != b"WEBP":
                continue
            return kind
    return None


def check_file(
    path: str | os.PathLike[str] | None,
    *,
    kinds: tuple[str, ...],
    max_bytes: int = MAX_UPLOAD_BYTES,
    what: str = "file",
) -> str:
    """Check that an uploaded file exists, is not too big and really is one of `kinds`.

    Args:
        path: The uploaded file's path (None when nothing was uploaded).
        kinds: Accepted kinds, keys of `SIGNATURES` (e.g. ``("png", "jpeg")``).
        max_bytes: Largest accepted size.
        what: What the file is for, used in messages (e.g. ``"image"``).

    Returns:
        The sniffed kind.

    Raises:
        UploadError: With a message naming the problem and the fix.
    """
    if path is None or str(path) == "":
        raise UploadError(f"No {what} was given. Upload one, or click one of the examples.")
    p = Path(path)
    if not p.is_file():
        raise UploadError(f"The {what} '{p.name}' could not be found on the server. Upload it again.")
    size = p.stat().st_size
    if size == 0:
        raise UploadError(f"The {what} '{p.name}' is empty (0 bytes). Upload a real file.")
    if size > max_bytes:
        raise UploadError(
            f"The {what} '{p.name}' is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB. "
            "Upload a smaller file."
        )
    kind = sniff(p)
    if kind not in kinds:
        found = f"looks like {kind.upper()}" if kind else "is not a format this lab reads"
        raise UploadError(
            f"The {what} '{p.name}' {found}, whatever its name says. "
            f"Upload one of: {', '.join(k.upper() for k in kinds)}."
        )
    return kind


def open_image(path: str | os.PathLike[str], *, max_pixels: int = MAX_IMAGE_PIXELS,
               max_bytes: int = MAX_UPLOAD_BYTES):
    """Open an uploaded image safely and fully decode it.

    Checks the bytes are an image, refuses more than `max_pixels` pixels *before* decoding (so a
    decompression bomb never allocates its memory), and turns truncated or corrupt data into a
    clear message.

    Returns:
        A loaded `PIL.Image.Image`.

    Raises:
        UploadError: For anything that is not a readable image within the limits.
    """
    from PIL import Image

    check_file(path, kinds=IMAGE_KINDS, max_bytes=max_bytes, what="image")
    name = Path(path).name
    try:
        img = Image.open(path)
        width, height = img.size
    except Image.DecompressionBombError as exc:  # Pillow's own, looser limit tripped first
        raise UploadError(
            f"The image '{name}' has far too many pixels ({exc}); the limit is "
            f"{max_pixels / 1e6:.0f} megapixels. Downscale it first."
        ) from exc
    except Exception as exc:  # PIL raises many types for junk headers
        raise UploadError(f"The image '{name}' could not be read ({exc}). Re-export it and try again.") from exc
    if width * height > max_pixels:
        img.close()
        raise UploadError(
            f"The image '{name}' is {width}x{height} = {width * height / 1e6:.0f} megapixels; the limit is "
            f"{max_pixels / 1e6:.0f} megapixels. Downscale it first."
        )
    if width < 1 or height < 1:
        img.close()
        raise UploadError(f"The image '{name}' has no pixels ({width}x{height}).")
    try:
        img.load()
    except Exception as exc:
        img.close()
        raise UploadError(
            f"The image '{name}' is truncated or corrupt ({exc}). Re-export it and upload it again."
        ) from exc
    return img
