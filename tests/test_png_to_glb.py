"""png_to_glb through its UI layer: end-to-end calls with gradio_client, bad input, the code panel."""

import io
import struct
from pathlib import Path

import pytest
from PIL import Image

from labs.png_to_glb import app


@pytest.fixture(scope="module")
def client():
    from tests.conftest import free_port, timed_client

    app.demo.queue()
    _, url, _ = app.demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    yield timed_client(url, verbose=False, download_files=False)
    app.demo.close()


def _glb_path(preview):
    return preview["path"] if isinstance(preview, dict) else preview


def test_shipped_example_converts_through_the_api(client):
    from gradio_client import handle_file

    example = app._example_files()[0][0]
    root = app.conversion.temp_root()  # per OS user: examples and conversions live here
    assert app.EXAMPLES_DIR == root / "examples" and example.startswith(str(app.EXAMPLES_DIR))
    before = set(root.glob("run_*"))
    preview, files, heights, validation, stats = client.predict(handle_file(example), api_name="/png_to_glb_convert")
    made = set(root.glob("run_*")) - before
    assert len(made) == 1 and (made.pop() / f"{Path(example).stem}.glb").is_file()
    glb = open(_glb_path(preview), "rb").read()
    assert glb[:4] == b"glTF" and struct.unpack("<I", glb[8:12])[0] == len(glb)
    assert _extensions(files) == ["glb"]  # OBJ and STL are written when asked for
    assert "merged into" in stats and "Heights computed on" in stats and "STL: on request" in stats
    assert "Structural checks" in validation and "FAILED" not in validation and "STL size" not in validation


def _extensions(files) -> list[str]:
    return sorted(f["path"].rsplit(".", 1)[-1] if isinstance(f, dict) else f.rsplit(".", 1)[-1] for f in files)


def test_obj_and_stl_are_written_on_request_from_the_same_mesh(client, tmp_path):
    import zipfile

    from gradio_client import handle_file

    path = tmp_path / "steps.png"
    img = Image.new("L", (48, 32), 0)
    img.paste(90, (4, 4, 24, 28))
    img.paste(250, (24, 4, 44, 28))
    img.save(path)
    preview, *_ = client.predict(handle_file(str(path)), api_name="/png_to_glb_convert")
    files, validation, note = client.predict(api_name="/png_to_glb_add_stl")
    assert _extensions(files) == ["glb", "stl"] and "STL written in" in note
    assert "✓ STL size = 84 + 50 x triangles" in validation and "FAILED" not in validation
    files, validation, _ = client.predict(api_name="/png_to_glb_add_obj")
    assert _extensions(files) == ["glb", "stl", "zip"]
    assert "✓ OBJ lines = vertices + triangles" in validation
    # The OBJ describes the GLB's mesh: the same vertex count as the GLB's POSITION accessor.
    import json

    glb = open(_glb_path(preview), "rb").read()
    doc = json.loads(glb[20:20 + struct.unpack_from("<I", glb, 12)[0]])
    glb_vertices = doc["accessors"][doc["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]["count"]
    paths = [f["path"] if isinstance(f, dict) else f for f in files]
    zip_path = next(p for p in paths if p.endswith(".zip"))
    with zipfile.ZipFile(zip_path) as zf:
        obj = zf.read("steps.obj").decode()
    assert sum(line.startswith("v ") for line in obj.splitlines()) == glb_vertices


def test_asking_for_stl_before_any_conversion_says_what_to_do(client):
    from gradio_client.exceptions import AppError

    from tests.conftest import timed_client

    fresh = timed_client(client.src, verbose=False, download_files=False)  # a new session: nothing converted yet
    with pytest.raises(AppError, match="Convert an image first"):
        fresh.predict(api_name="/png_to_glb_add_stl")


def test_solid_mode_through_the_api_is_watertight(client, tmp_path):
    from gradio_client import handle_file

    path = tmp_path / "ring.png"
    img = Image.new("L", (40, 30), 0)
    img.paste(200, (10, 5, 30, 25))
    img.save(path)
    *_, stats = client.predict(handle_file(str(path)), "brightness", "", 1.0, False, 0.0, 5.0, 1.0, 50.0, 40,
                               0, "transparent", 0.0, True, 2.0, False, api_name="/png_to_glb_convert")
    assert "| Watertight | yes · checked by trimesh |" in stats


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"this is not an image at all", "could not|not an image|not a format"),
        (None, "truncated|corrupt|could not"),
    ],
    ids=["text-named-png", "truncated-png"],
)
def test_bad_files_get_a_clear_message(client, tmp_path, payload, message):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    if payload is None:
        buf = io.BytesIO()
        Image.new("RGB", (64, 64), "red").save(buf, format="PNG")
        payload = buf.getvalue()[:80]
    path = tmp_path / "bad.png"
    path.write_bytes(payload)
    with pytest.raises(AppError, match=f"(?i){message}"):
        client.predict(handle_file(str(path)), api_name="/png_to_glb_convert")


def test_absurd_settings_through_the_api_are_refused(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    path = tmp_path / "ok.png"
    Image.new("L", (8, 8), 128).save(path)
    with pytest.raises(AppError, match="greater than maximum value 1024|resolution must be between"):
        client.predict(handle_file(str(path)), "brightness", "", 1.0, False, 0.0, 5.0, 1.0, 50.0, 10**9,
                       0, "transparent", 0.0, False, 2.0, False, api_name="/png_to_glb_convert")
    # The server keeps serving after the error.
    *_, stats = client.predict(handle_file(str(path)), api_name="/png_to_glb_convert")
    assert "Triangles" in stats


def test_code_panel_shows_the_real_functions():
    from shared.ui import source_of

    from labs.png_to_glb import convert, mesh

    code = source_of(convert.convert, mesh.build_mesh)
    assert "def convert(" in code and "def build_mesh(" in code


def test_resolution_slider_states_the_limits_the_api_enforces():
    import gradio as gr

    slider = next(b for b in app.demo.blocks.values()
                  if isinstance(b, gr.Slider) and str(b.label).startswith("Resolution"))
    # gradio refuses values outside the slider's own range, through the API too: the hint must say so.
    assert f"{slider.minimum:g} to {slider.maximum:g} here and through gradio_client" in slider.info
