"""Figures for the lab, drawn with matplotlib's object API (no pyplot global state, so two users'
figures never mix) and image grids drawn with Pillow for downloads.

Each function takes plain arrays and returns a `matplotlib.figure.Figure` (or writes a PNG).
"""

from __future__ import annotations

import os

import numpy as np

PALETTE = ["#4f46e5", "#db2777", "#059669", "#d97706", "#0891b2", "#7c3aed", "#dc2626", "#65a30d",
           "#475569", "#c026d3"]
METHOD_COLOURS = {"random": "#64748b", "herding": "#0891b2", "k-center": "#65a30d", "DM": "#4f46e5",
                  "DC": "#db2777"}


def _figure(w: float = 6.0, h: float = 4.0):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), dpi=100, layout="constrained")


def _colour(c: int) -> str:
    return PALETTE[c % len(PALETTE)]


def project_2d(X: np.ndarray, *, basis: tuple[np.ndarray, np.ndarray] | None = None):
    """Points in 2-D: the data itself if it has 2 features, else its first 2 principal components.

    Returns:
        (points (n, 2), basis (mean, components) to project other points the same way, axis names).
    """
    if X.shape[1] == 2:
        return X, None, ("feature 1", "feature 2")
    if basis is None:
        mean = X.mean(0)
        _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
        basis = (mean, vt[:2])
    mean, comps = basis
    return (X - mean) @ comps.T, basis, ("principal component 1", "principal component 2")


def image_grid(X: np.ndarray, y: np.ndarray, image_shape, *, per_class: int = 10, class_names=None,
               max_classes: int = 10):
    """Figure: up to `per_class` images of each class, one row per class."""
    c, h, w = image_shape
    classes = sorted(set(int(v) for v in y))[:max_classes]
    cols = max(1, min(per_class, max(int((y == k).sum()) for k in classes)))
    fig = _figure(min(1.0 * cols + 1.2, 12), min(0.9 * len(classes) + 0.4, 10))
    axes = fig.subplots(len(classes), cols, squeeze=False)
    for r, k in enumerate(classes):
        idx = np.flatnonzero(y == k)[:cols]
        for j in range(cols):
            ax = axes[r][j]
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if j < len(idx):
                img = np.clip(X[idx[j]].reshape(c, h, w), 0, 1)
                ax.imshow(img[0] if c == 1 else img.transpose(1, 2, 0), cmap="gray_r" if c == 1 else None,
                          vmin=0, vmax=1, interpolation="nearest")
            if j == 0:
                ax.set_ylabel(str(class_names[k]) if class_names else str(k), rotation=0, ha="right",
                              va="center", fontsize=9)
    return fig


def data_figure(ds, *, max_points: int = 3000):
    """Figure of a dataset: images per class, or a 2-D scatter (PCA for more than 2 features)."""
    if ds.is_image:
        fig = image_grid(ds.X, ds.y, ds.image_shape, class_names=ds.class_names)
        fig.suptitle(f"{ds.name}: examples of each class", fontsize=10)
        return fig
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(ds.y))[:max_points]
    X = ds.X if ds.X.shape[1] >= 2 else np.column_stack([ds.X[:, 0], np.zeros(len(ds.y), np.float32)])
    pts, _, (xl, yl) = project_2d(X)  # one feature: drawn along a line
    fig = _figure(6, 4.5)
    ax = fig.add_subplot()
    for c in range(ds.n_classes):
        sel = idx[ds.y[idx] == c]
        ax.scatter(pts[sel, 0], pts[sel, 1], s=10, alpha=0.7, color=_colour(c), label=ds.class_names[c])
    ax.set_xlabel(ds.feature_names[0] if ds.X.shape[1] == 2 else xl)
    ax.set_ylabel(ds.feature_names[1] if ds.X.shape[1] == 2 else yl)
    ax.set_title(f"{ds.name}" + ("" if ds.X.shape[1] == 2 else f" ({ds.X.shape[1]} features, projected by PCA)"),
                 fontsize=10)
    if ds.n_classes <= 12:
        ax.legend(fontsize=8, markerscale=1.5, loc="best")
    return fig


def curves_figure(hist):
    """Figure: training loss, and train/test accuracy per epoch."""
    fig = _figure(7, 3.2)
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(hist.epoch, hist.loss, color=PALETTE[0])
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss")
    ax1.set_yscale("log")
    ax2.plot(hist.epoch, [100 * a for a in hist.train_acc], label="train", color=PALETTE[0])
    if hist.test_acc:
        ax2.plot(hist.epoch, [100 * a for a in hist.test_acc], label="test", color=PALETTE[1])
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy %")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    return fig


def confusion_figure(cm: np.ndarray, class_names, *, highlight: int | None = None):
    """Figure: confusion matrix (rows = true class, columns = predicted), counts in the cells."""
    k = len(class_names)
    size = min(3 + 0.45 * k, 9)
    fig = _figure(size, size * 0.85)
    ax = fig.add_subplot()
    ax.imshow(cm, cmap="Blues")
    ticks = range(k)
    names = [str(n)[:12] for n in class_names]
    ax.set_xticks(ticks, names, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center", fontsize=8)
    ax.set_yticks(ticks, names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 15:
        top = cm.max() or 1
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if cm[i, j] > top / 2 else "black")
    if highlight is not None:
        ax.add_patch(_rect(highlight))
        ax.set_title(f"row {class_names[highlight]!r}: a class the model never saw", fontsize=9)
    return fig


def _rect(row: int):
    from matplotlib.patches import Rectangle

    return Rectangle((-0.5, row - 0.5), 1e3, 1, fill=False, edgecolor="#dc2626", linewidth=2)


def boundary_figure(predict_fn, X_train, y_train, X_test, y_test, class_names, *, threshold=None,
                    resolution: int = 150):
    """Figure for 2-D data: the model's decision regions, training points, test points, and the
    region that was removed from training (hatched)."""
    from matplotlib.colors import ListedColormap

    allx = np.concatenate([X_train, X_test])
    lo, hi = allx.min(0), allx.max(0)
    pad = 0.08 * (hi - lo)
    gx, gy = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution),
                         np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution))
    grid = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
    zz = predict_fn(grid).reshape(gx.shape)
    k = len(class_names)
    fig = _figure(6, 4.8)
    ax = fig.add_subplot()
    ax.contourf(gx, gy, zz, levels=np.arange(k + 1) - 0.5, cmap=ListedColormap([_colour(c) for c in range(k)]),
                alpha=0.18)
    for c in range(k):
        ax.scatter(*X_train[y_train == c].T, s=9, color=_colour(c), alpha=0.8, label=f"{class_names[c]} (train)")
        ax.scatter(*X_test[y_test == c].T, s=16, facecolors="none", edgecolors=_colour(c), linewidths=0.8)
    if threshold is not None:
        ax.axvspan(threshold, hi[0] + pad[0], facecolor="none", edgecolor="#dc2626", hatch="//", alpha=0.5)
        ax.text(threshold, hi[1] + pad[1] * 0.5, " removed from training", color="#dc2626", fontsize=8, va="top")
    ax.set_title("decision regions: filled dots = training, rings = test", fontsize=9)
    if k <= 8:
        ax.legend(fontsize=7, loc="best")
    return fig


def soft_targets_figure(example: dict, class_names):
    """Figure: one sample's teacher probabilities at T=1 and at the chosen temperature."""
    k = len(class_names)
    x = np.arange(k)
    fig = _figure(6, 3)
    ax = fig.add_subplot()
    ax.bar(x - 0.2, example["p_T1"], width=0.4, label="T = 1 (ordinary softmax)", color=PALETTE[8])
    ax.bar(x + 0.2, example["p_T"], width=0.4, label=f"T = {example['temperature']:g} (softened)", color=PALETTE[0])
    ax.set_xticks(x, [str(n)[:10] for n in class_names], fontsize=8)
    ax.set_ylabel("teacher probability")
    ax.set_title(f"What the student learns from, for one test sample of class "
                 f"{class_names[example['label']]!r}", fontsize=9)
    ax.legend(fontsize=8)
    return fig


def accuracy_vs_k_figure(comparison, *, published: dict | None = None):
    """Figure: test accuracy vs samples per class for every method (mean +- std over seeds),
    with the full-data accuracy as a dashed line."""
    from .distill import METHOD_LABELS

    fig = _figure(7, 4.2)
    ax = fig.add_subplot()
    methods = list(dict.fromkeys(r["method"] for r in comparison.rows))
    for m in methods:
        rows = sorted((r for r in comparison.rows if r["method"] == m), key=lambda r: r["k"])
        ks = [r["k"] for r in rows]
        ax.errorbar(ks, [100 * r["mean"] for r in rows], yerr=[100 * r["std"] for r in rows], marker="o",
                    capsize=3, label=METHOD_LABELS.get(m, m), color=METHOD_COLOURS.get(m))
    ax.axhline(100 * comparison.full_mean, color="black", linestyle="--", linewidth=1,
               label=f"full training set ({100 * comparison.full_mean:.1f}%)")
    ax.set_xscale("log")
    all_k = sorted({r["k"] for r in comparison.rows})
    ax.set_xticks(all_k, [str(k) for k in all_k])
    ax.minorticks_off()
    ax.set_xlabel("samples per class (k)")
    ax.set_ylabel("test accuracy % of a fresh model")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def synthetic_figure(sets: dict, k: int, ds, X_real_pixels: np.ndarray | None = None):
    """Figure of the k-per-class sets: image rows per method (images), or scatter (tables).

    Args:
        sets: method -> (X in pixel/feature units, y) for this k.
        ds: The dataset (for image shape, class names, and real points shown behind a scatter).
    """
    methods = list(sets)
    if ds.is_image:
        c, h, w = ds.image_shape
        K = min(ds.n_classes, 10)
        per = min(k, 2)  # up to 2 samples of each class per method keeps the figure readable
        fig = _figure(min(0.55 * K * per + 1.8, 13), 0.75 * len(methods) * per + 0.6)
        axes = fig.subplots(len(methods) * per, K, squeeze=False)
        for mi, m in enumerate(methods):
            X, y = sets[m]
            for cls in range(K):
                idx = np.flatnonzero(y == cls)
                for r in range(per):
                    ax = axes[mi * per + r][cls]
                    ax.set_xticks([])
                    ax.set_yticks([])
                    if r < len(idx):
                        img = np.clip(X[idx[r]].reshape(c, h, w), 0, 1)
                        ax.imshow(img[0] if c == 1 else img.transpose(1, 2, 0), cmap="gray_r" if c == 1 else None,
                                  vmin=0, vmax=1, interpolation="nearest")
                    if mi == 0 and r == 0:
                        ax.set_title(str(ds.class_names[cls])[:8], fontsize=8)
                    if cls == 0 and r == 0:
                        ax.set_ylabel(m, rotation=0, ha="right", va="center", fontsize=9)
        fig.suptitle(f"k = {k} per class (first {per} shown per class)", fontsize=9)
        return fig
    pts, basis, (xl, yl) = project_2d(ds.X)
    fig = _figure(4.0 * len(methods), 3.8)
    axes = fig.subplots(1, len(methods), squeeze=False)[0]
    for ax, m in zip(axes, methods):
        X, y = sets[m]
        sp, _, _ = project_2d(X, basis=basis)
        ax.scatter(pts[:, 0], pts[:, 1], s=4, c=[_colour(c) for c in ds.y], alpha=0.12)
        ax.scatter(sp[:, 0], sp[:, 1], s=70, c=[_colour(c) for c in y], edgecolors="black", linewidths=1)
        ax.set_title(f"{m}, k={k}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].set_xlabel(xl, fontsize=8)
    axes[0].set_ylabel(yl, fontsize=8)
    return fig


def save_image_grid_png(X: np.ndarray, y: np.ndarray, image_shape, path: str | os.PathLike[str], *,
                        n_classes: int, scale: int = 4) -> str:
    """Write the images as one PNG: one row per class, samples left to right, 1 px gaps."""
    from PIL import Image

    c, h, w = image_shape
    per = max(int((y == k).sum()) for k in range(n_classes))
    canvas = np.ones((n_classes * (h + 1), max(per, 1) * (w + 1), 3), dtype=np.float32)
    for k in range(n_classes):
        for j, i in enumerate(np.flatnonzero(y == k)):
            img = np.clip(X[i].reshape(c, h, w), 0, 1).transpose(1, 2, 0)
            if c == 1:
                img = 1 - np.repeat(img, 3, axis=2)  # ink dark on white, like the figures
            canvas[k * (h + 1):k * (h + 1) + h, j * (w + 1):j * (w + 1) + w] = img
    pic = Image.fromarray((canvas * 255).astype(np.uint8))
    pic = pic.resize((pic.width * scale, pic.height * scale), Image.Resampling.NEAREST)
    pic.save(path)
    return str(path)
