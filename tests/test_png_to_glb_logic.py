"""Logic tests for the PNG-to-GLB lab (no gradio, no network, no GPU needed).

Run: .venv/bin/python -m pytest tests/test_png_to_glb_logic.py -q
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from labs.png_to_glb import checks, examples, exporters, heightmap, mesh
from labs.png_to_glb.convert import RANGES, Settings, SettingsError, convert, image_to_glb_bytes
from labs.png_to_glb.depth import DepthModelError, build_tiny_depth_model, load_depth_pipeline, resolve_model
from labs.png_to_glb.heightmap import LUMA_WEIGHTS, ImageInputError, compute_heightmap, load_image
from labs.png_to_glb.glb import glb_bytes, linear_u16_to_srgb
from labs.png_to_glb.mesh import MeshError, build_mesh

from . import gltf_validator as gv
from .ci_tools import skip_or_fail

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- helpers


def png_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def parse_glb(data: bytes):
    """Minimal GLB reader: (json, {accessor index: numpy array})."""
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert magic == b"glTF" and version == 2 and length == len(data)
    jlen, jtype = struct.unpack_from("<I4s", data, 12)
    assert jtype == b"JSON" and jlen % 4 == 0
    doc = json.loads(data[20 : 20 + jlen])
    blen, btype = struct.unpack_from("<I4s", data, 20 + jlen)
    assert btype == b"BIN\0" and blen % 4 == 0
    binary = data[28 + jlen : 28 + jlen + blen]
    dtypes = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8}
    widths = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}
    arrays = {}
    for i, acc in enumerate(doc["accessors"]):
        view = doc["bufferViews"][acc["bufferView"]]
        assert view["byteOffset"] % 4 == 0
        arr = np.frombuffer(
            binary, dtypes[acc["componentType"]], acc["count"] * widths[acc["type"]], view["byteOffset"]
        )
        arrays[i] = arr.reshape(acc["count"], widths[acc["type"]]) if widths[acc["type"]] > 1 else arr
    return doc, arrays


def hm_of(img, **kw):
    kw.setdefault("resolution", 512)
    return compute_heightmap(load_image(img), **kw)


def grid_index(m, hm):
    """Map each top lattice vertex back to its (row, col) pixel via its x, y."""
    H, W = hm.shape
    v = m.vertices
    col = v[:, 0] / hm.pixel_mm + (W - 1) / 2.0
    row = (H - 1) / 2.0 - v[:, 1] / hm.pixel_mm
    return (
        np.round(row).astype(int),
        np.round(col).astype(int),
        np.isclose(col, np.round(col), atol=1e-3) & np.isclose(row, np.round(row), atol=1e-3),
    )


@pytest.fixture(scope="session")
def example_paths(tmp_path_factory):
    return examples.draw_examples(tmp_path_factory.mktemp("examples"), size=96)


@pytest.fixture(scope="session")
def glb_dir(tmp_path_factory):
    """Every GLB the tests write lands here; one test validates them all at the end."""
    return tmp_path_factory.mktemp("glbs")


def keep_glb(glb_dir, name: str, data: bytes) -> None:
    (glb_dir / f"{name}.glb").write_bytes(data)


# ---------------------------------------------------------------- examples


def test_examples_are_deterministic_and_complete(tmp_path, example_paths):
    again = examples.draw_examples(tmp_path, size=96)
    assert list(again) == list(examples.DESCRIPTIONS)
    for name, path in example_paths.items():
        assert path.read_bytes() == again[name].read_bytes(), name
    with pytest.raises(ValueError, match="Unknown example"):
        examples.draw_example("nope")


# ---------------------------------------------------------------- heights


def test_heights_match_brightness_at_sampled_pixels(glb_dir):
    rng = np.random.default_rng(1)
    rgb = rng.integers(1, 256, size=(40, 50, 3), dtype=np.uint8)  # no pure black
    hm = hm_of(rgb, base_mm=1.5, max_height_mm=12.0, colors=False)
    luma = (rgb.astype(np.float64) @ np.array(LUMA_WEIGHTS)) / 255.0
    expected = 1.5 + 12.0 * luma
    np.testing.assert_allclose(hm.heights_mm, expected, atol=1e-4)
    # The same heights reach the mesh vertices and the GLB (in metres).
    m = build_mesh(hm)
    rows, cols, on_grid = grid_index(m, hm)
    assert on_grid.all()
    np.testing.assert_allclose(m.vertices[:, 2], expected[rows, cols], atol=1e-4)
    doc, arrays = parse_glb(glb_bytes(m))
    pos = arrays[doc["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]
    np.testing.assert_allclose(pos[:, 2] * 1000.0, expected[rows, cols], atol=1e-3)


def test_gamma_invert_and_16bit():
    ramp = np.linspace(0, 65535, 300).astype(np.uint16)[None].repeat(4, axis=0)
    img = Image.fromarray(ramp, mode="I;16")
    loaded = load_image(png_bytes(img))
    assert loaded.max_value == 65535.0
    hm = compute_heightmap(loaded, resolution=300, base_mm=0.0, max_height_mm=1.0, gamma=2.0, invert=True)
    lum = ramp[0].astype(np.float64) / 65535.0
    expected = np.where(ramp[0] == 0, 0.0, 1.0 - lum**2.0)  # black (0) stays welded at 0
    np.testing.assert_allclose(hm.heights_mm[0], expected, atol=1e-5)
    # 16 bits give more distinct heights than 8 bits could.
    assert len(np.unique(hm.heights_mm[0])) > 256


def test_black_pixels_at_zero_and_merged(example_paths, glb_dir):
    hm = hm_of(example_paths["logo_on_black"])
    assert hm.black.mean() > 0.5 and (hm.heights_mm[hm.black] == 0).all() and (hm.heights_mm[~hm.black] >= 1.0).all()
    m = build_mesh(hm)
    rows, cols, on_grid = grid_index(m, hm)
    top = on_grid  # plane centres sit between pixels
    assert (m.vertices[top][hm.black[rows[top], cols[top]], 2] == 0).all()
    flat_ids = np.unique(m.flat_faces)
    assert (m.vertices[flat_ids, 2] == 0).all()
    # Merging: far fewer triangles than two per black cell.
    assert len(m.flat_faces) < 0.15 * 2 * m.black_cells
    keep_glb(glb_dir, "logo", glb_bytes(m))


def test_transparent_pixels_count_as_black(example_paths):
    loaded = load_image(example_paths["transparent_badge"])
    assert loaded.mode == "RGBA"
    hm = compute_heightmap(loaded, resolution=96)
    alpha0 = loaded.pixels[..., 3] == 0
    assert alpha0.any() and (loaded.pixels[alpha0][:, :3] == 255).all()  # white but transparent
    assert hm.black[alpha0].all() and (hm.heights_mm[alpha0] == 0).all()


def test_black_threshold():
    img = np.array([[0, 5, 10, 200]] * 3, np.uint8)
    assert hm_of(img).black[0].tolist() == [True, False, False, False]
    assert hm_of(img, black_threshold=5).black[0].tolist() == [True, True, False, False]
    assert hm_of(img, black_threshold=10).black[0].tolist() == [True, True, True, False]


# ---------------------------------------------------------------- mesh topology


def top_surface_edges(m):
    faces = np.concatenate([m.relief_faces, m.flat_faces]).astype(np.int64)
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    key = np.sort(e, axis=1)
    uniq, counts = np.unique(key, axis=0, return_counts=True)
    return uniq, counts


@pytest.mark.parametrize("name", ["logo_on_black", "text", "transparent_badge", "dome"])
def test_seam_is_shared_without_cracks_or_duplicates(example_paths, name):
    hm = hm_of(example_paths[name])
    m = build_mesh(hm, black="transparent")
    # No two vertices at the same place: the seam is welded, not stitched.
    assert len(np.unique(m.vertices, axis=0)) == len(m.vertices)
    # The plane and the relief share vertices (the seam).
    assert np.intersect1d(np.unique(m.relief_faces), np.unique(m.flat_faces)).size > 0
    # Every interior edge has exactly two triangles; edges with one lie on the
    # outer border of the grid. A T-junction or crack would leave inner boundary edges.
    uniq, counts = top_surface_edges(m)
    assert counts.max() == 2
    border = uniq[counts == 1]
    v = m.vertices[border]  # (E, 2, 3)
    x_lim, y_lim = np.abs(m.vertices[:, 0]).max(), np.abs(m.vertices[:, 1]).max()
    on_border = (np.isclose(np.abs(v[..., 0]), x_lim).all(axis=1) & np.isclose(v[:, 0, 0], v[:, 1, 0])) | (
        np.isclose(np.abs(v[..., 1]), y_lim).all(axis=1) & np.isclose(v[:, 0, 1], v[:, 1, 1])
    )
    assert on_border.all()
    # Every top triangle faces up (counter-clockwise seen from above).
    f = np.concatenate([m.relief_faces, m.flat_faces]).astype(np.int64)
    a, b, c = m.vertices[f[:, 0]], m.vertices[f[:, 1]], m.vertices[f[:, 2]]
    cross_z = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    assert (cross_z > 0).all()


def test_triangle_counts_match_geometry(example_paths):
    hm = hm_of(example_paths["logo_on_black"])
    H, W = hm.shape
    flat_cells = mesh.black_cells(hm.black)
    m = build_mesh(hm)
    assert len(m.relief_faces) == 2 * int((~flat_cells).sum())
    # Each merged rectangle: 2 triangles, or one per needed border point around a centre.
    r0, c0, r1, c1 = mesh.merge_rectangles(flat_cells)
    assert m.flat_pieces == r0.size
    # The xy areas add up: relief cells plus black cells fill the whole grid.
    f = m.flat_faces.astype(np.int64)
    a, b, c = m.vertices[f[:, 0]], m.vertices[f[:, 1]], m.vertices[f[:, 2]]
    area = 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))
    assert np.isclose(area.sum(), flat_cells.sum() * hm.pixel_mm**2, rtol=1e-5)
    assert np.isclose(((r1 - r0) * (c1 - c0)).sum(), flat_cells.sum())
    # Solid: the outer border has 2 (H-1) + 2 (W-1) unit edges, two wall triangles each.
    s = build_mesh(hm, solid=True)
    assert len(s.wall_faces) == 2 * (2 * (H - 1) + 2 * (W - 1))
    assert len(s.bottom_faces) == 2 * (H - 1) + 2 * (W - 1)  # one fan around the centre


def test_merge_rectangles_covers_mask_exactly():
    rng = np.random.default_rng(3)
    for density in (0.2, 0.6, 0.95):
        mask = rng.random((37, 53)) < density
        r0, c0, r1, c1 = mesh.merge_rectangles(mask)
        paint = np.zeros(mask.shape, int)
        for a, b, c, d in zip(r0, c0, r1, c1):
            paint[a:c, b:d] += 1
        assert (paint == mask).all()
    assert mesh.merge_rectangles(np.zeros((4, 4), bool))[0].size == 0


@pytest.mark.parametrize("black", ["transparent", "cut", "opaque"])
@pytest.mark.parametrize("name", ["logo_on_black", "text", "texture"])
def test_solid_is_watertight(example_paths, glb_dir, name, black):
    hm = hm_of(example_paths[name])
    m = build_mesh(hm, black=black, solid=True, floor_mm=2.0)
    found = checks.trimesh_checks(m)
    assert found["watertight"] and found["winding_consistent"] and found["volume_mm3"] > 0
    keep_glb(glb_dir, f"solid_{name}_{black}", glb_bytes(m, black_alpha=0.4))


def test_solid_volume_of_white_block():
    hm = hm_of(np.full((10, 20), 255, np.uint8), base_mm=1.0, max_height_mm=4.0, size_mm=38.0)
    m = build_mesh(hm, solid=True, floor_mm=3.0)
    found = checks.trimesh_checks(m)
    expected = (19 * hm.pixel_mm) * (9 * hm.pixel_mm) * (1.0 + 4.0 + 3.0)
    assert found["watertight"] and np.isclose(found["volume_mm3"], expected, rtol=1e-5)


def test_cut_fills_bowties_and_stays_watertight():
    checker = (np.indices((12, 12)).sum(axis=0) % 2 * 255).astype(np.uint8)
    checker = np.kron(checker, np.ones((2, 2), np.uint8))  # 2x2 pixel squares touch at corners
    hm = hm_of(checker)
    m = build_mesh(hm, black="cut", solid=True)
    assert checks.trimesh_checks(m)["watertight"]
    assert len(m.flat_faces) == 0


# ---------------------------------------------------------------- files


def test_glb_structure_and_materials(example_paths):
    hm = hm_of(example_paths["logo_on_black"])
    doc, _ = parse_glb(glb_bytes(build_mesh(hm), black_alpha=0.0))
    prims = doc["meshes"][0]["primitives"]
    mats = {m["name"]: m for m in doc["materials"]}
    assert [doc["materials"][p["material"]]["name"] for p in prims] == ["relief", "black_plane"]
    assert (
        mats["black_plane"]["alphaMode"] == "MASK"
        and mats["black_plane"]["pbrMetallicRoughness"]["baseColorFactor"][3] == 0.0
    )
    # One POSITION accessor shared by both primitives: the seam is welded in the file.
    assert prims[0]["attributes"]["POSITION"] == prims[1]["attributes"]["POSITION"]
    doc, _ = parse_glb(glb_bytes(build_mesh(hm), black_alpha=0.3))
    assert {m["name"]: m for m in doc["materials"]}["black_plane"]["alphaMode"] == "BLEND"
    doc, _ = parse_glb(glb_bytes(build_mesh(hm, black="opaque")))
    assert "alphaMode" not in {m["name"]: m for m in doc["materials"]}["black_plane"]
    doc, _ = parse_glb(glb_bytes(build_mesh(hm, black="cut")))
    assert [m["name"] for m in doc["materials"]] == ["relief"]


def test_colours_survive_glb_and_obj(tmp_path, example_paths):
    hm = hm_of(example_paths["texture"])
    m = build_mesh(hm)
    rows, cols, on_grid = grid_index(m, hm)
    expected = hm.colors[rows, cols]
    doc, arrays = parse_glb(glb_bytes(m, colors=True))
    relief = doc["meshes"][0]["primitives"][0]
    acc = doc["accessors"][relief["attributes"]["COLOR_0"]]
    assert acc["normalized"] and acc["componentType"] == 5123  # 16-bit linear, per the glTF spec
    back = linear_u16_to_srgb(arrays[relief["attributes"]["COLOR_0"]])
    assert (back == expected).all()
    # OBJ vertex colours: trimesh puts them in vertex_attributes when materials are present.
    import trimesh

    res = convert(example_paths["texture"], Settings(resolution=48), tmp_path)
    zipfile.ZipFile(res.obj_zip_path).extractall(tmp_path / "obj")
    scene = trimesh.load(tmp_path / "obj" / "texture.obj", process=False)
    rel = scene.geometry["relief"] if hasattr(scene, "geometry") else scene
    col = np.round(np.asarray(rel.vertex_attributes["color"], np.float64)[:, :3] * 255.0)  # floats in 0..1 here
    hm48 = hm_of(example_paths["texture"], resolution=48)
    H, W = hm48.shape
    c = np.round(rel.vertices[:, 0] / hm48.pixel_mm + (W - 1) / 2).astype(int)
    r = np.round((H - 1) / 2 - rel.vertices[:, 1] / hm48.pixel_mm).astype(int)
    assert np.abs(col.astype(int) - hm48.colors[r, c].astype(int)).max() <= 1
    # trimesh reads our GLB too (COLOR_0 lands, raw, in visual.vertex_attributes).
    glb_scene = trimesh.load(res.glb_path, process=False)
    raw = np.asarray(glb_scene.geometry["relief"].visual.vertex_attributes["color"])
    assert raw.dtype == np.uint16 and raw.shape[1] == 4


def test_convert_writes_files_that_reload(tmp_path, example_paths, glb_dir):
    import trimesh

    seen = []
    res = convert(
        example_paths["logo_on_black"],
        Settings(solid=True, resolution=64),
        tmp_path,
        progress=lambda f, d: seen.append(f),
    )
    assert seen[0] == 0.0 and seen[-1] == 1.0
    s = res.stats
    assert s["watertight"] and s["volume_mm3"] > 0
    assert s["triangles"] == s["relief_triangles"] + s["flat_triangles"] + s["wall_triangles"] + s["bottom_triangles"]
    assert s["flat_triangles"] < s["black_cells_as_two_triangles_each"]
    assert s["glb_bytes"] == res.glb_path.stat().st_size > 0
    assert {"load", "heightmap", "mesh", "glb", "obj", "stl", "check", "total"} <= set(res.timings)
    stl = trimesh.load(res.stl_path)
    assert len(stl.faces) == s["triangles"] and stl.is_watertight
    with zipfile.ZipFile(res.obj_zip_path) as zf:
        assert sorted(zf.namelist()) == ["logo_on_black.mtl", "logo_on_black.obj"]
        zf.extractall(tmp_path / "obj")
    scene = trimesh.load(tmp_path / "obj" / "logo_on_black.obj", process=False)
    geoms = scene.geometry if hasattr(scene, "geometry") else {"all": scene}
    assert sum(len(g.faces) for g in geoms.values()) == s["triangles"]
    assert set(geoms) == {"relief", "black_plane", "base"}
    assert "d 0.0" in (tmp_path / "obj" / "logo_on_black.mtl").read_text()
    keep_glb(glb_dir, "convert_logo_solid", res.glb_path.read_bytes())


def test_image_to_glb_bytes_in_memory(example_paths, glb_dir):
    img = Image.open(example_paths["text"])
    data = image_to_glb_bytes(img, Settings(colours=False, smoothing=1.0, gamma=0.7))
    assert data[:4] == b"glTF" and struct.unpack_from("<I", data, 8)[0] == len(data)
    keep_glb(glb_dir, "text_in_memory", data)
    keep_glb(glb_dir, "array_input", image_to_glb_bytes(np.asarray(img), Settings(invert=True)))


# ---------------------------------------------------------------- bad or odd input


def test_not_an_image(tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"this is not a png at all" * 10)
    with pytest.raises(ImageInputError, match="not an image"):
        load_image(fake)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageInputError, match="empty"):
        load_image(tmp_path / "empty.png")
    with pytest.raises(ImageInputError, match="not found"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="No image"):
        convert(None, Settings(), tmp_path)


def test_truncated_png(example_paths):
    data = example_paths["texture"].read_bytes()
    with pytest.raises(ImageInputError, match="truncated or corrupt"):
        load_image(data[: len(data) // 2])


def _png_with_size(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims another size (CRC fixed): a bomb in miniature."""
    data = bytearray(png_bytes(Image.new("L", (1, 1))))
    struct.pack_into(">II", data, 16, width, height)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


@pytest.mark.parametrize("size", [(7000, 7000), (60000, 60000)])
def test_huge_dimensions_are_refused_before_decoding(size):
    with pytest.raises(ImageInputError, match="limit"):
        load_image(_png_with_size(*size))


def test_one_pixel_image(glb_dir):
    hm = hm_of(png_bytes(Image.new("RGB", (1, 1), (200, 100, 50))))
    assert hm.shape == (2, 2) and any("enlarged" in n for n in hm.notes)
    m = build_mesh(hm)
    assert len(m.relief_faces) == 2
    keep_glb(glb_dir, "one_pixel", glb_bytes(m))


@pytest.mark.parametrize("size", [(1, 300), (300, 1), (2, 2)])
def test_thin_images(size, glb_dir):
    img = Image.fromarray(np.linspace(30, 250, size[0] * size[1]).reshape(size[1], size[0]).astype(np.uint8), mode="L")
    data = image_to_glb_bytes(png_bytes(img), Settings(resolution=256, solid=True))
    keep_glb(glb_dir, f"thin_{size[0]}x{size[1]}", data)


def test_file_size_limit(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    path.write_bytes(png_bytes(Image.new("RGB", (64, 64), (1, 2, 3))) + b"\0" * 5000)
    monkeypatch.setattr(heightmap, "MAX_FILE_BYTES", 1000)
    with pytest.raises(ImageInputError, match="limit"):
        load_image(path)


def test_all_black_is_one_flat_plane(tmp_path, glb_dir):
    black = png_bytes(Image.new("RGB", (64, 48), 0))
    m = build_mesh(hm_of(black))
    assert len(m.relief_faces) == 0 and len(m.flat_faces) == 2 and m.flat_pieces == 1
    assert (m.vertices[:, 2] == 0).all()
    keep_glb(glb_dir, "all_black", glb_bytes(m))
    solid = build_mesh(hm_of(black), solid=True)
    assert checks.trimesh_checks(solid)["watertight"]
    keep_glb(glb_dir, "all_black_solid", glb_bytes(solid))
    with pytest.raises(MeshError, match="nothing is left"):
        build_mesh(hm_of(black), black="cut")
    with pytest.raises(ValueError, match="nothing is left"):
        image_to_glb_bytes(black, Settings(black="cut"))


def test_all_white_and_zero_height(glb_dir):
    white = png_bytes(Image.new("L", (30, 20), 255))
    m = build_mesh(hm_of(white, base_mm=1.0, max_height_mm=5.0))
    assert np.allclose(m.vertices[:, 2], 6.0) and len(m.flat_faces) == 0
    keep_glb(glb_dir, "all_white", glb_bytes(m))
    flat = image_to_glb_bytes(white, Settings(max_height_mm=0, base_mm=0, solid=True))
    keep_glb(glb_dir, "zero_height_solid", flat)
    zero = build_mesh(hm_of(white, base_mm=0.0, max_height_mm=0.0), solid=True)
    assert checks.trimesh_checks(zero)["watertight"]


def test_palette_la_and_other_formats(tmp_path, glb_dir):
    pal = Image.new("P", (20, 20), 0)
    pal.putpalette([0, 0, 0, 255, 255, 255, 10, 200, 30] + [0] * (256 * 3 - 9))
    for x in range(5, 15):
        for y in range(5, 15):
            pal.putpixel((x, y), 2)
    pal.putpixel((0, 0), 1)
    loaded = load_image(png_bytes(pal, transparency=1))
    hm = compute_heightmap(loaded)
    assert hm.black[0, 0] and not hm.black[10, 10]  # transparent palette entry counts as black
    la = Image.fromarray(
        np.dstack([np.full((8, 8), 200, np.uint8), np.r_[np.zeros((4, 8)), np.full((4, 8), 255)].astype(np.uint8)]),
        mode="LA",
    )
    hm = compute_heightmap(load_image(png_bytes(la)))
    assert hm.black[:4].all() and not hm.black[4:].any()
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 90, 90)).save(buf, format="JPEG")
    loaded = load_image(buf.getvalue())
    assert loaded.format == "JPEG" and any("not a PNG" in n for n in loaded.notes)
    keep_glb(glb_dir, "jpeg", image_to_glb_bytes(buf.getvalue()))


def test_absurd_settings_are_rejected_clearly():
    for bad, field in [
        (dict(gamma=1e9), "gamma"),
        (dict(gamma=float("nan")), "gamma"),
        (dict(resolution=-5), "resolution"),
        (dict(resolution=10**7), "resolution"),
        (dict(max_height_mm="tall"), "max_height_mm"),
        (dict(smoothing=-1), "smoothing"),
        (dict(black="purple"), "black"),
        (dict(source="x-ray"), "source"),
        (dict(solid="maybe"), "solid"),
        (dict(floor_mm=0), "floor_mm"),
        (dict(black_alpha=None), "black_alpha"),
        (dict(size_mm=float("inf")), "size_mm"),
    ]:
        with pytest.raises(SettingsError, match=field):
            Settings(**bad).validate()
    ok = Settings(resolution="128", gamma="2", solid="true", black=" CUT ").validate()
    assert ok.resolution == 128 and ok.gamma == 2.0 and ok.solid is True and ok.black == "cut"
    for name, (lo, hi) in RANGES.items():
        assert lo <= getattr(Settings(), name) <= hi, name


# ---------------------------------------------------------------- depth model


def test_depth_model_plumbing_offline(tmp_path, example_paths, glb_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = build_tiny_depth_model(tmp_path / "tiny-depth")
    assert (folder / "config.json").is_file() and (folder / "preprocessor_config.json").is_file()
    res = convert(
        example_paths["dome"], Settings(source="depth", depth_model=str(folder), resolution=48), tmp_path / "out"
    )
    assert "depth" in res.timings and res.stats["relief_triangles"] > 0
    keep_glb(glb_dir, "depth_tiny", res.glb_path.read_bytes())
    # The loaded pipeline is cached: a second conversion reuses it.
    hits = load_depth_pipeline.cache_info().hits
    image_to_glb_bytes(example_paths["dome"], Settings(source="depth", depth_model=str(folder), resolution=32))
    assert load_depth_pipeline.cache_info().hits == hits + 1
    # A hub id that is not cached, offline: a clear message, not a traceback.
    with pytest.raises(DepthModelError, match="could not be loaded.*local-dir"):
        resolve_model("someone/not-a-cached-depth-model")
    with pytest.raises(DepthModelError, match="does not exist"):
        resolve_model(str(tmp_path / "no" / "such" / "folder"))
    (tmp_path / "empty-model").mkdir()
    with pytest.raises(DepthModelError, match="no config.json"):
        resolve_model(str(tmp_path / "empty-model"))


def test_missing_transformers_gives_the_install_command(monkeypatch, tmp_path, example_paths):
    from labs.png_to_glb import depth
    from shared.optional import MissingDependency

    # None in sys.modules makes "import transformers" fail as if it were not installed.
    monkeypatch.setitem(sys.modules, "transformers", None)
    hint = r"'transformers' is not installed \(needed for depth from a model\).*requirements/png_to_glb\.txt"
    with pytest.raises(MissingDependency, match=hint):
        depth.load_depth_pipeline(str(tmp_path / "some-model"), "cpu")
    with pytest.raises(MissingDependency, match=hint):
        convert(example_paths["dome"], Settings(source="depth"), tmp_path / "out")
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(MissingDependency, match="'huggingface_hub' is not installed.*requirements/png_to_glb"):
        resolve_model("someone/some-depth-model")


# ---------------------------------------------------------------- output folders


@pytest.fixture
def fresh_private_root():
    from labs.png_to_glb import convert as conversion

    conversion._private_root.cache_clear()
    yield conversion
    conversion._private_root.cache_clear()


def test_each_conversion_gets_a_folder_and_old_ones_are_removed(tmp_path, fresh_private_root):
    import time

    conversion = fresh_private_root
    old = conversion.new_output_dir(tmp_path)
    (old / "logo.glb").write_bytes(b"glTF")
    recent = conversion.new_output_dir(tmp_path)
    two_hours_ago = time.time() - 2 * 3600
    os.utime(old, (two_hours_ago, two_hours_ago))
    examples_dir = tmp_path / "examples"  # not a conversion folder: never removed
    examples_dir.mkdir()
    os.utime(examples_dir, (two_hours_ago, two_hours_ago))
    new = conversion.new_output_dir(tmp_path)
    assert new.name.startswith("run_") and new.parent == tmp_path
    assert not old.exists() and recent.is_dir() and new.is_dir() and examples_dir.is_dir()
    assert conversion.remove_old_outputs(tmp_path, now=time.time() + 2 * 3600) == 2  # recent and new


def test_temp_root_is_per_user_and_refuses_a_folder_it_does_not_own(tmp_path, monkeypatch, fresh_private_root):
    import tempfile

    conversion = fresh_private_root
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    root = conversion.temp_root()
    assert root == tmp_path / f"png_to_glb-{user}" and root.is_dir()
    assert conversion.new_output_dir().parent == root
    # Someone else put a link (or their own folder) at that name: a private folder is used instead.
    root.rename(tmp_path / "moved")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    root.symlink_to(elsewhere, target_is_directory=True)
    private = conversion.temp_root()
    assert private != root and private.is_dir() and private.name.startswith(f"png_to_glb-{user}-")
    assert conversion.temp_root() == private  # the same one every time, not a new folder per call
    assert conversion.new_output_dir().parent == private and not any(elsewhere.iterdir())


def test_file_size_limit_is_the_shared_upload_limit():
    from shared.uploads import MAX_UPLOAD_BYTES

    assert heightmap.MAX_FILE_BYTES == MAX_UPLOAD_BYTES


# ---------------------------------------------------------------- house rules


def test_logic_modules_import_light():
    code = (
        "import sys; import labs.png_to_glb.convert, labs.png_to_glb.mesh, labs.png_to_glb.heightmap, "
        "labs.png_to_glb.depth, labs.png_to_glb.examples; "
        "heavy = [m for m in ('gradio', 'torch', 'transformers', 'trimesh') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})


# ---------------------------------------------------------------- validator (runs last)


def test_zz_every_glb_passes_the_khronos_validator(glb_dir, example_paths):
    reason = gv.validator_missing()
    if reason:
        skip_or_fail(reason)
    # Add the full matrix of modes on one example, then validate everything at once.
    hm = hm_of(example_paths["transparent_badge"])
    for black in ("transparent", "cut", "opaque"):
        for solid in (False, True):
            for colors in (False, True):
                m = build_mesh(hm, black=black, solid=solid)
                keep_glb(glb_dir, f"badge_{black}_{solid}_{colors}", glb_bytes(m, colors=colors, black_alpha=0.25))
    paths = sorted(glb_dir.glob("*.glb"))
    assert len(paths) >= 25
    reports = gv.validate(*paths)
    bad = {Path(p).name: gv.errors_of(r)[:3] for p, r in reports.items() if gv.errors_of(r)}
    assert not bad, bad
    # And junk is rejected, not crashed on.
    junk = glb_dir / "junk.bin"
    junk.write_bytes(b"not a glb")
    assert "error" in gv.validate(junk)[str(junk)]


def test_readme_black_threshold_step_does_what_it_says(tmp_path):
    import re

    readme = (Path(__file__).resolve().parents[1] / "labs" / "png_to_glb" / "README.md").read_text()
    found = re.search(r"Raise \*Black threshold\* to (\d+) on the (\w+) example", readme)
    assert found, "the Things to try step about the black threshold is missing"
    threshold, name = int(found.group(1)), found.group(2)
    image = examples.draw_example(name, size=64)
    cells = [convert(image, Settings(resolution=64, black_threshold=t), tmp_path / str(t)).stats["black_cells"]
             for t in (0, threshold)]
    assert cells[1] > cells[0], f"threshold {threshold} on the {name} example joins no dark area to the plane"
