"""What each button of the lab runs, start to finish: split, scale, train, measure, draw, save.

Every function takes a `Dataset` (from `data.py`) and plain settings, and returns a small view
object with the markdown, tables, figures and file paths the page shows. No gradio here: the same
functions run from the tests and the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import data, distill, evaluation, models, plots
from .data import Dataset
from .models import ModelSpec, Scaler
from shared import scratch
from shared.serving import Deadline, is_shared

DEFAULT_DATA = "digits"  # what every step uses until the user loads something else
# Dataset distillation learns and scores with the papers' small ConvNet by default: on digits it
# reaches the goal (k = 10 within 3 points of full data) where the MLP stays ~4 points short.
DD_KIND = "ConvNet"
CONVNET_WIDTH = 32  # channels per conv block (the papers use 128 for 32x32 images; 8x8 needs far fewer)
HEAD_ROWS = 5  # rows shown as "this is how your file was read"
SLUG = "dataset_distillation"
# Downloads of each run live in a scratch folder; gradio copies what it serves at once, so folders
# older than this are pruned whenever a new run makes one.
KEEP_S = 3600.0
# On a shared server each training run (steps 2-4) must finish within this; the defaults take a few
# seconds, the largest settings on the built-in digits about 2.5 minutes. Locally there is no limit.
SHARED_BUDGET_S = 60.0


def _noop(_f: float, _d: str) -> None:
    pass


def require_packages(*modules: str) -> None:
    """Raise `MissingDependency` naming the install command if an optional package is missing."""
    from shared.optional import require

    for module in modules:
        require(module, slug="dataset_distillation", purpose="this step of the lab")


def out_dir() -> Path:
    """A fresh scratch folder for one run's downloads (folders older than `KEEP_S` are pruned)."""
    return scratch.new_folder(SLUG, prefix="dataset_distillation_", keep_s=KEEP_S)


def budgeted(progress, what: str):
    """On a shared server, `progress` that also stops the run at `SHARED_BUDGET_S` (checked at every update).

    Training reports progress every epoch or step, so a run stops within one step of its budget
    with `BudgetExceeded` ("... ran past its 60 s budget and was stopped. Try smaller settings.").
    Locally `progress` is returned unchanged.
    """
    if not is_shared():
        return progress
    deadline = Deadline(SHARED_BUDGET_S, what=f"{what} on this shared server")

    def checked(fraction: float, desc: str) -> None:
        deadline.check()
        progress(fraction, desc)
    return checked


def ensure_dataset(ds: Dataset | None) -> tuple[Dataset, str]:
    """The loaded dataset, or the built-in digits with a note saying so."""
    if ds is None:
        return data.builtin(DEFAULT_DATA), f"No dataset loaded yet, so the built-in **{DEFAULT_DATA}** are used. "
    return ds, ""


# --- Step 1: data ---------------------------------------------------------------------------------
@dataclass
class DataView:
    markdown: str
    columns: list[list]
    classes: list[list]
    head: list[list]
    head_columns: list[str]
    figure: object
    files: list[str]


def describe(ds: Dataset, folder: Path | None = None) -> DataView:
    """Preview tables, a figure, and the data as CSV + NPZ downloads."""
    require_packages("matplotlib")
    folder = folder or out_dir()
    md, cols, classes = data.preview(ds)
    shown = list(range(min(ds.X.shape[1], 8)))
    head_cols = [ds.feature_names[i] for i in shown] + (["..."] if ds.X.shape[1] > 8 else []) + ["label"]
    head = [[round(float(ds.X[r, i]), 4) for i in shown] + (["..."] if ds.X.shape[1] > 8 else [])
            + [ds.class_names[ds.y[r]]] for r in range(min(HEAD_ROWS, len(ds.y)))]
    files = [data.to_csv(ds, folder / f"{ds.name}.csv"), data.to_npz(ds, folder / f"{ds.name}.npz")]
    return DataView(md, cols, classes, head, head_cols, plots.data_figure(ds), files)


# --- Step 2: build a model ------------------------------------------------------------------------
@dataclass
class Prepared:
    """A dataset split and standardised with statistics of its training part only."""

    train: Dataset
    test: Dataset
    scaler: Scaler
    Xtr: np.ndarray
    Xte: np.ndarray


def prepare(ds: Dataset, *, test_fraction: float = 0.25, seed: int = 0) -> Prepared:
    """Stratified split, then a scaler fitted on the training rows (no test leakage)."""
    train, test = data.split(ds, test_fraction=test_fraction, seed=seed)
    scaler = Scaler.fit(train.X, per_feature=not ds.is_image)
    return Prepared(train, test, scaler, scaler.transform(train.X), scaler.transform(test.X))


def make_spec(ds: Dataset, scaler: Scaler, *, kind: str = "MLP", hidden: int = 64, layers: int = 2) -> ModelSpec:
    """The ModelSpec for this dataset (input size, classes, scaler saved with the weights)."""
    spec = ModelSpec(kind, ds.X.shape[1], ds.n_classes, int(hidden), int(layers), ds.image_shape,
                     list(ds.class_names), list(ds.feature_names), scaler.mean.tolist(), scaler.std.tolist())
    models.check_spec(spec)
    return spec


@dataclass
class BuildView:
    markdown: str
    curves: object
    confusion: object
    lesson: object | None
    files: list[str]
    test_accuracy: float
    dropped_accuracy: float | None = None  # on the dropped class / region, when one was dropped


def build_model(ds: Dataset, *, kind: str = "MLP", hidden: int = 64, layers: int = 2,
                epochs: int = models.DEFAULT_EPOCHS, lr: float = models.DEFAULT_LR, test_fraction: float = 0.25,
                seed: int = 0, drop_class: int | None = None, drop_region: float = 0.0,
                folder: Path | None = None, progress=_noop) -> BuildView:
    """Train a model on the training split (minus any dropped class/region) and test it.

    The test split keeps everything, so the page can show what the model does on data it never saw.
    """
    require_packages("torch", "matplotlib", "safetensors")
    progress = budgeted(progress, "training")
    folder = folder or out_dir()
    if drop_region and ds.is_image:
        raise data.DataError("Dropping a region works on tables and 2-D point clouds (it cuts along the first "
                             "feature). For images, drop a class instead.")
    prep = prepare(ds, test_fraction=test_fraction, seed=seed)
    reduced, threshold, what = data.drop_from_training(prep.train, drop_class=drop_class, drop_region=drop_region)
    # Scale with statistics of what the model is really trained on.
    scaler = Scaler.fit(reduced.X, per_feature=not ds.is_image)
    Xtr, ytr = scaler.transform(reduced.X), reduced.y
    Xte, yte = scaler.transform(prep.test.X), prep.test.y
    spec = make_spec(ds, scaler, kind=kind, hidden=hidden, layers=layers)
    model = models.build_model(spec, seed=seed)
    with models.one_thread():
        hist = models.train(model, Xtr, ytr, epochs=int(epochs), lr=float(lr), seed=seed, X_test=Xte, y_test=yte,
                            on_epoch=lambda e, n: progress(e / n, f"epoch {e}/{n}"))
        pred = models.predict(model, Xte)
    acc = float((pred == yte).mean())
    cm = models.confusion(yte, pred, ds.n_classes)
    lines = [f"**Test accuracy {100 * acc:.1f}%** on {len(yte)} held-out samples · "
             f"{models.count_params(model):,} weights · trained on {len(ytr)} samples for {epochs} epochs "
             f"in {hist.seconds:.1f} s (CPU, one thread) · {what}."]
    lesson, dropped_acc = None, None
    if drop_class is not None:
        mask = yte == drop_class
        dropped_acc = float((pred[mask] == drop_class).mean()) if mask.any() else float("nan")
        got = np.bincount(pred[mask], minlength=ds.n_classes)
        top = [f"{ds.class_names[c]!r} ({got[c]})" for c in np.argsort(-got)[:3] if got[c]]
        others = float((pred[~mask] == yte[~mask]).mean())
        lines.append(f"\n**The model never saw class {ds.class_names[drop_class]!r}.** Accuracy on its "
                     f"{int(mask.sum())} test samples: **{100 * dropped_acc:.0f}%** - it cannot output a class it "
                     f"was never shown. It called them: {', '.join(top)}. On the other classes: {100 * others:.1f}%.")
    if threshold is not None:
        inside = prep.test.X[:, 0] > threshold
        if inside.any():
            dropped_acc = float((pred[inside] == yte[inside]).mean())
            lines.append(f"\n**Region removed from training** ({ds.feature_names[0]} > {threshold:.3g}): accuracy "
                         f"there **{100 * dropped_acc:.1f}%** on {int(inside.sum())} test samples, vs "
                         f"{100 * float((pred[~inside] == yte[~inside]).mean()):.1f}% where it had data. "
                         "Outside its data the model extrapolates its boundaries; nothing tells it what is there.")
    if ds.X.shape[1] == 2 and not ds.is_image:
        lesson = plots.boundary_figure(lambda g: models.predict(model, scaler.transform(g)), reduced.X, reduced.y,
                                       prep.test.X, prep.test.y, ds.class_names, threshold=threshold)
    metrics = {"test_accuracy": acc, "trained_on": what, "epochs": int(epochs)}
    files = models.save_model(model, spec, folder, name=f"{ds.name}_{kind.lower()}", metrics=metrics)
    return BuildView("\n".join(lines), plots.curves_figure(hist),
                     plots.confusion_figure(cm, ds.class_names, highlight=drop_class), lesson, files, acc, dropped_acc)


# --- Step 3: knowledge distillation ---------------------------------------------------------------
@dataclass
class KDView:
    markdown: str
    rows: list[list]
    soft: object
    files: list[str]
    result: distill.KDResult = field(repr=False, default=None)


def run_knowledge_distillation(ds: Dataset, *, teacher_hidden: int = 256, student_hidden: int = 32,
                               temperature: float = 4.0, alpha: float = 0.9, student_fraction: float = 0.3,
                               teacher_epochs: int = 30, student_epochs: int = 100, seeds: int = 3,
                               test_fraction: float = 0.25, folder: Path | None = None,
                               progress=_noop) -> KDView:
    """Teacher -> student with softened targets; the same student trained alone for comparison.

    The teacher is a ConvNet (width <= 32) for images and a 2-layer MLP for tables; the student is a
    1-layer MLP trained on a `student_fraction` share of the training rows (see
    `distill.knowledge_distillation`).
    """
    require_packages("torch", "matplotlib", "safetensors")
    progress = budgeted(progress, "knowledge distillation")
    folder = folder or out_dir()
    prep = prepare(ds, test_fraction=test_fraction)
    teacher_kind = "ConvNet" if ds.is_image else "MLP"
    t_spec = make_spec(ds, prep.scaler, kind=teacher_kind, hidden=min(int(teacher_hidden), 32)
                       if teacher_kind == "ConvNet" else int(teacher_hidden), layers=2)
    s_spec = make_spec(ds, prep.scaler, kind="MLP", hidden=int(student_hidden), layers=1)
    with models.one_thread():
        res = distill.knowledge_distillation(prep.Xtr, prep.train.y, prep.Xte, prep.test.y, t_spec, s_spec,
                                             temperature=float(temperature), alpha=float(alpha),
                                             epochs=int(teacher_epochs), student_epochs=int(student_epochs),
                                             student_fraction=float(student_fraction), seeds=int(seeds),
                                             progress=progress)
    gain = 100 * (res.distilled_acc - res.student_acc)
    verdict = ("beats" if gain > 0.25 else "matches" if gain >= -0.25 else "falls behind")
    ratio = res.rows[0][1] / max(res.rows[1][1], 1)
    md = (f"Teacher **{100 * res.teacher_acc:.1f}%** with {res.rows[0][1]:,} weights. The student has "
          f"{res.rows[1][1]:,} weights ({ratio:.0f}x smaller) and learns from {res.transfer_rows} of the "
          f"{len(prep.train.y):,} training rows. Averaged over {seeds} initialisation(s), the "
          f"**distilled student {verdict} the student trained alone: {100 * res.distilled_acc:.1f}% vs "
          f"{100 * res.student_acc:.1f}% ({gain:+.1f} points)**. Both students start from the same weights and "
          f"see the same rows; only the targets differ.")
    if student_fraction >= 1:
        md += (" With every row available the hard labels already say most of what the teacher knows; "
               "lower the students' share to see where distillation pays.")
    files = models.save_model(res.student, s_spec, folder, name=f"{ds.name}_distilled_student",
                              metrics={"test_accuracy_mean": res.distilled_acc, "temperature": temperature,
                                       "alpha": alpha, "teacher_accuracy": res.teacher_acc})
    return KDView(md, res.rows, plots.soft_targets_figure(res.soft_example, ds.class_names), files, res)


# --- Step 4: dataset distillation -----------------------------------------------------------------
@dataclass
class DDView:
    markdown: str
    rows: list[list]
    accuracy_plot: object
    samples: object
    files: list[str]
    comparison: evaluation.Comparison = field(repr=False, default=None)
    goal: list[str] = field(default_factory=list)  # evaluation.goal_lines: "DM k=10: ... - goal <= 3: met"


def other_kind(kind: str, ds: Dataset) -> str | None:
    """The architecture for the cross-architecture check: the other one, where the data allows it."""
    if not ds.is_image:
        return None  # a ConvNet cannot read a table, so tables have only the MLP
    return "MLP" if kind == "ConvNet" else "ConvNet"


def run_dataset_distillation(ds: Dataset, *, methods=("random", "herding", "DM"), ks=(1, 10),
                             seeds: int = evaluation.EVAL_SEEDS, synth_seeds: int = evaluation.SYNTH_SEEDS,
                             kind: str = DD_KIND, hidden: int | None = None,
                             dm_iterations: int = distill.DM_ITERATIONS, dc_outer: int = distill.DC_OUTER,
                             dc_inner: int = distill.DC_INNER, cross_arch: bool = True,
                             test_fraction: float = 0.25, folder: Path | None = None,
                             progress=_noop) -> DDView:
    """Compare k-per-class sets from every method by training fresh models on them.

    The sets are learned with `kind` (a ConvNet by default; tables fall back to the MLP, with a
    note) and, with `cross_arch`, also scored by the other architecture. The markdown opens with
    the lab's goal at k = 10, met or not met, with the gap to full data measured in the same run.
    Downloads: the learned sets of the largest k (CSV + NPZ, and PNG grids for images).
    """
    require_packages("torch", "matplotlib")
    progress = budgeted(progress, "dataset distillation")
    folder = folder or out_dir()
    ks = sorted({int(k) for k in ks})
    methods = [m for m in distill.METHODS if m in methods]
    notes = []
    if kind == "ConvNet" and not ds.is_image:
        kind = "MLP"
        notes.append("A ConvNet needs images, so this table is distilled and scored with the MLP.")
    hidden = int(hidden or (CONVNET_WIDTH if kind == "ConvNet" else 64))
    prep = prepare(ds, test_fraction=test_fraction)
    spec = make_spec(ds, prep.scaler, kind=kind, hidden=hidden, layers=2)
    cross = other_kind(kind, ds) if cross_arch else None
    cross_spec = (make_spec(ds, prep.scaler, kind=cross, hidden=CONVNET_WIDTH if cross == "ConvNet" else 64,
                            layers=2) if cross else None)
    if cross_arch and cross is None:
        notes.append("The cross-architecture check needs images (a ConvNet cannot read a table), so it was skipped.")
    with models.one_thread():
        comp = evaluation.compare(prep.Xtr, prep.train.y, prep.Xte, prep.test.y, ds.n_classes, spec, methods=methods,
                                  ks=ks, seeds=int(seeds), synth_seeds=int(synth_seeds),
                                  dm_iterations=int(dm_iterations), dc_outer=int(dc_outer), dc_inner=int(dc_inner),
                                  cross_spec=cross_spec, progress=progress)
    k_show = ks[-1]
    # Back to pixel / feature units for display and download.
    shown = {m: (prep.scaler.inverse(comp.sets[(m, k_show)][0]), comp.sets[(m, k_show)][1]) for m in methods}
    files = []
    for m in methods:
        X, y = shown[m]
        syn = Dataset(f"{ds.name}_{m.lower().replace('-', '')}_k{k_show}", X, y, list(ds.class_names),
                      list(ds.feature_names), ds.image_shape, f"{distill.METHOD_LABELS[m]} of {ds.name}")
        if m in ("DM", "DC"):
            files += [data.to_csv(syn, folder / f"{syn.name}.csv"), data.to_npz(syn, folder / f"{syn.name}.npz")]
            if ds.is_image:
                files.append(plots.save_image_grid_png(X, y, ds.image_shape, folder / f"{syn.name}.png",
                                                       n_classes=ds.n_classes))
    if not files:  # only baselines chosen: still give the picked subset
        m = methods[0]
        X, y = shown[m]
        syn = Dataset(f"{ds.name}_{m}_k{k_show}", X, y, list(ds.class_names), list(ds.feature_names), ds.image_shape)
        files.append(data.to_csv(syn, folder / f"{syn.name}.csv"))
    goal = evaluation.goal_lines(comp)
    return DDView(dd_markdown(comp, ds, prep, goal=goal, notes=notes, dc_budget=(int(dc_outer), int(dc_inner))),
                  comp.table(), plots.accuracy_vs_k_figure(comp), plots.synthetic_figure(shown, k_show, ds), files,
                  comp, goal)


def dd_markdown(comp: evaluation.Comparison, ds: Dataset, prep: Prepared, *, goal: list[str], notes: list[str],
                dc_budget: tuple[int, int]) -> str:
    """What the page says about a `compare` run: the goal first, then the table's story."""
    secs = comp.seconds
    learned = [m for m in ("DM", "DC") if any(r["method"] == m for r in comp.rows)]
    if goal:
        lines = [f"**{g}**" for g in goal]
        lines.append(f"(the lab's goal: a learned set of {evaluation.GOAL_K} images per class within "
                     f"{evaluation.GOAL_POINTS:g} points of full data, in under {evaluation.GOAL_SECONDS:.0f} s; "
                     f"this whole run took {secs:.0f} s: {'met' if secs < evaluation.GOAL_SECONDS else 'not met'})")
    elif learned:
        lines = [f"The goal is stated at k = {evaluation.GOAL_K}: tick it to see DM/DC against full data."]
    else:
        lines = ["Tick DM or DC to see a learned set against full data."]
    lines.append("")
    lines += [f"Note: {n}" for n in notes]
    lines.append(f"Full training set ({len(prep.train.y):,} samples): **{100 * comp.full_mean:.1f}%** "
                 f"(+- {100 * comp.full_std:.1f}, {comp.seeds} {comp.kind}s). Each cell below trains {comp.seeds} fresh "
                 f"{comp.kind}(s) per set on only k samples per class and tests on {len(prep.test.y)} real held-out "
                 f"samples; all the models of a cell train at once (torch.func.vmap). Total {secs:.0f} s on the CPU.")
    for k in sorted({r["k"] for r in comp.rows}):
        best = max((r for r in comp.rows if r["k"] == k), key=lambda r: r["mean"])
        line = f"- k = {k}: best is **{best['method']}** with {100 * best['mean']:.1f}%"
        if any(r["method"] == "random" for r in comp.rows) and best["method"] != "random":
            line += f" (random subset: {100 * comp.best('random', k):.1f}%)"
        lines.append(line)
    for r in comp.rows:
        if r["synth_means"]:
            per = ", ".join(f"{100 * a:.1f}" for a in r["synth_means"])
            lines.append(f"- {r['method']} k = {r['k']} over {len(r['synth_means'])} synthesis seed(s): "
                         f"**{100 * r['mean']:.1f} +- {100 * r['std']:.1f} %** (each set: {per} %; std between sets "
                         f"{100 * float(np.std(r['synth_means'])):.1f})")
    if "DC" in learned:
        outer, inner = dc_budget
        lines.append(f"- DC matching budget: {outer} outer x {inner} inner = {outer * inner} matching steps per set.")
    if comp.cross:
        lines += ["", f"**Cross-architecture check:** the same sets, learned with the {comp.kind}, scored by fresh "
                      f"{comp.cross_kind}s ({comp.cross_kind} on full data: {100 * comp.cross_full_mean:.1f}%).", "",
                  "| method | k | learned with | scored with | accuracy % | +- std | vs full data (points) |",
                  "|---|---|---|---|---|---|---|"]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in comp.cross_table()]
    return "\n".join(lines)
