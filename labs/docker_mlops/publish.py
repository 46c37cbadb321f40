"""One-click publish of a generated Space folder to the Hugging Face Hub.

The same two calls the suite's `spaces/export.py --push` makes: `HfApi.create_repo(...,
repo_type="space", space_sdk=...)` and `HfApi.upload_folder(...)`. The token is the user's, typed
into a password field: it is passed to `HfApi` and nowhere else: never printed, logged, written to
disk or put in a message (`_scrub` removes it from any error text before it is shown).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from labs.docker_mlops.settings import check_repo_id

SDKS = ("docker", "gradio")


class PublishError(ValueError):
    """Publishing failed; the message says why and what to do (and never contains the token)."""


@dataclass(frozen=True)
class Published:
    url: str
    repo_id: str
    sdk: str
    files: int


def _scrub(text: str, token: str) -> str:
    """Replace every occurrence of the token in a message with ***."""
    if token:
        text = text.replace(token, "***")
    return text


def check_token(token: str | None) -> str:
    token = (token or "").strip()
    if not token:
        raise PublishError("No token given. Create a *write* token at https://huggingface.co/settings/tokens and "
                           "paste it into the token field (it is used for this request only, never stored).")
    if any(c.isspace() for c in token) or len(token) < 8:
        raise PublishError("That does not look like a Hugging Face token (they start with 'hf_' and have no spaces). "
                           "Copy it again from https://huggingface.co/settings/tokens.")
    return token


def check_repo_id_and_token(repo_id: str, token: str | None) -> None:
    """Check both before any work is done (the same checks `publish` makes)."""
    check_repo_id(repo_id)
    check_token(token)


def _explain(exc: Exception) -> str:
    """Turn a hub/network exception into what happened and what to do."""
    name = type(exc).__name__
    text = str(exc)
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status in (401, 403) or "401" in text or "Unauthorized" in text or "Invalid credentials" in text:
        return ("the Hub rejected the token (401/403). Use a token with *write* access for this owner "
                "(https://huggingface.co/settings/tokens).")
    if status == 409 or "409" in text:
        return "a repository with that name exists and is not a Space, or you cannot write to it. Pick another name."
    if "offline" in text.lower() or name == "OfflineModeIsEnabled":
        return ("HF_HUB_OFFLINE is set, so huggingface_hub refuses to go online. Unset it on a machine with "
                "internet access and try again.")
    network = ("ConnectError", "ConnectionError", "ConnectTimeout", "Timeout", "ReadTimeout", "NameResolutionError",
               "gaierror", "MaxRetryError", "NetworkError")
    if any(n in name for n in network) or any(n in text for n in network) or "Name or service not known" in text:
        return ("could not reach huggingface.co (no network). This workshop machine has no internet access: "
                "publish from a machine that has, or download the zip and push it with `hf upload`.")
    return f"{name}: {text[:300]}"


def publish(folder: Path, repo_id: str, token: str, *, sdk: str = "docker", private: bool = True,
            api_factory: Callable[..., object] | None = None) -> Published:
    """Create (or reuse) the Space `repo_id` and upload `folder` to it.

    Args:
        folder: A generated Space folder (README.md with front matter at its root).
        repo_id: "owner/name".
        token: A Hugging Face write token. Used for the API calls only.
        sdk: "docker" or "gradio"; must match the README's front matter.
        private: Create the Space as private (the safe default).
        api_factory: Builds the client (`huggingface_hub.HfApi` by default; tests pass a fake).

    Raises:
        PublishError: With a message that says what went wrong and never contains the token.
    """
    repo_id = check_repo_id(repo_id)
    token = check_token(token)
    if sdk not in SDKS:
        raise PublishError(f"Unknown Space SDK {sdk!r}; use one of: {', '.join(SDKS)}.")
    folder = Path(folder)
    readme = folder / "README.md"
    if not readme.is_file():
        raise PublishError(f"{folder} has no README.md: generate the files first.")
    if f"sdk: {sdk}" not in readme.read_text(encoding="utf-8"):
        raise PublishError(f"The README's front matter does not say `sdk: {sdk}`: regenerate the files.")
    if api_factory is None:
        from huggingface_hub import HfApi as api_factory  # noqa: N813
    try:
        api = api_factory(token=token)
        api.create_repo(repo_id, repo_type="space", space_sdk=sdk, private=private, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="space",
                          commit_message="Publish from ml-engineering-labs (docker_mlops)",
                          ignore_patterns=["__pycache__/*", "*.pyc", "*.zip"])
    except PublishError:
        raise
    except Exception as exc:  # hub errors, network errors: explained, token scrubbed
        raise PublishError(_scrub(f"Could not publish {repo_id}: {_explain(exc)}", token)) from None
    files = sum(1 for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return Published(f"https://huggingface.co/spaces/{repo_id}", repo_id, sdk, files)
