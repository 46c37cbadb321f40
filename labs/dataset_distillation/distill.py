"""Two kinds of distillation, both run for real on the data you loaded.

1. Knowledge distillation (Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural
   Network"): a big *teacher* model is trained first; a small *student* then learns from the
   teacher's softened probabilities at temperature T (which say "this 7 looks a bit like a 1")
   as well as from the hard labels. `kd_loss`, `knowledge_distillation`.

2. Dataset distillation: shrink the *data*, not the model. Learn k synthetic samples per class
   such that a fresh model trained only on them does well on real test data.
   - Distribution matching, DM (Zhao & Bilen 2023, "Dataset Condensation with Distribution
     Matching"): make the mean embedding of the synthetic samples of each class equal the mean
     embedding of the real ones, under many randomly initialised networks. `distribution_matching`.
   - Gradient matching, DC (Zhao, Mopuri & Bilen 2021, "Dataset Condensation with Gradient
     Matching"): make the gradient a network gets from the synthetic samples point the same way as
     the gradient it gets from real samples, along a training trajectory. `gradient_matching`.
   Baselines with the same k: a random real subset, herding (Welling 2009: greedily pick samples
   whose running mean tracks the class mean) and k-centre (Sener & Savarese 2018: greedily pick
   the sample farthest from those already picked). `random_subset`, `herding`, `k_center`.
   `evaluation.compare` scores every set by training fresh models on it (many at once).

Everything works in standardised feature space (see `models.Scaler`); synthetic images are mapped
back to pixels only to be shown and downloaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .models import ModelSpec, accuracy, build_model, count_params, embed, logits_of, train

# --- Settings (UI sliders read their ranges from here) --------------------------------------------
METHODS = ("random", "herding", "k-center", "DM", "DC")
METHOD_LABELS = {
    "random": "Random real subset (baseline)",
    "herding": "Herding coreset (baseline)",
    "k-center": "k-centre coreset (baseline)",
    "DM": "Distribution matching, DM (learned)",
    "DC": "Gradient matching, DC (learned)",
}
K_CHOICES = (1, 2, 5, 10, 20, 50)  # samples per class
DM_ITERATIONS = 300  # DM steps; each draws a fresh random network (digits, MLP, k=10: ~1 s on one core)
DM_LR = 2.0  # SGD step on standardised features; samples start as real ones (1.0 in the paper, which runs longer)
DM_REAL_BATCH = 32  # real samples per class per step, for the mean embedding (64 measured no better, 2x slower)
DC_REAL_BATCH = 64  # real samples per class per matching step
DC_OUTER = 20  # DC outer loops: a fresh network each, trained on the synthetic set meanwhile
DC_INNER = 5  # matching steps per network, each followed by one network update on the synthetic set
DC_LR = 0.01  # at k=1; scaled by sqrt(k) because each sample's share of the matching loss shrinks with k
TEMPERATURE_RANGE = (1.0, 20.0)
ALPHA_RANGE = (0.0, 1.0)

ProgressFn = Callable[[float, str], None]


def _noop(_fraction: float, _desc: str) -> None:
    pass


# --- 1. Knowledge distillation --------------------------------------------------------------------
def kd_loss(student_logits, teacher_logits, labels, *, temperature: float = 4.0, alpha: float = 0.9):
    """Hinton et al.'s distillation loss.

    loss = alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))
         + (1 - alpha) * cross_entropy(student, labels)

    Dividing logits by T > 1 softens both distributions, so the small probabilities the teacher
    gives to wrong classes (its "dark knowledge") carry signal; multiplying by T^2 keeps the soft
    term's gradients the same size whatever T is.
    """
    import torch.nn.functional as F

    T = float(temperature)
    soft_teacher = F.softmax(teacher_logits / T, dim=1)
    log_soft_student = F.log_softmax(student_logits / T, dim=1)
    soft = F.kl_div(log_soft_student, soft_teacher, reduction="batchmean") * (T * T)
    hard = F.cross_entropy(student_logits, labels)
    return alpha * soft + (1 - alpha) * hard


@dataclass
class KDResult:
    """What `knowledge_distillation` measured."""

    rows: list[list]  # [model, parameters, test accuracy %, train seconds]
    teacher_acc: float
    student_acc: float  # mean over seeds
    distilled_acc: float  # mean over seeds
    student_accs: list[float]
    distilled_accs: list[float]
    soft_example: dict  # one test sample's teacher probabilities at T=1 and at T
    transfer_rows: int = 0  # rows the students trained on
    teacher: object = None
    student: object = None  # the distilled student of the first seed
    student_spec: ModelSpec | None = None


def knowledge_distillation(Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, yte: np.ndarray,
                           teacher_spec: ModelSpec, student_spec: ModelSpec, *,
                           temperature: float = 4.0, alpha: float = 0.9, epochs: int = 30,
                           student_epochs: int = 100, student_fraction: float = 0.3, seeds: int = 3,
                           lr: float = 3e-3, progress: ProgressFn = _noop) -> KDResult:
    """Train a teacher on all training rows, then the same small student twice on a *transfer set*
    (a stratified `student_fraction` of the rows): alone (hard labels) and distilled (teacher's
    softened outputs on those rows + hard labels).

    Both students start from the same initial weights and see the same rows for the same epochs;
    the only difference is the loss. Repeated for `seeds` initialisations (each with its own draw of
    the transfer set, because which rows a student sees matters as much as the loss) and averaged. This is
    compression as practised: a big model trained on everything teaches a small one with less data.
    At `student_fraction=1` the students see exactly what the teacher saw; distillation then
    usually only matches training alone on data this small.
    """
    if not TEMPERATURE_RANGE[0] <= temperature <= TEMPERATURE_RANGE[1]:
        raise ValueError(f"Temperature must be between {TEMPERATURE_RANGE[0]:g} and {TEMPERATURE_RANGE[1]:g} "
                         f"(got {temperature}).")
    if not ALPHA_RANGE[0] <= alpha <= ALPHA_RANGE[1]:
        raise ValueError(f"Alpha (weight of the teacher's soft targets) must be between 0 and 1 (got {alpha}).")
    if not 1 <= seeds <= 5:
        raise ValueError(f"Seeds must be between 1 and 5 (got {seeds}).")
    if not 0.05 <= student_fraction <= 1.0:
        raise ValueError(f"The students' share of the training rows must be between 0.05 and 1 (got {student_fraction}).")

    def transfer_set(seed: int) -> np.ndarray:
        """A stratified `student_fraction` of each class; both students of one seed get the same rows."""
        rng = np.random.default_rng(seed)
        return np.sort(np.concatenate([
            rng.permutation(idx)[:max(1, int(round(student_fraction * len(idx))))]
            for idx in (np.flatnonzero(ytr == c) for c in np.unique(ytr))]))
    steps = 1 + 2 * seeds
    progress(0.0, "training the teacher")
    teacher = build_model(teacher_spec, seed=1000)
    t_hist = train(teacher, Xtr, ytr, epochs=epochs, lr=lr, seed=1000, record=False,
                   on_epoch=lambda e, n: progress(e / n / steps, f"teacher epoch {e}/{n}"))
    teacher_acc = accuracy(teacher, Xte, yte)
    teacher_logits = logits_of(teacher, Xtr)  # what the teacher says about every training row
    alone, distilled, secs = [], [], [0.0, 0.0]
    first_student = None
    for s in range(seeds):
        sub = transfer_set(s)
        for j, mode in enumerate(("alone", "distilled")):
            done = 1 + 2 * s + j
            model = build_model(student_spec, seed=s)  # same init for both modes
            hist = train(model, Xtr[sub], ytr[sub], epochs=student_epochs, lr=lr, seed=s, record=False,
                         teacher_logits=teacher_logits[sub] if mode == "distilled" else None,
                         temperature=temperature, alpha=alpha,
                         on_epoch=lambda e, n, d=done, m=mode: progress((d + e / n) / steps,
                                                                        f"student {m}, seed {s}: epoch {e}/{n}"))
            secs[j] += hist.seconds
            (alone if mode == "alone" else distilled).append(accuracy(model, Xte, yte))
            if mode == "distilled" and first_student is None:
                first_student = model
    # Show what "softened" means on one test sample the teacher is least sure about.
    import torch

    te_logits = logits_of(teacher, Xte)
    p1 = torch.softmax(torch.as_tensor(te_logits), 1).numpy()
    pT = torch.softmax(torch.as_tensor(te_logits) / temperature, 1).numpy()
    pick = int(np.argsort(p1.max(1))[len(p1) // 10])  # among the 10% least confident
    soft_example = {"index": pick, "label": int(yte[pick]), "p_T1": p1[pick].tolist(),
                    "p_T": pT[pick].tolist(), "temperature": temperature}
    n_t, n_s = count_params(teacher), count_params(first_student)
    rows = [
        [f"Teacher ({teacher_spec.kind}, {teacher_spec.layers}x{teacher_spec.hidden})", n_t,
         round(100 * teacher_acc, 2), round(t_hist.seconds, 2)],
        [f"Student alone ({student_spec.kind}, {student_spec.layers}x{student_spec.hidden}), hard labels, "
         f"{len(sub)} rows", n_s,
         round(100 * float(np.mean(alone)), 2), round(secs[0] / seeds, 2)],
        [f"Distilled student (same size, same {len(sub)} rows), T={temperature:g}, alpha={alpha:g}", n_s,
         round(100 * float(np.mean(distilled)), 2), round(secs[1] / seeds, 2)],
    ]
    progress(1.0, "done")
    return KDResult(rows, teacher_acc, float(np.mean(alone)), float(np.mean(distilled)), alone, distilled,
                    soft_example, len(sub), teacher, first_student, student_spec)


# --- 2. Dataset distillation: baselines -----------------------------------------------------------
def _per_class(y: np.ndarray, n_classes: int, k: int) -> None:
    counts = np.bincount(y, minlength=n_classes)
    if counts.min() < 1:
        raise ValueError("Every class needs training samples for dataset distillation; one class has none.")


def random_subset(X: np.ndarray, y: np.ndarray, n_classes: int, k: int, *, seed: int = 0):
    """k real samples per class, drawn at random (fewer if a class is smaller)."""
    _per_class(y, n_classes, k)
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:k] for c in range(n_classes)])
    return X[idx], y[idx]


def herding(X: np.ndarray, y: np.ndarray, n_classes: int, k: int, *, features: np.ndarray | None = None):
    """Herding coreset (Welling 2009) per class: greedily add the sample that keeps the mean of the
    chosen set closest to the class mean, in `features` space (default: X itself)."""
    _per_class(y, n_classes, k)
    F = X if features is None else features
    picked = []
    for c in range(n_classes):
        idx = np.flatnonzero(y == c)
        f = F[idx]
        mu = f.mean(0)
        chosen: list[int] = []
        running = np.zeros_like(mu)
        for t in range(1, min(k, len(idx)) + 1):
            # The candidate whose addition brings the running mean closest to mu.
            cand = np.linalg.norm(mu - (running * (t - 1) + f) / t, axis=1)
            cand[chosen] = np.inf
            j = int(cand.argmin())
            chosen.append(j)
            running = (running * (t - 1) + f[j]) / t
        picked.extend(idx[chosen])
    picked = np.array(picked)
    return X[picked], y[picked]


def k_center(X: np.ndarray, y: np.ndarray, n_classes: int, k: int, *, features: np.ndarray | None = None):
    """k-centre greedy coreset (Sener & Savarese 2018) per class: start at the sample nearest the
    class mean, then repeatedly add the sample farthest from everything chosen so far."""
    _per_class(y, n_classes, k)
    F = X if features is None else features
    picked = []
    for c in range(n_classes):
        idx = np.flatnonzero(y == c)
        f = F[idx]
        first = int(np.linalg.norm(f - f.mean(0), axis=1).argmin())
        chosen = [first]
        dist = np.linalg.norm(f - f[first], axis=1)
        while len(chosen) < min(k, len(idx)):
            j = int(dist.argmax())
            chosen.append(j)
            dist = np.minimum(dist, np.linalg.norm(f - f[j], axis=1))
        picked.extend(idx[chosen])
    picked = np.array(picked)
    return X[picked], y[picked]


# --- 2. Dataset distillation: learned synthetic samples -------------------------------------------
def _real_batches(X, y, n_classes, batch, gen):
    """Index tensors of up to `batch` random real samples for each class."""
    import torch

    out = []
    for c in range(n_classes):
        idx = torch.as_tensor(np.flatnonzero(y == c))
        out.append(idx[torch.randperm(len(idx), generator=gen)[:batch]])
    return out


def distribution_matching(X: np.ndarray, y: np.ndarray, n_classes: int, k: int, spec: ModelSpec, *,
                          iterations: int = DM_ITERATIONS, lr: float = DM_LR, real_batch: int = DM_REAL_BATCH,
                          seed: int = 0, progress: ProgressFn = _noop) -> tuple[np.ndarray, np.ndarray]:
    """Learn k synthetic samples per class by distribution matching (Zhao & Bilen 2023).

    Each step draws a *new randomly initialised* network (no training at all) and moves the
    synthetic samples so that, class by class, their mean embedding equals the mean embedding of
    a batch of real samples. Matching under many random networks matches the distributions, not
    just one network's view of them. Synthetic samples start as random real ones.

    Returns:
        (X_syn, y_syn) with k*n_classes rows, in the same standardised space as X.
    """
    import torch

    if not 1 <= iterations <= 5000:
        raise ValueError(f"DM iterations must be between 1 and 5000 (got {iterations}).")
    Xs0, ys = random_subset(X, y, n_classes, k, seed=seed)
    syn = torch.tensor(Xs0, dtype=torch.float32, requires_grad=True)  # (k*K, d)
    ys_t = torch.as_tensor(ys)
    Xt = torch.as_tensor(X, dtype=torch.float32)
    opt = torch.optim.SGD([syn], lr=lr, momentum=0.5)
    gen = torch.Generator().manual_seed(seed)
    for it in range(iterations):
        net = build_model(spec, seed=seed * 100_003 + it)  # a fresh random network every step
        for p in net.parameters():
            p.requires_grad_(False)
        batches = _real_batches(X, y, n_classes, real_batch, gen)
        real_emb = embed(net, Xt[torch.cat(batches)])  # (sum of batch sizes, e)
        syn_emb = embed(net, syn)  # (k*K, e)
        loss = syn.new_zeros(())
        start = 0
        for c, idx in enumerate(batches):
            mu_real = real_emb[start:start + len(idx)].mean(0)
            start += len(idx)
            mu_syn = syn_emb[ys_t == c].mean(0)
            loss = loss + ((mu_real - mu_syn) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % 10 == 0 or it == iterations - 1:
            progress((it + 1) / iterations, f"DM step {it + 1}/{iterations}, loss {float(loss.detach()):.3f}")
    return syn.detach().numpy(), ys


def _match_distance(g_syn, g_real) -> "torch.Tensor":
    """DC's layer-wise gradient distance: sum over output units of (1 - cosine similarity).

    Weights are reshaped to (outputs, inputs); biases and norm scales are skipped, as in the paper.
    """
    import torch

    total = g_syn[0].new_zeros(())
    for gs, gr in zip(g_syn, g_real):
        if gs.dim() == 1:
            continue
        gs, gr = gs.reshape(gs.shape[0], -1), gr.reshape(gr.shape[0], -1)
        cos = (gs * gr).sum(1) / (gs.norm(dim=1) * gr.norm(dim=1) + 1e-6)
        total = total + (1 - cos).sum()
    return total


def gradient_matching(X: np.ndarray, y: np.ndarray, n_classes: int, k: int, spec: ModelSpec, *,
                      outer: int = DC_OUTER, inner: int = DC_INNER, lr: float = DC_LR,
                      real_batch: int = DC_REAL_BATCH, net_lr: float = 0.01, seed: int = 0,
                      progress: ProgressFn = _noop) -> tuple[np.ndarray, np.ndarray]:
    """Learn k synthetic samples per class by gradient matching (Zhao, Mopuri & Bilen 2021).

    For each of `outer` fresh networks, repeat `inner` times: for every class, compute the
    gradient of the loss on real samples and on synthetic samples, and move the synthetic samples
    so the two gradients align (`_match_distance`); then train the network one step on the
    synthetic set, so the matching happens along the trajectory the network would follow.

    Returns:
        (X_syn, y_syn) with k*n_classes rows, in the same standardised space as X.
    """
    import torch
    import torch.nn.functional as F

    if not 1 <= outer <= 1000 or not 1 <= inner <= 100:
        raise ValueError(f"DC loops must be 1..1000 outer and 1..100 inner (got {outer}, {inner}).")
    Xs0, ys = random_subset(X, y, n_classes, k, seed=seed)
    syn = torch.tensor(Xs0, dtype=torch.float32, requires_grad=True)
    ys_t = torch.as_tensor(ys)
    Xt, yt = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)
    opt = torch.optim.SGD([syn], lr=lr * math.sqrt(k), momentum=0.5)
    gen = torch.Generator().manual_seed(seed)
    total = outer * inner
    for o in range(outer):
        net = build_model(spec, seed=seed * 100_003 + o)
        params = [p for p in net.parameters()]
        net_opt = torch.optim.SGD(params, lr=net_lr)
        for i in range(inner):
            batches = _real_batches(X, y, n_classes, real_batch, gen)
            loss = syn.new_zeros(())
            for c, idx in enumerate(batches):
                g_real = torch.autograd.grad(F.cross_entropy(net(Xt[idx]), yt[idx]), params)
                g_real = [g.detach() for g in g_real]
                mask = ys_t == c
                g_syn = torch.autograd.grad(F.cross_entropy(net(syn[mask]), ys_t[mask]), params,
                                            create_graph=True)
                loss = loss + _match_distance(g_syn, g_real)
            opt.zero_grad()
            loss.backward()
            opt.step()
            # Move the network one step along its training on the (current) synthetic set.
            net_opt.zero_grad()
            F.cross_entropy(net(syn.detach()), ys_t).backward()
            net_opt.step()
            done = o * inner + i + 1
            if done % 10 == 0 or done == total:
                progress(done / total, f"DC loop {o + 1}/{outer}, step {i + 1}/{inner}, loss {float(loss.detach()):.3f}")
    return syn.detach().numpy(), ys
