"""PNG to GLB: the whole conversion, one function per use.

What it teaches: how the stages fit together and what each costs -
load (``heightmap.load_image``), heights (``heightmap.compute_heightmap`` or
``depth.estimate_depth``), mesh (``mesh.build_mesh``), files (GLB, OBJ+MTL,
STL, written side by side), checks (``checks.py``: structural always, trimesh
for solids) - with the time of each stage measured and reported.

* ``Settings`` holds every knob with its default; ``RANGES`` holds the allowed
  range of each number (the UI's sliders read them from here), and
  ``Settings.validate()`` rejects values outside them with a clear message.
* ``convert(path, settings, out_dir, formats=...)`` writes the files asked for
  (GLB always) and returns a ``Result`` with paths, stats and timings;
  ``write_formats(out_dir, formats)`` adds OBJ or STL later, from the same heights.
* ``image_to_glb_bytes(image, settings)`` does only image -> GLB in memory: what
  the benchmark measures.
* ``new_output_dir()`` (``outputs.py``) gives each conversion its own folder under
  one per-user temp folder and deletes conversions older than an hour, so a
  long-running server does not fill the disk.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from shared.serving import is_shared

from .depth import DEFAULT_DEPTH_MODEL
from .mesh import BLACK_MODES
from .outputs import (OUTPUT_KEEP_NEWEST, OUTPUT_MAX_AGE_S, OUTPUT_MAX_BYTES, OUTPUT_MAX_FOLDERS,  # noqa: F401
                      OUTPUT_PREFIX, _private_root, new_output_dir, remove_old_outputs, temp_root, trim_outputs)

# On a shared server the long side of the grid is capped (the UI's slider stops there too): 2048
# means ~8 M triangles, over a GB of memory and several hundred MB of files for one click.
SHARED_MAX_RESOLUTION = 1024

# GLB, OBJ, STL and the height-map PNG are written side by side by this many threads.
WRITER_THREADS = max(1, min(4, os.cpu_count() or 1))
# The files a conversion can write. The GLB is always written (it is the preview); OBJ and STL
# carry 3-4x its bytes at the same mesh (text, and 50 bytes per triangle), so the app writes them
# when a visitor asks (``write_formats``), from the heights the GLB was built from.
FORMATS = ("glb", "obj", "stl")
_LATER_FILE = "later.npz"  # in a conversion's folder: what ``write_formats`` needs

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
        obj_zip_path: a zip with the OBJ and its MTL (None if not asked for; see ``write_formats``).
        stl_path: binary STL, geometry only (None if not asked for).
        heightmap_path: the height map as a grey PNG (what the mesh was built from).
        stats: counts, sizes and checks (see ``convert``).
        timings: seconds per stage, in order, ending in "total". "glb", "obj", "stl" and
            "png" are written side by side; "files" is how long that took in all.
        notes: messages for the user (format notes, downsampling, fallbacks).
        settings: the validated settings used.
        validation: ``checks.structural_checks`` of the written files.
    """

    glb_path: Path
    obj_zip_path: Path | None
    stl_path: Path | None
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


def _safe_stem(path: Any) -> str:
    stem = Path(str(path)).stem if isinstance(path, (str, Path)) else "image"
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._") or "image"
    return stem[:60]


def convert(
    image_path: Any,
    settings: Settings | None = None,
    out_dir: str | Path = ".",
    progress: Callable[[float, str], Any] | None = None,
    formats: Sequence[str] = FORMATS,
) -> Result:
    """Convert an image into GLB, OBJ (+MTL, zipped) and STL files.

    Args:
        image_path: the image (a path; bytes, a Pillow image or an array also work).
        settings: the knobs; defaults if None. Validated first.
        out_dir: folder for the output files (created if missing).
        progress: optional ``progress(fraction, description)`` callback, called
            before each stage (a ``gr.Progress`` instance fits).
        formats: which of ``FORMATS`` to write now ("glb" always is). When some are left
            out, the heights are kept in the folder so ``write_formats`` can add them later.

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

    from .checks import trimesh_checks
    from .mesh import build_mesh

    def step(fraction: float, what: str) -> None:
        if progress is not None:
            progress(fraction, what)

    total = time.perf_counter()
    settings = (settings or Settings()).validate()
    wanted = _check_formats(formats)
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
    paths = _paths(out, stem)

    step(0.5, "Writing " + ", ".join(f.upper() for f in wanted))

    def write_png() -> None:
        # The height map as an image: what the mesh was built from (black shown black).
        levels = (hm.brightness * 200 + 55).round().clip(0, 255).astype("uint8")
        levels[hm.black] = 0
        Image.fromarray(levels, mode="L").save(paths["png"], compress_level=1)

    def keep_for_later() -> None:
        _save_for_later(out, hm, settings, stem)

    extra = {"png": write_png} | ({} if set(FORMATS) <= set(wanted) else {"later": keep_for_later})
    written = _write_files(mesh, settings, paths, wanted, timings, extra)

    step(0.9, "Checking the files" + (" and the solid with trimesh" if settings.solid else ""))
    t = time.perf_counter()
    structure = _structure(written, mesh)
    # Only a solid can be watertight: trimesh is asked only then. An open relief has a border
    # by construction, so the answer would always be "no".
    checks = trimesh_checks(mesh) if settings.solid else {
        "watertight": False, "winding_consistent": None, "volume_mm3": None}
    timings["check"] = time.perf_counter() - t
    if not structure["passed"]:  # pragma: no cover - would be a bug
        notes.append("Warning: a structural check failed (see Validation); please report this image.")
    if settings.solid and not checks["watertight"]:  # pragma: no cover - would be a bug
        notes.append("Warning: the solid is not watertight; please report this image.")
    notes.extend(_obj_note(written))

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
        **_file_sizes(paths, wanted),
    }
    timings["total"] = time.perf_counter() - total
    step(1.0, "Done")
    return Result(
        glb_path=paths["glb"],
        obj_zip_path=paths["obj"] if "obj" in wanted else None,
        stl_path=paths["stl"] if "stl" in wanted else None,
        heightmap_path=paths["png"],
        stats=stats,
        timings=_ordered(timings),
        validation=structure,
        notes=tuple(notes),
        settings=settings,
    )


# Stage times in the order they ran; the files ran side by side inside "files".
_ORDER = ["load", "depth", "heightmap", "mesh", "glb", "obj", "stl", "png", "later", "files", "check", "total"]


def _ordered(timings: dict) -> dict:
    return {k: round(timings[k], 4) for k in _ORDER if k in timings}


def _check_formats(formats: Sequence[str]) -> tuple[str, ...]:
    """The formats asked for, in FORMATS order, always with "glb" (the preview)."""
    asked = {str(x).strip().lower() for x in formats}
    if asked - set(FORMATS):
        raise SettingsError(f"formats must be among {', '.join(FORMATS)}; got {sorted(asked - set(FORMATS))}.")
    return tuple(f for f in FORMATS if f in asked | {"glb"})


def _file_sizes(paths: dict[str, Path], written) -> dict[str, int | None]:
    """`glb_bytes`, `obj_zip_bytes`, `stl_bytes` for the stats: None for a format not written."""
    return {f"{key}_bytes": paths[fmt].stat().st_size if fmt in written else None
            for fmt, key in (("glb", "glb"), ("obj", "obj_zip"), ("stl", "stl"))}


def _paths(out: Path, stem: str) -> dict[str, Path]:
    return {"glb": out / f"{stem}.glb", "obj": out / f"{stem}_obj.zip", "stl": out / f"{stem}.stl",
            "png": out / f"{stem}_heightmap.png"}


def _write_files(mesh, settings: Settings, paths: dict[str, Path], formats: Sequence[str], timings: dict,
                 extra: dict[str, Callable[[], Any]] | None = None) -> dict:
    """Write `formats` (and run `extra` jobs) side by side; record each one's time and "files".

    The writers are NumPy array work and file writes, which release the GIL, so they run side by
    side: the request waits for the slowest writer, not for the sum of them. Returns what each
    writer returned: the GLB's bytes, the OBJ zip's line facts, the STL's size.
    """
    from .exporters import write_obj_zip, write_stl
    from .glb import glb_bytes

    def write_glb() -> bytes:
        data = glb_bytes(mesh, black_alpha=settings.black_alpha, colors=settings.colours)
        paths["glb"].write_bytes(data)
        return data

    stem = paths["glb"].stem
    writers = {
        "glb": write_glb,
        "obj": lambda: write_obj_zip(mesh, paths["obj"], stem=stem, colors=settings.colours,
                                     black_alpha=settings.black_alpha),
        "stl": lambda: write_stl(mesh, paths["stl"]),
    }
    jobs = {name: writers[name] for name in formats} | (extra or {})

    def timed(name: str) -> Any:
        started = time.perf_counter()
        value = jobs[name]()
        timings[name] = time.perf_counter() - started
        return value

    t = time.perf_counter()
    with ThreadPoolExecutor(max_workers=WRITER_THREADS) as pool:
        futures = {name: pool.submit(timed, name) for name in jobs}
        written = {name: future.result() for name, future in futures.items()}
    timings["files"] = time.perf_counter() - t
    return written


def _structure(written: dict, mesh, glb: bytes | None = None) -> dict:
    """The structural checks of whichever files were just written (the GLB's bytes are always given)."""
    from .checks import structural_checks

    obj = written.get("obj") or {}
    return structural_checks(glb if glb is not None else written["glb"], mesh, stl_bytes=written.get("stl"),
                             obj_text_bytes=obj.get("obj_text_bytes"), obj_blocks=obj.get("blocks"))


def _obj_note(written: dict) -> list[str]:
    obj = written.get("obj")
    if obj and not obj["deflated"]:
        return [f"The OBJ text is {obj['obj_text_bytes'] / 1e6:.0f} MB: it is stored in the zip uncompressed "
                f"(deflating it would take longer than the whole conversion)."]
    return []


def _save_for_later(out: Path, hm, settings: Settings, stem: str) -> None:
    """Keep what `write_formats` needs: the height map's arrays and the settings (uncompressed: ~10 ms)."""
    import json

    import numpy as np

    arrays = {"heights_mm": hm.heights_mm, "black": hm.black, "brightness": hm.brightness}
    if hm.colors is not None:
        arrays["colors"] = hm.colors
    meta = {"settings": dataclasses.asdict(settings), "stem": stem, "pixel_mm": hm.pixel_mm,
            "source_size": list(hm.source_size)}
    with open(out / _LATER_FILE, "wb") as fh:
        np.savez(fh, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)


def write_formats(out_dir: str | Path, formats: Sequence[str]) -> Result:
    """Write more formats for an earlier ``convert(..., formats=...)`` into its folder.

    The mesh is rebuilt from the heights that conversion kept (no image reading, no depth model),
    so the files match its GLB vertex for vertex; the structural checks compare them with it.
    Formats already written are left as they are.

    Raises:
        ValueError: if the folder holds no such conversion (removed after an hour: convert again).
    """
    import json

    import numpy as np

    from .heightmap import HeightMap
    from .mesh import build_mesh

    total = time.perf_counter()
    out = Path(out_dir)
    wanted = [f for f in _check_formats(formats) if f != "glb"]
    try:
        with np.load(out / _LATER_FILE) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            arrays = {k: data[k] for k in data.files if k != "meta"}
    except (OSError, ValueError, KeyError):
        raise ValueError("That conversion's files are gone (conversions are removed after an hour, or the "
                         "server restarted): press Convert again, then ask for the format.") from None
    settings = Settings(**meta["settings"]).validate()
    hm = HeightMap(heights_mm=arrays["heights_mm"], black=arrays["black"], brightness=arrays["brightness"],
                   colors=arrays.get("colors"), pixel_mm=float(meta["pixel_mm"]),
                   source_size=tuple(meta["source_size"]))
    timings: dict[str, float] = {}
    t = time.perf_counter()
    mesh = build_mesh(hm, black=settings.black, solid=settings.solid, floor_mm=settings.floor_mm)
    timings["mesh"] = time.perf_counter() - t
    paths = _paths(out, meta["stem"])
    todo = [f for f in wanted if not paths[f].exists()]
    written = _write_files(mesh, settings, paths, todo, timings)
    t = time.perf_counter()
    structure = _structure(written, mesh, glb=paths["glb"].read_bytes())
    timings["check"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - total
    present = [f for f in FORMATS if paths[f].exists()]
    stats = _file_sizes(paths, present)
    return Result(glb_path=paths["glb"], obj_zip_path=paths["obj"] if "obj" in present else None,
                  stl_path=paths["stl"] if "stl" in present else None, heightmap_path=paths["png"],
                  stats=stats, timings=_ordered(timings), notes=tuple(_obj_note(written)), settings=settings,
                  validation=structure)
