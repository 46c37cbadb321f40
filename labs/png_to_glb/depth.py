"""Depth from a model: a second height source, with transformers.

What it teaches:

* Brightness is not depth: a white cloud is far away, a dark tree is close. A
  monocular depth model (Depth Anything, DPT) guesses the distance of every
  pixel from one photo. Its output can replace brightness as the height map.
* How to run one with ``transformers.pipeline("depth-estimation", model=...)``
  on the GPU when there is one, and how the pipeline's ``predicted_depth``
  tensor is normalised into heights (near = high).
* How to behave offline: a model id is looked up in the local Hugging Face
  cache first; without the network and without a cached copy, the error says
  so and explains how to use a local folder instead.
* How to test the plumbing without downloading anything: ``build_tiny_depth_model``
  builds a Depth Anything model with random weights from a small config and saves
  it with ``save_pretrained``; the pipeline loads that folder like a real one.

Depth Anything and DPT predict *relative inverse depth* (bigger = nearer), which
is what a relief wants. Metric-depth models (bigger = farther) need "invert".

Before anything is downloaded, the hub's file list is read and a model whose files
are above ``MAX_DEPTH_MODEL_BYTES`` is refused. On a shared server
(``shared.serving.is_shared()``) the hub is asked without any token (``token=False``:
the server's ``HF_TOKEN`` is never used for a visitor), exactly the checked revision
is downloaded, and a folder is accepted only inside what visitors uploaded: any
other server path gets the same refusal whether it exists or not.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
import socket
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from shared import serving
from shared.optional import require

SLUG = "png_to_glb"
PURPOSE = "depth from a model"

# A small (25M parameter, ~100 MB) monocular depth model with good quality.
DEFAULT_DEPTH_MODEL = "depth-anything/Depth-Anything-V2-Small-hf"

# Seconds to wait when checking whether the Hugging Face hub is reachable, so an
# offline machine gets its answer at once instead of after retries.
HUB_PROBE_TIMEOUT_S = 3.0

# Files a depth model needs; downloading only these skips other formats' weights.
MODEL_FILE_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model"]

# Largest download for one depth model (the files above); Depth Anything V2 Large is ~1.3 GB.
MAX_DEPTH_MODEL_BYTES = 2 * 1024**3
HUB_INFO_TIMEOUT_S = 10.0
# "name" or "owner/name" (letters, digits, - _ .): what a hub id looks like, never a path.
_HUB_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)?$")


class DepthModelError(ValueError):
    """The depth model could not be loaded or run; the message says what to do."""


def _hint(model: str) -> str:
    if serving.is_shared():
        return ("Use the 'brightness' height source, which needs no model, or run the lab on your own machine "
                "to use a model folder you downloaded.")
    return (
        f"To use it offline, download it once on a machine with internet "
        f"(`hf download {model} --local-dir ./depth-model`) and enter that folder's path as the model; "
        "or use the 'brightness' height source, which needs no model."
    )


def _hub_reachable() -> bool:
    """True when the Hugging Face endpoint accepts a TCP connection."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlparse(endpoint)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=HUB_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def is_hub_id(value: str) -> bool:
    """Whether `value` has the form of a hub id ("name" or "owner/name"), not of a path."""
    return bool(_HUB_ID.match(value)) and ".." not in value and "--" not in value


def hub_token() -> bool | None:
    """The ``token`` argument of every hub call: the server's own token locally (None), never for a
    visitor of a shared server (False)."""
    return False if serving.is_shared() else None


def check_download_size(model: str, limit: int = MAX_DEPTH_MODEL_BYTES) -> str | None:
    """Read the hub's file list of `model` and refuse it when the files we would download are above `limit`.

    Returns:
        The revision (commit) that was checked, or None when the hub did not answer (then, on a
        shared server, the model is refused: nothing unchecked is downloaded).

    Raises:
        DepthModelError: Above the limit, or (shared server) when the size could not be checked.
    """
    api = require("huggingface_hub", slug=SLUG, purpose=PURPOSE).HfApi()
    try:
        info = api.model_info(model, files_metadata=True, timeout=HUB_INFO_TIMEOUT_S, token=hub_token())
    except Exception:  # noqa: BLE001 - unknown, private, gated or unreachable
        if serving.is_shared():
            raise DepthModelError(
                f"The depth model {model} could not be looked up on the Hugging Face hub (no such public model, "
                f"or the hub did not answer), so it was not downloaded. Check the id, e.g. {DEFAULT_DEPTH_MODEL}."
            ) from None
        return None
    total = sum(s.size or 0 for s in info.siblings or []
                if any(fnmatch.fnmatch(s.rfilename, p) for p in MODEL_FILE_PATTERNS))
    if total > limit:
        raise DepthModelError(
            f"The depth model {model} has {total / 1024**3:.1f} GB of files, above this lab's limit of "
            f"{limit / 1024**3:.1f} GB per model, so it was not downloaded. Pick a smaller one, e.g. {DEFAULT_DEPTH_MODEL}."
        )
    sha = getattr(info, "sha", None)
    return sha if isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{40}", sha) else None


def resolve_model(model: str) -> str:
    """Turn a model id or folder into a local folder with the model files.

    Args:
        model: a local folder (with config.json) or a Hugging Face model id.

    Returns:
        The absolute path of a local folder.

    Raises:
        DepthModelError: if it is neither a usable folder nor cached/downloadable.
        RefusedInput: on a shared server, for a folder outside what visitors uploaded.
    """
    model = (model or "").strip()
    if not model:
        raise DepthModelError(
            f"No depth model given. Enter a model id such as {DEFAULT_DEPTH_MODEL} or a local folder."
        )
    if serving.is_shared() and not is_hub_id(model):
        # Same refusal whether the path exists or not; a hub id is never looked up on disk.
        serving.check_visitor_path(os.path.expanduser(model), roots=serving.gradio_upload_roots(),
                                   what="depth model", instead=f"type a Hugging Face model id such as "
                                   f"{DEFAULT_DEPTH_MODEL}, or use the 'brightness' height source")
    path = Path(model).expanduser()
    on_disk = not (serving.is_shared() and is_hub_id(model))  # shared: "a/b" is not a folder of the server's
    if on_disk and path.is_dir():
        if not (path / "config.json").is_file():
            raise DepthModelError(f"The folder {path} has no config.json, so it is not a transformers model folder.")
        return str(path.resolve())
    # A hub id is "name" or "owner/name"; anything else that looks like a path must exist.
    if on_disk and (model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model):
        raise DepthModelError(f"The folder {model} does not exist. Check the path, or give a Hugging Face model id.")

    snapshot_download = require("huggingface_hub", slug=SLUG, purpose=PURPOSE).snapshot_download

    # First the local cache: works offline and costs no request.
    try:
        return snapshot_download(model, local_files_only=True, allow_patterns=MODEL_FILE_PATTERNS)
    except Exception:  # noqa: BLE001 - any failure here just means "not cached"
        pass
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    if offline or not _hub_reachable():
        why = "HF_HUB_OFFLINE is set" if offline else "the Hugging Face hub cannot be reached from this machine"
        raise DepthModelError(
            f"The depth model {model} could not be loaded: it is not in the local cache and {why}. {_hint(model)}"
        )
    revision = check_download_size(model)
    # Shared server: no token, and exactly the revision whose size was checked.
    pinned = {"revision": revision} if (revision and serving.is_shared()) else {}
    try:
        return snapshot_download(model, allow_patterns=MODEL_FILE_PATTERNS, token=hub_token(), **pinned)
    except Exception as exc:  # noqa: BLE001 - hub errors come in many types
        raise DepthModelError(
            f"The depth model {model} could not be downloaded ({type(exc).__name__}: {exc}). {_hint(model)}"
        ) from None


@functools.lru_cache(maxsize=1)
def load_depth_pipeline(model_dir: str, device: str):
    """Load the depth-estimation pipeline for a local folder (kept: LRU of one).

    Loading costs seconds; keeping the last pipeline makes the second click fast,
    and keeping only one bounds the memory a long-running server uses.
    """
    transformers = require("transformers", slug=SLUG, purpose=PURPOSE)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:  # a local folder: nothing is downloaded, and never with the server's token for a visitor
        return transformers.pipeline("depth-estimation", model=model_dir, device=device, token=hub_token())
    except Exception as exc:  # noqa: BLE001 - config/weights errors come in many types
        raise DepthModelError(
            f"The folder {model_dir} could not be loaded as a depth-estimation model ({type(exc).__name__}: {exc}). "
            "Check that it holds a depth model (config.json, weights and preprocessor_config.json)."
        ) from None


def estimate_depth(image, model: str = DEFAULT_DEPTH_MODEL) -> np.ndarray:
    """Predict a relative depth map for an RGB Pillow image.

    Args:
        image: ``PIL.Image.Image`` in RGB.
        model: model id or local folder (see ``resolve_model``).

    Returns:
        (H, W) float32 in [0, 1] at the image's size, 1 = nearest.

    Raises:
        DepthModelError: if the model cannot be loaded or run.
        MissingDependency: if transformers is not installed (the message names the install command).
    """
    require("transformers", slug=SLUG, purpose=PURPOSE)  # before a model is looked up or downloaded
    import torch

    from .heightmap import torch_device

    pipe = load_depth_pipeline(resolve_model(model), torch_device())
    try:
        out = pipe(image)
    except Exception as exc:  # noqa: BLE001
        raise DepthModelError(f"The depth model failed on this image ({type(exc).__name__}: {exc}).") from None
    # predicted_depth is the raw model output resized to the image: (H, W) or (1, H, W).
    depth = out["predicted_depth"].detach().to("cpu", dtype=torch.float32).numpy()
    depth = np.squeeze(depth)
    if depth.ndim != 2:
        raise DepthModelError(f"The depth model returned an array of shape {depth.shape}, expected a 2-D map.")
    depth = np.nan_to_num(depth)
    lo, hi = float(depth.min()), float(depth.max())
    # Normalise to [0, 1]: the model's scale is arbitrary, only the order matters.
    if hi - lo <= 1e-12:
        return np.zeros_like(depth, dtype=np.float32)
    return ((depth - lo) / (hi - lo)).astype(np.float32)


def build_tiny_depth_model(out_dir: str | Path, seed: int = 0) -> Path:
    """Save a tiny Depth Anything model with random weights (for offline tests).

    The architecture is the real one (a DINOv2 backbone, a DPT-style neck and a
    depth head), only shrunk to ~75k parameters; ``pipeline("depth-estimation",
    model=out_dir)`` loads it exactly like a downloaded model. Its predictions are
    meaningless, which is fine: it proves the plumbing, not the quality.

    Returns:
        The folder, holding config.json, model.safetensors and preprocessor_config.json.
    """
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    try:  # transformers 5 has a Pillow-only processor that needs no torchvision
        from transformers import DPTImageProcessorPil as Processor
    except ImportError:  # pragma: no cover - older transformers
        from transformers import DPTImageProcessor as Processor

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    backbone = Dinov2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        patch_size=14,
        image_size=28,
        out_features=["stage1", "stage2"],
        reshape_hidden_states=False,
    )
    config = DepthAnythingConfig(
        backbone_config=backbone,
        reassemble_hidden_size=32,
        neck_hidden_sizes=[16, 32],
        fusion_hidden_size=16,
        head_hidden_size=8,
        reassemble_factors=[2, 1],
        patch_size=14,
    )
    DepthAnythingForDepthEstimation(config).eval().save_pretrained(out)
    # The processor resizes to a multiple of the patch size and normalises like the real model.
    Processor(
        do_resize=True, size={"height": 56, "width": 56}, keep_aspect_ratio=False, ensure_multiple_of=14
    ).save_pretrained(out)
    return out
