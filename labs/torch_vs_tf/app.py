"""Lab 6 · PyTorch vs TensorFlow: the same models, the same data, a fair race, side by side.

UI only: the logic lives beside this file (data, weights, torch_side, keras_side, worker, runs,
report). Run alone with ``python -m labs.torch_vs_tf.app``.
"""

from __future__ import annotations

import os
import shutil
from importlib import metadata
from pathlib import Path

import gradio as gr

from labs import get
from labs.torch_vs_tf import runs
from labs.torch_vs_tf.data import batch_order, choose_dataset, image_to_input, load_upload, validate_arrays
from labs.torch_vs_tf.keras_side import (KerasFitRunner, KerasTFRunner, build_keras_model,
                                         load_keras_weights, make_keras_optimizer)
from labs.torch_vs_tf.exports import load_runtime, saved_model_to_tflite, tf_to_tflite, torch_to_onnx
from labs.torch_vs_tf.metrics import time_calls
from labs.torch_vs_tf.raw_tf_side import RawTFRunner, build_raw_model
from labs.torch_vs_tf.report import (TrainReport, export_frame, prediction_view, race_frame,
                                     race_summary)
from labs.torch_vs_tf.sweep import (DEFAULT_BATCHES, DEFAULT_STEPS, DEFAULT_WIDTHS, MAX_STEPS,
                                    check_grid, crossover_note, plot_frame, step_flops, sweep_frame)
from labs.torch_vs_tf.settings import (ARCHITECTURES, DEFAULT_BATCH, DEFAULT_EPOCHS,
                                       DEFAULT_LATENCY_BATCH, DEFAULT_LR, DEFAULT_SEED, MAX_BATCH,
                                       MAX_EPOCHS, MAX_LATENCY_BATCH, MODES, OPTIMIZERS,
                                       RACE_EXTRA_VARIANTS, check_race, check_threads, make_config)
from labs.torch_vs_tf.torch_side import (TorchRunner, build_torch_model, load_torch_weights,
                                         make_torch_optimizer)
from labs.torch_vs_tf.weights import init_weights, to_keras
from labs.torch_vs_tf.worker import Worker
from shared.optional import install_hint, missing
from shared.serving import is_shared
from shared.ui import HEAVY, code_panel, friendly, header, missing_banner, serve, source_of
from shared.uploads import open_image

LAB = get("torch_vs_tf")
SLUG = LAB.slug
EXAMPLES = Path(__file__).parent / "examples"
CPU_COUNT = os.cpu_count() or 1


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def environment_note() -> str:
    """Which frameworks are here and what stands in for what (read without importing them)."""
    torch_v = _version("torch") or "not installed"
    tf_v = _version("tensorflow-cpu") or _version("tensorflow")
    keras_v = _version("keras")
    line = (f"**Runs on:** the CPU ({CPU_COUNT} cores). Training and predictions use one shared worker "
            "process per framework (1 thread each) that holds every run's models; the race starts a "
            f"fresh process per variant with your thread count · PyTorch {torch_v} · "
            f"TensorFlow {tf_v or 'not installed'} · Keras {keras_v or 'not installed'}. "
            "tensorflow-cpu has no GPU build, so PyTorch is kept on the CPU too: the race compares "
            "frameworks, not devices. The TensorFlow columns: **Keras layers** on TensorFlow, and "
            "**raw tf.nn** (tf.Variable + tf.GradientTape, no Keras).")
    if missing(("onnx", "onnxscript", "onnxruntime")):
        line += (f"\n\nℹ️ ONNX export is skipped: onnx, onnxscript and onnxruntime are not all installed "
                 f"(`{install_hint(SLUG)}`).")
    if not runs.available("tensorflow"):
        line += (f"\n\n⚠️ **TensorFlow is not installed**: the PyTorch column works; the TensorFlow "
                 f"column is skipped. Install it with `{install_hint(SLUG)}`.")
    return line


def _setup(source, upload, arch, epochs, batch, lr, optimizer, seed, mode):
    data = choose_dataset(source, upload)
    cfg = make_config(arch=arch, epochs=epochs, batch_size=batch, lr=lr, optimizer=optimizer,
                      seed=seed, mode=mode, train_size=len(data.x_train))
    return data, cfg


@friendly
def train(source, upload, arch, epochs, batch, lr, optimizer, seed, mode, threads, keras_torch,
          previous_run=None, progress=gr.Progress()):
    """Train the same model in every available framework, epoch by epoch, with live curves."""
    data, cfg = _setup(source, upload, arch, epochs, batch, lr, optimizer, seed, mode)
    frameworks, notes = runs.choose_frameworks(bool(keras_torch))
    threads = check_threads(threads, CPU_COUNT)
    runs.release(previous_run)  # this session's older models: drop them from the shared workers
    notes.insert(0, data.describe())
    if threads != runs.POOL_THREADS:
        notes.append(f"The training view's shared workers use {runs.POOL_THREADS} thread each; your "
                     f"{threads} threads apply to the Fair race.")
    if cfg.mode == "compiled" and "torch" in frameworks:
        notes.append("torch.compile generates C++ on its first steps: epoch 1 of PyTorch can take "
                     "20-60 s on 2 cores (later epochs are fast).")
    report = TrainReport(total_epochs=cfg.epochs, planned=len(frameworks))
    progress(0, desc="Starting the shared workers if needed (imports take a few seconds)…")
    for event in runs.train_side_by_side(data, cfg, frameworks=frameworks):
        report.add(event)
        total = cfg.epochs * len(frameworks)
        progress(report.steps_done() / total, desc=f"{report.steps_done()}/{total} framework-epochs")
        yield (report.loss_frame(), report.accuracy_frame(), report.summary_frame(),
               report.status(notes), report.run_id)


@friendly
def race(source, upload, arch, epochs, batch, lr, optimizer, seed, threads, keras_torch,
         variants, latency_batch, export, progress=gr.Progress()):
    """Time every chosen variant of every framework, one process at a time."""
    data, cfg = _setup(source, upload, arch, epochs, batch, lr, optimizer, seed, "eager")
    threads = check_threads(threads, CPU_COUNT)
    latency_batch, extra = check_race(cfg, latency_batch, variants,
                                      have_compiler=bool(shutil.which("g++") or shutil.which("c++")))
    frameworks, notes = runs.choose_frameworks(bool(keras_torch))
    plan = runs.race_plan(frameworks, extra)
    total = sum(len(v) for v in plan.values())
    results, exports, files = [], [], []
    progress(0, desc=f"Starting the PyTorch worker ({total} variants to time, one fresh process each)…")
    for event in runs.race(data, cfg, frameworks=frameworks, variants=plan,
                           threads=threads, latency_batch=latency_batch, export=bool(export)):
        if event["event"] == "variant":
            results.append(event)
        else:
            exports.append(event)
            files += [row["download"] for row in event["files"]]
        progress(len(results) / total, desc=f"{len(results)}/{total} variants timed")
        yield (race_frame(results), export_frame(exports), files or None,
               race_summary(results, latency_batch) + "".join(f"\n\nℹ️ {n}" for n in notes))


def _predict(img, run_id, progress):
    """Prepare the image, predict with every framework's model, show each answer as it comes."""
    x = image_to_input(img, runs.input_side(run_id))
    for probs, run_id, note, pending in runs.predict_digit(x, run_id,
                                                           on_status=lambda msg: progress(0, desc=msg)):
        labels, seen, verdict = prediction_view(probs, x, list(runs.LABELS.values()), note, pending)
        yield (*labels, seen, verdict, run_id)


@friendly
def predict_upload(path, run_id, progress=gr.Progress()):
    """Predict an uploaded digit image with every framework's model."""
    yield from _predict(open_image(path), run_id, progress)


@friendly
def predict_drawing(sketch, run_id, progress=gr.Progress()):
    """Predict the digit drawn on the sketchpad."""
    composite = (sketch or {}).get("composite") if isinstance(sketch, dict) else sketch
    if composite is None:
        raise ValueError("Nothing is drawn yet. Draw a digit with thick strokes, then click Predict.")
    yield from _predict(composite, run_id, progress)


@friendly
def sweep(widths, batches, steps, progress=gr.Progress()):
    """Time one training step per framework over a grid of widths and batch sizes."""
    widths, batches, steps = check_grid(widths, batches, steps, shared=is_shared())
    frameworks, notes = runs.choose_frameworks(False)
    columns = [c for c in runs.SWEEP_COLUMNS if c in frameworks]
    total = len(columns) * len(widths) * len(batches)
    points = []
    progress(0, desc="Starting the shared workers if needed…")
    for event in runs.sweep(widths, batches, steps, frameworks=frameworks):
        points.append(event)
        progress(len(points) / total, desc=f"{len(points)}/{total} points timed")
        yield (plot_frame(points), sweep_frame(points),
               crossover_note(points) + "".join(f"\n\nℹ️ {n}" for n in notes))


def warm_up() -> None:
    """Start the shared workers and train the default models in the background; returns at once."""
    runs.warm_up_in_background()


def example_digit(name: str) -> str:
    """The path of a shipped example digit (drawn from the digits *test* split)."""
    path = EXAMPLES / f"digit_{name}.png"
    if not path.is_file():
        raise gr.Error(f"No example digit {name!r}; pick one of 0, 3, 7.")
    return str(path)


def example_digit_loader(name: str):
    """A no-argument handler that loads one example digit (an event per button)."""
    return lambda: example_digit(name)


def example_settings_loader(kind: str):
    """A no-argument handler that fills the settings of one example."""
    return lambda: example_settings(kind)


def example_settings(kind: str):
    """Settings for the shipped examples: a quick MLP, or a CNN with more epochs."""
    if kind == "cnn":
        return "digits", "cnn", 6, 32, DEFAULT_LR, "adam", DEFAULT_SEED, "eager"
    return "digits", "mlp", DEFAULT_EPOCHS, DEFAULT_BATCH, DEFAULT_LR, "adam", DEFAULT_SEED, "eager"


with gr.Blocks(title=LAB.title) as demo:
    header(LAB, extra=environment_note())
    missing_banner(LAB)
    run_state = gr.State(None)

    with gr.Accordion("Data and settings (shared by every framework)", open=True):
        with gr.Row():
            source = gr.Radio(["digits", "upload"], value="digits", label="Data",
                              info="digits: scikit-learn's 1,797 8x8 digits (offline). upload: an .npz "
                                   "with arrays x (N,S,S) and y (N,) labels 0..9, S from 4 to 28.",
                              elem_id=f"{SLUG}_source")
            upload = gr.File(label="Your .npz (optional)", file_types=[".npz"], type="filepath",
                             height=120, elem_id=f"{SLUG}_upload")
        with gr.Row():
            arch = gr.Radio(list(ARCHITECTURES), value="mlp", label="Model",
                            info="mlp: 64-128-64-10. cnn: two 3x3 convs + 2 dense.")
            epochs = gr.Number(DEFAULT_EPOCHS, label=f"Epochs (1-{MAX_EPOCHS})", precision=0)
            batch = gr.Number(DEFAULT_BATCH, label=f"Batch size (1-{MAX_BATCH})", precision=0)
            lr = gr.Number(DEFAULT_LR, label="Learning rate (1e-6 to 1)")
            optimizer = gr.Radio(list(OPTIMIZERS), value="adam", label="Optimizer",
                                 info="adam (ε=1e-7 in both) or sgd (momentum 0.9)")
            seed = gr.Number(DEFAULT_SEED, label="Seed (weights + batch order)", precision=0)
        with gr.Row():
            mode = gr.Radio(list(MODES), value="eager", label="Training view mode",
                            info="compiled = torch.compile vs tf.function")
            threads = gr.Slider(1, CPU_COUNT, value=1, step=1, label="CPU threads per framework",
                                info="Same for all. 1 avoids thread pools fighting on a busy machine.")
            keras_torch = gr.Checkbox(True, label="Third column: Keras 3 on the PyTorch backend",
                                      info="Same Keras code, KERAS_BACKEND=torch, own process.")

    with gr.Tabs():
        with gr.Tab("Train side by side", id=f"{SLUG}_train_tab"):
            gr.Markdown("Every framework starts from **the same weights** (drawn once in NumPy and "
                        "copied in) and sees **the same batches**, so the curves lie on top of each "
                        "other (you mostly see the last one drawn: hover for each value). Epoch times "
                        "here are indicative; the **Fair race** tab measures carefully.")
            with gr.Row():
                ex_mlp = gr.Button("▶ Example: MLP on digits, 3 epochs", variant="primary",
                                   elem_id=f"{SLUG}_example_mlp")
                ex_cnn = gr.Button("▶ Example: CNN on digits, 6 epochs", elem_id=f"{SLUG}_example_cnn")
                train_btn = gr.Button("Train side by side", variant="primary", elem_id=f"{SLUG}_train")
                stop_btn = gr.Button("Stop", variant="stop", elem_id=f"{SLUG}_stop")
            status = gr.Markdown(elem_id=f"{SLUG}_status")
            with gr.Row():
                loss_plot = gr.LinePlot(x="epoch", y="train loss", color="framework",
                                        title="Training loss (mean over each epoch)", height=280)
                acc_plot = gr.LinePlot(x="epoch", y="test accuracy", color="framework",
                                       title="Test accuracy (epoch 0 = untrained)", height=280,
                                       y_lim=[0, 1])
            summary = gr.Dataframe(label="Per framework", interactive=False, elem_id=f"{SLUG}_summary")

        with gr.Tab("Fair race", id=f"{SLUG}_race_tab"):
            gr.Markdown(
                "Eager vs compiled in both frameworks, one fresh process at a time, same threads, "
                "same weights, same batches. **Epoch 1 is warm-up** (tracing, compiling) and is shown "
                "apart; the epoch time is the median of the later epochs. Uses the settings above "
                "(at least 2 epochs; 5 gives steadier medians).")
            with gr.Row():
                variants = gr.CheckboxGroup(
                    list(RACE_EXTRA_VARIANTS),
                    value=["tf.function", "tf.function+XLA"], label="Compiled variants to add",
                    info="Eager and Keras model.fit always run. torch.compile's first compile takes "
                         "20-60 s on 2 cores.")
                latency_batch = gr.Number(DEFAULT_LATENCY_BATCH,
                                          label=f"Batch N for latency (1-{MAX_LATENCY_BATCH})",
                                          precision=0)
                export = gr.Checkbox(True, label="Export models and time loading them back")
            with gr.Row():
                race_btn = gr.Button("Run the race", variant="primary", elem_id=f"{SLUG}_race")
                race_stop = gr.Button("Stop", variant="stop", elem_id=f"{SLUG}_race_stop")
            race_text = gr.Markdown(elem_id=f"{SLUG}_race_text")
            race_table = gr.Dataframe(label="Training and inference", interactive=False,
                                      elem_id=f"{SLUG}_race_table")
            export_table = gr.Dataframe(
                label="Exported models, each loaded back by its own runtime (ONNX: onnxruntime; TFLite: the "
                      "TFLite/LiteRT interpreter): max |diff| of the logits on 32 test rows, batch-1 latency",
                interactive=False, elem_id=f"{SLUG}_export_table")
            export_files = gr.File(label="Download the exported models", file_count="multiple",
                                   interactive=False)

        with gr.Tab("Dispatch sweep", id=f"{SLUG}_sweep_tab"):
            gr.Markdown(
                "Why is TensorFlow eager so much slower on the digits MLP? On a step of ~0.3 MFLOP the "
                "time is almost all **per-op dispatch overhead** (Python → framework → kernel; for Keras "
                "also its layer and optimiser machinery). Widen the MLP (64-W-W-10) and grow the batch: "
                "each framework's time per step is plotted against the work per step (log-log). Where "
                "the curves meet, the arithmetic dominates and the framework no longer matters. "
                "Eager mode, the shared workers (1 thread each), random data, median of the timed steps.")
            with gr.Row():
                sweep_widths = gr.Textbox(", ".join(map(str, DEFAULT_WIDTHS)), label="Hidden widths W",
                                          info="comma-separated, 1-2048", elem_id=f"{SLUG}_sweep_widths")
                sweep_batches = gr.Textbox(", ".join(map(str, DEFAULT_BATCHES)), label="Batch sizes",
                                           info="comma-separated, 1-4096", elem_id=f"{SLUG}_sweep_batches")
                sweep_steps = gr.Number(DEFAULT_STEPS, label=f"Timed steps per point (1-{MAX_STEPS})",
                                        precision=0)
            with gr.Row():
                sweep_btn = gr.Button("Run the sweep", variant="primary", elem_id=f"{SLUG}_sweep")
                sweep_stop = gr.Button("Stop", variant="stop", elem_id=f"{SLUG}_sweep_stop")
            sweep_text = gr.Markdown(elem_id=f"{SLUG}_sweep_text")
            sweep_plot = gr.ScatterPlot(x="log10 MFLOP per step", y="log10 ms per step", color="framework",
                                        title="Time per training step vs work per step (log-log)",
                                        height=320, elem_id=f"{SLUG}_sweep_plot")
            sweep_table = gr.Dataframe(label="Every point (ratio against PyTorch eager at the same point)",
                                       interactive=False, elem_id=f"{SLUG}_sweep_table")

        with gr.Tab("Draw & predict", id=f"{SLUG}_predict_tab") as predict_tab:
            gr.Markdown("Draw a digit (pick the brush on the left of the canvas; thick strokes, "
                        "centred) or upload a picture of one. The input is "
                        "cropped and shrunk to the training image size, like the digits set. If you "
                        "have not trained yet, the shared default MLP answers: a few seconds the first "
                        "time (PyTorch first; TensorFlow follows while its worker starts), instant after.")
            with gr.Row():
                with gr.Column():
                    sketch = gr.Sketchpad(label="Draw a digit", type="pil", canvas_size=(280, 280),
                                          brush=gr.Brush(default_size=18, colors=["#000000"],
                                                         color_mode="fixed"),
                                          elem_id=f"{SLUG}_sketch")
                    draw_btn = gr.Button("Predict the drawing", variant="primary",
                                         elem_id=f"{SLUG}_predict_drawing")
                with gr.Column():
                    picture = gr.Image(label="…or upload a digit image", type="filepath",
                                       elem_id=f"{SLUG}_picture", height=280)
                    with gr.Row():
                        digit_buttons = [gr.Button(f"Example digit {d}", size="sm",
                                                   elem_id=f"{SLUG}_example_digit_{d}")
                                         for d in ("3", "7", "0")]
                    upload_btn = gr.Button("Predict the image", variant="primary",
                                           elem_id=f"{SLUG}_predict_image")
            verdict = gr.Markdown(elem_id=f"{SLUG}_verdict")
            with gr.Row():
                label_outputs = [gr.Label(num_top_classes=3, label=name,
                                          elem_id=f"{SLUG}_label_{i}")
                                 for i, name in enumerate(runs.LABELS.values())]
                seen = gr.Image(label="What the models see", interactive=False, height=180)

    with gr.Accordion("The same model, side by side: PyTorch | Keras (TensorFlow and PyTorch backends)",
                      open=False):
        with gr.Row():
            gr.Code(source_of(build_torch_model, load_torch_weights, make_torch_optimizer, TorchRunner),
                    language="python", interactive=False, label="torch_side.py")
            gr.Code(source_of(build_keras_model, load_keras_weights, make_keras_optimizer,
                              KerasTFRunner, KerasFitRunner),
                    language="python", interactive=False, label="keras_side.py")
            gr.Code(source_of(build_raw_model, RawTFRunner), language="python", interactive=False,
                    label="raw_tf_side.py")
    code_panel(init_weights, to_keras, batch_order, validate_arrays, load_upload, image_to_input,
               runs.train_side_by_side, runs.ensure_default, runs.predict_digit, runs.race, Worker.bench,
               time_calls, label="Show the code: shared weights, data, timing and the worker processes")
    code_panel(torch_to_onnx, tf_to_tflite, saved_model_to_tflite, load_runtime, Worker.export,
               label="Show the code: ONNX and TFLite export, loaded back and checked")
    code_panel(step_flops, Worker.sweep_point, runs.sweep, check_grid,
               label="Show the code: the dispatch sweep")

    settings = [source, upload, arch, epochs, batch, lr, optimizer, seed, mode]
    train_outputs = [loss_plot, acc_plot, summary, status, run_state]
    train_inputs = settings + [threads, keras_torch, run_state]
    train_event = train_btn.click(train, inputs=train_inputs, outputs=train_outputs,
                                  api_name=f"{SLUG}_train", **HEAVY)
    example_events = []
    for button, kind in ((ex_mlp, "mlp"), (ex_cnn, "cnn")):
        fill = button.click(example_settings_loader(kind), outputs=[source, arch, epochs, batch, lr,
                                                                         optimizer, seed, mode],
                            api_name=f"{SLUG}_example_{kind}_settings")
        example_events.append(fill.then(train, inputs=train_inputs,
                                        outputs=train_outputs, api_name=f"{SLUG}_example_{kind}", **HEAVY))
    stop_btn.click(None, cancels=[train_event, *example_events], api_name=f"{SLUG}_stop",
                   api_visibility="private")

    race_event = race_btn.click(
        race, inputs=[source, upload, arch, epochs, batch, lr, optimizer, seed, threads, keras_torch,
                      variants, latency_batch, export],
        outputs=[race_table, export_table, export_files, race_text], api_name=f"{SLUG}_race", **HEAVY)
    race_stop.click(None, cancels=[race_event], api_name=f"{SLUG}_race_stop",
                    api_visibility="private")
    sweep_event = sweep_btn.click(sweep, inputs=[sweep_widths, sweep_batches, sweep_steps],
                                  outputs=[sweep_plot, sweep_table, sweep_text], api_name=f"{SLUG}_sweep",
                                  **HEAVY)
    sweep_stop.click(None, cancels=[sweep_event], api_name=f"{SLUG}_sweep_stop", api_visibility="private")

    # Opening the tab starts the shared workers and the default models while you draw.
    predict_tab.select(warm_up, api_name=f"{SLUG}_warm_up", api_visibility="private")
    predict_outputs = [*label_outputs, seen, verdict, run_state]
    draw_btn.click(predict_drawing, inputs=[sketch, run_state], outputs=predict_outputs,
                   api_name=f"{SLUG}_predict_drawing", **HEAVY)
    upload_btn.click(predict_upload, inputs=[picture, run_state], outputs=predict_outputs,
                     api_name=f"{SLUG}_predict_image", **HEAVY)
    for button, digit in zip(digit_buttons, ("3", "7", "0")):
        button.click(example_digit_loader(digit), outputs=picture,
                     api_name=f"{SLUG}_example_digit_{digit}")

    # gradio names the hidden helper behind every `cancels=` "unnamed"; in the launcher several
    # labs' helpers would then clash ("unnamed_1"...). Give ours slug-prefixed names.
    cancel_helpers = [fn for fn in demo.fns.values() if fn.is_cancel_function]
    for fn, what in zip(cancel_helpers, ("training", "race", "sweep")):  # in the order they were made
        fn.api_name = f"{SLUG}_cancel_{what}"


if __name__ == "__main__":
    serve(demo)
