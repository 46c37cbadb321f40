"""Mesh to OBJ (+MTL, zipped) and binary STL, vectorised with NumPy.

What it teaches: text formats need not be slow. Formatting a million vertices
with ``"%.4f" % ...`` runs the Python formatter six million times (over a
second); here every line is a row of a ``uint8`` matrix and every number a
fixed-width, right-aligned field whose digits come from a lookup table of
4-digit groups. The file is then ``matrix.tobytes()``: one copy, no Python loop.

* **OBJ**: ``v x y z [r g b]`` lines (the vertex-colour extension Blender,
  MeshLab and trimesh read), then one ``g``/``usemtl`` group per material with
  ``f a b c`` lines (1-based indices). Fields are padded with spaces, which OBJ
  allows between tokens, so every line of a block has the same length.
* **STL**: binary, 80-byte header, a triangle count, then 50 bytes per triangle
  (normal, three corners, a 2-byte attribute): one (T, 50) uint8 matrix.
* The OBJ and its MTL are zipped together. Deflate costs ~1 s per 100 MB of
  text, more than the whole conversion, so big OBJ files are stored in the zip
  uncompressed (``OBJ_DEFLATE_MAX_BYTES``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .mesh import BASE_GREY, OPAQUE_BLACK, RELIEF_GREY, ReliefMesh

# OBJ numbers have three decimals: 1 micrometre for coordinates in mm, far below any printer's
# resolution, and every 8-bit colour level distinct for colours in 0..1 (1/255 > 0.001).
OBJ_DECIMALS = 3
# OBJ text up to this size is deflated in the zip (a 256-grid model, ~7 MB, in ~60 ms); larger
# text is stored: deflating the ~100 MB of a 1024 grid would take longer than everything else.
OBJ_DEFLATE_MAX_BYTES = 24 * 1024**2
_NEWLINE = ord("\n")
# Entry i: the four ASCII digits of i ("0000" ... "9999") as one little-endian uint32 word.
_DIGITS4 = np.frombuffer("".join(f"{i:04d}" for i in range(10_000)).encode("ascii"), "<u4")
# Entry i: "." and the three decimals of i ("000" ... "999").
_DECIMALS3 = np.frombuffer("".join(f".{i:03d}" for i in range(1000)).encode("ascii"), "<u4")
# The same groups with leading zeros as spaces: a number's high group (all spaces for 0) and the
# low group of a number below 10 000 (which keeps its last digit: "   0").
_HIGH4 = np.frombuffer("".join(f"{i:4d}" if i else "    " for i in range(10_000)).encode("ascii"), "<u4")
_LOW4 = np.frombuffer("".join(f"{i:4d}" for i in range(10_000)).encode("ascii"), "<u4")
_POW10 = 10 ** np.arange(1, 8, dtype=np.int64)


def int_words(q: np.ndarray, negative: np.ndarray | None = None) -> list[np.ndarray]:
    """Integers -> right-aligned fields as uint32 columns: one (4 characters) or two (8).

    A field is 4 characters when every number fits in 3 (or 2 and a minus sign),
    else 8 (up to 7 digits, or 6 and a minus). The first byte is always a space:
    the separator before the field. Every character comes from a table look-up
    of a 4-digit group; no division per digit.
    """
    q = np.asarray(q, np.int64)
    signed = negative is not None and bool(negative.any())
    top = int(q.max()) if len(q) else 0
    limit = 10**6 if signed else 10**7
    if top >= limit:
        raise ValueError(f"a field holds numbers below {limit:,}; got {top:,}")
    q32 = q.astype(np.uint32)  # 32-bit division is several times faster than 64-bit
    if top < (100 if signed else 1000):
        words = [_LOW4[q32]]
    else:
        high, low = np.divmod(q32, np.uint32(10_000))
        words = [_HIGH4[high], np.where(high > 0, _DIGITS4[low], _LOW4[low])]
    if signed:
        # The minus sign replaces the space just left of the first digit.
        rows = np.flatnonzero(negative)
        n_digits = np.searchsorted(_POW10, q[rows], side="right") + 1
        at = 4 * len(words) - 1 - n_digits  # byte of the field that gets the minus
        minus = np.uint32(0x0D) << (8 * (at % 4)).astype(np.uint32)
        for i, word in enumerate(words):
            here = at // 4 == i
            word[rows[here]] += minus[here]
    return words


def decimal_words(values: np.ndarray) -> list[np.ndarray]:
    """Numbers -> integer part (``int_words``) and ".ddd" as uint32 columns: 8 or 12 bytes per field."""
    values = np.asarray(values)
    q = np.rint(np.abs(values.astype(np.float64)) * 1000.0).astype(np.int64)
    whole, frac = np.divmod(q, 1000)
    negative = (values < 0) & (q > 0)  # "-0.000" would be odd: tiny negatives print as 0
    return [*int_words(whole, negative), _DECIMALS3[frac]]


def text_lines(tag: bytes, words: list[np.ndarray]) -> np.ndarray:
    """Rows ``tag w1 w2 ... \n`` as one (N, L) uint8 matrix.

    Each word array (uint16/32/64) is one column of text, copied in with a single
    strided assignment through a view of the matrix: no per-row Python or NumPy loop.
    """
    n = len(words[0])
    width = len(tag) + sum(w.dtype.itemsize for w in words) + 1
    rows = np.empty((n, width), np.uint8)
    rows[:, : len(tag)] = np.frombuffer(tag, np.uint8)
    col = len(tag)
    for w in words:
        size = w.dtype.itemsize
        rows[:, col: col + size].view(w.dtype)[:, 0] = w
        col += size
    rows[:, col] = _NEWLINE
    return rows


# Colour channel c as " 0" / " 1" (uint16) and ".ddd" (uint32): c / 255 with three decimals.
_LEVELS = np.rint(np.arange(256) * 1000.0 / 255.0).astype(np.int64)
_COLOUR_UNITS = np.frombuffer(b"".join(b" 1" if lv >= 1000 else b" 0" for lv in _LEVELS), "<u2")
_COLOUR_DECIMALS = _DECIMALS3[_LEVELS % 1000]


def obj_vertex_block(mesh: ReliefMesh, *, colors: bool = True) -> np.ndarray:
    """The ``v x y z [r g b]`` lines as an (N, L) uint8 matrix."""
    v = mesh.vertices
    words: list[np.ndarray] = []
    for i in range(3):
        words.extend(decimal_words(v[:, i]))
    if colors and mesh.colors is not None:
        for i in range(3):
            channel = mesh.colors[:, i]
            words += [_COLOUR_UNITS[channel], _COLOUR_DECIMALS[channel]]
    return text_lines(b"v", words)


def obj_face_block(faces: np.ndarray) -> np.ndarray:
    """The ``f a b c`` lines of one group as an (F, L) uint8 matrix (1-based indices)."""
    one_based = faces.astype(np.int64) + 1
    return text_lines(b"f", [w for i in range(3) for w in int_words(one_based[:, i])])


def mtl_text(mesh: ReliefMesh, *, colors: bool = True, black_alpha: float = 0.0) -> str:
    """The MTL: one material per part (relief, black_plane, base); d = opacity, Tr = 1 - d."""
    relief_kd = (1.0, 1.0, 1.0) if (colors and mesh.colors is not None) else RELIEF_GREY
    alpha = 1.0 if mesh.black == "opaque" else float(black_alpha)
    plane_kd = OPAQUE_BLACK if mesh.black == "opaque" else (0.0, 0.0, 0.0)
    return "".join(
        [
            "# Materials for the PNG to GLB lab (d = opacity, Tr = 1 - d)\n",
            f"newmtl relief\nKd {relief_kd[0]} {relief_kd[1]} {relief_kd[2]}\nKa 0 0 0\nKs 0 0 0\nd 1\nillum 1\n\n",
            f"newmtl black_plane\nKd {plane_kd[0]} {plane_kd[1]} {plane_kd[2]}\nKa 0 0 0\nKs 0 0 0\n"
            f"d {alpha}\nTr {1.0 - alpha}\nillum 1\n\n",
            f"newmtl base\nKd {BASE_GREY[0]} {BASE_GREY[1]} {BASE_GREY[2]}\nKa 0 0 0\nKs 0 0 0\nd 1\nillum 1\n",
        ]
    )


def obj_pieces(mesh: ReliefMesh, *, mtl_name: str = "model.mtl", colors: bool = True) -> list:
    """The OBJ file as a list of byte pieces (header, vertex block, one block per group)."""
    pieces: list = [b"# PNG to GLB lab: relief from image brightness, millimetres\n",
                    f"mtllib {mtl_name}\n".encode(), obj_vertex_block(mesh, colors=colors)]
    for name, faces in (("relief", mesh.relief_faces), ("black_plane", mesh.flat_faces), ("base", mesh.base_faces)):
        if len(faces):
            pieces.append(f"g {name}\nusemtl {name}\n".encode())
            pieces.append(obj_face_block(faces))
    return pieces


def obj_and_mtl(mesh: ReliefMesh, *, mtl_name: str = "model.mtl", colors: bool = True,
                black_alpha: float = 0.0) -> tuple[bytes, str]:
    """Wavefront OBJ bytes (one shared vertex list, one group per material) and its MTL text.

    Units are millimetres; vertex colours, when on, are sRGB in 0..1.
    """
    obj = b"".join(p if isinstance(p, bytes) else memoryview(p).cast("B") for p in obj_pieces(
        mesh, mtl_name=mtl_name, colors=colors))
    return obj, mtl_text(mesh, colors=colors, black_alpha=black_alpha)


def write_obj_zip(mesh: ReliefMesh, path: str | Path, *, stem: str = "model", colors: bool = True,
                  black_alpha: float = 0.0) -> dict:
    """Write ``<stem>.obj`` and ``<stem>.mtl`` into the zip at `path`.

    Returns:
        ``{"obj_text_bytes": ..., "deflated": bool, "blocks": [(lines, bytes per line), ...]}``: the
        vertex block, then one face block per group (each group's numbers have their own width).
    """
    pieces = obj_pieces(mesh, mtl_name=f"{stem}.mtl", colors=colors)
    blocks = [p for p in pieces if isinstance(p, np.ndarray)]
    shapes = [(int(b.shape[0]), int(b.shape[1])) for b in blocks]
    size = sum(p.nbytes if isinstance(p, np.ndarray) else len(p) for p in pieces)
    deflate = size <= OBJ_DEFLATE_MAX_BYTES
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=method, compresslevel=1 if deflate else None) as zf:
        # Streamed piece by piece: the text is never joined into one big bytes object.
        with zf.open(f"{stem}.obj", "w", force_zip64=size > 2**31 - 1) as out:
            for p in pieces:
                out.write(p if isinstance(p, bytes) else memoryview(p).cast("B"))
        zf.writestr(f"{stem}.mtl", mtl_text(mesh, colors=colors, black_alpha=black_alpha))
    return {"obj_text_bytes": size, "deflated": deflate, "blocks": shapes}


def obj_zip_bytes(mesh: ReliefMesh, *, stem: str = "model", colors: bool = True, black_alpha: float = 0.0) -> bytes:
    """The zip of ``write_obj_zip`` in memory (for tests and the benchmark)."""
    import io

    buf = io.BytesIO()
    write_obj_zip(mesh, buf, stem=stem, colors=colors, black_alpha=black_alpha)
    return buf.getvalue()


def stl_records(mesh: ReliefMesh) -> np.ndarray:
    """Every triangle as a 50-byte STL record, (T, 50) uint8 (unit normal from the corners' winding)."""
    faces = mesh.faces
    # np.take along axis 0 gathers whole rows, ~4x faster than mesh.vertices[faces].
    corners = np.take(mesh.vertices, faces.ravel(), axis=0).reshape(-1, 3, 3)  # (T, 3, 3) float32
    e1 = corners[:, 1] - corners[:, 0]
    e2 = corners[:, 2] - corners[:, 0]
    records = np.empty((len(faces), 50), np.uint8)
    floats = records[:, :48].view("<f4")  # (T, 12): normal then the three corners
    floats[:, 3:] = corners.reshape(-1, 9)
    # The cross product e1 x e2, one component at a time (np.cross is several times slower).
    nx = e1[:, 1] * e2[:, 2] - e1[:, 2] * e2[:, 1]
    ny = e1[:, 2] * e2[:, 0] - e1[:, 0] * e2[:, 2]
    nz = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    inv = 1.0 / np.maximum(np.sqrt(nx * nx + ny * ny + nz * nz), np.float32(1e-30))
    floats[:, 0], floats[:, 1], floats[:, 2] = nx * inv, ny * inv, nz * inv
    records[:, 48:] = 0  # attribute byte count, unused
    return records


def stl_header(count: int) -> bytes:
    head = b"PNG to GLB lab: binary STL, millimetres, Z up".ljust(80, b" ")
    return head + np.uint32(count).tobytes()


def write_stl(mesh: ReliefMesh, path: str | Path) -> int:
    """Write a binary STL (geometry only: STL has no materials or transparency); returns its size."""
    records = stl_records(mesh)
    with open(path, "wb") as f:
        f.write(stl_header(len(records)))
        f.write(memoryview(records).cast("B"))
    return 84 + records.nbytes


def stl_bytes(mesh: ReliefMesh) -> bytes:
    """The binary STL in memory."""
    records = stl_records(mesh)
    return stl_header(len(records)) + records.tobytes()
