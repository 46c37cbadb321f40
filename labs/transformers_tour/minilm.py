"""Real answers offline: small heads on the real all-MiniLM-L6-v2 encoder shipped on PyPI.

all-MiniLM-L6-v2 (6 layers, 384 dimensions, 22.7 M parameters) was trained so that sentences with
close meanings get close vectors (mean of its token vectors, unit length). Two tasks follow from
that with no hub and no GPU:

- **Sentiment** (`load_sentiment`): a linear layer + softmax (logistic regression) on those vectors,
  trained in about a second on the labelled sentences of `data/sentiment_train.tsv`, written for
  this lab. `data/sentiment_heldout.tsv` (never trained on) measures it. The trained head is kept
  per process (in the model cache) and on disk beside the tiny models, so it is trained once.
- **Zero-shot labels** (`zero_shot_scores`): each label becomes a hypothesis sentence ("This example
  is about sports."); the closest one to the text wins. Scores are softmax(20 x cosine), the scale
  all-MiniLM-L6-v2 was trained with (sentence-transformers' MultipleNegativesRankingLoss, scale 20).

An NLI model (the hub default for zero-shot) or a model fine-tuned on 67k movie reviews (the hub
default for sentiment) does better; these show real behaviour with what is on this machine.
References: Reimers & Gurevych, "Sentence-BERT" (2019); the sentence-transformers documentation.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import tiny
from .loading import MINILM, Fetch, ModelCache, ModelRef, load_pipeline, resolve_model

DATA = Path(__file__).resolve().parent / "data"
TRAIN_FILE = DATA / "sentiment_train.tsv"
HELDOUT_FILE = DATA / "sentiment_heldout.tsv"
HEAD_RECIPE = "1"  # bumped when the training below changes, so stale heads on disk are retrained
STEPS = 300  # full-batch gradient steps: 160 x 384 inputs, a few ms each
LEARNING_RATE = 2.0  # high and safe: the inputs are unit vectors and the loss is convex
L2 = 1e-3  # weight decay: keeps the weights small, so probabilities stay calibrated-ish
BATCH = 32  # sentences per forward pass when embedding
MAX_TOKENS = 256  # longest input embedded (MiniLM was trained on up to 256 word pieces)
SIMILARITY_SCALE = 20.0  # softmax(20 x cosine): the scale all-MiniLM-L6-v2 was trained with

_heads: dict[str, "LinearHead"] = {}  # training-file digest -> head: trained once per process
_heads_lock = threading.Lock()


def read_labelled(path: str | Path) -> tuple[list[str], list[str]]:
    """Read ``label<TAB>sentence`` lines (``#`` starts a comment) into (sentences, labels)."""
    sentences, labels = [], []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        label, sep, sentence = line.partition("\t")
        if not sep or not sentence.strip():
            raise ValueError(f"{Path(path).name}, line {number}: expected 'LABEL<TAB>sentence'.")
        sentences.append(sentence.strip())
        labels.append(label.strip())
    return sentences, labels


def embed(pipe: Any, sentences: list[str]) -> Any:
    """Sentence vectors: MiniLM's token vectors averaged over the real tokens, then unit length.

    Args:
        pipe: A feature-extraction pipeline (its `.tokenizer` and `.model` are used directly, so a
            whole batch goes through at once and padding is left out of the mean).

    Returns:
        A float32 array of shape (len(sentences), 384).
    """
    import numpy as np
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(sentences), BATCH):
            enc = pipe.tokenizer(sentences[i:i + BATCH], padding=True, truncation=True, max_length=MAX_TOKENS,
                                 return_tensors="pt").to(pipe.model.device)
            hidden = pipe.model(**enc).last_hidden_state  # (B, T, 384)
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1): 0 on padding
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)  # (B, 384)
            out.append(torch.nn.functional.normalize(mean, dim=-1).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)


@dataclass
class LinearHead:
    """A linear layer + softmax over sentence vectors (multinomial logistic regression).

    Attributes:
        labels: Class names, in the order of the weight columns.
        weight: (384, classes) array; bias: (classes,) array.
        examples: How many sentences it was trained on.
        train_seconds: Embedding + training time, the first time it was trained on this machine.
        heldout_accuracy: Accuracy on `HELDOUT_FILE` (never trained on), or None.
        from_disk: Whether this process read it from disk instead of training it.
    """

    labels: list[str]
    weight: Any
    bias: Any
    examples: int
    train_seconds: float = 0.0
    heldout_accuracy: float | None = None
    from_disk: bool = False

    def probabilities(self, vectors: Any) -> Any:
        """(n, classes) probabilities for (n, 384) sentence vectors."""
        import numpy as np

        logits = vectors @ self.weight + self.bias  # (n, classes)
        logits = logits - logits.max(axis=1, keepdims=True)  # stable softmax
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def accuracy(self, vectors: Any, labels: list[str]) -> float:
        """Share of `labels` predicted right from `vectors`."""
        predicted = self.probabilities(vectors).argmax(axis=1)
        return float(sum(self.labels[p] == gold for p, gold in zip(predicted, labels)) / max(1, len(labels)))


def train_head(vectors: Any, labels: list[str], *, steps: int = STEPS, lr: float = LEARNING_RATE,
               l2: float = L2) -> LinearHead:
    """Fit a `LinearHead` by full-batch gradient descent on the cross-entropy (deterministic).

    The gradient of the mean cross-entropy with respect to the logits is (softmax - one_hot) / n,
    so each step is two matrix products.
    """
    import numpy as np

    names = sorted(set(labels))
    if len(names) < 2:
        raise ValueError("A classifier needs at least two labels in its training data.")
    x = np.asarray(vectors, dtype=np.float64)  # (n, d)
    y = np.array([names.index(label) for label in labels])  # (n,)
    weight, bias = np.zeros((x.shape[1], len(names))), np.zeros(len(names))
    head = LinearHead(names, weight, bias, len(labels))
    for _ in range(steps):
        grad = head.probabilities(x)  # (n, classes)
        grad[np.arange(len(y)), y] -= 1.0
        grad /= len(y)
        head.weight -= lr * (x.T @ grad + l2 * head.weight)
        head.bias -= lr * grad.sum(axis=0)
    return head


def head_file(train_file: Path = TRAIN_FILE) -> Path:
    """Where the trained head is kept on disk: beside the tiny models, named by recipe and data digest."""
    digest = hashlib.sha256(train_file.read_bytes()).hexdigest()[:12]
    return tiny.cache_root() / f"minilm-sentiment-v{HEAD_RECIPE}-{digest}.npz"


def _save(head: LinearHead, path: Path) -> None:
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part.npz")
    np.savez(partial, weight=head.weight, bias=head.bias, labels=np.array(head.labels), examples=head.examples,
             train_seconds=head.train_seconds,
             heldout_accuracy=-1.0 if head.heldout_accuracy is None else head.heldout_accuracy)
    partial.replace(path)  # written whole, then renamed: a reader never sees half a file


def _load(path: Path) -> LinearHead | None:
    import numpy as np

    try:
        with np.load(path) as saved:
            accuracy = float(saved["heldout_accuracy"])
            return LinearHead([str(s) for s in saved["labels"]], saved["weight"], saved["bias"],
                              int(saved["examples"]), float(saved["train_seconds"]),
                              None if accuracy < 0 else accuracy, from_disk=True)
    except (OSError, KeyError, ValueError):
        return None  # missing or damaged: train again


def sentiment_head(pipe: Any, train_file: Path = TRAIN_FILE) -> LinearHead:
    """The sentiment head for MiniLM: from this process, else from disk, else trained now (~1 s)."""
    path = head_file(train_file)
    with _heads_lock:
        head = _heads.get(path.name)
        if head is None:
            head = _load(path)
        if head is None:
            start = time.perf_counter()
            sentences, labels = read_labelled(train_file)
            head = train_head(embed(pipe, sentences), labels)
            head.train_seconds = time.perf_counter() - start
            if HELDOUT_FILE.is_file():
                held_sentences, held_labels = read_labelled(HELDOUT_FILE)
                head.heldout_accuracy = head.accuracy(embed(pipe, held_sentences), held_labels)
            try:
                _save(head, path)
            except OSError:
                pass  # a read-only cache folder: the head is kept in this process only
        _heads[path.name] = head
        return head


@dataclass
class SentimentModel:
    """What the model cache keeps for "minilm" on text classification: the encoder and its head."""

    pipe: Any
    head: LinearHead

    @property
    def model(self) -> Any:  # so the cache counts MiniLM's parameters (`count_parameters`)
        return self.pipe.model

    @property
    def tokenizer(self) -> Any:
        return self.pipe.tokenizer

    def __call__(self, text: str) -> dict[str, float]:
        probabilities = self.head.probabilities(embed(self.pipe, [text]))[0]
        return {label: float(p) for label, p in zip(self.head.labels, probabilities)}


def encoder(device: str, cache: ModelCache) -> tuple[Any, Fetch]:
    """MiniLM's feature-extraction pipeline, from `cache` (shared with the similarity task)."""
    return load_pipeline("feature-extraction", resolve_model(MINILM, "feature-extraction"), device, cache=cache)


def load_sentiment(ref: ModelRef, device: str, cache: ModelCache) -> tuple[SentimentModel, Fetch]:
    """Load (or reuse) MiniLM with its sentiment head; a cold load includes training the head."""

    def loader() -> SentimentModel:
        pipe, _ = encoder(device, cache)
        return SentimentModel(pipe, sentiment_head(pipe))

    return cache.get(("pipeline", "text-classification", ref.raw, device), loader)


def zero_shot_scores(pipe: Any, text: str, labels: list[str], template: str,
                     multi_label: bool) -> tuple[dict[str, float], dict[str, float]]:
    """Score each label by how close "template with the label" is to the text.

    Returns:
        (scores, cosines): softmax(20 x cosine) over the labels (they sum to 1), or with
        `multi_label` each label's own cosine clipped to [0, 1] (not a probability).
    """
    import numpy as np

    vectors = embed(pipe, [text, *[template.replace("{}", label) for label in labels]])  # (1 + labels, 384)
    cosines = vectors[1:] @ vectors[0]  # (labels,): unit vectors, so dot product = cosine
    if multi_label:
        scores = np.clip(cosines, 0.0, 1.0)
    else:
        logits = SIMILARITY_SCALE * cosines
        scores = np.exp(logits - logits.max())
        scores /= scores.sum()
    return ({label: float(s) for label, s in zip(labels, scores)},
            {label: round(float(c), 4) for label, c in zip(labels, cosines)})
