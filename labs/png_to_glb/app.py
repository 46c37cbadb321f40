"""Lab 10 · PNG to GLB: the UI. The work happens in convert.py, heightmap.py, mesh.py, depth.py."""

from __future__ import annotations

import gradio as gr

from labs import get
from labs.png_to_glb import convert as conversion
from labs.png_to_glb import checks, depth, examples, exporters, glb, heightmap, mesh
from shared import serving
from shared.ui import HEAVY, code_panel, friendly, header, missing_banner, serve

LAB = get("png_to_glb")
R = conversion.RANGES
D = conversion.Settings()
EXAMPLES_DIR = conversion.temp_root() / "examples"  # per OS user; never cleaned as an old output

WHY_TRANSPARENT = """
**Why is black a transparent plane?** Black pixels are welded to one flat plane at height 0 that
shares its border vertices with the relief, so there are no cracks. Flat black regions are merged
into a few large triangles instead of two per pixel. The plane is its own glTF primitive with its
own material (`alphaMode` MASK when fully transparent, BLEND when partly), so any glTF viewer shows
it see-through while the file keeps the geometry. **cut** removes the plane instead (the relief
floats in holes), **opaque** keeps it dark and visible. Fully transparent pixels of an RGBA image
count as black. In **solid** mode side walls and a bottom close the mesh so slicers can print it.

Heights: luminance with the Rec. 709 weights `Y = 0.2126 R + 0.7152 G + 0.0722 B`, then gamma,
invert and Gaussian smoothing (a torch convolution, on the GPU when there is one). A pixel's height
is `base + Y × max height` in millimetres; black stays at 0.
"""


def _stats_markdown(result: conversion.Result, device: str) -> str:
    s, t = result.stats, result.timings
    rows = [
        ("Grid (vertices)", s["grid"] + f" from a {s['source_size']} image"),
        ("Vertices", f"{s['vertices']:,}"),
        ("Triangles", f"{s['triangles']:,} = relief {s['relief_triangles']:,} + flat {s['flat_triangles']:,}"
                      f" + walls {s['wall_triangles']:,} + bottom {s['bottom_triangles']:,}"),
        ("Black cells", f"{s['black_cells']:,} merged into {s['flat_pieces']:,} flat pieces "
                        f"({s['flat_triangles']:,} triangles instead of {s['black_cells_as_two_triangles_each']:,})"),
        ("Watertight", ("yes" if s["watertight"] else "no (turn on solid for a printable, closed mesh)")
                       + f" · checked by {s['watertight_checked_by']}"),
        ("Volume", f"{s['volume_mm3']:,.0f} mm³" if s["watertight"] else "n/a (not closed)"),
        ("Size x, y, z", " × ".join(f"{v:g}" for v in s["size_mm"]) + " mm"),
        ("Files", _files_line(s)),
        ("Heights computed on", device),
        ("Time per stage", " · ".join(f"{k} {v * 1000:.0f} ms" for k, v in t.items())
                           + " (the files are written side by side within files)"),
    ]
    table = "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    notes = "".join(f"\n- {n}" for n in result.notes)
    return table + (f"\n\n**Notes**{notes}" if notes else "")


def _files_line(stats: dict) -> str:
    sizes = [("GLB", stats["glb_bytes"]), ("OBJ zip", stats["obj_zip_bytes"]), ("STL", stats["stl_bytes"])]
    return " · ".join(f"{name} {size / 1e3:,.0f} kB" if size is not None else f"{name}: on request (button below)"
                      for name, size in sizes)


def _downloads(result: conversion.Result) -> list[str]:
    return [str(p) for p in (result.glb_path, result.obj_zip_path, result.stl_path) if p is not None]


@friendly
def run_conversion(image, source, depth_model, gamma, invert, smoothing, max_height_mm, base_mm, size_mm,
                   resolution, black_threshold, black, black_alpha, solid, floor_mm, colours,
                   progress=gr.Progress()):
    """Convert the uploaded image and return the preview, files, height map and stats."""
    settings = conversion.Settings(
        source=source, depth_model=depth_model, gamma=gamma, invert=invert, smoothing=smoothing,
        max_height_mm=max_height_mm, base_mm=base_mm, size_mm=size_mm, resolution=resolution,
        black_threshold=black_threshold, black=black, black_alpha=black_alpha, solid=solid,
        floor_mm=floor_mm, colours=colours,
    )
    if image is None:
        raise ValueError("No image was given. Upload a PNG, or click one of the examples below.")
    out_dir = conversion.new_output_dir()  # also removes conversions older than an hour
    # The GLB now (it is the preview); OBJ and STL when asked for (add_format), from the same heights.
    result = conversion.convert(image, settings, out_dir, progress=lambda f, d: progress(f, desc=d),
                                formats=("glb",))
    return (str(result.glb_path), _downloads(result), str(result.heightmap_path),
            checks.summary_markdown(result.validation), _stats_markdown(result, heightmap.torch_device()),
            str(result.glb_path), str(out_dir))


@friendly
def add_format(out_dir, fmt):
    """Write OBJ or STL for this session's last conversion, from the heights its GLB was built from."""
    if not out_dir:
        raise ValueError("Convert an image first; then ask for its OBJ or STL.")
    result = conversion.write_formats(out_dir, [fmt])
    t = result.timings
    note = (f"{fmt.upper()} written in {t['total'] * 1000:.0f} ms (mesh rebuilt from the kept heights in "
            f"{t['mesh'] * 1000:.0f} ms). " + " ".join(result.notes))
    return _downloads(result), checks.summary_markdown(result.validation), note.strip()


@friendly
def run_khronos(glb_path):
    """After a conversion: the Khronos glTF Validator on the GLB this session just wrote."""
    if not glb_path:
        return "Convert an image first; the validator then checks its GLB."
    report = checks.khronos_validate(glb_path)
    return checks.summary_markdown(None, report)


def _example_files() -> list[list[str]]:
    # Drawn by code (a few ms) so the lab ships no binary files; redrawn only when missing.
    paths = {name: EXAMPLES_DIR / f"{name}.png" for name in examples.DESCRIPTIONS}
    if not all(p.exists() for p in paths.values()):
        paths = examples.draw_examples(EXAMPLES_DIR)
    return [[str(p)] for p in paths.values()]


with gr.Blocks(title=LAB.title) as demo:
    header(LAB, extra="Heights are computed with torch on the GPU when there is one, otherwise on the "
                      "CPU; the stats say which. *Depth from a model* needs the model on disk or "
                      "access to the Hugging Face hub.")
    missing_banner(LAB)
    with gr.Row():
        with gr.Column(scale=2):
            image = gr.File(label="Image (PNG; other formats Pillow reads are accepted with a note)",
                            file_types=["image"], type="filepath", elem_id="png_to_glb_input")
            shipped = gr.Examples(_example_files(), inputs=[image], label="Examples (drawn by code; one click converts)",
                                  example_labels=list(examples.DESCRIPTIONS.values()), elem_id="png_to_glb_examples",
                                  api_name="png_to_glb_example", api_visibility="private")
            with gr.Accordion("Height source", open=False):
                source = gr.Radio(list(conversion.SOURCES), value=D.source, label="Heights from",
                                  info="brightness: pixel luminance; depth: a transformers depth-estimation model")
                depth_model = gr.Textbox(value=D.depth_model, label="Depth model (hub id)" if serving.is_shared()
                                         else "Depth model (hub id or local folder)")
            with gr.Row():
                max_height = gr.Slider(*R["max_height_mm"], value=D.max_height_mm, step=0.5, label="Max height (mm)")
                base = gr.Slider(*R["base_mm"], value=D.base_mm, step=0.1, label="Base above black (mm)")
            with gr.Row():
                size = gr.Slider(*R["size_mm"], value=D.size_mm, step=1, label="Long side (mm)")
                resolution = gr.Slider(16, 1024, value=D.resolution, step=16, label="Resolution (long side, vertices)",
                                       info=f"16 to 1024 here and through gradio_client; convert.convert in Python "
                                            f"accepts {R['resolution'][0]:g} to {R['resolution'][1]:g}")
            with gr.Row():
                gamma = gr.Slider(*R["gamma"], value=D.gamma, step=0.05, label="Gamma")
                smoothing = gr.Slider(*R["smoothing"], value=D.smoothing, step=0.25, label="Smoothing (sigma, px)")
            with gr.Row():
                black_threshold = gr.Slider(*R["black_threshold"], value=D.black_threshold, step=1,
                                            label="Black threshold (8-bit luma)", info="0 = only pure black")
                black_alpha = gr.Slider(*R["black_alpha"], value=D.black_alpha, step=0.05,
                                        label="Black plane opacity", info="transparent mode only")
            black = gr.Radio(list(mesh.BLACK_MODES), value=D.black, label="Black pixels")
            with gr.Row():
                invert = gr.Checkbox(value=D.invert, label="Invert (dark is high)")
                colours = gr.Checkbox(value=D.colours, label="Image colours on the relief")
                solid = gr.Checkbox(value=D.solid, label="Solid (watertight, for 3D printing)")
            floor = gr.Slider(*R["floor_mm"], value=D.floor_mm, step=0.1, label="Floor under black in solid mode (mm)")
            go = gr.Button("Convert", variant="primary", elem_id="png_to_glb_convert")
        with gr.Column(scale=3):
            preview = gr.Model3D(label="Preview (GLB)", clear_color=(0.93, 0.93, 0.96, 1.0), height=420,
                                 elem_id="png_to_glb_preview")
            files = gr.File(label="Downloads: GLB (OBJ + MTL zip and STL when you ask for them)",
                            file_count="multiple", elem_id="png_to_glb_files")
            with gr.Row():
                want_obj = gr.Button("Write OBJ + MTL (zip)", size="sm", elem_id="png_to_glb_add_obj")
                want_stl = gr.Button("Write STL (for slicers)", size="sm", elem_id="png_to_glb_add_stl")
            more_note = gr.Markdown("OBJ and STL hold 3-4x the GLB's bytes for the same mesh, so they are written "
                                    "when you ask, from the heights of your last conversion.",
                                    elem_id="png_to_glb_more_note")
            with gr.Row():
                heights = gr.Image(label="Height map the mesh was built from", type="filepath", height=220)
            stats = gr.Markdown("Stats appear here after a conversion.", elem_id="png_to_glb_stats")
            with gr.Accordion("Validation", open=False):
                validation = gr.Markdown("Structural checks of the written files appear here.",
                                         elem_id="png_to_glb_validation")
                khronos = gr.Markdown("The Khronos glTF Validator runs after each conversion when it is "
                                      "installed (bash .ci/lab-png_to_glb.sh).", elem_id="png_to_glb_khronos")
            last_glb = gr.State(None)  # server-side: the validator only ever sees this session's own file
            last_dir = gr.State(None)  # server-side: OBJ/STL are only ever written into this session's folder
    gr.Markdown(WHY_TRANSPARENT)
    code_panel(conversion.convert, conversion.write_formats, heightmap.compute_heightmap, mesh.build_mesh, mesh.merge_rectangles,
               glb.glb_bytes, exporters.int_words, exporters.text_lines, exporters.stl_records,
               checks.structural_checks, depth.estimate_depth)

    inputs = [image, source, depth_model, gamma, invert, smoothing, max_height, base, size, resolution,
              black_threshold, black, black_alpha, solid, floor, colours]
    # Through gradio_client every input but the image is optional (the defaults above apply):
    # client.predict(handle_file("logo.png"), api_name="/png_to_glb_convert")[0] is the GLB.
    outputs = [preview, files, heights, validation, stats, last_glb, last_dir]
    go.click(run_conversion, inputs, outputs, api_name="png_to_glb_convert", **HEAVY).then(
        run_khronos, [last_glb], [khronos], api_name="png_to_glb_validate", **HEAVY)
    want_obj.click(lambda folder: add_format(folder, "obj"), [last_dir], [files, validation, more_note],
                   api_name="png_to_glb_add_obj", **HEAVY)
    want_stl.click(lambda folder: add_format(folder, "stl"), [last_dir], [files, validation, more_note],
                   api_name="png_to_glb_add_stl", **HEAVY)
    # Clicking an example fills the input, then converts it with the current settings.
    shipped.load_input_event.then(run_conversion, inputs, outputs, api_name="png_to_glb_convert_example",
                                  api_visibility="private", **HEAVY).then(
        run_khronos, [last_glb], [khronos], api_name="png_to_glb_validate_example", api_visibility="private", **HEAVY)


if __name__ == "__main__":
    serve(demo)
