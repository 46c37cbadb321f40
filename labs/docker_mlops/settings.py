"""Settings of the Docker MLOps lab: every default with its reason, and the checks on user input.

The UI reads its slider ranges and choices from the constants here. `check_settings` turns the raw
form values into a frozen `BuildSettings`, or raises `SettingsError` (a `ValueError`) whose message
says what was wrong and what to type instead.

References: Docker's image reference grammar (distribution/reference), Hugging Face's repo-id
rules, PyTorch's release matrix (which CUDA builds exist for which torch release).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SLUG = "docker_mlops"

# The small app every target ships unless a lab of the suite is chosen instead.
SMALL_APP = "replica"
# Port a Hugging Face Docker Space must listen on (its README's `app_port` says so too).
SPACE_PORT = 7860
# Hugging Face runs a Docker Space's container as uid 1000; files must belong to that user.
SPACE_UID = 1000

# Replicas: at least one, and no more than a 2-core machine can run side by side without
# measuring mostly context switches.
MIN_REPLICAS = 1
MAX_REPLICAS = 8
DEFAULT_REPLICAS = 3

# Requests sent per phase of the replica demo: enough to spread over 8 replicas, few enough to
# finish in seconds on 2 cores.
MIN_REQUESTS = 4
MAX_REQUESTS = 400
DEFAULT_REQUESTS = 24

# Rounds of SHA-256 per request of the CPU-bound handler: ~20k rounds ≈ 10-20 ms of pure Python
# on one core of a current CPU, long enough that the work (not HTTP) dominates, short enough for a quick demo.
MIN_ROUNDS = 0
MAX_ROUNDS = 500_000
DEFAULT_ROUNDS = 20_000

# Python base images, pinned to a patch release and a Debian release: "3.11" or "latest" would
# silently change under a rebuild.
PYTHON_IMAGES = {
    "3.10": "python:3.10.16-slim-bookworm",
    "3.11": "python:3.11.11-slim-bookworm",
    "3.12": "python:3.12.8-slim-bookworm",
}
# NumPy for the model server (its only dependency), pinned per Python: NumPy 2.3+ has no wheels for 3.10.
NUMPY_PINS = {"3.10": "2.2.6", "3.11": "2.4.6", "3.12": "2.4.6"}
# nginx image for the Compose load balancer, pinned the same way.
NGINX_IMAGE = "nginx:1.27.5-alpine"

# Which CUDA builds PyTorch publishes for each release (from PyTorch's release notes / install
# matrix), plus the matching torchvision and the Python versions with wheels. cog.yaml must name
# a CUDA that the chosen torch was built for, or the image gets a torch that cannot see the GPU.
TORCH_CUDA: dict[str, dict] = {
    "2.4.1": {"cuda": ("11.8", "12.1", "12.4"), "torchvision": "0.19.1", "python": ("3.9", "3.10", "3.11", "3.12")},
    "2.5.1": {"cuda": ("11.8", "12.1", "12.4"), "torchvision": "0.20.1", "python": ("3.9", "3.10", "3.11", "3.12")},
    "2.6.0": {"cuda": ("11.8", "12.4", "12.6"), "torchvision": "0.21.0", "python": ("3.9", "3.10", "3.11", "3.12", "3.13")},
    "2.7.1": {"cuda": ("11.8", "12.6", "12.8"), "torchvision": "0.22.1", "python": ("3.9", "3.10", "3.11", "3.12", "3.13")},
    "2.8.0": {"cuda": ("12.6", "12.8", "12.9"), "torchvision": "0.23.0", "python": ("3.9", "3.10", "3.11", "3.12", "3.13")},
    "2.9.1": {"cuda": ("12.6", "12.8", "13.0"), "torchvision": "0.24.1", "python": ("3.10", "3.11", "3.12", "3.13")},
}
DEFAULT_TORCH = "2.6.0"
PYTHON_VERSIONS = tuple(PYTHON_IMAGES)
DEFAULT_PYTHON = "3.11"

# Docker's reference grammar (github.com/distribution/reference), the parts this lab accepts:
# [registry[:port]/]path-component(/path-component)* and a separate tag.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REGISTRY = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)"
IMAGE_RE = re.compile(rf"^(?:{_REGISTRY})?{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
# Hugging Face repo ids: owner/name, letters, digits, '-', '_', '.', at most 96 characters each.
REPO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
# Kubernetes object names (RFC 1123 labels): used for the Deployment, Service and Compose project.
K8S_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class SettingsError(ValueError):
    """A setting is invalid; the message says which and what to use instead."""


def check_image(image: str, tag: str) -> tuple[str, str]:
    """Check an image name and tag against Docker's reference grammar.

    Returns:
        The stripped `(image, tag)`.

    Raises:
        SettingsError: With the rule that was broken and an example of a valid value.
    """
    image, tag = (image or "").strip(), (tag or "").strip()
    if not image:
        raise SettingsError("The image name is empty. Type one, e.g. 'ghcr.io/you/tiny-model' or 'tiny-model'.")
    if ":" in image.rsplit("/", 1)[-1]:
        raise SettingsError(f"Put the tag in the Tag field, not in the image name ({image!r}).")
    if len(image) > 255:
        raise SettingsError(f"The image name is {len(image)} characters; Docker allows at most 255.")
    if not IMAGE_RE.match(image):
        raise SettingsError(
            f"{image!r} is not a valid Docker image name: each path part must be lowercase letters/digits, "
            "separated by '.', '_', '__' or '-' (an optional registry host may come first), "
            "e.g. 'ghcr.io/you/tiny-model'."
        )
    if not tag:
        raise SettingsError("The tag is empty. Use a version such as '0.1.0' (avoid 'latest': it is not reproducible).")
    if not TAG_RE.match(tag):
        raise SettingsError(
            f"{tag!r} is not a valid Docker tag: up to 128 letters, digits, '_', '.' or '-', not starting "
            "with '.' or '-', e.g. '0.1.0'."
        )
    return image, tag


def check_replicas(n: int | float | None) -> int:
    """Check a replica count is a whole number in [MIN_REPLICAS, MAX_REPLICAS]."""
    if n is None or float(n) != int(float(n)):
        raise SettingsError(f"Replicas must be a whole number from {MIN_REPLICAS} to {MAX_REPLICAS}.")
    n = int(n)
    if not MIN_REPLICAS <= n <= MAX_REPLICAS:
        raise SettingsError(
            f"{n} replicas is out of range: use {MIN_REPLICAS} to {MAX_REPLICAS} "
            "(this lab runs them as real processes on a small machine)."
        )
    return n


def check_int(name: str, value, low: int, high: int) -> int:
    """Check a whole number is within [low, high]; the message names the setting."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a number from {low} to {high}.") from None
    if number != int(number) or not low <= number <= high:
        raise SettingsError(f"{name} = {value} is out of range: use a whole number from {low} to {high}.")
    return int(number)


def check_port(port, *, allow_zero: bool = True) -> int:
    """Check a TCP port for a local listener: 0 (pick a free one) or 1024..65535 (no root needed)."""
    port = check_int("The port", 0 if port in (None, "") else port, 0 if allow_zero else 1024, 65535)
    if 0 < port < 1024:
        raise SettingsError(f"Port {port} needs root; use 1024-65535, or 0 to pick a free port.")
    return port


def check_repo_id(repo_id: str) -> str:
    """Check a Hugging Face Space id such as 'you/tiny-model'."""
    repo_id = (repo_id or "").strip()
    if not REPO_ID_RE.match(repo_id) or ".." in repo_id or repo_id.endswith(".git"):
        raise SettingsError(
            f"{repo_id!r} is not a valid Space id: use 'owner/name' with letters, digits, '-', '_' or '.', "
            "e.g. 'your-name/tiny-model'."
        )
    return repo_id


def check_torch_cuda(torch_version: str, cuda: str, python: str) -> tuple[str, str, str]:
    """Check that PyTorch publishes a build of `torch_version` for `cuda` and `python`."""
    if torch_version not in TORCH_CUDA:
        raise SettingsError(f"Unknown torch version {torch_version!r}; pick one of: {', '.join(TORCH_CUDA)}.")
    row = TORCH_CUDA[torch_version]
    if cuda not in row["cuda"]:
        raise SettingsError(
            f"torch {torch_version} has no CUDA {cuda} build; it was built for CUDA {', '.join(row['cuda'])}. "
            "Pick one of those (the newest is usually right)."
        )
    if python not in row["python"]:
        raise SettingsError(
            f"torch {torch_version} has no wheels for Python {python}; it supports {', '.join(row['python'])}."
        )
    return torch_version, cuda, python


def newest_cuda(torch_version: str) -> str:
    """The newest CUDA that PyTorch built `torch_version` for (what this lab picks by default)."""
    return TORCH_CUDA[torch_version]["cuda"][-1]


@dataclass(frozen=True)
class BuildSettings:
    """Everything the generated files depend on.

    Attributes:
        name: Kubernetes-style name of the app (Deployment, Service, Compose project, cog image).
        image: Docker image name without tag.
        tag: Image tag.
        source: `SMALL_APP` or the slug of a lab of this suite to package.
        replicas: Replicas in Compose and Kubernetes.
        python: Python minor version of the images.
        torch: torch release for the Replicate (cog) image.
        cuda: CUDA version for the cog image, one that `torch` was built for.
        gpu: Ask cog for a GPU image.
        build_secret: Show how to use a build secret (HF_TOKEN) without baking it into a layer.
        rounds: SHA-256 rounds per request of the small app's CPU-bound handler.
    """

    name: str = "tiny-model"
    image: str = "tiny-model"
    tag: str = "0.1.0"
    source: str = SMALL_APP
    replicas: int = DEFAULT_REPLICAS
    python: str = DEFAULT_PYTHON
    torch: str = DEFAULT_TORCH
    cuda: str = field(default_factory=lambda: newest_cuda(DEFAULT_TORCH))
    gpu: bool = True
    build_secret: bool = True
    rounds: int = DEFAULT_ROUNDS

    @property
    def full_image(self) -> str:
        return f"{self.image}:{self.tag}"

    @property
    def is_small_app(self) -> bool:
        return self.source == SMALL_APP


def check_settings(*, name: str, image: str, tag: str, source: str, replicas, python: str, torch: str,
                   cuda: str, gpu: bool, build_secret: bool, rounds, known_sources: tuple[str, ...]) -> BuildSettings:
    """Validate raw form values and return a `BuildSettings`.

    Raises:
        SettingsError: For the first invalid value, saying what to use instead.
    """
    name = (name or "").strip()
    if not K8S_NAME_RE.match(name):
        raise SettingsError(
            f"App name {name!r} must be a DNS label (Kubernetes and Compose use it): lowercase letters, digits "
            "and '-', starting and ending with a letter or digit, at most 63 characters, e.g. 'tiny-model'."
        )
    image, tag = check_image(image, tag)
    if source not in known_sources:
        raise SettingsError(f"Unknown app {source!r}; pick one of: {', '.join(known_sources)}.")
    if python not in PYTHON_VERSIONS:
        raise SettingsError(f"Python {python!r} is not offered; pick one of: {', '.join(PYTHON_VERSIONS)}.")
    torch, cuda, python = check_torch_cuda(torch, cuda, python)
    return BuildSettings(name=name, image=image, tag=tag, source=source, replicas=check_replicas(replicas),
                         python=python, torch=torch, cuda=cuda, gpu=bool(gpu), build_secret=bool(build_secret),
                         rounds=check_int("Rounds per request", rounds, MIN_ROUNDS, MAX_ROUNDS))
