"""Unit tests for shared/: optional imports, uploads, device detection, coroutines from sync code."""

import asyncio
import io
import struct
import zlib

import pytest

from shared import aio, device, optional, uploads


# --- optional -------------------------------------------------------------------------------

def test_missing_finds_absent_modules_without_importing():
    assert optional.missing(["json", "definitely_not_a_module_xyz"]) == ["definitely_not_a_module_xyz"]


def test_require_names_the_install_command():
    with pytest.raises(optional.MissingDependency, match=r"pip install -c requirements/constraints.txt -r requirements/demo.txt"):
        optional.require("definitely_not_a_module_xyz", slug="demo", purpose="a test")
    assert optional.require("json").dumps([1]) == "[1]"


def test_install_hint_maps_import_names_to_distributions():
    assert optional.install_hint(modules=["PIL", "sklearn"]) == "pip install pillow scikit-learn"


# --- uploads --------------------------------------------------------------------------------

def _png_bytes(width=4, height=3):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_sniff_uses_bytes_not_names(tmp_path):
    fake = tmp_path / "photo.png"
    fake.write_bytes(b"PK\x03\x04 not really a png")
    assert uploads.sniff(fake) == "zip"
    with pytest.raises(uploads.UploadError, match="looks like ZIP"):
        uploads.check_file(fake, kinds=("png",), what="image")


def test_check_file_rejects_missing_empty_and_huge(tmp_path):
    with pytest.raises(uploads.UploadError, match="No image was given"):
        uploads.check_file(None, kinds=("png",), what="image")
    empty = tmp_path / "e.png"
    empty.write_bytes(b"")
    with pytest.raises(uploads.UploadError, match="empty"):
        uploads.check_file(empty, kinds=("png",))
    real = tmp_path / "r.png"
    real.write_bytes(_png_bytes())
    with pytest.raises(uploads.UploadError, match="limit"):
        uploads.check_file(real, kinds=("png",), max_bytes=10)
    assert uploads.check_file(real, kinds=("png",)) == "png"


def test_open_image_reads_a_real_png(tmp_path):
    path = tmp_path / "ok.png"
    path.write_bytes(_png_bytes(5, 7))
    assert uploads.open_image(path).size == (5, 7)


def test_open_image_refuses_truncated_png(tmp_path):
    path = tmp_path / "cut.png"
    path.write_bytes(_png_bytes(64, 64)[:60])
    with pytest.raises(uploads.UploadError, match="truncated or corrupt|could not be read"):
        uploads.open_image(path)


def test_open_image_refuses_pixel_bombs_before_decoding(tmp_path):
    # A valid PNG header claiming 100000 x 100000 pixels with almost no data: decoding it would
    # need 30 GB, so the check must happen on the header alone.
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    with pytest.raises(uploads.UploadError, match="megapixels"):
        uploads.open_image(path)


# --- device ---------------------------------------------------------------------------------

def test_detect_reports_a_known_kind():
    info = device.detect()
    assert info.kind in {"cpu", "cuda", "mps"}
    assert info.describe()


def test_gpu_decorator_is_a_no_op_off_zerogpu(monkeypatch):
    monkeypatch.delenv(device.ZEROGPU_ENV, raising=False)

    def f(x):
        return x + 1

    assert device.gpu(f) is f
    assert device.gpu(duration=5)(f) is f


def test_gpu_decorator_applies_spaces_gpu_on_zerogpu(monkeypatch):
    import sys
    import types

    calls = []
    fake = types.ModuleType("spaces")
    fake.GPU = lambda duration: (lambda fn: calls.append(duration) or (lambda *a: ("wrapped", fn(*a))))
    monkeypatch.setitem(sys.modules, "spaces", fake)
    monkeypatch.setenv(device.ZEROGPU_ENV, "true")
    wrapped = device.gpu(duration=42)(lambda x: x * 2)
    assert calls == [42]
    assert wrapped(3) == ("wrapped", 6)


# --- aio ------------------------------------------------------------------------------------

async def _double(x):
    await asyncio.sleep(0)
    return 2 * x


def test_run_sync_without_a_loop():
    assert aio.run_sync(_double(4)) == 8


def test_run_sync_inside_a_running_loop_nests():
    async def outer():
        return aio.run_sync(_double(5))  # plain asyncio.run here would raise RuntimeError

    assert asyncio.run(outer()) == 10


def test_run_sync_inside_a_loop_without_nesting_uses_a_thread():
    async def outer():
        return aio.run_sync(_double(6), allow_nesting=False)

    assert asyncio.run(outer()) == 12


def test_run_sync_under_uvloop_falls_back_to_a_thread():
    uvloop = pytest.importorskip("uvloop")

    async def outer():
        return aio.run_sync(_double(7))

    assert uvloop.run(outer()) == 14


def test_open_image_closes_the_file_of_an_image_it_refuses(tmp_path, monkeypatch):
    from PIL import Image

    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(real_open(*a, **k)) or opened[-1])
    cut = tmp_path / "cut.png"
    cut.write_bytes(_png_bytes(64, 64)[:80])
    with pytest.raises(uploads.UploadError):
        uploads.open_image(cut)
    big = tmp_path / "big.png"
    big.write_bytes(_png_bytes(40, 40))
    with pytest.raises(uploads.UploadError, match="megapixels"):
        uploads.open_image(big, max_pixels=100)
    assert len(opened) == 2 and all(img.fp is None for img in opened)


def test_detect_without_torch_reports_one_cpu_device(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    info = device.detect()
    assert info.kind == "cpu" and info.count == 1 and "torch is not installed" in " ".join(info.notes)
