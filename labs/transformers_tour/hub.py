"""The Hugging Face hub: is it reachable, what happens when it is not, and what may be downloaded.

**Reachable or not, decided once.** `hub_status()` connects to the hub's host (TCP only, nothing is
downloaded) at most once per process and keeps the answer. Reachable: the task lists start with
small real hub models. Unreachable: this process switches itself to offline mode, exactly as if
``HF_HUB_OFFLINE=1`` had been set before start, so no hub id ever waits on download retries (about
27 s each without it). `ML_LABS_HUB=online|offline` skips the probe (tests, workshops);
`ML_LABS_HUB_URL` points it elsewhere (default: huggingface_hub's endpoint, ``HF_ENDPOINT``).

huggingface_hub reads ``HF_HUB_OFFLINE`` into ``huggingface_hub.constants.HF_HUB_OFFLINE`` when it is
imported, so setting the environment variable later changes nothing by itself. Its
``is_offline_mode()`` (which transformers 5 calls before every download) returns that constant at call
time, so `go_offline` sets the constant, and the variable too for code that reads it later.

**What may be downloaded.** Hub downloads send no token (`token=False`), so a token saved on the
server is never used for a visitor, and a model whose weights are above `MAX_HUB_BYTES` (or whose
configs and tokenizer files are above `MAX_HUB_FILES_BYTES`) is refused before downloading
(`hub_options`), reading the sizes from `HfApi.model_info(files_metadata=True)`.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shared import serving

HUB_ENV = "ML_LABS_HUB"  # "online" or "offline": skip the probe (deterministic tests, workshops)
PROBE_URL_ENV = "ML_LABS_HUB_URL"  # where the probe connects (default: huggingface_hub's endpoint)
PROBE_TIMEOUT_S = 2.0  # the probe never takes longer (name lookup included): it runs at start-up
MAX_HUB_BYTES = 2 * 1024**3  # hub models with more weights than this (2 GB) are refused before downloading
MAX_HUB_FILES_BYTES = 256 * 1024**2  # configs, tokenizer files and templates of one hub model
# Every from_pretrained/pipeline call gets this: public models only, never the server's saved token.
NO_TOKEN = {"token": False}
# Top-level files other than weights that from_pretrained and the tokenizers may fetch.
CONFIG_SUFFIXES = (".json", ".txt", ".model", ".jinja", ".tiktoken", ".vocab", ".merges")
# Weight files of other frameworks, which transformers (PyTorch) does not download.
OTHER_FRAMEWORKS = (".h5", ".msgpack", ".onnx", ".ot", ".tflite", ".mlmodel", ".gguf")
_TRUE = {"1", "true", "yes", "on"}


class ModelLoadError(ValueError):
    """A model could not be loaded for a task; the message says why and what to do instead."""


@dataclass(frozen=True)
class HubStatus:
    """What the probe found.

    Attributes:
        reachable: Whether hub ids can be downloaded now.
        text: One sentence for the UI.
        seconds: How long the probe took (0 when the environment decided).
    """

    reachable: bool
    text: str
    seconds: float = 0.0


_lock = threading.Lock()
_probes: dict[str, HubStatus] = {}  # probe URL -> its answer: one probe per process and URL
_switched: str | None = None  # why this process switched itself offline (`go_offline`), or None


def hub_offline_reason() -> str | None:
    """Why the hub must not be used, from the environment and this process's own switch, or None."""
    if os.environ.get(HUB_ENV, "").strip().lower() == "offline":
        return f"{HUB_ENV}=offline is set"
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().lower() in _TRUE:
            return _switched or f"{name}=1 is set"
    return None


def probe_url() -> str:
    """The URL whose host the probe connects to: `ML_LABS_HUB_URL`, else huggingface_hub's endpoint."""
    url = os.environ.get(PROBE_URL_ENV, "").strip()
    if not url:
        from huggingface_hub import constants

        url = constants.ENDPOINT
    return url


def probe(url: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> HubStatus:
    """Open (and close) a TCP connection to the host of `url`, giving up after `timeout` seconds.

    The connection runs in a daemon thread joined with a timeout, because a name lookup
    (`getaddrinfo`) ignores socket timeouts and can hang for far longer on a broken network.
    """
    url = url or probe_url()
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (80 if parts.scheme == "http" else 443)
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    start = time.perf_counter()
    worker = threading.Thread(target=connect, name="hub-probe", daemon=True)
    worker.start()
    worker.join(timeout)
    seconds = time.perf_counter() - start
    if outcome and outcome[0] is None:
        return HubStatus(True, f"The hub ({host}) answered in {seconds * 1000:.0f} ms: hub ids download on first "
                               "use, then come from the local cache.", seconds)
    why = f"{type(outcome[0]).__name__}: {outcome[0]}" if outcome else f"no answer within {timeout:g} s"
    return HubStatus(False, f"The hub ({host}) is not reachable from this machine ({why}).", seconds)


def go_offline(reason: str) -> None:
    """Switch this process to offline mode now, as ``HF_HUB_OFFLINE=1`` at start would have.

    huggingface_hub keeps the flag in ``constants.HF_HUB_OFFLINE`` (read once, at import) and
    transformers asks ``huggingface_hub.is_offline_mode()`` (which returns it) before each download.
    """
    global _switched
    from huggingface_hub import constants

    _switched = reason
    os.environ["HF_HUB_OFFLINE"] = "1"  # for code that reads the variable later (and child processes)
    constants.HF_HUB_OFFLINE = True


def _go_online() -> None:
    """Undo `go_offline` (only a switch this process made itself, never the operator's setting)."""
    global _switched
    from huggingface_hub import constants

    if _switched is None:
        return
    _switched = None
    os.environ.pop("HF_HUB_OFFLINE", None)
    constants.HF_HUB_OFFLINE = False


def hub_status(*, fresh: bool = False) -> HubStatus:
    """Whether the hub can be used, probing at most once per process (unless `fresh`).

    Order: an offline setting wins (``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE``,
    ``ML_LABS_HUB=offline``); then ``ML_LABS_HUB=online``; else the probe. An unreachable hub
    switches the process offline (`go_offline`); a fresh probe that reaches it again undoes that.
    """
    reason = hub_offline_reason()
    if reason and not (fresh and _switched):
        return HubStatus(False, f"Offline mode: {reason}, so transformers will not contact the hub.")
    if os.environ.get(HUB_ENV, "").strip().lower() == "online":
        return HubStatus(True, f"{HUB_ENV}=online is set: hub ids download on first use (no probe).")
    url = probe_url()
    with _lock:
        if fresh or url not in _probes:
            _probes[url] = probe(url)
        status = _probes[url]
    if status.reachable:
        _go_online()
        return status
    go_offline(f"the hub did not answer a {PROBE_TIMEOUT_S:g} s probe at start, so this process runs offline "
               "(as with HF_HUB_OFFLINE=1)")
    return HubStatus(False, status.text + " Offline mode is on: hub ids come only from the local cache, "
                                          "and nothing waits on download retries.", status.seconds)


def probe_hub() -> tuple[bool, str]:
    """Probe again now (the "Check hub access" button), bounded by `PROBE_TIMEOUT_S`.

    Returns:
        (reachable, a sentence for the UI).
    """
    status = hub_status(fresh=True)
    return status.reachable, status.text


def prefer_hub() -> bool:
    """Whether the task lists should start with real hub models (`hub_status`) or offline ones.

    ``TRANSFORMERS_TOUR_DEFAULTS=hub`` or ``=offline`` chooses explicitly (hub only when not offline).
    """
    choice = os.environ.get("TRANSFORMERS_TOUR_DEFAULTS", "").strip().lower()
    if choice in {"offline", "tiny"}:
        return False
    if choice == "hub":
        return hub_offline_reason() is None
    return hub_status().reachable


def in_local_cache(repo_id: str) -> bool:
    """Whether huggingface_hub's local cache holds a config of `repo_id` (no network)."""
    from huggingface_hub import try_to_load_from_cache

    for name in ("config.json", "tokenizer_config.json"):
        try:
            if isinstance(try_to_load_from_cache(repo_id, name), str):
                return True
        except ValueError:  # not a valid repo id
            return False
    return False


# ---------------------------------------------------------------- sizes, checked before downloading


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


def _hub_info(ref: Any) -> Any:
    """The hub's listing of `ref` with file sizes (asked without a token), or None (offline, not a
    hub model, or the hub did not answer: unreachable, unknown, private or gated)."""
    if ref.source != "hub" or hub_offline_reason():
        return None
    from huggingface_hub import HfApi

    try:
        return HfApi().model_info(ref.location, files_metadata=True, timeout=10, **NO_TOKEN)
    except Exception:  # from_pretrained explains each of these the same way
        return None


def _check_sizes(ref: Any, info: Any, limit: int, weights: bool) -> int:
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


def check_hub_size(ref: Any, limit: int | None = None, *, weights: bool = True) -> int | None:
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


def hub_options(ref: Any, *, weights: bool = True) -> dict[str, Any]:
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
