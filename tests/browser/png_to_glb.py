"""Browser and API smoke steps for the png_to_glb lab (used by test_browser and the Space export test)."""

import re
import tempfile
from pathlib import Path


def run_example(page) -> None:
    from playwright.sync_api import expect

    page.locator("#png_to_glb_examples").get_by_text("A coloured emblem on pure black", exact=False).click()
    expect(page.locator("#png_to_glb_input")).to_contain_text("logo_on_black", timeout=60_000)
    # One click on the example converts it; no need to press Convert.
    stats = page.locator("#png_to_glb_stats")
    expect(stats).to_contain_text("Watertight", timeout=120_000)
    expect(stats).to_contain_text("merged into")
    expect(page.locator("#png_to_glb_files")).to_contain_text(".glb")
    expect(page.locator("#png_to_glb_preview canvas")).to_be_visible()
    # STL on request, from the same heights.
    page.locator("#png_to_glb_add_stl").click()
    expect(page.locator("#png_to_glb_files")).to_contain_text(".stl", timeout=60_000)
    expect(page.locator("#png_to_glb_more_note")).to_contain_text("STL written in")
    # Babylon.js falls back from WebGPU to WebGL in headless Chromium and then loads the GLB;
    # give it a moment so the screenshot shows the model.
    page.wait_for_timeout(6000)


def api_smoke(client) -> None:
    from gradio_client import handle_file
    from PIL import Image, ImageDraw

    path = Path(tempfile.mkdtemp()) / "square.png"
    img = Image.new("RGB", (32, 32), "black")
    ImageDraw.Draw(img).rectangle([8, 8, 23, 23], fill="white")
    img.save(path)
    preview, files, heights, _validation, stats = client.predict(handle_file(str(path)), api_name="/png_to_glb_convert")
    glb = preview["path"] if isinstance(preview, dict) else preview
    assert str(glb).endswith(".glb")
    assert re.search(r"Triangles \| [\d,]+", stats), stats
    # The STL on request, in the same session, from the same heights.
    files, validation, note = client.predict(api_name="/png_to_glb_add_stl")
    names = [f["path"] if isinstance(f, dict) else f for f in files]
    assert any(str(n).endswith(".stl") for n in names) and "STL written in" in note, (names, note)
