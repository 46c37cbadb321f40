"""Lab 7 · Datasets and distillation: the UI. The work happens in data.py, models.py, distill.py,
plots.py, and experiments.py (what each button runs)."""

from __future__ import annotations

import gradio as gr

from labs import get
from labs.dataset_distillation import data, distill, evaluation, experiments, models, plots, uploads
from shared.ui import HEAVY, code_panel, friendly, header, missing_banner, serve

LAB = get("dataset_distillation")
SLUG = LAB.slug
NO_DROP = "(none)"

RUNS_ON = (
    "**Runs on:** the CPU, one torch thread per job - the models have a few thousand weights, so "
    "threads would cost more than they save. No GPU, no downloads: the built-in data ships inside "
    "scikit-learn, everything else is generated or uploaded by you."
)

CSV_HELP = f"""
**CSV format:** one header row, one column per feature (numbers), one column with the label (a
number or a word per row), found by its name - `label`, `target` (scikit-learn's `as_frame`
tables), `class` or `y` - or picked from this file's columns in *Label column*. Download the template below to see it. Rows with a missing value
(empty, `NA`, `nan`, `?`) are dropped and counted. Limits: {uploads.MAX_CSV_BYTES // 1_000_000} MB,
{uploads.MAX_ROWS:,} rows, {uploads.MAX_COLUMNS:,} columns, 2-{uploads.MAX_CLASSES} classes, at least
{uploads.MIN_PER_CLASS} rows per class.
"""
ZIP_HELP = f"""
**Image ZIP format:** one folder per class, images directly inside (`cat/001.png`, `dog/002.jpg`);
the folder name is the label. One wrapping folder is fine (`pets/cat/001.png`); deeper nesting,
files outside class folders, `..` paths and non-images are refused with a message. The ZIP is read in
memory: nothing is extracted. Limits: {uploads.MAX_ZIP_BYTES // 1_000_000} MB compressed,
{uploads.MAX_IMAGES:,} images, {uploads.MAX_CLASSES} classes, {uploads.MAX_IMAGE_PIXELS // 1_000_000} megapixels per image.
"""
BUILD_HELP = """
A model is a compressed summary of its training data: it can only answer with what that data
showed it. Train one, then use **Models only know their data** to remove a class or a region from
training (the test set keeps it) and see what the model does there.
"""
KD_HELP = """
**Knowledge distillation** (Hinton, Vinyals & Dean 2015) shrinks the *model*. A big teacher is
trained on every training row. A small student then learns from a *transfer set* (a share of the
rows) twice, from the same starting weights: once **alone** from the hard labels, once
**distilled** from the teacher's probabilities softened at temperature T plus the labels:
`alpha * T^2 * KL(teacher/T || student/T) + (1 - alpha) * CE(student, label)`. The soft targets
say which wrong classes are *almost* right (a 7 that looks like a 1), which hard labels never do.
"""
DD_HELP = """
**Dataset distillation** shrinks the *data*: find k samples per class so that a fresh model
trained only on them does well on real test data. Two learned methods, both starting from random
real samples and then changing their pixels/values:
- **DM - distribution matching** (Zhao & Bilen 2023): under many *random, untrained* networks, make
  the mean embedding of each class's synthetic samples equal that of the real ones.
- **DC - gradient matching** (Zhao, Mopuri & Bilen 2021): make the training gradient the synthetic
  samples give a network point the same way as the one real samples give, along training.

The default learns and scores with the papers' small **ConvNet** and states the lab's goal first:
DM (or DC) at k = 10 within 3 points of full data, measured in the same run, met or not met. Learned
sets come from several **synthesis seeds** (mean +- std), a **cross-architecture check** scores them
with the other model, and the **DC budget** (outer x inner steps) lets DC catch up with DM.

Baselines at the same k pick real samples: **random**, **herding** (running mean tracks the class
mean) and **k-centre** (spread out to cover the class), both in the feature space of a model
trained on all the data. Every set is scored by training fresh models on it (averaged over seeds).
Published MNIST figures for orientation (ConvNet, 1 / 10 images per class): random 64.9 / 95.1,
DM 89.7 / 97.5, DC 91.7 / 97.4. This lab's digits are 8x8 and its runs are short.
"""


def _progress(progress):
    return lambda fraction, desc: progress(fraction, desc=desc)


def _current(ds: data.Dataset) -> str:
    kind = "images" if ds.is_image else "table"
    return (f"**Current dataset:** {ds.name} - {len(ds.y):,} samples, {ds.X.shape[1]} features ({kind}), "
            f"{ds.n_classes} classes. Steps 2-4 use it.")


def _loaded(ds: data.Dataset, progress=None):
    """Outputs shared by every 'load data' button."""
    import pandas as pd

    if progress is not None:
        progress(0.5, desc="preview, figure and CSV/NPZ downloads")
    view = experiments.describe(ds)
    choices = [NO_DROP] + [f"{i}: {name}" for i, name in enumerate(ds.class_names)]
    return (ds, _current(ds), view.markdown, view.figure,
            pd.DataFrame(view.head, columns=view.head_columns),
            pd.DataFrame(view.columns, columns=["column", "type", "missing in upload", "min", "mean", "max"]),
            pd.DataFrame(view.classes, columns=["label", "class", "samples", "share"]),
            view.files, gr.Dropdown(choices=choices, value=NO_DROP))


@friendly
def load_builtin(name):
    """Load a dataset that ships with scikit-learn."""
    return _loaded(data.builtin(name))


@friendly
def load_generated(shape, classes, per_class, noise, seed, progress=gr.Progress()):
    """Generate a short dataset."""
    progress(0.0, desc=f"generating {shape}")
    return _loaded(data.generate(shape, classes=int(classes), per_class=int(per_class), noise=float(noise),
                                 seed=data.number(seed, data.SEED_RANGE, "Seed", whole=True)), progress)


@friendly
def load_csv(path, label_column):
    """Read an uploaded CSV and show how it was read."""
    return _loaded(uploads.read_csv(path, label_column=label_column))


@friendly
def csv_columns(path):
    """Fill the label-column picker with the uploaded CSV's columns (and the guess by name)."""
    header, guess = uploads.csv_columns(path)
    return gr.Dropdown(choices=[uploads.AUTO] + header, value=guess)


@friendly
def load_zip(path, size, grayscale, progress=gr.Progress()):
    """Read an uploaded ZIP of class folders."""
    progress(0.0, desc="checking and reading the ZIP in memory")
    if not isinstance(size, (int, float)) or isinstance(size, bool) or size != size:
        raise ValueError(f"The image size must be a number of pixels (e.g. 8), not {str(size)[:40]!r}.")
    return _loaded(uploads.read_image_zip(path, size=int(size), grayscale=bool(grayscale)), progress)


@friendly
def make_templates():
    """Write the CSV template and a small example image ZIP for download."""
    folder = experiments.out_dir()
    csv_path = folder / "template.csv"
    csv_path.write_text(uploads.template_csv())
    return [str(csv_path), uploads.template_zip(folder / "template_images.zip")]


def _drop_index(choice) -> int | None:
    if choice in (None, "", NO_DROP):
        return None
    head = str(choice).split(":", 1)[0].strip()
    if not head.lstrip("-").isdigit():
        raise ValueError(f"Class to drop must be '{NO_DROP}' or one of the listed classes (got {choice!r}).")
    return int(head)


@friendly
def build(ds, kind, hidden, layers, epochs, lr, test_fraction, seed, drop_class, drop_region,
          progress=gr.Progress()):
    """Train a model on the current dataset and show curves, confusion matrix and the lesson."""
    ds, note = experiments.ensure_dataset(ds)
    view = experiments.build_model(ds, kind=kind, hidden=int(hidden), layers=int(layers), epochs=int(epochs),
                                   lr=data.number(lr, models.LR_RANGE, "Learning rate"),
                                   test_fraction=float(test_fraction),
                                   seed=data.number(seed, data.SEED_RANGE, "Seed", whole=True),
                                   drop_class=_drop_index(drop_class), drop_region=float(drop_region or 0),
                                   progress=_progress(progress))
    return note + view.markdown, view.curves, view.confusion, view.lesson, view.files


@friendly
def knowledge(ds, teacher_hidden, student_hidden, temperature, alpha, student_fraction, seeds,
              progress=gr.Progress()):
    """Run knowledge distillation on the current dataset."""
    import pandas as pd

    ds, note = experiments.ensure_dataset(ds)
    view = experiments.run_knowledge_distillation(
        ds, teacher_hidden=int(teacher_hidden), student_hidden=int(student_hidden), temperature=float(temperature),
        alpha=float(alpha), student_fraction=float(student_fraction), seeds=int(seeds), progress=_progress(progress))
    table = pd.DataFrame(view.rows, columns=["model", "weights", "test accuracy %", "train seconds"])
    return note + view.markdown, table, view.soft, view.files


@friendly
def condense(ds, methods, ks, seeds, kind, dm_iterations, dc_outer, dc_inner=distill.DC_INNER,
             synth_seeds=evaluation.SYNTH_SEEDS, cross_arch=True, progress=gr.Progress()):
    """Run dataset distillation and its baselines on the current dataset."""
    import pandas as pd

    if not methods:
        raise ValueError("Tick at least one method (random, herding, k-center, DM, DC).")
    if not ks:
        raise ValueError("Tick at least one number of samples per class (k).")
    ds, note = experiments.ensure_dataset(ds)
    view = experiments.run_dataset_distillation(ds, methods=list(methods), ks=[int(k) for k in ks],
                                                seeds=int(seeds), synth_seeds=int(synth_seeds), kind=kind,
                                                dm_iterations=int(dm_iterations), dc_outer=int(dc_outer),
                                                dc_inner=int(dc_inner), cross_arch=bool(cross_arch),
                                                progress=_progress(progress))
    table = pd.DataFrame(view.rows, columns=["method", "k per class", "samples", "test accuracy %", "+- std",
                                             "vs full data (points)", "seconds to build"])
    return note + view.markdown, view.accuracy_plot, table, view.samples, view.files


with gr.Blocks(title=LAB.title) as demo:
    header(LAB, extra=RUNS_ON)
    missing_banner(LAB)
    dataset = gr.State(None)
    current = gr.Markdown("**Current dataset:** none loaded yet - steps 2-4 use the built-in digits until you "
                          "load something in step 1.", elem_id=f"{SLUG}_current")
    with gr.Tabs():
        # ---------------------------------------------------------------- 1 · Data
        with gr.Tab("1 · Data", id=f"{SLUG}_tab_data"):
            gr.Markdown("Every model is a descendant of its dataset. Load one of three kinds, then check the "
                        "preview: it shows exactly how the data was read.")
            with gr.Tabs():
                with gr.Tab("Built-in (real data)", id=f"{SLUG}_src_builtin"):
                    builtin_name = gr.Dropdown(list(data.BUILTIN), value="digits", label="Dataset",
                                               info="digits: 8x8 images; iris, wine, breast_cancer: tables")
                    builtin_btn = gr.Button("Load", variant="primary", elem_id=f"{SLUG}_load_builtin")
                with gr.Tab("Generate a short dataset", id=f"{SLUG}_src_generate"):
                    with gr.Row():
                        shape = gr.Radio(list(data.SHAPES), value="spirals", label="Shape")
                        gen_seed = gr.Number(0, label="Seed", precision=0, minimum=0)
                    with gr.Row():
                        gen_classes = gr.Slider(*data.GEN_CLASSES, value=3, step=1, label="Classes")
                        gen_per_class = gr.Slider(*data.GEN_SAMPLES, value=150, step=10, label="Samples per class")
                        gen_noise = gr.Slider(*data.GEN_NOISE, value=0.2, step=0.05, label="Noise")
                    gen_btn = gr.Button("Generate", variant="primary", elem_id=f"{SLUG}_generate")
                with gr.Tab("Upload CSV", id=f"{SLUG}_src_csv"):
                    gr.Markdown(CSV_HELP)
                    with gr.Row():
                        csv_file = gr.File(label="CSV file", file_types=[".csv", ".txt"], type="filepath")
                        label_col = gr.Dropdown([uploads.AUTO], value=uploads.AUTO, allow_custom_value=True,
                                                label="Label column", elem_id=f"{SLUG}_label_column",
                                                info="(auto) finds label, target, class or y; or pick the column "
                                                     "to predict (the list fills when you upload)")
                    csv_btn = gr.Button("Read CSV", variant="primary", elem_id=f"{SLUG}_read_csv")
                with gr.Tab("Upload image ZIP", id=f"{SLUG}_src_zip"):
                    gr.Markdown(ZIP_HELP)
                    with gr.Row():
                        zip_file = gr.File(label="ZIP of class folders", file_types=[".zip"], type="filepath")
                        with gr.Column():
                            zip_size = gr.Dropdown(list(uploads.IMAGE_SIZES), value=uploads.DEFAULT_IMAGE_SIZE,
                                                   label="Resize images to (pixels)")
                            zip_grey = gr.Checkbox(True, label="Convert to grey")
                    zip_btn = gr.Button("Read ZIP", variant="primary", elem_id=f"{SLUG}_read_zip")
                with gr.Tab("Templates", id=f"{SLUG}_src_templates"):
                    gr.Markdown("What an upload should look like: a CSV in the expected format and a ZIP with "
                                "three class folders of drawn digits.")
                    tmpl_btn = gr.Button("Make the templates", elem_id=f"{SLUG}_templates")
                    tmpl_files = gr.File(label="Templates", file_count="multiple", elem_id=f"{SLUG}_template_files")
            preview_md = gr.Markdown("Load a dataset to see how it was read.", elem_id=f"{SLUG}_preview")
            data_plot = gr.Plot(label="The data", elem_id=f"{SLUG}_data_plot")
            head_df = gr.Dataframe(label="First rows, as read", interactive=False)
            with gr.Row():
                cols_df = gr.Dataframe(label="Columns", interactive=False)
                classes_df = gr.Dataframe(label="Classes", interactive=False)
            data_files = gr.File(label="Download the data (CSV, NPZ)", file_count="multiple")
            code_panel(uploads.read_csv, uploads.find_label_column, uploads.read_image_zip, data.generate, data.draw_digit, data.preview)

        # ---------------------------------------------------------------- 2 · Build a model
        with gr.Tab("2 · Build a model", id=f"{SLUG}_tab_build"):
            gr.Markdown(BUILD_HELP)
            with gr.Row():
                kind = gr.Radio(list(models.MODEL_KINDS), value="MLP", label="Model",
                                info="ConvNet: image data only")
                hidden = gr.Slider(*models.HIDDEN_RANGE, value=64, step=4, label="Hidden units / channels")
                layers = gr.Slider(1, 4, value=2, step=1, label="Layers")
            with gr.Row():
                epochs = gr.Slider(*models.EPOCH_RANGE, value=models.DEFAULT_EPOCHS, step=1, label="Epochs")
                lr = gr.Number(models.DEFAULT_LR, label="Learning rate (Adam)", minimum=models.LR_RANGE[0],
                               maximum=models.LR_RANGE[1])
                test_fraction = gr.Slider(0.1, 0.5, value=0.25, step=0.05, label="Test fraction")
                seed = gr.Number(0, label="Seed", precision=0, minimum=0)
            with gr.Accordion("Models only know their data", open=True):
                with gr.Row():
                    drop_class = gr.Dropdown([NO_DROP] + [f"{i}: {i}" for i in range(10)], value=NO_DROP,
                                             allow_custom_value=True, label="Remove a class from training",
                                             elem_id=f"{SLUG}_drop_class")
                    drop_region = gr.Slider(0, 0.9, value=0, step=0.05, label="Remove a region from training",
                                            info="share of the first feature's range, from the right (tables, "
                                                 "point clouds)")
            build_btn = gr.Button("Train the model", variant="primary", elem_id=f"{SLUG}_train")
            build_md = gr.Markdown(elem_id=f"{SLUG}_build_result")
            with gr.Row():
                curves = gr.Plot(label="Training curves")
                confusion = gr.Plot(label="Confusion matrix (test set)")
            lesson = gr.Plot(label="Decision regions (2-D data)")
            model_files = gr.File(label="Download the model (safetensors + config)", file_count="multiple")
            code_panel(experiments.build_model, models.train, models.build_model, data.drop_from_training,
                       models.save_model)

        # ---------------------------------------------------------------- 3 · Knowledge distillation
        with gr.Tab("3 · Knowledge distillation", id=f"{SLUG}_tab_kd"):
            gr.Markdown(KD_HELP)
            with gr.Row():
                teacher_hidden = gr.Slider(32, 512, value=256, step=32, label="Teacher width",
                                           info="MLP units for tables; ConvNet channels (max 32) for images")
                student_hidden = gr.Slider(4, 128, value=32, step=4, label="Student hidden units (1 layer)")
                seeds_kd = gr.Slider(1, 5, value=3, step=1, label="Seeds (averaged)")
            with gr.Row():
                temperature = gr.Slider(*distill.TEMPERATURE_RANGE, value=4, step=0.5, label="Temperature T")
                alpha = gr.Slider(*distill.ALPHA_RANGE, value=0.9, step=0.05, label="alpha (weight of soft targets)")
                student_fraction = gr.Slider(0.05, 1.0, value=0.3, step=0.05,
                                             label="Students' share of the training rows")
            kd_btn = gr.Button("Distil the teacher into the student", variant="primary", elem_id=f"{SLUG}_kd_run")
            kd_md = gr.Markdown(elem_id=f"{SLUG}_kd_result")
            kd_table = gr.Dataframe(label="Side by side", interactive=False, elem_id=f"{SLUG}_kd_table")
            soft_plot = gr.Plot(label="Softened targets")
            kd_files = gr.File(label="Download the distilled student (safetensors + config)", file_count="multiple")
            code_panel(distill.kd_loss, distill.knowledge_distillation, experiments.run_knowledge_distillation)

        # ---------------------------------------------------------------- 4 · Dataset distillation
        with gr.Tab("4 · Dataset distillation", id=f"{SLUG}_tab_dd"):
            gr.Markdown(DD_HELP)
            with gr.Row():
                methods = gr.CheckboxGroup(list(distill.METHODS), value=["random", "herding", "DM"],
                                           label="Methods", info="DC is the slowest; give it budget below")
                ks = gr.CheckboxGroup([str(k) for k in distill.K_CHOICES], value=[str(evaluation.GOAL_K)],
                                      label="Samples per class (k)", info="the goal is stated at k = 10")
            with gr.Row():
                seeds_dd = gr.Slider(*evaluation.SEEDS_RANGE[:1], 5, value=evaluation.EVAL_SEEDS, step=1,
                                     label="Fresh models per set (evaluation seeds)")
                synth_seeds = gr.Slider(*evaluation.SYNTH_SEEDS_RANGE, value=evaluation.SYNTH_SEEDS, step=1,
                                        label="Learned sets per method (synthesis seeds)")
                eval_kind = gr.Radio(list(models.MODEL_KINDS), value=experiments.DD_KIND,
                                     label="Model that learns and scores the sets",
                                     info="ConvNet: images (tables use the MLP)")
                cross_arch = gr.Checkbox(True, label="Cross-architecture check",
                                         info="also score the sets with the other model (images)")
            with gr.Row():
                dm_iterations = gr.Slider(50, 2000, value=distill.DM_ITERATIONS, step=50, label="DM iterations")
                dc_outer = gr.Slider(5, 200, value=distill.DC_OUTER, step=5, label="DC budget: outer loops",
                                     info="a fresh network each")
                dc_inner = gr.Slider(1, 50, value=distill.DC_INNER, step=1, label="DC budget: inner steps",
                                     info="matching steps per network")
            dd_btn = gr.Button("Distil the dataset", variant="primary", elem_id=f"{SLUG}_dd_run")
            dd_md = gr.Markdown(elem_id=f"{SLUG}_dd_result")
            acc_plot = gr.Plot(label="Accuracy vs samples per class", elem_id=f"{SLUG}_dd_plot")
            dd_table = gr.Dataframe(label="Every method, every k", interactive=False, elem_id=f"{SLUG}_dd_table")
            samples_plot = gr.Plot(label="The k samples per class (largest k)")
            dd_files = gr.File(label="Download the distilled dataset (CSV, NPZ, PNG grid)", file_count="multiple")
            code_panel(distill.distribution_matching, distill.gradient_matching, distill.herding, distill.k_center,
                       evaluation.compare, evaluation.train_many, evaluation.goal_lines,
                       experiments.run_dataset_distillation)

    loaded = [dataset, current, preview_md, data_plot, head_df, cols_df, classes_df, data_files, drop_class]
    builtin_btn.click(load_builtin, [builtin_name], loaded, api_name=f"{SLUG}_builtin")
    gen_btn.click(load_generated, [shape, gen_classes, gen_per_class, gen_noise, gen_seed], loaded,
                  api_name=f"{SLUG}_generate", **HEAVY)
    csv_file.upload(csv_columns, [csv_file], label_col, api_name=f"{SLUG}_csv_columns")
    csv_btn.click(load_csv, [csv_file, label_col], loaded, api_name=f"{SLUG}_read_csv", **HEAVY)
    zip_btn.click(load_zip, [zip_file, zip_size, zip_grey], loaded, api_name=f"{SLUG}_read_zip", **HEAVY)
    tmpl_btn.click(make_templates, None, tmpl_files, api_name=f"{SLUG}_templates")
    build_btn.click(build, [dataset, kind, hidden, layers, epochs, lr, test_fraction, seed, drop_class, drop_region],
                    [build_md, curves, confusion, lesson, model_files], api_name=f"{SLUG}_train", **HEAVY)
    kd_btn.click(knowledge, [dataset, teacher_hidden, student_hidden, temperature, alpha, student_fraction, seeds_kd],
                 [kd_md, kd_table, soft_plot, kd_files], api_name=f"{SLUG}_knowledge", **HEAVY)
    dd_btn.click(condense, [dataset, methods, ks, seeds_dd, eval_kind, dm_iterations, dc_outer, dc_inner, synth_seeds,
                            cross_arch],
                 [dd_md, acc_plot, dd_table, samples_plot, dd_files], api_name=f"{SLUG}_condense", **HEAVY)


if __name__ == "__main__":
    serve(demo)
