"""Lab 1 · Wheel packaging: train a tiny model, package it as a library, build, inspect, install.

UI only: the work is done by the modules beside this file (see "Show the code").
Run alone with `python -m labs.wheel_packaging.app`.
"""

from __future__ import annotations

import json

import gradio as gr

from labs import get
from labs.wheel_packaging import (building, checks, index, inspection, licences, naming, pipeline, project, publish,
                                  release, sourceless, tinymodels, tryout)
from shared.ui import HEAVY, code_panel, friendly, header, missing_banner, serve

LAB = get("wheel_packaging")
SLUG = LAB.slug
DEFAULTS = {"name": "tiny-moons", "version": "0.1.0", "license": "MIT", "model": "moons", "holder": "Ada Lovelace"}
EXAMPLES = [
    ["tiny-moons", "0.1.0", "MIT", "moons", "Ada Lovelace", False],
    ["review-sentiment", "1.0.0rc1", "Apache-2.0", "sentiment", "Example Labs Ltd", False],
    ["celsius2f", "0.3.0", "MIT", "temperature", "Grace Hopper", False],
    ["../escape", "0.1", "MIT", "moons", "Mallory", False],
    ["tiny-moons", "v1.0-final!", "MIT", "moons", "Ada Lovelace", False],
]
EXAMPLE_LABELS = [
    "tiny-moons 0.1.0 · MIT · two-moons MLP",
    "review-sentiment 1.0.0rc1 · Apache-2.0 · sentiment",
    "celsius2f 0.3.0 · MIT · temperature regression",
    "Bad input: '../escape' (a path as a name)",
    "Bad input: 'v1.0-final!' (not a PEP 440 version)",
]


def _environment_line() -> str:
    found = building.setuptools_version()
    backend = f"setuptools {'.'.join(map(str, found))}" if found else "no setuptools installed here"
    native = "a C compiler" if sourceless.compiler() else "**no C compiler** (the native wheel cannot be built)"
    return (f"**Runs here, for real:** training on this machine's CPU with torch; builds with `python -m build` "
            f"(default `--no-isolation`, using {backend}; tick *Isolated build* for the PEP 517 default, which "
            f"downloads setuptools from PyPI); installs into a fresh venv with pip; {native}. "
            "Publishing runs for real against the lab's own package index (pypiserver on 127.0.0.1, started "
            "for the run and stopped after it); publishing to PyPI itself is shown, never run.")


def _training_md(spec: naming.ProjectSpec, trained: tinymodels.TrainedModel) -> str:
    metrics = " · ".join(f"{k}: **{v}**" for k, v in trained.metrics.items())
    rows = "\n".join(f"| `{json.dumps(e['input'])}` | `{json.dumps(e['output'])}` |" for e in trained.config["examples"])
    return (f"✅ **Trained** {tinymodels.MODELS[spec.model]} with torch: {metrics}\n\n"
            f"| Input | What the torch model answers (recorded for the generated tests) |\n|---|---|\n{rows}\n")


def _proof_md(spec: naming.ProjectSpec, result: tryout.TryoutResult, example) -> str:
    pred = result.prediction
    return (f"✅ **Installed in a fresh venv** (no pip inside, nothing from the network): "
            f"`{spec.import_name}` {pred['version']} from `site-packages`, backend *{pred['backend']}*.\n\n"
            f"`predict({json.dumps(example)})` → `{json.dumps(pred['prediction'])}`\n\n"
            f"Console script `{spec.script}`:\n```\n{result.cli_output.strip()}\n```\n"
            f"Files pip installed: {len(result.installed_files)} (including the `.pyc` pip compiles at install time).")


def _show_step(step, spec: naming.ProjectSpec, out: dict, lines: list[str]) -> None:
    """Put one finished step of `pipeline.build_and_install` into the outputs and the status lines."""
    if isinstance(step, pipeline.Generated):
        lines += [_training_md(spec, step.trained), f"✅ **Generated** {len(step.files)} files (see *1 · Project files*)."]
        out[zip_file] = step.zip_download
        out[files_state] = step.files
        out[file_pick] = gr.Dropdown(choices=list(step.files), value="pyproject.toml")
        out[file_view] = gr.Code(step.files["pyproject.toml"], language=None, label="pyproject.toml")
        out[publish_md] = publish.publish_steps(spec)
        # Clear what a previous run showed, so no tab mixes two builds.
        out.update({build_log: "", dist_files: None, report_md: "", metadata_view: "", record_view: None,
                    checks_log: "", proof_md: "", proof_log: ""})
        out[status] = "\n\n".join(lines + ["⏳ Building…"])
    elif isinstance(step, pipeline.Built):
        out[build_log] = step.log
        out[dist_files] = step.downloads
        lines.append(f"✅ **Built** `{step.build.sdist.name}` and `{step.build.wheel.name}` — {step.build.describe()}")
        out[status] = "\n\n".join(lines + ["⏳ Inspecting and validating…"])
    elif isinstance(step, pipeline.Inspected):
        report = step.report
        out[report_md] = inspection.report_markdown(report)
        out[metadata_view] = inspection.metadata_text(report)
        out[record_view] = inspection.record_table(report)
        out[checks_log] = checks.checks_text(step.checks)
        record = "RECORD verified" if report.record_ok else "❌ RECORD problems"
        lines.append(f"✅ **Inspected**: {record}; License-Expression `{report.meta('License-Expression')[0]}`; "
                     + "; ".join(r.summary() for r in step.checks))
        out[status] = "\n\n".join(lines + ["⏳ Installing into a fresh virtual environment…"])
    elif isinstance(step, pipeline.Installed):
        out[proof_md] = _proof_md(spec, step.result, step.example)
        out[proof_log] = step.result.log()
        lines.append(f"✅ **Installed in a fresh venv** and ran it: `predict({json.dumps(step.example)})` → "
                     f"`{json.dumps(step.result.prediction['prediction'])}`; the project's tests passed against the "
                     "installed wheel.")
        out[status] = "\n\n".join(lines)


@friendly
def build_and_install(name, version, license, model, holder, isolated, progress=gr.Progress()):
    """Train, generate the project, build sdist + wheel, inspect and validate them, install and run."""
    spec = naming.validate_spec(name, version, license, holder, model)
    out: dict = {}
    lines: list[str] = []
    try:
        for step in pipeline.build_and_install(spec, isolated=bool(isolated),
                                               progress=lambda f, message: progress(f, desc=message)):
            _show_step(step, spec, out, lines)
            yield dict(out)
    except (ValueError, ImportError) as exc:  # say in the status where it stopped, then show the error
        if lines:  # the project was generated: keep what was shown so far
            out[status] = "\n\n".join(lines + [f"❌ **Stopped here:**\n```\n{exc}\n```"])
            yield dict(out)
        raise


@friendly
def build_sourceless(name, version, license, model, holder, isolated, progress=gr.Progress()):
    """Build the pure, bytecode-only and native wheels, compare them and run each in a fresh venv."""
    spec = naming.validate_spec(name, version, license, holder, model)
    done = pipeline.build_flavours(spec, isolated=bool(isolated), progress=lambda f, message: progress(f, desc=message))
    summary = "\n".join(f"- **{b.flavour}**: `{b.build.wheel.name}` — {project.FLAVOURS[b.flavour]}; "
                        f"built in {b.build.seconds:.1f} s, installed and ran in a fresh venv ✅" for b in done.builds)
    no_py = not done.bytecode_has_source
    summary += (f"\n\nThe bytecode wheel contains {'**no** `.py` file' if no_py else '`.py` files (unexpected)'}; "
                "check-wheel-contents flags its `.pyc` files (W001), as it should: shipping bytecode is "
                "usually a mistake, here it is the point.")
    if done.repair is not None:
        r = done.repair
        summary += (f"\n\n**auditwheel** (for real, {r.seconds:.1f} s): `{r.original.name}` (tag `linux_x86_64`, which "
                    f"PyPI refuses) → `{r.repaired.name}` (tag `{r.tag}`), ready for PyPI.")
        repair_text = f"$ auditwheel show {r.original.name}\n{r.show}\n\n$ auditwheel repair {r.original.name}\n{r.repair_log}"
    else:
        summary += f"\n\n⚠️ auditwheel was not run: {done.repair_note}"
        repair_text = done.repair_note
    return (summary, gr.Dataframe(value=done.matrix_rows, headers=done.matrix_headers), done.disassembly,
            done.symbols, repair_text, done.log, done.downloads)


@friendly
def publish_local(name, version, license, model, holder, isolated, progress=gr.Progress()):
    """Build twice, publish to the lab's own index on 127.0.0.1, install from it, try to re-upload."""
    spec = naming.validate_spec(name, version, license, holder, model)
    done = pipeline.publish_locally(spec, isolated=bool(isolated), progress=lambda f, message: progress(f, desc=message))
    repro = done.reproducibility
    summary = (f"✅ **Published for real** to a local index at `{done.index_url}` (pypiserver, this run only, now "
               f"stopped) in {done.seconds:.1f} s: `twine upload` of {', '.join(f'`{f}`' for f in done.files)}.\n\n"
               f"✅ **Installed from that index** into a fresh venv (`pip install -i {done.index_url}simple/ "
               f"--no-deps {spec.name}=={spec.version}`): `predict()` → `{json.dumps(done.prediction['prediction'])}`.\n\n"
               + (f"✅ **Re-upload of {spec.version} refused** by the index: *{done.refusal}*. PyPI does the same "
                  "(a file name can be used once, ever): publish a new version instead."
                  if done.refused else f"❌ The re-upload was not refused: {done.refusal}") + "\n\n"
               + (f"**Reproducible build** (`SOURCE_DATE_EPOCH={repro.epoch}`, built twice): the wheel's sha256 is "
                  + ("identical" if repro.rows[-1][3] == "identical" else "**different**")
                  + "; see the table for the sdist."))
    return (summary, gr.Dataframe(value=repro.rows, headers=["file", "sha256, build 1", "sha256, build 2", "verdict"]),
            done.listing, done.log(), done.downloads, publish.publish_steps(spec, local_url=done.index_url))


@friendly
def compare_licences(name, version, model, holder, isolated, progress=gr.Progress()):
    """Build the same project under MIT and under Apache-2.0 and show what differs in the wheels."""
    wheels = pipeline.build_licences(name, version, model, holder, isolated=bool(isolated),
                                     progress=lambda f, message: progress(f, desc=message))
    texts = [inspection.metadata_text(w.report) + "\n\n# files under .dist-info/licenses/:\n"
             + "\n".join(w.report.licenses) + "\n\n# first line of each source file:\n" + w.first_source_line
             for w in wheels]
    mit, apache = (w.report for w in wheels)
    summary = (f"Both built for real. **MIT** wheel: `License-Expression: {mit.meta('License-Expression')[0]}`, "
               f"{len(mit.licenses)} licence file(s). **Apache-2.0** wheel: "
               f"`License-Expression: {apache.meta('License-Expression')[0]}`, {len(apache.licenses)} licence files "
               "(LICENSE and NOTICE).")
    return summary, texts[0], texts[1]


@friendly
def show_file(path, files):
    """Show one generated file in the viewer."""
    if not files:
        raise ValueError("No project yet: click 'Train, generate, build and install' first.")
    if path not in files:
        raise ValueError(f"{path!r} is not a file of the generated project; pick one from the list.")
    return gr.Code(files[path], language=project.language_of(path), label=path)


with gr.Blocks(title=LAB.title) as demo:
    header(LAB, extra=_environment_line())
    missing_banner(LAB)
    files_state = gr.State({})
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            name = gr.Textbox(DEFAULTS["name"], label="Package name (PEP 508)", elem_id=f"{SLUG}_name",
                              info="ASCII letters, digits, dots, hyphens, underscores. Import name: hyphens become underscores.")
            version = gr.Textbox(DEFAULTS["version"], label="Version (PEP 440)", elem_id=f"{SLUG}_version",
                                 info="e.g. 0.1.0, 1.0.0rc1, 2.0.post1")
            license = gr.Radio(list(naming.LICENSES), value=DEFAULTS["license"], label="Licence (SPDX)",
                               elem_id=f"{SLUG}_license")
            model = gr.Dropdown([(v, k) for k, v in tinymodels.MODELS.items()], value=DEFAULTS["model"],
                                label="Tiny model to train and ship", elem_id=f"{SLUG}_model")
            holder = gr.Textbox(DEFAULTS["holder"], label="Copyright holder", elem_id=f"{SLUG}_holder")
            isolated = gr.Checkbox(False, label="Isolated build (PEP 517 default; downloads setuptools, ~6-9 s)",
                                   elem_id=f"{SLUG}_isolated")
            build_btn = gr.Button("Train, generate, build and install", variant="primary", elem_id=f"{SLUG}_build")
            inputs = [name, version, license, model, holder, isolated]
            examples = gr.Examples(EXAMPLES, inputs=inputs, label="Examples: one click runs everything",
                                   example_labels=EXAMPLE_LABELS, api_name=f"{SLUG}_load_example",
                                   elem_id=f"{SLUG}_examples")
        with gr.Column(scale=2):
            status = gr.Markdown("Pick an example or fill in the form, then click **Train, generate, build and "
                                 "install**. Each step shows up here as it finishes.", elem_id=f"{SLUG}_status")
            with gr.Tabs():
                with gr.Tab("1 · Project files"):
                    file_pick = gr.Dropdown([], label="File", elem_id=f"{SLUG}_file_pick")
                    file_view = gr.Code("", language=None, label="Generated file", interactive=False, max_lines=40)
                    zip_file = gr.File(label="The whole project (.zip)")
                with gr.Tab("2 · Build"):
                    build_log = gr.Code("", language="shell", label="python -m build: the real log", max_lines=40)
                    dist_files = gr.File(label="sdist and wheel", file_count="multiple")
                with gr.Tab("3 · Inspect & validate"):
                    report_md = gr.Markdown()
                    metadata_view = gr.Code("", language=None, label="METADATA (core metadata 2.4)")
                    record_view = gr.Dataframe(headers=["path", "sha256 (RECORD)", "size", "check"],
                                               label="RECORD, every hash recomputed")
                    checks_log = gr.Code("", language="shell", label="twine check --strict · check-wheel-contents")
                with gr.Tab("4 · Install & run"):
                    proof_md = gr.Markdown(elem_id=f"{SLUG}_proof")
                    proof_log = gr.Code("", language="shell", label="Every command, with its output", max_lines=60)
    gr.Markdown("### Go further (these use the form above)")
    with gr.Tabs():
        with gr.Tab("5 · Libraries, not code"):
            gr.Markdown("Build the same project three ways: **pure** (`.py`), **bytecode only** (`.pyc`, "
                        "no source) and **native** (the dense layer compiled from C into a shared library "
                        "that this or any other package loads). Each wheel is installed in its own fresh "
                        "venv and run.")
            sourceless_btn = gr.Button("Build the pure, bytecode-only and native wheels",
                                       elem_id=f"{SLUG}_sourceless")
            sourceless_md = gr.Markdown(elem_id=f"{SLUG}_sourceless_summary")
            matrix = gr.Dataframe(headers=["File in the wheel", "pure", "bytecode", "native"],
                                  label="Files side by side")
            with gr.Row():
                disassembly = gr.Code("", language=None, label="What a .pyc still tells a reader",
                                      max_lines=40)
                symbols = gr.Code("", language=None, label="What the .so still tells a reader", max_lines=40)
            repair_log = gr.Code("", language="shell", label="auditwheel show / repair: linux_x86_64 → manylinux",
                                 max_lines=40)
            flavour_log = gr.Code("", language="shell", label="Builds, installs and runs", max_lines=40)
            flavour_files = gr.File(label="The three wheels", file_count="multiple")
            gr.Markdown(sourceless.HONEST_NOTE)
        with gr.Tab("6 · MIT vs Apache-2.0"):
            gr.Markdown(licences.comparison_markdown())
            compare_btn = gr.Button("Build the project under both licences and compare the wheels",
                                    elem_id=f"{SLUG}_compare")
            compare_md = gr.Markdown()
            with gr.Row():
                mit_meta = gr.Code("", language=None, label="MIT wheel: METADATA and licence files")
                apache_meta = gr.Code("", language=None, label="Apache-2.0 wheel: METADATA and licence files")
        with gr.Tab("7 · Publish"):
            publish_md = gr.Markdown(publish.publish_steps(
                naming.validate_spec(DEFAULTS["name"], DEFAULTS["version"], DEFAULTS["license"],
                                     DEFAULTS["holder"], DEFAULTS["model"])))
            gr.Markdown("### Do it for real, locally\nThe button starts the lab's own package index "
                        "(pypiserver on 127.0.0.1, a free port, a fresh folder and a password made for this run), "
                        "builds twice with `SOURCE_DATE_EPOCH` and compares the sha256, uploads with `twine`, "
                        "installs with `pip install -i` into a fresh venv, then uploads the same version again to "
                        "see it refused. The index is stopped when the run ends. *Nothing goes to PyPI and the lab "
                        "never asks for a token.*")
            publish_btn = gr.Button("Publish to a local index, install from it, re-upload", elem_id=f"{SLUG}_publish")
            publish_summary = gr.Markdown(elem_id=f"{SLUG}_publish_summary")
            repro_table = gr.Dataframe(headers=["file", "sha256, build 1", "sha256, build 2", "verdict"],
                                       label="Reproducible build: two builds, sha256 by file")
            index_listing = gr.Code("", language=None, label="The index's simple page for the project (what pip read)")
            publish_log = gr.Code("", language="shell", label="twine, pip and the index's access log", max_lines=60)
            publish_files = gr.File(label="The published sdist and wheel", file_count="multiple")

    main_outputs = [status, files_state, file_pick, file_view, zip_file, build_log, dist_files, report_md,
                    metadata_view, record_view, checks_log, proof_md, proof_log, publish_md]
    build_btn.click(build_and_install, inputs, main_outputs, api_name=f"{SLUG}_build", **HEAVY)
    examples.load_input_event.then(build_and_install, inputs, main_outputs, api_name=f"{SLUG}_build_example",
                                   api_visibility="undocumented", **HEAVY)
    file_pick.change(show_file, [file_pick, files_state], file_view, api_name=f"{SLUG}_show_file",
                     show_progress="hidden")
    sourceless_btn.click(build_sourceless, inputs, [sourceless_md, matrix, disassembly, symbols, repair_log,
                                                    flavour_log, flavour_files], api_name=f"{SLUG}_sourceless", **HEAVY)
    publish_btn.click(publish_local, inputs, [publish_summary, repro_table, index_listing, publish_log, publish_files,
                                                publish_md],
                      api_name=f"{SLUG}_publish_local", **HEAVY)
    compare_btn.click(compare_licences, [name, version, model, holder, isolated], [compare_md, mit_meta, apache_meta],
                      api_name=f"{SLUG}_compare_licences", **HEAVY)

    code_panel(pipeline.build_and_install, naming.validate_name, naming.validate_version, tinymodels.train,
               project.render_project, project.with_flavour, building.run_build, inspection.inspect_wheel,
               inspection.verify_record, checks.run_checks, tryout.install_and_run, pipeline.build_flavours,
               sourceless.build_flavour, sourceless.disassemble, sourceless.exported_symbols, release.repair,
               pipeline.publish_locally, index.local_index, index.twine_upload, release.compare_builds)


if __name__ == "__main__":
    serve(demo)
