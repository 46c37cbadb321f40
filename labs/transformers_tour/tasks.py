"""The task tour: one function per task, each the shortest honest way to do it in transformers 5.

Most tasks are one `pipeline(task, model=...)` call. Transformers 5 removed the
question-answering, summarization, translation and text2text-generation pipelines, so those are
done by hand the modern way: extractive QA with `AutoModelForQuestionAnswering` (argmax over start
and end logits), and summarization/translation with `AutoModelForSeq2SeqLM.generate`.

Every function returns a `TaskRun`: the output, how long loading (cold or warm) and running took,
notes (truncation, untrained model...) and the Python snippet that does exactly the same thing.
"""

from __future__ import annotations

import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import minilm, snippets
from .catalog import REMOVED_PIPELINES, SEQ2SEQ_MODES, TASKS, TaskSpec, alternative, model_choices  # noqa: F401
from .catalog import pipeline_tasks  # noqa: F401  (the UI and tests read the catalogue from here)
from .loading import (CACHE, MINILM, TINY, Fetch, ModelCache, ModelLoadError, ModelRef, load_auto,
                      load_pipeline, resolve_device, resolve_model)

MAX_CHARS = 4_000  # longer inputs are cut first (and the UI says so): a tour, not a batch job
MAX_SENTENCES = 16  # similarity candidates
MAX_LABELS = 10  # zero-shot candidate labels: each one is a full forward pass
MAX_LABEL_CHARS = 100  # one zero-shot label: a word or a short phrase
MAX_AUDIO_SECONDS = 20  # longer clips are cut; keyword models listen to ~1 s anyway
MIN_AUDIO_SECONDS = 0.1  # shorter clips are refused: the speech models' convolutions need more samples
MAX_NEW_TOKENS = 256  # generation cap in the tour (CPU Spaces are slow)
SHARED_GENERATION_SECONDS = 30.0  # on a shared server generate() stops after this long (max_time)
MIN_AUDIO_RATE, MAX_AUDIO_RATE = 1_000, 384_000  # Hz a WAV header may claim
TOP_K = 5  # how many labels/tokens to show


# ---------------------------------------------------------------- results and shared checks


@dataclass
class TaskRun:
    """What one run of a task produced, and what it cost."""

    task: str
    ref: ModelRef
    device: str
    fetch: Fetch
    run_seconds: float
    output: Any
    snippet: str
    notes: list[str] = field(default_factory=list)

    def status(self) -> str:
        """Markdown for the UI: model source, cold/warm latency, notes.

        A cold run reports everything its user waited for: building the model (tiny models and
        trained heads, once per machine), loading it (imports included) and the first call.
        """
        run_ms = self.run_seconds * 1000
        if self.fetch.cold:
            total = self.fetch.build_seconds + self.fetch.load_seconds + self.run_seconds
            latency = f"{self.fetch.describe()} · first call {run_ms:.0f} ms · **{total:.2f} s in all**"
        else:
            latency = f"{self.fetch.describe()} · inference {run_ms:.0f} ms"
        lines = [f"**Model:** {self.ref.describe()} · device `{self.device}`", f"**Latency:** {latency}"]
        lines += [f"⚠️ {note}" for note in self.notes]
        return "\n\n".join(lines)


def clean_text(text: str | None, what: str = "text", *, notes: list[str] | None = None) -> str:
    """Strip `text`, refuse it when empty, cut it to `MAX_CHARS` (noting it in `notes`)."""
    value = (text or "").strip()
    if not value:
        raise ValueError(f"The {what} is empty. Type some text, or click one of the examples.")
    if len(value) > MAX_CHARS:
        if notes is not None:
            notes.append(f"The {what} had {len(value):,} characters; only the first {MAX_CHARS:,} were used.")
        value = value[:MAX_CHARS]
    return value


def token_limit(tokenizer: Any, model: Any = None) -> int:
    """The longest input (in tokens, special tokens included) the model can read."""
    limits = []
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 100_000:  # "no limit" is stored as a huge number
        limits.append(limit)
    config = getattr(model, "config", None)
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            limits.append(value - 2 if getattr(config, "model_type", "") in {"roberta", "xlm-roberta"} else value)
            break
    return min(limits) if limits else 512


def fit_tokens(tokenizer: Any, text: str, limit: int, notes: list[str], what: str = "text") -> str:
    """Cut `text` so that it fits in `limit` tokens with the special tokens; note it if cut.

    The cut happens at a token boundary, found with the offsets a fast tokenizer returns.
    """
    room = max(1, limit - tokenizer.num_special_tokens_to_add())
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    if len(enc["input_ids"]) <= room:
        return text
    end = enc["offset_mapping"][room - 1][1]
    notes.append(f"The {what} is {len(enc['input_ids'])} tokens; this model reads at most {limit}, "
                 f"so it was cut after {room} tokens (character {end}).")
    return text[:end]


def generation_time_limit() -> float | None:
    """Seconds `generate()` may run (its `max_time`): `SHARED_GENERATION_SECONDS` on a shared server,
    no limit locally (a teacher may generate slowly on purpose)."""
    from shared.serving import is_shared

    return SHARED_GENERATION_SECONDS if is_shared() else None


def time_limit_note(seconds: float, notes: list[str]) -> None:
    """Say so when generation stopped at the shared server's time limit rather than at its token count."""
    limit = generation_time_limit()
    if limit and seconds >= limit - 0.5:
        notes.append(f"Generation stopped after {limit:g} s, this shared server's time limit per request; "
                     "ask for fewer new tokens or pick a smaller model.")


def _untrained_note(ref: ModelRef, notes: list[str]) -> None:
    if ref.source == "tiny" and not ref.untrained:
        notes.append("Toy model trained for seconds on 25 sentences: it replays (or copies) them and knows "
                     "nothing else. Pick a hub model (online) or a local folder for real output.")
    elif ref.untrained:
        notes.append("Tiny demo model with random weights: the labels and scores are meaningless, "
                     "the steps are the real ones. Pick a hub model (online) or a local folder for real output.")


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def _prepare(task: str, model: str | None, device: str | None) -> tuple[ModelRef, str]:
    return resolve_model(model, task), resolve_device(device)


# ---------------------------------------------------------------- pipeline tasks


def classify_text(text: str, model: str | None = TINY, device: str | None = "auto", *,
                  cache: ModelCache = CACHE) -> TaskRun:
    """Text classification: one label for the whole text, with every label's score."""
    task, notes = "text-classification", []
    ref, dev = _prepare(task, model, device)
    text = clean_text(text, notes=notes)
    if ref.head == "sentiment":  # MiniLM + a linear head trained on this machine (minilm.py)
        clf, fetch = minilm.load_sentiment(ref, dev, cache)
        text = fit_tokens(clf.tokenizer, text, minilm.MAX_TOKENS, notes)
        scores, seconds = _timed(clf, text)
        head = clf.head
        made = "read from disk" if head.from_disk else "trained in this process"
        accuracy = "" if head.heldout_accuracy is None else f", {head.heldout_accuracy:.0%} right on held-out sentences"
        notes.append(f"Head {made} (first training took {head.train_seconds:.2f} s on {head.examples} labelled "
                     f"sentences{accuracy}). Small data: real, not state of the art; online, the hub default "
                     f"'{TASKS[task].default_hub}' was fine-tuned on 67k reviews.")
        return TaskRun(task, ref, dev, fetch, seconds, scores, snippets.sentiment_snippet(dev, text), notes)
    pipe, fetch = load_pipeline(task, ref, dev, hint=alternative(task, ref), cache=cache)
    text = fit_tokens(pipe.tokenizer, text, token_limit(pipe.tokenizer, pipe.model), notes)
    result, seconds = _timed(pipe, text, top_k=None)
    _untrained_note(ref, notes)
    scores = {r["label"]: float(r["score"]) for r in result}
    return TaskRun(task, ref, dev, fetch, seconds, scores,
                   snippets.pipeline_snippet(task, ref, dev, text, {"top_k": None}), notes)


def tag_entities(text: str, model: str | None = TINY, device: str | None = "auto", *,
                 cache: ModelCache = CACHE) -> TaskRun:
    """Named entities: label tokens, then merge neighbouring tokens of one entity ("simple").

    Returns:
        A TaskRun whose output is ``{"spans": [(text, label or None), ...], "entities": [...]}``:
        the spans cover the whole text, for highlighting.
    """
    task, notes = "token-classification", []
    ref, dev = _prepare(task, model, device)
    text = clean_text(text, notes=notes)
    pipe, fetch = load_pipeline(task, ref, dev, hint=alternative(task, ref), cache=cache)
    text = fit_tokens(pipe.tokenizer, text, token_limit(pipe.tokenizer, pipe.model), notes)
    entities, seconds = _timed(pipe, text, aggregation_strategy="simple")
    spans, cursor = [], 0
    for ent in sorted(entities, key=lambda e: e["start"]):
        if ent["start"] > cursor:
            spans.append((text[cursor:ent["start"]], None))
        spans.append((text[ent["start"]:ent["end"]], ent["entity_group"]))
        cursor = max(cursor, ent["end"])
    if cursor < len(text):
        spans.append((text[cursor:], None))
    rows = [{"entity": e["entity_group"], "word": e["word"], "score": round(float(e["score"]), 4),
             "start": int(e["start"]), "end": int(e["end"])} for e in entities]
    _untrained_note(ref, notes)
    return TaskRun(task, ref, dev, fetch, seconds, {"spans": spans, "entities": rows},
                   snippets.pipeline_snippet(task, ref, dev, text, {"aggregation_strategy": "simple"}), notes)


def fill_mask(text: str, model: str | None = TINY, device: str | None = "auto", top_k: int = TOP_K, *,
              cache: ModelCache = CACHE) -> TaskRun:
    """Fill-mask: the model scores every vocabulary token for the masked position.

    Write the mask as ``[MASK]`` or ``<mask>``; it is rewritten to the model's own mask token.
    """
    task, notes = "fill-mask", []
    ref, dev = _prepare(task, model, device)
    text = clean_text(text, notes=notes)
    pipe, fetch = load_pipeline(task, ref, dev, hint=alternative(task, ref), cache=cache)
    mask = pipe.tokenizer.mask_token
    text = text.replace("[MASK]", mask).replace("<mask>", mask)
    count = text.count(mask)
    if count != 1:
        cut = f" in the first {MAX_CHARS:,} characters (longer texts are cut)" if notes else ""
        raise ValueError(f"Put exactly one mask in the text (found {count}{cut}). Write [MASK] (or <mask>) "
                         f"where the missing word goes, e.g. 'Paris is the [MASK] of France.'")
    fitted = fit_tokens(pipe.tokenizer, text, token_limit(pipe.tokenizer, pipe.model), notes)
    if mask not in fitted:
        raise ValueError("The mask is past the part of the text the model can read. Move [MASK] nearer the start.")
    top_k = int(top_k)
    if not 1 <= top_k <= 50:
        raise ValueError(f"top_k must be between 1 and 50; got {top_k}.")
    result, seconds = _timed(pipe, fitted, top_k=top_k)
    rows = [{"token": r["token_str"], "id": int(r["token"]), "score": round(float(r["score"]), 5),
             "sentence": r["sequence"]} for r in result]
    _untrained_note(ref, notes)
    return TaskRun(task, ref, dev, fetch, seconds, rows,
                   snippets.pipeline_snippet(task, ref, dev, fitted, {"top_k": top_k}), notes)


def generate_text(prompt: str, model: str | None = TINY, device: str | None = "auto", max_new_tokens: int = 30,
                  do_sample: bool = False, *, cache: ModelCache = CACHE) -> TaskRun:
    """Text generation with the pipeline (the "Under the hood" tab streams and exposes every knob)."""
    task, notes = "text-generation", []
    ref, dev = _prepare(task, model, device)
    prompt = clean_text(prompt, "prompt", notes=notes)
    max_new_tokens = int(max_new_tokens)
    if not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise ValueError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS}; got {max_new_tokens}.")
    pipe, fetch = load_pipeline(task, ref, dev, hint=alternative(task, ref), cache=cache)
    limit = token_limit(pipe.tokenizer, pipe.model)
    if limit <= max_new_tokens + 1:
        raise ValueError(f"This model reads at most {limit} tokens in all; ask for fewer than {limit - 1} new tokens.")
    prompt = fit_tokens(pipe.tokenizer, prompt, limit - max_new_tokens, notes, "prompt")
    options = {"max_new_tokens": max_new_tokens, "do_sample": bool(do_sample)}
    budget = {"max_time": limit_s} if (limit_s := generation_time_limit()) else {}
    result, seconds = _timed(pipe, prompt, pad_token_id=pipe.tokenizer.eos_token_id, **options, **budget)
    time_limit_note(seconds, notes)
    _untrained_note(ref, notes)
    return TaskRun(task, ref, dev, fetch, seconds, result[0]["generated_text"],
                   snippets.pipeline_snippet(task, ref, dev, prompt, options), notes)


def zero_shot(text: str, labels: str, model: str | None = TINY, device: str | None = "auto",
              multi_label: bool = False, template: str = "This example is about {}.", *,
              cache: ModelCache = CACHE) -> TaskRun:
    """Zero-shot classification: each label becomes a hypothesis ("This example is about sports.")
    and an NLI model scores whether the text entails it."""
    task, notes = "zero-shot-classification", []
    ref, dev = _prepare(task, model, device)
    text = clean_text(text, notes=notes)
    if len(labels or "") > MAX_LABELS * (MAX_LABEL_CHARS + 2):
        raise ValueError(f"The labels box has {len(labels):,} characters; give at most {MAX_LABELS} labels of up "
                         f"to {MAX_LABEL_CHARS} characters each, separated by commas.")
    names = [l.strip() for l in (labels or "").split(",") if l.strip()]
    if not names:
        raise ValueError("Give at least one candidate label, separated by commas, e.g. 'sports, politics, science'.")
    if len(names) > MAX_LABELS:
        raise ValueError(f"At most {MAX_LABELS} labels (each one is a forward pass); got {len(names)}.")
    longest = max(names, key=len)
    if len(longest) > MAX_LABEL_CHARS:
        raise ValueError(f"Each label may have at most {MAX_LABEL_CHARS} characters (a word or a short phrase); "
                         f"one has {len(longest):,}.")
    if len(template or "") > MAX_LABEL_CHARS * 2:
        raise ValueError(f"The hypothesis template may have at most {MAX_LABEL_CHARS * 2} characters.")
    if "{}" not in (template or ""):
        raise ValueError("The hypothesis template must contain {} where the label goes, e.g. 'This example is about {}.'")
    if ref.head == "zero-shot":  # MiniLM: the closest hypothesis wins (minilm.zero_shot_scores)
        pipe, fetch = minilm.encoder(dev, cache)
        text = fit_tokens(pipe.tokenizer, text, minilm.MAX_TOKENS, notes)
        (scores, cosines), seconds = _timed(minilm.zero_shot_scores, pipe, text, names, template, multi_label)
        how = ("each label's own cosine similarity, clipped to [0, 1] (not a probability)" if multi_label
               else f"softmax({minilm.SIMILARITY_SCALE:g} x cosine) over the labels")
        notes.append(f"Scores are {how}. Cosines: " + ", ".join(f"{k} {v:+.3f}" for k, v in cosines.items())
                     + f". Online, the NLI model '{TASKS[task].default_hub}' reads each hypothesis with the text.")
        return TaskRun(task, ref, dev, fetch, seconds, scores,
                       snippets.zero_shot_snippet(dev, text, names, template, bool(multi_label)), notes)
    pipe, fetch = load_pipeline(task, ref, dev, hint=alternative(task, ref), cache=cache)
    if pipe.entailment_id == -1:
        labels_found = ", ".join(map(str, pipe.model.config.id2label.values()))
        raise ModelLoadError(f"The model '{ref.raw}' has no 'entailment' label (its labels: {labels_found}), so it "
                             f"cannot do zero-shot classification. Use an NLI model such as '{TASKS[task].default_hub}' "
                             f"(online), or '{MINILM}' (offline: embedding similarity).")
    text = fit_tokens(pipe.tokenizer, text, token_limit(pipe.tokenizer, pipe.model) - 24, notes)
    options = {"candidate_labels": names, "multi_label": bool(multi_label), "hypothesis_template": template}
    result, seconds = _timed(pipe, text, **options)
    _untrained_note(ref, notes)
    scores = {label: float(score) for label, score in zip(result["labels"], result["scores"])}
    return TaskRun(task, ref, dev, fetch, seconds, scores, snippets.pipeline_snippet(task, ref, dev, text, options), notes)


def sentence_similarity(query: str, candidates: str, model: str | None = MINILM, device: str | None = "auto", *,
                        cache: ModelCache = CACHE) -> TaskRun:
    """Feature extraction + mean pooling + cosine similarity, ranked against the query.

    Returns:
        A TaskRun whose output is ``{"ranking": [...], "sentences": [...], "matrix": [[...]]}``.
    """
    import numpy as np

    task, notes = "feature-extraction", []
    ref, dev = _prepare(task, model, device)
    query = clean_text(query, "query", notes=notes)
    # Only the first MAX_SENTENCES lines are compared, each cut to MAX_CHARS: never read more than that.
    readable = (MAX_SENTENCES + 1) * (MAX_CHARS + 1)
    if len(candidates or "") > readable:
        notes.append(f"The candidates had {len(candidates):,} characters; only the first {readable:,} were read.")
    lines = [l.strip() for l in (candidates or "")[:readable].splitlines() if l.strip()]
    if not lines:
        raise ValueError("Give at least one candidate sentence (one per line) to compare with the query.")
    if len(lines) > MAX_SENTENCES:
        notes.append(f"More than {MAX_SENTENCES} candidates given; only the first {MAX_SENTENCES} were compared.")
        lines = lines[:MAX_SENTENCES]
    lines = [clean_text(l, "candidate", notes=notes) for l in lines]
    pipe, fetch = load_pipeline(task, ref, dev, hint=alternative(task, ref), cache=cache)
    limit = token_limit(pipe.tokenizer, pipe.model)
    sentences = [fit_tokens(pipe.tokenizer, s, limit, notes, "sentence") for s in [query, *lines]]

    def embed():
        # (tokens, hidden) per sentence -> mean over tokens -> unit length.
        vectors = np.stack([np.asarray(pipe(s)[0], dtype=np.float32).mean(axis=0) for s in sentences])
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    vectors, seconds = _timed(embed)
    matrix = vectors @ vectors.T  # cosine similarity of every pair
    order = np.argsort(-matrix[0, 1:])
    ranking = [{"rank": r + 1, "cosine": round(float(matrix[0, i + 1]), 4), "sentence": sentences[i + 1]}
               for r, i in enumerate(order)]
    _untrained_note(ref, notes)
    return TaskRun(task, ref, dev, fetch, seconds,
                   {"ranking": ranking, "sentences": sentences, "matrix": matrix.astype(float).round(4).tolist(),
                    "dimensions": int(vectors.shape[1])},
                   snippets.similarity_snippet(ref, dev, sentences), notes)


def classify_image(image_path: str | None, model: str | None = TINY, device: str | None = "auto", *,
                   cache: ModelCache = CACHE) -> TaskRun:
    """Image classification: the image processor resizes and normalises, the ViT labels it."""
    from shared.uploads import open_image

    task, notes = "image-classification", []
    ref, dev = _prepare(task, model, device)
    image = open_image(image_path).convert("RGB")  # checks type, size, corruption
    pipe, fetch = load_pipeline(task, ref, dev, hint=alternative(task, ref), cache=cache)
    result, seconds = _timed(pipe, image, top_k=TOP_K)
    _untrained_note(ref, notes)
    scores = {r["label"]: float(r["score"]) for r in result}
    return TaskRun(task, ref, dev, fetch, seconds, scores,
                   snippets.pipeline_snippet(task, ref, dev, Path(image_path).name, {"top_k": TOP_K}), notes)


def read_wav(path: str | None) -> tuple[int, Any]:
    """Read a PCM WAV file with the standard library into (rate, mono float32 samples in [-1, 1]).

    Raises:
        UploadError: For a missing, non-WAV or unsupported WAV file.
    """
    import numpy as np

    from shared.uploads import MAX_UPLOAD_BYTES, UploadError

    if path is None or str(path) == "":
        raise UploadError("No audio was given. Upload or record a WAV clip, or click an example.")
    p = Path(path)
    if not p.is_file():
        raise UploadError(f"The audio '{p.name}' could not be found on the server. Upload it again.")
    size = p.stat().st_size
    if size == 0 or size > MAX_UPLOAD_BYTES:
        raise UploadError(f"The audio '{p.name}' is {size / 1e6:.1f} MB; give a WAV clip between 1 byte and "
                          f"{MAX_UPLOAD_BYTES / 1e6:.0f} MB.")
    with open(p, "rb") as fh:
        head = fh.read(12)
    if not (head.startswith(b"RIFF") and head[8:12] == b"WAVE"):
        raise UploadError(f"'{p.name}' is not a WAV file. Upload a .wav clip (16-bit PCM), or record one.")
    try:
        with wave.open(str(path), "rb") as wav:
            rate, channels, width, frames = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth(),
                                             wav.getnframes())
            if not MIN_AUDIO_RATE <= rate <= MAX_AUDIO_RATE:
                raise UploadError(f"The WAV file says it has {rate:,} samples per second; give a clip recorded at "
                                  f"{MIN_AUDIO_RATE:,} to {MAX_AUDIO_RATE:,} Hz (16,000 Hz is usual for speech).")
            raw = wav.readframes(min(frames, rate * MAX_AUDIO_SECONDS * 4))
    except (wave.Error, EOFError) as exc:
        raise UploadError(f"The WAV file '{Path(path).name}' could not be read ({exc}). Export it as 16-bit PCM WAV.") from exc
    dtypes = {1: np.uint8, 2: np.int16, 4: np.int32}
    if width not in dtypes:
        raise UploadError(f"The WAV file uses {8 * width}-bit samples; export it as 16-bit PCM WAV.")
    samples = np.frombuffer(raw, dtype=dtypes[width]).astype(np.float32)
    if width == 1:
        samples = (samples - 128.0) / 128.0
    else:
        samples /= float(2 ** (8 * width - 1))
    samples = samples.reshape(-1, channels).mean(axis=1)  # stereo -> mono
    if samples.size < rate * MIN_AUDIO_SECONDS:
        raise UploadError(f"The WAV file holds {samples.size / rate:.3f} s of audio; the models need at least "
                          f"{MIN_AUDIO_SECONDS} s. Record or upload a clip at least half a second long.")
    return rate, samples


def resample(samples: Any, rate: int, target: int) -> Any:
    """Linear-interpolation resampling (enough for a demo; torchaudio/librosa filter better)."""
    import numpy as np

    if rate == target:
        return samples
    duration = samples.size / rate
    new_times = np.arange(int(round(duration * target))) / target
    return np.interp(new_times, np.arange(samples.size) / rate, samples).astype(np.float32)


def classify_audio(audio_path: str | None, model: str | None = TINY, device: str | None = "auto", *,
                   cache: ModelCache = CACHE) -> TaskRun:
    """Audio classification: resample to the model's rate, then the feature extractor and model."""
    task, notes = "audio-classification", []
    ref, dev = _prepare(task, model, device)
    rate, samples = read_wav(audio_path)
    if samples.size > rate * MAX_AUDIO_SECONDS:
        notes.append(f"The clip is {samples.size / rate:.1f} s; only the first {MAX_AUDIO_SECONDS} s were used.")
        samples = samples[: rate * MAX_AUDIO_SECONDS]
    pipe, fetch = load_pipeline(task, ref, dev, hint=alternative(task, ref), cache=cache)
    target = pipe.feature_extractor.sampling_rate
    if rate != target:
        notes.append(f"Resampled from {rate} Hz to the {target} Hz the model was trained on.")
        samples = resample(samples, rate, target)
    result, seconds = _timed(pipe, {"raw": samples, "sampling_rate": target}, top_k=TOP_K)
    _untrained_note(ref, notes)
    scores = {r["label"]: float(r["score"]) for r in result}
    after = ("# The pipeline wants mono float32 at the model's own rate: "
             f"{target} Hz here (this lab resamples uploads for you).\n")
    return TaskRun(task, ref, dev, fetch, seconds, scores,
                   snippets.pipeline_snippet(task, ref, dev, Path(audio_path).name, {"top_k": TOP_K}, after=after),
                   notes)


# ---------------------------------------------------------------- by hand (pipelines removed in v5)


def answer_question(question: str, context: str, model: str | None = TINY, device: str | None = "auto",
                    max_answer_tokens: int = 30, *, cache: ModelCache = CACHE) -> TaskRun:
    """Extractive QA by hand: the model scores every token as answer start and as answer end;
    the answer is the best (start <= end) span inside the context, mapped back to characters.
    """
    import torch

    task, notes = "question-answering", []
    ref, dev = _prepare(task, model, device)
    question = clean_text(question, "question", notes=notes)
    context = clean_text(context, "context", notes=notes)
    (tokenizer, qa_model), fetch = load_auto("QuestionAnswering", ref, dev, hint=alternative(task, ref), cache=cache)
    limit = token_limit(tokenizer, qa_model)
    q_tokens = len(tokenizer(question, add_special_tokens=False)["input_ids"])
    if q_tokens > limit // 2:
        raise ValueError(f"The question is {q_tokens} tokens; keep it under {limit // 2} so the context fits.")
    full = len(tokenizer(question, context)["input_ids"])
    enc = tokenizer(question, context, truncation="only_second", max_length=limit,
                    return_offsets_mapping=True, return_tensors="pt")
    if full > limit:
        notes.append(f"Question + context are {full} tokens; the model reads {limit}, so the end of the "
                     "context was cut (a long document needs a sliding window: `stride=` in the tokenizer).")
    offsets = enc.pop("offset_mapping")[0].tolist()
    in_context = torch.tensor([s == 1 for s in enc.sequence_ids(0)])  # (T,) True on context tokens
    enc = {k: v.to(dev) for k, v in enc.items() if k in tokenizer.model_input_names}

    def run():
        with torch.no_grad():
            return qa_model(**enc)

    out, seconds = _timed(run)
    start = out.start_logits[0].float().cpu().masked_fill(~in_context, float("-inf"))  # (T,)
    end = out.end_logits[0].float().cpu().masked_fill(~in_context, float("-inf"))  # (T,)
    # Score of span (s, e) = start[s] + end[e]; keep s <= e < s + max_answer_tokens.
    pair = start[:, None] + end[None, :]  # (T, T)
    allowed = torch.ones_like(pair, dtype=torch.bool).triu().tril(int(max_answer_tokens) - 1)
    pair = pair.masked_fill(~allowed, float("-inf"))
    p_start, p_end = torch.softmax(start, dim=0), torch.softmax(end, dim=0)
    top = torch.topk(pair.flatten(), k=min(TOP_K, int(allowed.sum())))
    spans = []
    for flat in top.indices.tolist():
        s, e = divmod(flat, pair.shape[1])
        if torch.isinf(pair[s, e]):
            continue
        spans.append({"answer": context[offsets[s][0]:offsets[e][1]], "score": round(float(p_start[s] * p_end[e]), 5),
                      "start": offsets[s][0], "end": offsets[e][1], "tokens": f"{s}..{e}"})
    if not spans:
        raise ValueError("No answer span fits in the context. Give a longer context.")
    _untrained_note(ref, notes)
    return TaskRun(task, ref, dev, fetch, seconds, {"best": spans[0], "spans": spans, "context": context},
                   snippets.qa_snippet(ref, dev, question, context, limit), notes)


def seq2seq(text: str, mode: str = "summarize", model: str | None = TINY, device: str | None = "auto",
            max_new_tokens: int = 40, num_beams: int = 1, *, cache: ModelCache = CACHE) -> TaskRun:
    """Summarize or translate by hand with `AutoModelForSeq2SeqLM.generate` (beam search optional)."""
    import torch

    task, notes = "seq2seq", []
    ref, dev = _prepare(task, model, device)
    text = clean_text(text, notes=notes)
    if mode not in SEQ2SEQ_MODES:
        raise ValueError(f"Unknown mode {mode!r}; choose one of: {', '.join(SEQ2SEQ_MODES)}.")
    max_new_tokens, num_beams = int(max_new_tokens), int(num_beams)
    if not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise ValueError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS}; got {max_new_tokens}.")
    if not 1 <= num_beams <= 8:
        raise ValueError(f"num_beams must be between 1 and 8; got {num_beams}.")
    (tokenizer, s2s), fetch = load_auto("Seq2SeqLM", ref, dev, hint=alternative(task, ref), cache=cache)
    source = SEQ2SEQ_MODES[mode] + text
    limit = token_limit(tokenizer, s2s)
    source = fit_tokens(tokenizer, source, limit, notes)
    enc = tokenizer(source, truncation=True, max_length=limit, return_tensors="pt").to(dev)
    options = {"max_new_tokens": max_new_tokens, "num_beams": num_beams, "do_sample": False}
    budget = {"max_time": limit_s} if (limit_s := generation_time_limit()) else {}

    def run():
        with torch.no_grad():
            return s2s.generate(**enc, **options, **budget)

    out, seconds = _timed(run)
    time_limit_note(seconds, notes)
    _untrained_note(ref, notes)
    return TaskRun(task, ref, dev, fetch, seconds, tokenizer.decode(out[0], skip_special_tokens=True),
                   snippets.seq2seq_snippet(ref, dev, source, options, limit), notes)
