"""From height map to mesh: the relief, the welded black plane and the solid base.

The files are written elsewhere: ``glb.py`` (GLB), ``exporters.py`` (OBJ, STL);
``checks.py`` checks what was written.

What it teaches:

* **A height map is a grid of vertices.** Each pixel becomes one vertex at the
  pixel's *centre* (x right, y up, z = height in millimetres). Four
  neighbouring pixels make one square *cell*, split into two triangles.
* **Welding black into a flat plane.** A cell whose four corners are all black
  is flat at z = 0. Instead of two triangles per black cell, the black cells are
  merged into a few large rectangles (run lengths per row, then identical runs
  stacked across rows). Each rectangle is triangulated as a fan around its
  centre that passes through *every* vertex on its border that a neighbour uses,
  so there are no T-junctions (cracks). Seam vertices are the same vertex
  objects as the relief's: nothing is duplicated.
* **Transparency is a material.** The plane is its own glTF primitive with its
  own material (``alphaMode`` MASK when fully transparent, BLEND when partly),
  so any viewer sees through it; ``black="cut"`` leaves it out instead.
* **Watertight solids for printing.** ``solid=True`` adds side walls along the
  boundary and a flat bottom, sharing vertices, so every edge has exactly two
  triangles (``trimesh`` reports ``is_watertight``).

Coordinates: millimetres, x to the right, y up the image, z out of the picture.
The same numbers mean "lying flat, height up" in STL (Z-up, what slicers use)
and "standing like a picture, facing the viewer" in glTF (Y-up, +Z towards the
default camera). GLB positions are written in metres, glTF's unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# What to do with black pixels: a see-through plane, no plane, or a dark plane.
BLACK_MODES = ("transparent", "cut", "opaque")

# glTF works in metres; our geometry is in millimetres.
GLTF_UNITS_PER_MM = 0.001

# Colour of the relief when image colours are off, and of the walls/bottom
# (linear RGB): a light clay grey that shows shading well.
RELIEF_GREY = (0.8, 0.8, 0.8)
BASE_GREY = (0.55, 0.55, 0.58)

# Colour of the plane in "opaque" mode: almost black (pure black hides shading).
OPAQUE_BLACK = (0.02, 0.02, 0.02)

class MeshError(ValueError):
    """The settings leave nothing to build; the message says what to change."""


@dataclass
class ReliefMesh:
    """A triangle mesh split into the parts that get their own material.

    All face arrays index the one shared ``vertices`` array, so seams are shared.

    Attributes:
        vertices: (N, 3) float32 millimetres.
        normals: (N, 3) float32 unit normals (smooth on the top surface; up for
            the plane, down for the bottom).
        colors: (N, 3) uint8 sRGB colours from the image, or None.
        relief_faces: (R, 3) uint32, two per relief cell.
        flat_faces: (F, 3) uint32, the merged black plane (empty when cut).
        wall_faces: (Wl, 3) uint32, solid mode side walls.
        bottom_faces: (B, 3) uint32, solid mode bottom.
        flat_pieces: rectangles the black plane was merged into.
        bottom_pieces: rectangles the bottom was merged into.
        filled_cells: black cells kept in "cut" mode to avoid bow-tie vertices.
        grid_shape: (H, W) vertices of the height grid.
        pixel_mm: spacing of the grid in millimetres.
        notes: messages for the user.
    """

    vertices: np.ndarray
    normals: np.ndarray
    colors: np.ndarray | None
    relief_faces: np.ndarray
    flat_faces: np.ndarray
    wall_faces: np.ndarray
    bottom_faces: np.ndarray
    flat_pieces: int = 0
    bottom_pieces: int = 0
    filled_cells: int = 0
    black_cells: int = 0
    grid_shape: tuple[int, int] = (0, 0)
    pixel_mm: float = 1.0
    black: str = "transparent"
    solid: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def base_faces(self) -> np.ndarray:
        """Walls and bottom together (one material)."""
        return np.concatenate([self.wall_faces, self.bottom_faces])

    @property
    def faces(self) -> np.ndarray:
        """Every triangle (relief, plane, walls, bottom) in one array."""
        return np.concatenate([self.relief_faces, self.flat_faces, self.wall_faces, self.bottom_faces])

    @property
    def triangle_count(self) -> int:
        return len(self.relief_faces) + len(self.flat_faces) + len(self.wall_faces) + len(self.bottom_faces)


# --------------------------------------------------------------------------
# Building blocks on the cell grid
# --------------------------------------------------------------------------


def black_cells(black: np.ndarray) -> np.ndarray:
    """(H-1, W-1) bool: cells whose four corner pixels are all black (flat at 0)."""
    return black[:-1, :-1] & black[1:, :-1] & black[:-1, 1:] & black[1:, 1:]


def merge_rectangles(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cover the True cells of ``mask`` with non-overlapping rectangles.

    Step 1 finds the runs of True cells in every row (one ``np.diff``). Step 2
    sorts the runs by (start, end, row) so identical runs on consecutive rows sit
    next to each other, and merges each such stack into one rectangle. Both
    steps are vectorised: no Python loop over pixels or runs.

    Args:
        mask: (Hc, Wc) bool cell mask.

    Returns:
        (r0, c0, r1, c1) int32 arrays in *vertex* coordinates: the rectangle
        covers cells r0..r1-1 and c0..c1-1, and its corners are vertices
        (r0, c0), (r0, c1), (r1, c0), (r1, c1).
    """
    hc, wc = mask.shape
    padded = np.zeros((hc, wc + 2), np.int8)
    padded[:, 1:-1] = mask
    d = np.diff(padded, axis=1).ravel()  # (Hc * (Wc + 1)): +1 where a run starts, -1 one past its end
    # flatnonzero on the flat array is many times faster than a 2-D nonzero.
    sr, sc = np.divmod(np.flatnonzero(d == 1), wc + 1)
    ec = np.flatnonzero(d == -1) % (wc + 1)  # row-major order, so starts and ends pair up
    if sr.size == 0:
        e = np.zeros(0, np.int32)
        return e, e, e, e
    # Sort by (start column, end column, row): stacks of identical runs become contiguous.
    order = np.lexsort((sr, ec, sc))
    r, a, b = sr[order], sc[order], ec[order]
    new = np.ones(r.size, bool)
    new[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1]) | (r[1:] != r[:-1] + 1)
    first = np.flatnonzero(new)
    last = np.r_[first[1:] - 1, r.size - 1]
    return (
        r[first].astype(np.int32),
        a[first].astype(np.int32),
        (r[last] + 1).astype(np.int32),
        b[first].astype(np.int32),
    )


def fill_bowties(cells: np.ndarray, max_rounds: int = 10_000) -> tuple[np.ndarray, int]:
    """Add cells until no vertex touches two kept cells only diagonally.

    Such a "bow-tie" vertex is fine for a viewer but makes a solid non-manifold
    (one vertical wall edge would have four triangles). Filling one of the two
    empty cells (flat at z = 0) removes it; repeat until none are left.

    Returns:
        (new_cells, number_of_cells_added)
    """
    cells = cells.copy()
    before = int(cells.sum())
    for _ in range(max_rounds):
        ul, ur, ll, lr = cells[:-1, :-1], cells[:-1, 1:], cells[1:, :-1], cells[1:, 1:]
        diag_a = ul & lr & ~ur & ~ll  # kept cells up-left and down-right
        diag_b = ur & ll & ~ul & ~lr  # kept cells up-right and down-left
        if not (diag_a.any() or diag_b.any()):
            break
        cells[:-1, 1:] |= diag_a
        cells[:-1, :-1] |= diag_b
    return cells, int(cells.sum()) - before


def boundary_edges(kept: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Grid edges between a kept cell and a missing one (or the outside).

    Each edge is returned as vertex p -> vertex q, oriented so the kept region is
    on the left when seen from above (counter-clockwise around the outside).

    Returns:
        (pr, pc, qr, qc) int arrays of vertex rows/columns.
    """
    hc, wc = kept.shape
    if kept.all():
        # The whole grid: the boundary is the outer rectangle, no search needed.
        top, bottom = np.arange(wc), np.arange(wc)
        left, right = np.arange(hc), np.arange(hc)
        z_w, z_h = np.zeros(wc, np.int64), np.zeros(hc, np.int64)
        parts = [
            (z_w, top + 1, z_w, top),  # top side, right to left
            (z_w + hc, bottom, z_w + hc, bottom + 1),  # bottom side, left to right
            (left, z_h, left + 1, z_h),  # left side, downwards
            (right + 1, z_h + wc, right, z_h + wc),  # right side, upwards
        ]
        return tuple(np.concatenate([p[i] for p in parts]).astype(np.int32) for i in range(4))  # type: ignore[return-value]
    kp = np.zeros((hc + 2, wc + 2), bool)
    kp[1:-1, 1:-1] = kept
    above, below = kp[:-1, 1:-1], kp[1:, 1:-1]  # (Hc+1, Wc): cells above/below a horizontal edge
    left, right = kp[1:-1, :-1], kp[1:-1, 1:]  # (Hc, Wc+1): cells left/right of a vertical edge

    def where(mask):
        r, c = np.divmod(np.flatnonzero(mask), mask.shape[1])
        return r, c

    parts = []
    # Top side of a kept cell: walk right to left.
    r, c = where(below & ~above)
    parts.append((r, c + 1, r, c))
    # Bottom side: walk left to right.
    r, c = where(above & ~below)
    parts.append((r, c, r, c + 1))
    # Left side: walk down the image (y decreasing).
    r, c = where(right & ~left)
    parts.append((r, c, r + 1, c))
    # Right side: walk up the image.
    r, c = where(left & ~right)
    parts.append((r + 1, c, r, c))
    return tuple(np.concatenate([p[i] for p in parts]).astype(np.int32) for i in range(4))  # type: ignore[return-value]


def _perimeter_points(r0, c0, r1, c1):
    """Every lattice point on each rectangle's border, counter-clockwise seen from above.

    Starts at the bottom-left corner (r1, c0), goes right along the bottom, up the
    right side, left along the top and down the left side.

    Returns:
        (rect_index, rows, cols) for all points of all rectangles, grouped by rectangle.
    """
    h, w = r1 - r0, c1 - c0
    per = 2 * (w + h)
    n = int(per.sum())
    rect = np.repeat(np.arange(r0.size, dtype=np.int32), per)
    t = np.arange(n, dtype=np.int32) - np.repeat((np.cumsum(per) - per).astype(np.int32), per)
    hh, ww = h[rect], w[rect]
    R0, C0, R1, C1 = r0[rect], c0[rect], r1[rect], c1[rect]
    s1, s2, s3 = ww, ww + hh, 2 * ww + hh
    rows = np.where(t < s1, R1, np.where(t < s2, R1 - (t - s1), np.where(t < s3, R0, R0 + (t - s3))))
    cols = np.where(t < s1, C0 + t, np.where(t < s2, C1, np.where(t < s3, C1 - (t - s2), C0)))
    return rect, rows, cols


def fan_triangulate(r0, c0, r1, c1, needed: np.ndarray, vid: np.ndarray, first_centre: int):
    """Triangulate rectangles so they meet their neighbours without cracks.

    A rectangle whose border carries only its 4 corners becomes 2 triangles. Any
    other gets a new vertex at its centre and a fan of triangles to every
    ``needed`` lattice point on its border, in order: its neighbours use exactly
    those points, so edges match one to one (no T-junctions).

    Args:
        r0, c0, r1, c1: rectangles in vertex coordinates (from ``merge_rectangles``).
        needed: (H, W) bool, lattice points some neighbour uses (always includes corners).
        vid: (H, W) vertex index of each lattice point.
        first_centre: index the first new centre vertex will get.

    Returns:
        (faces (T, 3) uint32 counter-clockwise from above, centre_rows, centre_cols)
        where centres are in (fractional) grid coordinates, one per fan rectangle.
    """
    if r0.size == 0:
        return np.zeros((0, 3), np.uint32), np.zeros(0), np.zeros(0)
    rect, rows, cols = _perimeter_points(r0, c0, r1, c1)
    keep = needed[rows, cols]
    rect, ids = rect[keep], vid[rows[keep], cols[keep]].astype(np.int64)
    counts = np.bincount(rect, minlength=r0.size)
    start = np.cumsum(counts) - counts
    # Rectangles with only their corners: two triangles, no centre vertex.
    quad = counts == 4
    qs = start[quad]
    p0, p1, p2, p3 = ids[qs], ids[qs + 1], ids[qs + 2], ids[qs + 3]
    quad_faces = np.stack([p0, p1, p2, p0, p2, p3], axis=1).reshape(-1, 3)
    # The others: a fan from a centre vertex to each consecutive pair of border points.
    fan = ~quad
    centre_of_rect = np.full(r0.size, -1, np.int64)
    centre_of_rect[fan] = first_centre + np.arange(int(fan.sum()))
    point_in_fan = fan[rect]
    nxt = np.arange(ids.size) + 1
    nxt[start + counts - 1] = start  # the last point of each border wraps to the first
    fan_faces = np.stack([centre_of_rect[rect], ids, ids[nxt]], axis=1)[point_in_fan]
    faces = np.concatenate([quad_faces, fan_faces]).astype(np.uint32)
    centre_rows = (r0[fan] + r1[fan]) / 2.0
    centre_cols = (c0[fan] + c1[fan]) / 2.0
    return faces, centre_rows, centre_cols


def grid_normals(z: np.ndarray, pixel_mm: float) -> np.ndarray:
    """Smooth unit normals of a height field, (H, W, 3) float32.

    The surface z(x, y) has normal (-dz/dx, -dz/dy, 1); rows go *down* the image
    while y goes up, hence the sign flip on the row derivative.
    """
    dz_dr, dz_dc = np.gradient(z, pixel_mm)
    inv_len = 1.0 / np.sqrt(dz_dr * dz_dr + dz_dc * dz_dc + 1.0)
    n = np.empty(z.shape + (3,), np.float32)
    n[..., 0] = -dz_dc * inv_len
    n[..., 1] = dz_dr * inv_len
    n[..., 2] = inv_len
    return n


def _cell_faces(cells: np.ndarray, vid: np.ndarray) -> np.ndarray:
    """Two counter-clockwise triangles for each True cell (diagonal bottom-left to top-right)."""
    a, b, c, d = vid[:-1, :-1], vid[:-1, 1:], vid[1:, :-1], vid[1:, 1:]  # TL, TR, BL, BR
    if cells.all():
        a, b, c, d = a.ravel(), b.ravel(), c.ravel(), d.ravel()
    else:
        # np.compress on flat arrays is much faster than 2-D boolean indexing.
        keep = cells.ravel()
        a, b, c, d = (np.compress(keep, x.ravel()) for x in (a, b, c, d))
    f = np.empty((a.size, 6), np.uint32)
    f[:, 0], f[:, 1], f[:, 2] = c, d, b  # BL, BR, TR
    f[:, 3], f[:, 4], f[:, 5] = c, b, a  # BL, TR, TL
    return f.reshape(-1, 3)


def _corner_mask(cells: np.ndarray) -> np.ndarray:
    """(H, W) bool: lattice points that are a corner of at least one True cell."""
    hc, wc = cells.shape
    m = np.zeros((hc + 1, wc + 1), bool)
    m[:-1, :-1] |= cells
    m[:-1, 1:] |= cells
    m[1:, :-1] |= cells
    m[1:, 1:] |= cells
    return m


def _mark_corners(mask: np.ndarray, r0, c0, r1, c1) -> None:
    mask[r0, c0] = mask[r0, c1] = mask[r1, c0] = mask[r1, c1] = True


def _index_grid(used: np.ndarray, offset: int) -> tuple[np.ndarray, int]:
    """Vertex index for each used lattice point (row-major), and how many there are."""
    if used.all():
        return (offset + np.arange(used.size, dtype=np.int64)).reshape(used.shape), used.size
    vid = np.cumsum(used.ravel(), dtype=np.int64).reshape(used.shape)
    count = int(vid[-1, -1])
    vid += offset - 1
    return vid, count


# --------------------------------------------------------------------------
# The mesh
# --------------------------------------------------------------------------


def build_mesh(heightmap, *, black: str = "transparent", solid: bool = False, floor_mm: float = 2.0) -> ReliefMesh:
    """Build the relief, the welded black plane and (optionally) the solid base.

    Args:
        heightmap: a ``heightmap.HeightMap`` (heights in mm, black mask, colours).
        black: "transparent" or "opaque" keep the flat plane (only its material
            differs); "cut" removes it.
        solid: add walls and a bottom so the mesh is watertight (for printing).
        floor_mm: thickness below z = 0 in solid mode (the bottom sits at -floor_mm).

    Returns:
        The mesh with its parts and counts.

    Raises:
        MeshError: if nothing is left to build (every pixel black and black="cut").
    """
    if black not in BLACK_MODES:
        raise MeshError(f"black must be one of {', '.join(BLACK_MODES)}; got {black!r}.")
    z = heightmap.heights_mm
    blk = heightmap.black
    H, W = z.shape
    pitch = float(heightmap.pixel_mm)
    notes: list[str] = []

    # 1. Classify cells: flat (all four corners black) or relief (anything else).
    flat_cells = black_cells(blk)
    relief_cells = ~flat_cells
    filled = 0
    if black == "cut":
        if not relief_cells.any():
            raise MeshError(
                "Every pixel is black and black='cut' removes black, so nothing is left. "
                "Choose black='transparent' or 'opaque', or lower the black threshold."
            )
        # Cutting can leave cells touching only at a corner; fill those so the result is manifold.
        relief_cells, filled = fill_bowties(relief_cells)
        if filled:
            notes.append(f"{filled} black cells kept flat at 0 mm where two relief cells touched only at a corner.")
        flat_cells = np.zeros_like(flat_cells)

    # 2. Merge the flat cells into rectangles (the welded plane).
    rects = merge_rectangles(flat_cells)

    # 3. The region that has a top surface, and its boundary (for walls).
    kept = relief_cells | flat_cells
    if solid:
        pr, pc, qr, qc = boundary_edges(kept)
        on_boundary = np.zeros((H, W), bool)
        on_boundary[pr, pc] = True
        on_boundary[qr, qc] = True

    # 4. Which lattice points the top surface uses: every corner of a relief cell,
    #    every rectangle corner and, in solid mode, every point the walls touch.
    needed = _corner_mask(relief_cells)
    _mark_corners(needed, *rects)
    if solid:
        needed |= on_boundary
    vid_top, n_top = _index_grid(needed, 0)

    # 5. Triangles of the top: two per relief cell, fans for the plane.
    relief_faces = _cell_faces(relief_cells, vid_top)
    flat_faces, fc_rows, fc_cols = fan_triangulate(*rects, needed, vid_top, n_top)
    n_top_all = n_top + fc_rows.size

    # 6. Solid mode: a bottom at -floor_mm (same rectangle trick, facing down) and walls.
    wall_faces = np.zeros((0, 3), np.uint32)
    bottom_faces = np.zeros((0, 3), np.uint32)
    b_rects = (np.zeros(0, np.int32),) * 4
    bc_rows = bc_cols = np.zeros(0)
    n_bottom = 0
    if solid:
        b_rects = merge_rectangles(kept)
        b_needed = on_boundary.copy()
        _mark_corners(b_needed, *b_rects)
        vid_bot, n_bottom = _index_grid(b_needed, n_top_all)
        bottom_faces, bc_rows, bc_cols = fan_triangulate(*b_rects, b_needed, vid_bot, n_top_all + n_bottom)
        bottom_faces = bottom_faces[:, ::-1].copy()  # reverse the winding so it faces down
        # Each boundary edge p->q (region on its left) becomes a quad p, q, q', p'
        # whose outward side faces away from the region.
        p, q = vid_top[pr, pc], vid_top[qr, qc]
        pb, qb = vid_bot[pr, pc], vid_bot[qr, qc]
        wall_faces = np.stack([p, qb, q, p, pb, qb], axis=1).reshape(-1, 3).astype(np.uint32)

    # 7. Vertex positions, normals and colours, in the order the indices assume:
    #    top lattice, plane centres, bottom lattice, bottom centres.
    xs = ((np.arange(W) - (W - 1) / 2.0) * pitch).astype(np.float32)
    ys = (((H - 1) / 2.0 - np.arange(H)) * pitch).astype(np.float32)
    normals_grid = grid_normals(z, pitch)
    colors = heightmap.colors
    top = np.empty((H, W, 3), np.float32)
    top[..., 0] = xs[None, :]
    top[..., 1] = ys[:, None]
    top[..., 2] = z
    top, top_n = top.reshape(-1, 3), normals_grid.reshape(-1, 3)
    top_c = colors.reshape(-1, 3) if colors is not None else None
    if not needed.all():
        # Keep only the used lattice points (row-major, matching vid_top).
        keep = needed.ravel()
        top, top_n = np.compress(keep, top, axis=0), np.compress(keep, top_n, axis=0)
        top_c = np.compress(keep, top_c, axis=0) if top_c is not None else None

    def flat_points(rows, cols, height):
        pts = np.empty((rows.size, 3), np.float32)
        pts[:, 0] = (cols - (W - 1) / 2.0) * pitch
        pts[:, 1] = ((H - 1) / 2.0 - rows) * pitch
        pts[:, 2] = height
        return pts

    parts_v = [top, flat_points(fc_rows, fc_cols, 0.0)]
    parts_n = [top_n, np.tile(np.float32([0, 0, 1]), (fc_rows.size, 1))]
    parts_c = [top_c, np.zeros((fc_rows.size, 3), np.uint8)] if colors is not None else None
    if solid:
        br, bc = np.divmod(np.flatnonzero(b_needed), W)
        nb = br.size + bc_rows.size
        parts_v += [flat_points(br, bc, -floor_mm), flat_points(bc_rows, bc_cols, -floor_mm)]
        parts_n.append(np.tile(np.float32([0, 0, -1]), (nb, 1)))
        if parts_c is not None:
            parts_c.append(np.full((nb, 3), 128, np.uint8))
    vertices = np.concatenate(parts_v)
    normals = np.concatenate(parts_n)
    vcolors = np.concatenate(parts_c) if parts_c is not None else None

    return ReliefMesh(
        vertices=vertices,
        normals=normals,
        colors=vcolors,
        relief_faces=relief_faces,
        flat_faces=flat_faces,
        wall_faces=wall_faces,
        bottom_faces=bottom_faces,
        flat_pieces=int(rects[0].size),
        bottom_pieces=int(b_rects[0].size),
        filled_cells=filled,
        black_cells=int(flat_cells.sum()),
        grid_shape=(H, W),
        pixel_mm=pitch,
        black=black,
        solid=solid,
        notes=notes,
    )
