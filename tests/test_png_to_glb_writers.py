"""The vectorised OBJ and STL writers of the PNG to GLB lab: exact text, and files that reload."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from labs.png_to_glb import exporters
from labs.png_to_glb.convert import Settings, convert


def test_numbers_are_written_exactly():
    values = np.array([0.0, -0.0004, -1.5, 12.3456, 99.9, -99.5, -0.5])
    text = exporters.text_lines(b"v", exporters.decimal_words(values)).tobytes().decode()
    assert [float(line.split()[1]) for line in text.splitlines()] == [0.0, 0.0, -1.5, 12.346, 99.9, -99.5, -0.5]
    wide = np.array([0.5, -2000.0, 123456.25])
    text = exporters.text_lines(b"v", exporters.decimal_words(wide)).tobytes().decode()
    assert [float(line.split()[1]) for line in text.splitlines()] == [0.5, -2000.0, 123456.25]
    ints = np.array([0, 7, 22, 999, 1000, 9_999_999])
    text = exporters.text_lines(b"f", exporters.int_words(ints)).tobytes().decode()
    assert [int(line.split()[1]) for line in text.splitlines()] == ints.tolist()
    with pytest.raises(ValueError, match="below"):
        exporters.int_words(np.array([10_000_000]))


@pytest.mark.parametrize("solid", [False, True])
def test_obj_and_stl_reload_like_the_glb(tmp_path, solid):
    """OBJ and STL from the fast writers load in trimesh with the GLB's counts and bounds."""
    import trimesh

    image = np.zeros((40, 56, 3), np.uint8)
    image[5:35, 6:50] = np.linspace(30, 255, 44, dtype=np.uint8)[None, :, None]
    image[15:25, 20:30] = 0  # a black hole: the welded plane
    res = convert(image, Settings(resolution=56, solid=solid), tmp_path)
    glb = trimesh.load(res.glb_path, process=False)
    glb_mesh = trimesh.util.concatenate(list(glb.geometry.values()))
    glb_bounds_mm = glb.bounds / 0.001  # GLB is in metres
    with zipfile.ZipFile(res.obj_zip_path) as zf:
        zf.extractall(tmp_path / "obj")
    obj = trimesh.load(tmp_path / "obj" / "image.obj", process=False, force="mesh")
    stl = trimesh.load(res.stl_path, process=False)
    s = res.stats
    assert len(obj.faces) == len(stl.faces) == s["triangles"]
    # trimesh splits the shared vertex list per group; the file itself has one "v" line per vertex.
    v_lines = sum(1 for line in (tmp_path / "obj" / "image.obj").read_bytes().splitlines() if line.startswith(b"v "))
    assert v_lines == s["vertices"]
    # The GLB splits vertices per primitive; the bounds must agree to the OBJ's 1 micrometre.
    assert len(glb_mesh.faces) == s["triangles"]
    assert np.allclose(obj.bounds, glb_bounds_mm, atol=1e-3)
    assert np.allclose(stl.bounds, glb_bounds_mm, atol=1e-3)
    assert trimesh.load(res.stl_path).is_watertight == solid  # merged on load: STL repeats corners
    assert res.validation["passed"]


def test_stats_time_line_ends_in_total(tmp_path):
    res = convert(np.full((16, 16), 200, np.uint8), Settings(resolution=16), tmp_path)
    keys = list(res.timings)
    assert keys[-1] == "total" and {"glb", "obj", "stl", "files", "check"} <= set(keys)
    assert res.timings["total"] >= res.timings["files"]
    # An open relief: trimesh is not asked, and the stats say so.
    assert res.stats["watertight"] is False and res.stats["watertight_checked_by"].startswith("construction")


@pytest.mark.parametrize("solid", [False, True])
def test_formats_written_later_equal_those_written_at_once(tmp_path, solid):
    """GLB now, OBJ and STL later from the kept heights: byte for byte what one conversion writes."""
    from labs.png_to_glb.convert import write_formats

    image = np.zeros((30, 44, 3), np.uint8)
    image[4:26, 5:40] = np.linspace(40, 250, 35, dtype=np.uint8)[None, :, None]
    image[10:18, 15:25] = 0
    settings = Settings(resolution=44, solid=solid, black_alpha=0.3)
    now = convert(image, settings, tmp_path / "now")
    glb_only = convert(image, settings, tmp_path / "later", formats=("glb",))
    assert glb_only.obj_zip_path is None and glb_only.stl_path is None and glb_only.stats["stl_bytes"] is None
    assert glb_only.glb_path.read_bytes() == now.glb_path.read_bytes()
    later = write_formats(tmp_path / "later", ["stl", "obj"])
    assert later.validation["passed"] and later.stl_path.read_bytes() == now.stl_path.read_bytes()
    with zipfile.ZipFile(later.obj_zip_path) as a, zipfile.ZipFile(now.obj_zip_path) as b:
        assert {n: a.read(n) for n in a.namelist()} == {n: b.read(n) for n in b.namelist()}
    assert list(later.timings)[-1] == "total" and "mesh" in later.timings


def test_unknown_formats_and_vanished_conversions_are_refused_clearly(tmp_path):
    from labs.png_to_glb.convert import write_formats

    with pytest.raises(ValueError, match="formats must be among glb, obj, stl"):
        convert(np.full((8, 8), 128, np.uint8), Settings(resolution=8), tmp_path, formats=("fbx",))
    with pytest.raises(ValueError, match="press Convert again"):
        write_formats(tmp_path / "never-converted", ["stl"])
