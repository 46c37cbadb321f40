"""Scoring distilled sets: many fresh models trained at once, every method against full data.

A distilled set is only as good as the models it trains, so every set is scored by training fresh
models on it and testing them on real held-out data. Those models are tiny and many (several
evaluation seeds x several synthesis seeds x every method and k), so `train_many` trains a whole
batch of them in one go: their weights are stacked along a new first axis
(`torch.func.stack_module_state`) and one `torch.func.vmap` call runs every model's forward pass,
so one Python loop and one Adam step serve them all. Adam works weight by weight, so each model
trains exactly as it would alone.

`compare` runs the whole table: the same architecture on the full training set (the ceiling),
every method at every k, learned methods over several synthesis seeds, an optional
cross-architecture check (learn with one model, score with another), and `goal_lines` states the
lab's goal - a learned set at k = 10 within 3 points of full data - as met or not met.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np

from . import distill
from .distill import METHOD_LABELS, METHODS, K_CHOICES, ProgressFn, _noop
from .models import DEFAULT_BATCH, WEIGHT_DECAY, ModelSpec, build_model

EVAL_EPOCHS = 300  # full-batch Adam steps to train a fresh model on k*K samples
EVAL_LR = 0.003  # 0.01 occasionally diverges when a ConvNet trains on 10 images
EVAL_SEEDS = 3  # fresh initialisations per set
SYNTH_SEEDS = 2  # learned sets per method and k, each from its own random start and networks
SEEDS_RANGE = (1, 10)
SYNTH_SEEDS_RANGE = (1, 5)
FULL_EPOCHS = 40  # the full-data reference: digits' ConvNet reaches ~99% in 40 passes
GOAL_K = 10  # the lab's goal: at k = 10 per class ...
GOAL_POINTS = 3.0  # ... a learned set (DM or DC) within 3 points of full data ...
GOAL_SECONDS = 60.0  # ... from one click, in under a minute on a 2-core CPU
PREDICT_CHUNK = 1024  # test rows per forward pass (bounds memory on large uploads)


@dataclass
class Trained:
    """Models trained together by `train_many`: their test accuracies and their stacked weights."""

    accs: np.ndarray  # (M,) test accuracy of each model, 0..1
    spec: ModelSpec
    params: dict = field(repr=False, default_factory=dict)
    buffers: dict = field(repr=False, default_factory=dict)

    def module(self, i: int = 0):
        """Model `i` as an ordinary torch module (for embeddings, saving or a closer look)."""
        net = build_model(self.spec)
        state = {k: v[i].detach() for k, v in self.params.items()} | {k: v[i] for k, v in self.buffers.items()}
        net.load_state_dict(state)
        return net.eval()


def train_many(spec: ModelSpec, X, y, Xte: np.ndarray, yte: np.ndarray, *, init_seeds, epochs: int = EVAL_EPOCHS,
               lr: float = EVAL_LR, batch_size: int | None = None, weight_decay: float = WEIGHT_DECAY,
               seed: int = 0, on_epoch=None) -> Trained:
    """Train one fresh model per entry of `init_seeds` at once (torch.func.vmap) and test each.

    Args:
        spec: The architecture; every model is `build_model(spec, seed=init_seeds[i])`.
        X, y: One training set shared by every model ((n, d) array and (n,) labels), or one set per
            model (lists of equally sized arrays, len(init_seeds) of them).
        Xte, yte: Real held-out data every model is tested on.
        epochs: Passes over the data; `batch_size` None = the whole set in one step when it has at
            most `DEFAULT_BATCH` rows (a distilled set), else `models.train`'s rule.
        on_epoch: Called as on_epoch(epoch, epochs) (progress, and the shared-server deadline).

    Returns:
        `Trained` with each model's test accuracy.
    """
    import torch
    import torch.nn.functional as F
    from torch.func import functional_call, stack_module_state, vmap

    init_seeds = [int(s) for s in init_seeds]
    M = len(init_seeds)
    nets = [build_model(spec, seed=s) for s in init_seeds]
    params, buffers = stack_module_state(nets)  # every weight gains a leading (M,) axis
    base = copy.deepcopy(nets[0]).to("meta")  # the architecture only; weights come from `params`

    def one(p, b, x):
        return functional_call(base, (p, b), (x,))

    per_model = isinstance(X, (list, tuple))
    Xt = torch.as_tensor(np.stack(X) if per_model else X, dtype=torch.float32)  # (M, n, d) or (n, d)
    yt = torch.as_tensor(np.stack(y) if per_model else y, dtype=torch.long)  # (M, n) or (n,)
    if per_model and len(Xt) != M:
        raise ValueError(f"train_many got {len(Xt)} training sets for {M} models.")
    many = vmap(one, in_dims=(0, 0, 0 if per_model else None))  # -> logits (M, batch, K)
    opt = torch.optim.Adam(list(params.values()), lr=lr, weight_decay=weight_decay)
    n = yt.shape[-1]
    if batch_size is None:
        batch_size = n if n <= DEFAULT_BATCH else min(DEFAULT_BATCH, max(16, n // 10))
    gen = torch.Generator().manual_seed(int(seed))
    for ep in range(1, int(epochs) + 1):
        order = torch.randperm(n, generator=gen) if batch_size < n else torch.arange(n)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            xb, yb = (Xt[:, idx], yt[:, idx]) if per_model else (Xt[idx], yt[idx].expand(M, -1))
            logits = many(params, buffers, xb)  # (M, b, K)
            # The sum of the models' mean losses: each model's gradient is its own loss's gradient.
            loss = F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="sum") / len(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if on_epoch:
            on_epoch(ep, epochs)
    correct = np.zeros(M)
    test_model = vmap(one, in_dims=(0, 0, None))
    with torch.no_grad():
        for i in range(0, len(yte), PREDICT_CHUNK):
            xb = torch.as_tensor(Xte[i:i + PREDICT_CHUNK], dtype=torch.float32)
            pred = test_model(params, buffers, xb).argmax(-1).numpy()  # (M, chunk)
            correct += (pred == np.asarray(yte[i:i + PREDICT_CHUNK])).sum(1)
    accs = correct / max(len(yte), 1)
    return Trained(accs, spec, {k: v.detach() for k, v in params.items()}, buffers)


def train_on_set(Xs: np.ndarray, ys: np.ndarray, Xte: np.ndarray, yte: np.ndarray, spec: ModelSpec, *,
                 seed: int, epochs: int = EVAL_EPOCHS, lr: float = EVAL_LR) -> float:
    """Train one fresh model (init `10_000 + seed`) on a small set and return its real test accuracy."""
    return float(train_many(spec, Xs, ys, Xte, yte, init_seeds=[10_000 + seed], epochs=epochs, lr=lr,
                            seed=seed).accs[0])


@dataclass
class Comparison:
    """Everything `compare` measured (accuracies are 0..1)."""

    rows: list[dict] = field(default_factory=list)  # method, k, n, mean, std, accs, synth_means, seconds
    cross: list[dict] = field(default_factory=list)  # the same sets scored by `cross_kind`: method, k, mean, std
    sets: dict = field(default_factory=dict)  # (method, k) -> (X_syn, y_syn) of the first synthesis seed
    kind: str = ""
    cross_kind: str = ""
    full_mean: float = float("nan")
    full_std: float = float("nan")
    cross_full_mean: float = float("nan")
    cross_full_std: float = float("nan")
    full_seconds: float = 0.0
    seconds: float = 0.0
    seeds: int = EVAL_SEEDS
    synth_seeds: int = SYNTH_SEEDS

    def table(self) -> list[list]:
        """Rows [method, k, samples, mean accuracy %, std, vs full data (points), seconds to build]."""
        out = []
        for r in self.rows:
            out.append([METHOD_LABELS.get(r["method"], r["method"]), r["k"], r["n"], round(100 * r["mean"], 2),
                        round(100 * r["std"], 2), round(100 * (r["mean"] - self.full_mean), 2),
                        round(r["seconds"], 2)])
        return out

    def cross_table(self) -> list[list]:
        """Rows [method, k, learned with, scored with, mean %, std, vs full data with that model (points)]."""
        return [[METHOD_LABELS.get(r["method"], r["method"]), r["k"], self.kind, self.cross_kind,
                 round(100 * r["mean"], 2), round(100 * r["std"], 2),
                 round(100 * (r["mean"] - self.cross_full_mean), 2)] for r in self.cross]

    def row(self, method: str, k: int) -> dict:
        for r in self.rows:
            if r["method"] == method and r["k"] == k:
                return r
        raise KeyError((method, k))

    def best(self, method: str, k: int) -> float:
        return self.row(method, k)["mean"]


def goal_lines(comp: Comparison, *, k: int = GOAL_K) -> list[str]:
    """The lab's goal for each learned method at k = `GOAL_K`, as met or not met, with the numbers.

    e.g. "DM k=10: 97.1 % vs full data 98.9 %, gap 1.8 points - goal <= 3: met".
    """
    out = []
    for m in ("DM", "DC"):
        try:
            r = comp.row(m, k)
        except KeyError:
            continue
        gap = 100 * (comp.full_mean - r["mean"])
        out.append(f"{m} k={k}: {100 * r['mean']:.1f} % vs full data {100 * comp.full_mean:.1f} %, gap {gap:.1f} "
                   f"points - goal <= {GOAL_POINTS:g}: {'met' if gap <= GOAL_POINTS else 'not met'}")
    return out


def _learn(method, Xtr, ytr, n_classes, k, spec, *, synth_seed, feats, dm_iterations, dc_outer, dc_inner, progress):
    """One k-per-class set by `method` (learned ones from synthesis seed `synth_seed`)."""
    if method == "random":
        return distill.random_subset(Xtr, ytr, n_classes, k, seed=synth_seed)
    if method == "herding":
        return distill.herding(Xtr, ytr, n_classes, k, features=feats)
    if method == "k-center":
        return distill.k_center(Xtr, ytr, n_classes, k, features=feats)
    if method == "DM":
        return distill.distribution_matching(Xtr, ytr, n_classes, k, spec, iterations=dm_iterations,
                                             seed=synth_seed, progress=progress)
    return distill.gradient_matching(Xtr, ytr, n_classes, k, spec, outer=dc_outer, inner=dc_inner,
                                     seed=synth_seed, progress=progress)


def compare(Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, yte: np.ndarray, n_classes: int,
            spec: ModelSpec, *, methods=("random", "herding", "DM"), ks=(1, 10), seeds: int = EVAL_SEEDS,
            synth_seeds: int = SYNTH_SEEDS, dm_iterations: int = distill.DM_ITERATIONS,
            dc_outer: int = distill.DC_OUTER, dc_inner: int = distill.DC_INNER, cross_spec: ModelSpec | None = None,
            full_epochs: int = FULL_EPOCHS, eval_epochs: int = EVAL_EPOCHS,
            progress: ProgressFn = _noop) -> Comparison:
    """Build k-per-class sets with every method and score each by training fresh models on it.

    The reference is the same architecture trained on the *full* training set, measured in the
    same run. Herding and k-centre pick samples in the embedding of that reference model (as in
    the papers). Random subsets are drawn once per evaluation seed. DM and DC learn
    `synth_seeds` sets (each from its own random real start and its own random networks), and
    each set trains `seeds` fresh models: the row's mean +- std is over all of them, and
    `synth_means` gives each synthesis seed's mean. With `cross_spec`, every set is also scored
    by another architecture (e.g. learned with a ConvNet, scored with an MLP) against that
    architecture's own full-data accuracy.

    Raises:
        ValueError: For unknown methods, bad k or seeds.
    """
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise ValueError(f"Choose at least one method from: {', '.join(METHODS)} (got {', '.join(bad) or 'none'}).")
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1 or ks[-1] > max(K_CHOICES):
        raise ValueError(f"Samples per class must be between 1 and {max(K_CHOICES)}; pick at least one.")
    if not SEEDS_RANGE[0] <= seeds <= SEEDS_RANGE[1]:
        raise ValueError(f"Seeds must be between {SEEDS_RANGE[0]} and {SEEDS_RANGE[1]} (got {seeds}).")
    if not SYNTH_SEEDS_RANGE[0] <= synth_seeds <= SYNTH_SEEDS_RANGE[1]:
        raise ValueError(f"Synthesis seeds must be between {SYNTH_SEEDS_RANGE[0]} and {SYNTH_SEEDS_RANGE[1]} "
                         f"(got {synth_seeds}).")
    min_class = int(np.bincount(ytr, minlength=n_classes).min())
    if ks[-1] > min_class:
        raise ValueError(f"The smallest class has only {min_class} training samples, so k={ks[-1]} per class "
                         f"would just be the whole class. Choose k <= {min_class}, or load more data.")
    methods = [m for m in METHODS if m in methods]
    start = time.perf_counter()
    # Work units for the progress bar: learned methods cost far more than picking real samples.
    cost = {"random": 1, "herding": 1, "k-center": 1, "DM": 3 * synth_seeds, "DC": 6 * synth_seeds}
    units = 3 + (1 if cross_spec else 0) + sum(cost[m] for m in methods) * len(ks)
    done = 0.0

    def step(frac: float, desc: str, weight: float) -> None:
        progress(min(0.999, (done + frac * weight) / units), desc)

    res = Comparison(kind=spec.kind, cross_kind=cross_spec.kind if cross_spec else "", seeds=seeds,
                     synth_seeds=synth_seeds)
    t0 = time.perf_counter()
    full = train_many(spec, Xtr, ytr, Xte, yte, init_seeds=[20_000 + s for s in range(seeds)], epochs=full_epochs,
                      on_epoch=lambda e, n: step(e / n, f"full data, {seeds} {spec.kind}s at once: epoch {e}/{n}", 3))
    res.full_mean, res.full_std = float(full.accs.mean()), float(full.accs.std())
    res.full_seconds = time.perf_counter() - t0
    done += 3
    if cross_spec is not None:
        cfull = train_many(cross_spec, Xtr, ytr, Xte, yte, init_seeds=[20_000 + s for s in range(seeds)],
                           epochs=full_epochs, on_epoch=lambda e, n: step(e / n, f"full data, {cross_spec.kind}s: "
                                                                                 f"epoch {e}/{n}", 1))
        res.cross_full_mean, res.cross_full_std = float(cfull.accs.mean()), float(cfull.accs.std())
        done += 1
    import torch

    from .models import embed

    with torch.no_grad():
        feats = embed(full.module(0), torch.as_tensor(Xtr)).numpy()
    for method in methods:
        for k in ks:
            desc = f"{method}, k={k}"
            t0 = time.perf_counter()
            n_sets = {"random": seeds, "DM": synth_seeds, "DC": synth_seeds}.get(method, 1)
            learned = 0.75 if method in ("DM", "DC") else 0.0
            sets = [_learn(method, Xtr, ytr, n_classes, k, spec, synth_seed=s, feats=feats,
                           dm_iterations=dm_iterations, dc_outer=dc_outer, dc_inner=dc_inner,
                           progress=lambda f, d, s=s: step(learned * (s + f) / n_sets,
                                                           f"{desc}, synthesis seed {s + 1}/{n_sets}: {d}",
                                                           cost[method]))
                    for s in range(n_sets)]
            build_seconds = time.perf_counter() - t0
            # Every set trains `seeds` fresh models (random: set s trains model s), all in one batch.
            pairs = [(i, s) for i in range(len(sets)) for s in range(seeds)] if method != "random" else \
                [(s, s) for s in range(seeds)]
            Xs, ys = [sets[i][0] for i, _ in pairs], [sets[i][1] for i, _ in pairs]
            scored = train_many(spec, Xs, ys, Xte, yte, init_seeds=[10_000 + s for _, s in pairs], epochs=eval_epochs,
                                on_epoch=lambda e, n: step(learned + (1 - learned) * e / n,
                                                           f"{desc}: {len(pairs)} fresh {spec.kind}s at once, "
                                                           f"epoch {e}/{n}", cost[method]))
            accs = scored.accs
            per_set = [float(accs[[j for j, (i, _) in enumerate(pairs) if i == si]].mean()) for si in range(len(sets))]
            res.rows.append({"method": method, "k": k, "n": int(len(sets[0][1])), "mean": float(accs.mean()),
                             "std": float(accs.std()), "accs": accs.tolist(),
                             "synth_means": per_set if method in ("DM", "DC") else [],
                             "seconds": build_seconds})
            res.sets[(method, k)] = sets[0]
            if cross_spec is not None:
                crossed = train_many(cross_spec, Xs, ys, Xte, yte, init_seeds=[10_000 + s for _, s in pairs],
                                     epochs=eval_epochs)
                res.cross.append({"method": method, "k": k, "mean": float(crossed.accs.mean()),
                                  "std": float(crossed.accs.std())})
            done += cost[method]
    res.seconds = time.perf_counter() - start
    progress(1.0, "done")
    return res
