"""PNG to GLB: the whole conversion, one function per use.

What it teaches: how the stages fit together and what each costs -
load (``heightmap.load_image``), heights (``heightmap.compute_heightmap`` or
``depth.estimate_depth``), mesh (``mesh.build_mesh``), files (GLB, OBJ+MTL,
STL, written side by side), checks (``checks.py``: structural always, trimesh
for solids) - with the time of each stage measured and reported.

* ``Settings`` holds every knob with its default; ``RANGES`` holds the allowed
  range of each number (the UI's sliders read them from here), and
  ``Settings.validate()`` rejects values outside them with a clear message.
* ``convert(path, settings, out_dir)`` writes the three files and returns a
  ``Result`` with paths, stats and timings.
* ``image_to_glb_bytes(image, settings)`` does only image -> GLB in memory: what
  the benchmark measures.
* ``new_output_dir()`` gives each conversion its own folder under one per-user
  temp folder (``temp_root()``) and deletes conversions older than an hour, so a
  long-running server does not fill the disk.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from shared.scratch import folder_bytes
from shared.serving import is_shared

from .depth import DEFAULT_DEPTH_MODEL
from .mesh import BLACK_MODES

# Output folders of conversions older than this are deleted when a new conversion starts.
# The web UI has copied the files it serves by then; an hour leaves time to download them.
OUTPUT_MAX_AGE_S = 60 * 60
OUTPUT_PREFIX = "run_"  # only folders named like this are ever deleted
# Within that hour the folders are also capped in number and in total size: one conversion at the
# top resolution writes a few hundred MB (STL, OBJ, GLB), so a busy server could otherwise fill its
# disk well inside the hour. The newest few are always kept: a conversion may still be writing there.
OUTPUT_MAX_FOLDERS = 40
OUTPUT_MAX_BYTES = 2 * 1024**3
OUTPUT_KEEP_NEWEST = 4
# On a shared server the long side of the grid is capped (the UI's slider stops there too): 2048
# means ~8 M triangles, over a GB of memory and several hundred MB of files for one click.
SHARED_MAX_RESOLUTION = 1024

# GLB, OBJ, STL and the height-map PNG are written side by side by this many threads.
WRITER_THREADS = max(1, min(4, os.cpu_count() or 1))

# Where the heights come from: image brightness, or a depth-estimation model.
SOURCES = ("brightness", "depth")

# Allowed range of every numeric setting, (min, max). The UI's sliders use them.
RANGES: dict[str, tuple[float, float]] = {
    # Below 0.1 everything but black is at full height; above 5 only near-white rises.
    "gamma": (0.1, 5.0),
    # Gaussian sigma in grid pixels; beyond 10 the picture is mush.
    "smoothing": (0.0, 10.0),
    # Relief height above the base; 0 gives a flat (but valid) model.
    "max_height_mm": (0.0, 200.0),
    # Height of the darkest non-black pixel; lifts the relief off the black plane.
    "base_mm": (0.0, 50.0),
    # Long side of the model; from a coin to a large poster.
    "size_mm": (1.0, 2000.0),
    # Long side of the vertex grid; 2048 is ~8 M triangles, the most a browser preview survives.
    "resolution": (2, 2048),
    # 8-bit luma at or below which a pixel counts as black (0 = pure black only).
    "black_threshold": (0, 254),
    # Opacity of the black plane in "transparent" mode (0 = invisible).
    "black_alpha": (0.0, 1.0),
    # Thickness under the black plane in solid mode; printers need some floor.
    "floor_mm": (0.2, 50.0),
}

# Which settings are whole numbers.
INTEGER_FIELDS = ("resolution", "black_threshold")


class SettingsError(ValueError):
    """A setting is missing, of the wrong type or out of range."""


@dataclass(frozen=True)
class Settings:
    """Every choice of the conversion, with the defaults a first click uses."""

    # Height source: "brightness" (luma of the image) or "depth" (a depth model).
    source: str = "brightness"
    # Depth model id or local folder, used only when source == "depth".
    depth_model: str = DEFAULT_DEPTH_MODEL
    # Brightness ** gamma: 1 is linear.
    gamma: float = 1.0
    # Dark becomes high and bright low (black stays welded flat at 0).
    invert: bool = False
    # Gaussian sigma in grid pixels, 0 = sharp; smooths photo noise.
    smoothing: float = 0.0
    # A white pixel stands this much above a dark one: 10 mm on a 100 mm model reads well.
    max_height_mm: float = 10.0
    # The darkest non-black pixel sits this high, so it separates from the black plane.
    base_mm: float = 1.0
    # Long side of the model in mm (a 10 cm tile prints in under an hour).
    size_mm: float = 100.0
    # Long side of the grid: 256 gives ~130k triangles, a smooth preview that loads at once.
    resolution: int = 256
    # Pixels with 8-bit luma <= this are black; 0 = only pure black.
    black_threshold: int = 0
    # Black plane: "transparent" (see-through material), "cut" (removed) or "opaque".
    black: str = "transparent"
    # Opacity of the transparent plane: 0 = invisible, raise it to see the weld.
    black_alpha: float = 0.0
    # Add walls and a bottom for a watertight, printable solid.
    solid: bool = False
    # Thickness under z = 0 in solid mode.
    floor_mm: float = 2.0
    # Carry the image colours onto the relief (COLOR_0 in GLB, vertex colours in OBJ).
    colours: bool = True

    def validate(self) -> Settings:
        """Check every field and return a normalised copy.

        Numbers may arrive as strings or floats through an API; they are
        converted, and rejected when not finite or outside ``RANGES``.

        Raises:
            SettingsError: naming the field, the value and what is allowed.
        """
        values: dict[str, Any] = {}
        source = str(self.source).strip().lower()
        if source not in SOURCES:
            raise SettingsError(f"source must be one of {', '.join(SOURCES)}; got {self.source!r}.")
        values["source"] = source
        black = str(self.black).strip().lower()
        if black not in BLACK_MODES:
            raise SettingsError(f"black must be one of {', '.join(BLACK_MODES)}; got {self.black!r}.")
        values["black"] = black
        values["depth_model"] = str(self.depth_model or "").strip() or DEFAULT_DEPTH_MODEL
        for name in ("invert", "solid", "colours"):
            values[name] = _to_bool(name, getattr(self, name))
        for name, (lo, hi) in RANGES.items():
            raw = getattr(self, name)
            try:
                num = float(raw)
            except (TypeError, ValueError):
                raise SettingsError(f"{name} must be a number between {lo:g} and {hi:g}; got {raw!r}.") from None
            if not math.isfinite(num):
                raise SettingsError(f"{name} must be a finite number between {lo:g} and {hi:g}; got {raw!r}.")
            if name in INTEGER_FIELDS:
                num = int(round(num))
            if not lo <= num <= hi:
                raise SettingsError(f"{name} must be between {lo:g} and {hi:g}; got {raw!r}.")
            values[name] = num
        if values["resolution"] > SHARED_MAX_RESOLUTION and is_shared():
            raise SettingsError(f"resolution must be at most {SHARED_MAX_RESOLUTION} on this shared server "
                                f"(got {values['resolution']}); run the lab on your own machine for up to "
                                f"{RANGES['resolution'][1]:g}.")
        return dataclasses.replace(self, **values)


def _to_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        return value.strip().lower() in ("true", "1", "yes", "on")
    raise SettingsError(f"{name} must be true or false; got {value!r}.")


@dataclass(frozen=True)
class Result:
    """What one conversion produced.

    Attributes:
        glb_path: the GLB (preview and download).
        obj_zip_path: a zip with the OBJ and its MTL.
        stl_path: binary STL (geometry only).
        heightmap_path: the height map as a grey PNG (what the mesh was built from).
        stats: counts, sizes and checks (see ``convert``).
        timings: seconds per stage, in order, ending in "total". "glb", "obj", "stl" and
            "png" are written side by side; "files" is how long that took in all.
        notes: messages for the user (format notes, downsampling, fallbacks).
        settings: the validated settings used.
        validation: ``checks.structural_checks`` of the written files.
    """

    glb_path: Path
    obj_zip_path: Path
    stl_path: Path
    heightmap_path: Path
    stats: dict
    timings: dict
    notes: tuple
    settings: Settings
    validation: dict = dataclasses.field(default_factory=dict)


def _heightmap(image: Any, settings: Settings, timings: dict):
    """Load the image and compute its height map (brightness or depth)."""
    from .heightmap import compute_heightmap, load_image, to_rgb8

    t = time.perf_counter()
    loaded = load_image(image)
    timings["load"] = time.perf_counter() - t
    source = None
    if settings.source == "depth":
        from .depth import estimate_depth

        t = time.perf_counter()
        # The model works at its own resolution (~500 px), so give it the image at
        # most at grid size: same result, less work.
        source = estimate_depth(to_rgb8(loaded, max_side=max(settings.resolution, 64)), settings.depth_model)
        timings["depth"] = time.perf_counter() - t
    t = time.perf_counter()
    hm = compute_heightmap(
        loaded,
        resolution=settings.resolution,
        size_mm=settings.size_mm,
        max_height_mm=settings.max_height_mm,
        base_mm=settings.base_mm,
        gamma=settings.gamma,
        invert=settings.invert,
        smoothing=settings.smoothing,
        black_threshold=settings.black_threshold,
        colors=settings.colours,
        height_source=source,
    )
    timings["heightmap"] = time.perf_counter() - t
    return loaded, hm


def image_to_glb_bytes(image: Any, settings: Settings | None = None) -> bytes:
    """Image (path, bytes, Pillow image or array) -> GLB bytes, all in memory.

    Raises:
        ValueError: for bad input or settings (clear message).
    """
    from .glb import glb_bytes
    from .mesh import build_mesh

    settings = (settings or Settings()).validate()
    _, hm = _heightmap(image, settings, {})
    mesh = build_mesh(hm, black=settings.black, solid=settings.solid, floor_mm=settings.floor_mm)
    return glb_bytes(mesh, black_alpha=settings.black_alpha, colors=settings.colours)


def _user_tag() -> str:
    return str(os.getuid()) if hasattr(os, "getuid") else "user"


def _is_own_folder(path: Path) -> bool:
    """A real folder (not a link) that belongs to the user running this code."""
    try:
        st = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and (not hasattr(os, "getuid") or st.st_uid == os.getuid())


@functools.lru_cache(maxsize=1)
def _private_root() -> Path:
    return Path(tempfile.mkdtemp(prefix=f"png_to_glb-{_user_tag()}-"))


def temp_root() -> Path:
    """This lab's temp folder for the current OS user: ``<tmp>/png_to_glb-<uid>``.

    The user id in the name keeps users of one machine apart. If that name is taken by
    something this user does not own (another user's folder, a link), a private folder made
    with ``mkdtemp`` is used instead, so nobody else's files can break the lab.
    """
    root = Path(tempfile.gettempdir()) / f"png_to_glb-{_user_tag()}"
    try:
        root.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return _private_root()
    return root if _is_own_folder(root) else _private_root()


def remove_old_outputs(root: str | Path, max_age_s: float = OUTPUT_MAX_AGE_S, now: float | None = None) -> int:
    """Delete the conversion folders (``run_*``) in `root` last changed more than `max_age_s` ago.

    Returns:
        How many folders were deleted.
    """
    cutoff = (time.time() if now is None else now) - max_age_s
    removed = 0
    for folder in Path(root).glob(f"{OUTPUT_PREFIX}*"):
        try:
            st = folder.lstat()
            if stat.S_ISDIR(st.st_mode) and st.st_mtime < cutoff:
                shutil.rmtree(folder)
                removed += 1
        except OSError:  # already gone (another conversion cleaned up), or not ours
            continue
    return removed


def trim_outputs(root: str | Path, *, max_folders: int = OUTPUT_MAX_FOLDERS, max_bytes: int = OUTPUT_MAX_BYTES,
                 keep_newest: int = OUTPUT_KEEP_NEWEST) -> int:
    """Delete the oldest conversion folders (``run_*``) beyond `max_folders` or `max_bytes` in all.

    The `keep_newest` most recent folders are never deleted (a conversion may still be writing).

    Returns:
        How many folders were deleted.
    """
    folders = []
    for folder in Path(root).glob(f"{OUTPUT_PREFIX}*"):
        try:
            st = folder.lstat()
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            folders.append((st.st_mtime, folder))
    folders.sort(key=lambda item: item[0], reverse=True)
    removed, total = 0, 0
    for index, (_, folder) in enumerate(folders):
        total += folder_bytes(folder)
        if index < keep_newest or (index < max_folders and total <= max_bytes):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def new_output_dir(root: str | Path | None = None, max_age_s: float = OUTPUT_MAX_AGE_S) -> Path:
    """A fresh folder for one conversion under `root` (default ``temp_root()``).

    Folders older than `max_age_s` are removed first, then the oldest beyond `OUTPUT_MAX_FOLDERS`
    or `OUTPUT_MAX_BYTES` (`trim_outputs`), so the lab's outputs never grow without bound.
    """
    root = Path(root) if root is not None else temp_root()
    root.mkdir(parents=True, exist_ok=True)
    remove_old_outputs(root, max_age_s)
    trim_outputs(root)
    return Path(tempfile.mkdtemp(prefix=OUTPUT_PREFIX, dir=root))


def _safe_stem(path: Any) -> str:
    stem = Path(str(path)).stem if isinstance(path, (str, Path)) else "image"
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._") or "image"
    return stem[:60]


def convert(
    image_path: Any,
    settings: Settings | None = None,
    out_dir: str | Path = ".",
    progress: Callable[[float, str], Any] | None = None,
) -> Result:
    """Convert an image into GLB, OBJ (+MTL, zipped) and STL files.

    Args:
        image_path: the image (a path; bytes, a Pillow image or an array also work).
        settings: the knobs; defaults if None. Validated first.
        out_dir: folder for the output files (created if missing).
        progress: optional ``progress(fraction, description)`` callback, called
            before each stage (a ``gr.Progress`` instance fits).

    Returns:
        A ``Result``. ``stats`` holds: grid ("W x H"), vertices, triangles,
        relief_triangles, flat_triangles, flat_pieces, wall_triangles,
        bottom_triangles, black_cells, black_cells_as_two_triangles_each,
        watertight, winding_consistent, volume_mm3, size_mm (x, y, z extents),
        glb_bytes, obj_zip_bytes, stl_bytes.

    Raises:
        ValueError: (ImageInputError, SettingsError, DepthModelError, MeshError)
            with a message that says what was wrong and what to do.
    """
    from PIL import Image

    from .checks import structural_checks, trimesh_checks
    from .exporters import write_obj_zip, write_stl
    from .glb import glb_bytes
    from .mesh import build_mesh

    def step(fraction: float, what: str) -> None:
        if progress is not None:
            progress(fraction, what)

    total = time.perf_counter()
    settings = (settings or Settings()).validate()
    timings: dict[str, float] = {}
    step(0.0, "Reading the image" + (" and running the depth model" if settings.source == "depth" else ""))
    loaded, hm = _heightmap(image_path, settings, timings)
    notes = list(hm.notes)

    step(0.4, "Building the mesh")
    t = time.perf_counter()
    mesh = build_mesh(hm, black=settings.black, solid=settings.solid, floor_mm=settings.floor_mm)
    timings["mesh"] = time.perf_counter() - t
    notes.extend(mesh.notes)
    if settings.max_height_mm == 0 and settings.base_mm == 0:
        notes.append("Max height and base are both 0 mm: the model is flat.")

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = _safe_stem(image_path)
    paths = {
        "glb": out / f"{stem}.glb",
        "obj": out / f"{stem}_obj.zip",
        "stl": out / f"{stem}.stl",
        "png": out / f"{stem}_heightmap.png",
    }

    step(0.5, "Writing GLB, OBJ and STL")

    def timed(name: str, work: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        value = work()
        timings[name] = time.perf_counter() - started
        return value

    def write_glb() -> bytes:
        data = glb_bytes(mesh, black_alpha=settings.black_alpha, colors=settings.colours)
        paths["glb"].write_bytes(data)
        return data

    def write_png() -> None:
        # The height map as an image: what the mesh was built from (black shown black).
        levels = (hm.brightness * 200 + 55).round().clip(0, 255).astype("uint8")
        levels[hm.black] = 0
        Image.fromarray(levels, mode="L").save(paths["png"], compress_level=1)

    # The writers are NumPy array work and file writes, which release the GIL, so they run
    # side by side: the request waits for the slowest writer, not for the sum of them.
    t = time.perf_counter()
    jobs = {
        "glb": write_glb,
        "obj": lambda: write_obj_zip(mesh, paths["obj"], stem=stem, colors=settings.colours,
                                     black_alpha=settings.black_alpha),
        "stl": lambda: write_stl(mesh, paths["stl"]),
        "png": write_png,
    }
    with ThreadPoolExecutor(max_workers=WRITER_THREADS) as pool:
        futures = {name: pool.submit(timed, name, job) for name, job in jobs.items()}
        written = {name: future.result() for name, future in futures.items()}
    timings["files"] = time.perf_counter() - t

    step(0.9, "Checking the files" + (" and the solid with trimesh" if settings.solid else ""))
    t = time.perf_counter()
    obj = written["obj"]
    structure = structural_checks(written["glb"], mesh, stl_bytes=written["stl"],
                                  obj_text_bytes=obj["obj_text_bytes"], obj_line_bytes=obj["line_bytes"])
    # Only a solid can be watertight: trimesh is asked only then. An open relief has a border
    # by construction, so the answer would always be "no".
    checks = trimesh_checks(mesh) if settings.solid else {
        "watertight": False, "winding_consistent": None, "volume_mm3": None}
    timings["check"] = time.perf_counter() - t
    if not structure["passed"]:  # pragma: no cover - would be a bug
        notes.append("Warning: a structural check failed (see Validation); please report this image.")
    if settings.solid and not checks["watertight"]:  # pragma: no cover - would be a bug
        notes.append("Warning: the solid is not watertight; please report this image.")
    if not obj["deflated"]:
        notes.append(f"The OBJ text is {obj['obj_text_bytes'] / 1e6:.0f} MB: it is stored in the zip uncompressed "
                     f"(deflating it would take longer than the whole conversion).")

    black_cells = mesh.black_cells
    v = mesh.vertices
    stats = {
        "grid": f"{hm.shape[1]} x {hm.shape[0]}",
        "source_size": f"{loaded.size[0]} x {loaded.size[1]}",
        "vertices": int(len(v)),
        "triangles": int(mesh.triangle_count),
        "relief_triangles": int(len(mesh.relief_faces)),
        "flat_triangles": int(len(mesh.flat_faces)),
        "flat_pieces": int(mesh.flat_pieces),
        "wall_triangles": int(len(mesh.wall_faces)),
        "bottom_triangles": int(len(mesh.bottom_faces)),
        "black_cells": int(black_cells),
        "black_cells_as_two_triangles_each": int(2 * black_cells),
        "watertight": checks["watertight"],
        "watertight_checked_by": "trimesh" if settings.solid else "construction (open relief, no walls)",
        "winding_consistent": checks["winding_consistent"],
        "volume_mm3": checks["volume_mm3"],
        "size_mm": [round(float(x), 3) for x in (v.max(axis=0) - v.min(axis=0))],
        "glb_bytes": paths["glb"].stat().st_size,
        "obj_zip_bytes": paths["obj"].stat().st_size,
        "stl_bytes": paths["stl"].stat().st_size,
    }
    timings["total"] = time.perf_counter() - total
    step(1.0, "Done")
    # Stage times in the order they ran; glb/obj/stl/png ran side by side inside "files".
    order = ["load", "depth", "heightmap", "mesh", "glb", "obj", "stl", "png", "files", "check", "total"]
    return Result(
        glb_path=paths["glb"],
        obj_zip_path=paths["obj"],
        stl_path=paths["stl"],
        heightmap_path=paths["png"],
        stats=stats,
        timings={k: round(timings[k], 4) for k in order if k in timings},
        validation=structure,
        notes=tuple(notes),
        settings=settings,
    )
