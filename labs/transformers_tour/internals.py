"""Under the hood: what a pipeline does in its three steps, one step at a time.

1. The tokenizer turns text into ids (with offsets back into the text, special tokens, an
   attention mask, and padding when several texts are batched): `explore_tokens`.
2. The model is a config plus named parameter tensors: `describe_model`.
3. The model outputs logits; softmax (with a temperature) turns them into probabilities, and
   generation picks one token after another from them: `next_token_table`, `stream_generate`.

Chat models add one step before 1: `apply_chat_template` renders a list of messages into the
exact text the model was trained on (`render_chat`).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, fields
from typing import Any, Iterator

from . import snippets, templates
from .loading import (CACHE, SUITE_SOURCES, TINY, Fetch, ModelCache, load_auto, load_tokenizer, resolve_device,
                      resolve_model)
from .tasks import (MAX_CHARS, MAX_NEW_TOKENS, clean_text, fit_tokens, generation_time_limit, time_limit_note,
                    token_limit)

MAX_BATCH = 8  # texts in the tokenizer explorer's batch
MAX_TOKENS_SHOWN = 400  # rows in the token table
STREAM_TIMEOUT_S = 120  # give up waiting for the next token after this long
MAX_SEED = 2**32 - 1  # torch.manual_seed accepts up to 2**64 - 1; a seed box needs far less
TINY_BERT = f"{TINY}:fill-mask"  # WordPiece tokenizer, encoder model
TINY_GPT2 = f"{TINY}:text-generation"  # byte-level BPE tokenizer, causal LM with a chat template


# ---------------------------------------------------------------- 1. tokenizer


def explore_tokens(texts: str, model: str | None = TINY_BERT, padding_side: str = "right",
                   add_special_tokens: bool = True) -> dict[str, Any]:
    """Tokenize one text per line as a padded batch and lay out everything the tokenizer returns.

    Returns:
        ``{"rows": [...], "batch": {...}, "specials": {...}, "summary": str, "snippet": str}``: one
        row per token (sequence, position, token, id, character offsets, the text it covers,
        special or not, attention mask), the padded batch as lists, and the special tokens.
    """
    if len(texts or "") > 4 * MAX_BATCH * (MAX_CHARS + 1):  # never split a huge paste into millions of lines
        raise ValueError(f"The texts box has {len(texts):,} characters; give at most {MAX_BATCH} lines of up to "
                         f"{MAX_CHARS:,} characters each.")
    lines = [l for l in (texts or "").splitlines() if l.strip()]
    if not lines:
        raise ValueError("Type at least one line of text (each line becomes one sequence of the batch).")
    if len(lines) > MAX_BATCH:
        raise ValueError(f"At most {MAX_BATCH} lines (one sequence each); got {len(lines)}.")
    if padding_side not in {"left", "right"}:
        raise ValueError("padding_side must be 'left' (what decoder-only models need for batched "
                         "generation) or 'right' (the default for encoders).")
    lines = [clean_text(l) for l in lines]
    ref = resolve_model(model, "fill-mask")
    tokenizer, _ = load_tokenizer(ref)
    if tokenizer.pad_token is None:
        # GPT-style tokenizers have no pad token; reusing end-of-text is the usual fix.
        tokenizer.pad_token = tokenizer.eos_token
    limit = token_limit(tokenizer)
    # padding_side as a call argument: the cached tokenizer is shared, so it is not mutated.
    batch = tokenizer(lines, padding=True, padding_side=padding_side, truncation=True, max_length=limit,
                      add_special_tokens=bool(add_special_tokens), return_offsets_mapping=True,
                      return_special_tokens_mask=True)
    special_ids = set(tokenizer.all_special_ids)
    rows = []
    for seq, (ids, mask, offsets) in enumerate(zip(batch["input_ids"], batch["attention_mask"],
                                                   batch["offset_mapping"])):
        tokens = tokenizer.convert_ids_to_tokens(ids)
        for pos, (tid, tok, m, (a, b)) in enumerate(zip(ids, tokens, mask, offsets)):
            rows.append({"seq": seq, "pos": pos, "token": tok, "id": int(tid),
                         "chars": f"{a}-{b}" if b > a else "", "text": lines[seq][a:b] if b > a else "",
                         "special": int(tid) in special_ids, "attention_mask": int(m)})
    lengths = [sum(m) for m in batch["attention_mask"]]
    width = len(batch["input_ids"][0])
    summary = (f"{len(lines)} sequence(s), padded to {width} tokens on the **{padding_side}** "
               f"(real lengths {lengths}); vocabulary {len(tokenizer):,} tokens; "
               f"{type(tokenizer).__name__}; reads at most {limit} tokens.")
    if len(rows) > MAX_TOKENS_SHOWN:
        summary += f" Showing the first {MAX_TOKENS_SHOWN} of {len(rows)} token rows."
        rows = rows[:MAX_TOKENS_SHOWN]
    specials = {name: getattr(tokenizer, name, None) for name in
                ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")}
    specials = {k: f"{v} (id {tokenizer.convert_tokens_to_ids(v)})" for k, v in specials.items() if v}
    shown = {k: batch[k] for k in batch if k not in {"offset_mapping"}}
    return {"rows": rows, "batch": shown, "specials": specials, "summary": summary, "ref": ref,
            "snippet": snippets.tokenizer_snippet(ref, lines, padding_side, bool(add_special_tokens))}


# ---------------------------------------------------------------- 2. config and parameters


def describe_model(model: str | None = TINY_BERT, device: str | None = "auto", *,
                   cache: ModelCache = CACHE) -> dict[str, Any]:
    """Load a model as saved (head included) and report its config and where its parameters are.

    Returns:
        ``{"config": dict, "rows": [...], "total": int, "megabytes": float, "class": str, ...}``,
        one row per top-level block (embeddings, encoder/decoder layers, head).
    """
    ref = resolve_model(model, "fill-mask")
    dev = resolve_device(device)
    (_, net), fetch = load_auto("Architecture", ref, dev, cache=cache)
    rows = []
    for name, child in net.named_children():
        for sub_name, sub in child.named_children():
            count = sum(p.numel() for p in sub.parameters())
            rows.append({"block": f"{name}.{sub_name}", "class": type(sub).__name__, "parameters": count})
        own = sum(p.numel() for p in child.parameters(recurse=False))
        if own or not list(child.children()):
            rows.append({"block": name, "class": type(child).__name__, "parameters": sum(p.numel() for p in child.parameters())})
    total = sum(p.numel() for p in net.parameters())
    size = sum(p.numel() * p.element_size() for p in net.parameters())
    for row in rows:
        row["share %"] = round(100 * row["parameters"] / max(total, 1), 2)
    dtype = str(next(net.parameters()).dtype).replace("torch.", "")
    # Through JSON, as config.json stores it (id2label keys become strings).
    config = json.loads(net.config.to_json_string(use_diff=False))
    return {"config": config, "rows": rows, "total": total, "megabytes": size / 1e6,
            "class": type(net).__name__, "dtype": dtype, "fetch": fetch, "ref": ref, "device": dev}


# ---------------------------------------------------------------- 3. logits -> probabilities


def next_token_table(prompt: str, model: str | None = TINY_GPT2, device: str | None = "auto",
                     temperature: float = 1.0, k: int = 10, *, cache: ModelCache = CACHE) -> dict[str, Any]:
    """Score every vocabulary token as the next one after `prompt`, and show the top `k`.

    Temperature divides the logits before the softmax: below 1 sharpens the distribution (closer to
    greedy), above 1 flattens it (more surprising samples).
    """
    import torch

    temperature, k = float(temperature), int(k)
    if not 0.05 <= temperature <= 5:
        raise ValueError(f"Temperature must be between 0.05 and 5; got {temperature}.")
    if not 1 <= k <= 50:
        raise ValueError(f"k must be between 1 and 50; got {k}.")
    notes: list[str] = []
    prompt = clean_text(prompt, "prompt", notes=notes)
    ref, dev = resolve_model(model, "text-generation"), resolve_device(device)
    (tokenizer, lm), fetch = load_auto("CausalLM", ref, dev, hint="HuggingFaceTB/SmolLM2-135M-Instruct", cache=cache)
    prompt = fit_tokens(tokenizer, prompt, token_limit(tokenizer, lm) - 1, notes, "prompt")
    enc = tokenizer(prompt, return_tensors="pt").to(dev)
    start = time.perf_counter()
    with torch.no_grad():
        logits = lm(**enc).logits[0, -1].float().cpu()  # (vocab,): one score per possible next token
    seconds = time.perf_counter() - start
    plain = torch.softmax(logits, dim=-1)
    scaled = torch.softmax(logits / temperature, dim=-1)
    top = torch.topk(scaled, k)
    rows = [{"rank": r + 1, "token": repr(tokenizer.decode([i])), "id": i, "logit": round(float(logits[i]), 3),
             "p (T=1)": round(float(plain[i]), 5), f"p (T={temperature:g})": round(float(scaled[i]), 5)}
            for r, i in enumerate(top.indices.tolist())]
    entropy = float(-(scaled * scaled.clamp_min(1e-12).log()).sum())
    return {"rows": rows, "label": {row["token"]: float(scaled[row["id"]]) for row in rows},
            "greedy": rows[0]["token"], "entropy": entropy, "vocab": int(logits.numel()),
            "tokens_in": int(enc["input_ids"].shape[1]), "seconds": seconds, "fetch": fetch, "ref": ref,
            "device": dev, "notes": notes,
            "snippet": snippets.next_token_snippet(ref, dev, prompt, temperature, k)}


# ---------------------------------------------------------------- generation with streaming


@dataclass(frozen=True)
class GenerationSettings:
    """The generation knobs, checked, and turned into `generate()` keyword arguments.

    Attributes:
        do_sample: False = greedy (always the most likely token); True = sample from the distribution.
        temperature: Divides logits before softmax (sampling only).
        top_k: Keep only the k most likely tokens before sampling (0 = off).
        top_p: Keep the smallest set of tokens whose probabilities add up to p (1.0 = off).
        max_new_tokens: How many tokens to add at most.
        repetition_penalty: > 1 makes tokens already in the text less likely.
        seed: Makes sampling repeatable (-1 = a new random draw each time).
    """

    do_sample: bool = False
    temperature: float = 0.8
    top_k: int = 50
    top_p: float = 0.95
    max_new_tokens: int = 40
    repetition_penalty: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        """Name an empty box (None from the UI or an API call) instead of failing on int(None)."""
        for f in fields(self):
            if f.name == "do_sample":
                object.__setattr__(self, f.name, bool(self.do_sample))
                continue
            value, kind = getattr(self, f.name), type(f.default)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise ValueError(f"The {f.name} box is empty: enter a number (the default is {f.default}).")
            try:
                object.__setattr__(self, f.name, kind(value))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{f.name} must be a number; got {value!r}.") from exc

    def check(self) -> "GenerationSettings":
        if not 1 <= int(self.max_new_tokens) <= MAX_NEW_TOKENS:
            raise ValueError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS}; got {self.max_new_tokens}.")
        if not 0.05 <= float(self.temperature) <= 5:
            raise ValueError(f"Temperature must be between 0.05 and 5; got {self.temperature}.")
        if not 0 <= int(self.top_k) <= 1000:
            raise ValueError(f"top_k must be between 0 (off) and 1000; got {self.top_k}.")
        if not 0 < float(self.top_p) <= 1:
            raise ValueError(f"top_p must be in (0, 1] (1 = off); got {self.top_p}.")
        if not 0.5 <= float(self.repetition_penalty) <= 3:
            raise ValueError(f"repetition_penalty must be between 0.5 and 3 (1 = off); got {self.repetition_penalty}.")
        if not -1 <= int(self.seed) <= MAX_SEED:
            raise ValueError(f"seed must be between -1 (random) and {MAX_SEED}; got {self.seed}.")
        return self

    def kwargs(self) -> dict[str, Any]:
        """Only the arguments that matter: greedy decoding ignores temperature/top-k/top-p."""
        options: dict[str, Any] = {"max_new_tokens": int(self.max_new_tokens), "do_sample": bool(self.do_sample)}
        if self.do_sample:
            options.update(temperature=float(self.temperature), top_k=int(self.top_k), top_p=float(self.top_p))
        if float(self.repetition_penalty) != 1.0:
            options["repetition_penalty"] = float(self.repetition_penalty)
        return options


@dataclass
class StreamStep:
    """One update of a streamed generation."""

    text: str  # everything generated so far
    tokens: int  # new tokens so far
    seconds: float  # since generation started
    first_token_s: float | None  # time to first token
    done: bool
    fetch: Fetch
    prompt_text: str  # the exact text the model saw (after the chat template)
    snippet: str
    note: str = ""  # e.g. stopped by the shared server's time limit

    def stats(self) -> str:
        rate = self.tokens / self.seconds if self.seconds > 0 else 0.0
        first = f"{self.first_token_s * 1000:.0f} ms" if self.first_token_s is not None else "…"
        state = "✅ done" if self.done else "⏳ streaming"
        text = (f"{state} · {self.tokens} new tokens in {self.seconds:.2f} s ({rate:.1f} tokens/s) · "
                f"first token after {first} · {self.fetch.describe()}")
        return text + (f"\n\n⚠️ {self.note}" if self.note else "")


def _counting_streamer(tokenizer: Any, timeout: float):
    """A TextIteratorStreamer that also counts the tokens it receives (for tokens/s)."""
    from transformers import TextIteratorStreamer

    class CountingStreamer(TextIteratorStreamer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.count = 0
            self.first_at: float | None = None

        def put(self, value: Any) -> None:
            if not self.next_tokens_are_prompt:  # the first call carries the prompt, not new tokens
                self.count += int(value.numel())
                self.first_at = self.first_at or time.perf_counter()
            super().put(value)

    return CountingStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=timeout)


def chat_messages(user: str, system: str = "") -> list[dict[str, str]]:
    system = (system or "").strip()
    if len(system) > MAX_CHARS:
        raise ValueError(f"The system message has {len(system):,} characters; at most {MAX_CHARS:,} are accepted. "
                         "Shorten it.")
    messages = [{"role": "system", "content": system}] if system else []
    return messages + [{"role": "user", "content": user}]


def render_chat(user: str, system: str = "", model: str | None = TINY_GPT2,
                add_generation_prompt: bool = True) -> dict[str, Any]:
    """Render messages with the tokenizer's chat template: the exact text a chat model reads.

    The template is a Jinja program that came with the tokenizer. The suite's own (the tiny models')
    render here; any other one (hub, local or uploaded folder) renders under a time, memory and size
    budget in a child process (`templates.render`), so a template that loops forever is stopped.
    """
    user = clean_text(user, "user message")
    ref = resolve_model(model, "text-generation")
    tokenizer, _ = load_tokenizer(ref)
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(f"The tokenizer of '{ref.raw}' has no chat template: it is a base model, not a chat "
                         "model. Pick an -Instruct model (e.g. HuggingFaceTB/SmolLM2-135M-Instruct) or 'tiny'.")
    messages = chat_messages(user, system)
    text = templates.render(tokenizer, messages, add_generation_prompt=bool(add_generation_prompt),
                            trusted=ref.source in SUITE_SOURCES, name=f"'{ref.raw}'")
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return {"text": text, "messages": messages, "tokens": len(ids),
            "pieces": tokenizer.convert_ids_to_tokens(ids), "ref": ref}


def stream_generate(prompt: str, model: str | None = TINY_GPT2, device: str | None = "auto",
                    settings: GenerationSettings | None = None, *, chat: bool = False, system: str = "",
                    cache: ModelCache = CACHE) -> Iterator[StreamStep]:
    """Generate with `model.generate` in a thread and yield the text as it streams in.

    `TextIteratorStreamer` is a queue: `generate()` puts decoded text pieces into it from a worker
    thread, and this generator takes them out as they come, so the UI shows tokens as they are made.

    Yields:
        A `StreamStep` per text piece, then a final one with ``done=True``.
    """
    import torch

    settings = (settings or GenerationSettings()).check()
    notes: list[str] = []
    prompt = clean_text(prompt, "prompt", notes=notes)
    ref, dev = resolve_model(model, "text-generation"), resolve_device(device)
    (tokenizer, lm), fetch = load_auto("CausalLM", ref, dev, hint="HuggingFaceTB/SmolLM2-135M-Instruct", cache=cache)
    limit = token_limit(tokenizer, lm)
    if limit <= settings.max_new_tokens + 1:
        raise ValueError(f"This model reads at most {limit} tokens in all; ask for fewer new tokens.")
    if chat:
        text = render_chat(prompt, system, model)["text"]
        enc = tokenizer(text, add_special_tokens=False, return_tensors="pt")
        if enc["input_ids"].shape[1] > limit - settings.max_new_tokens:
            raise ValueError("The rendered chat is longer than this model can read; shorten the messages.")
    else:
        text = fit_tokens(tokenizer, prompt, limit - settings.max_new_tokens, notes, "prompt")
        enc = tokenizer(text, return_tensors="pt")
    enc = enc.to(dev)
    options = settings.kwargs()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if settings.do_sample and settings.seed >= 0:
        torch.manual_seed(int(settings.seed))  # same seed + same settings = same sample
    streamer = _counting_streamer(tokenizer, STREAM_TIMEOUT_S)
    failure: list[BaseException] = []
    limit_s = generation_time_limit()  # None locally; a few tens of seconds on a shared server
    budget = {"max_time": limit_s} if limit_s else {}

    def work() -> None:
        try:
            with torch.no_grad():
                lm.generate(**enc, streamer=streamer, pad_token_id=pad, **options, **budget)
        except BaseException as exc:  # surface it in the reading thread instead of hanging
            failure.append(exc)
            streamer.end()

    snippet = snippets.generation_snippet(ref, dev, prompt, options, chat=chat, system=system)
    start = time.perf_counter()
    worker = threading.Thread(target=work, daemon=True, name="transformers-tour-generate")
    worker.start()
    generated = ""
    for piece in streamer:
        generated += piece
        first = (streamer.first_at - start) if streamer.first_at else None
        yield StreamStep(generated, streamer.count, time.perf_counter() - start, first, False, fetch, text, snippet)
    worker.join()
    if failure:
        raise ValueError(f"Generation failed: {type(failure[0]).__name__}: {failure[0]}. Try other settings.")
    first = (streamer.first_at - start) if streamer.first_at else None
    seconds, notes = time.perf_counter() - start, []
    if streamer.count < settings.max_new_tokens:
        time_limit_note(seconds, notes)
    yield StreamStep(generated, streamer.count, seconds, first, True, fetch, text, snippet, " ".join(notes))
