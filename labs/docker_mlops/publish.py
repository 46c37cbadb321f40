"""One-click publish of a generated Space to the Hugging Face Hub.

Two routes, one per Space type:

- A lab of the suite as a **Gradio Space** goes through the suite's own tool: `publish_lab` runs
  `python spaces/export.py <slug> --out DIR --push OWNER/NAME` as a subprocess, the same command
  you would type. The token reaches the child only through its environment (`HF_TOKEN`), never its
  command line.
- A **Docker Space** (the small app, or a lab plus a Dockerfile) has no export script that applies:
  `publish` makes the two `huggingface_hub` calls itself, `HfApi.create_repo(..., repo_type="space",
  space_sdk=...)` and `HfApi.upload_folder(...)`.

The token is the user's, typed into a password field: it is never printed, logged, written to disk
or put in a message (`_scrub` removes it from any error text or child output before it is shown).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from labs.docker_mlops import bundle
from labs.docker_mlops.settings import check_repo_id

SDKS = ("docker", "gradio")
EXPORT_TIMEOUT_S = 600  # export + upload of a lab folder


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


def front_matter(text: str) -> dict:
    """The YAML front matter of a Space README as a dict (empty if there is none or it does not parse)."""
    import yaml

    match = re.match(r"---\s*\n(.*?)\n---\s*(\n|$)", text, re.S)
    if not match:
        return {}
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _explain(exc: Exception) -> str:
    """Turn a hub/network exception into what happened and what to do."""
    name, text = type(exc).__name__, str(exc)
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return _known_cause(name, text, status) or f"{name}: {text[:300]}"


def _known_cause(name: str, text: str, status: int | None = None) -> str:
    """What happened and what to do, for the failures we recognise (an exception or a child's output); else ""."""
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
        return ("could not reach huggingface.co (no network access). Publish from a machine that can reach it, "
                "or download the zip and push it with `hf upload`.")
    return ""


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
    if front_matter(readme.read_text(encoding="utf-8")).get("sdk") != sdk:
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


def publish_lab(slug: str, repo_id: str, token: str, *, out: Path, private: bool = True,
                api_factory: Callable[..., object] | None = None,
                run: Callable[..., subprocess.CompletedProcess] | None = None) -> Published:
    """Export lab `slug` as a Gradio Space into `out` and push it with `spaces/export.py --push`.

    Args:
        slug: A registered lab.
        repo_id: "owner/name".
        token: A Hugging Face write token: passed to the child as HF_TOKEN in its environment only.
        out: The folder the export writes.
        private: Create the Space as private. spaces/export.py creates Spaces with the Hub's default
            visibility, so a private Space is created here first (`create_repo(private=True,
            exist_ok=True)`); the export's own `create_repo(exist_ok=True)` then reuses it.
        api_factory: Builds the client for that one call (`huggingface_hub.HfApi` by default).
        run: Runs the child (`subprocess.run` by default; tests pass a fake).

    Raises:
        PublishError: When the layout is absent or the export/push fails; never contains the token.
    """
    repo_id = check_repo_id(repo_id)
    token = check_token(token)
    ok, why = bundle.can_export()
    if not ok:
        raise PublishError(f"Cannot publish lab {slug!r} as a Gradio Space: {why}.")
    if private:
        if api_factory is None:
            from huggingface_hub import HfApi as api_factory  # noqa: N813
        try:
            api_factory(token=token).create_repo(repo_id, repo_type="space", space_sdk="gradio", private=True,
                                                 exist_ok=True)
        except Exception as exc:  # hub errors, network errors: explained, token scrubbed
            raise PublishError(_scrub(f"Could not publish {repo_id}: {_explain(exc)}", token)) from None
    run = run or subprocess.run
    args = [sys.executable, str(bundle.EXPORT_SCRIPT), slug, "--out", str(out), "--push", repo_id]
    env = {**os.environ, "HF_TOKEN": token}  # the token goes by environment, never on the command line
    try:
        proc = run(args, cwd=bundle.REPO_ROOT, env=env, capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise PublishError(f"Could not publish {repo_id}: spaces/export.py did not finish within "
                           f"{EXPORT_TIMEOUT_S} s. Check your network and try again.") from None
    output = _scrub(f"{proc.stdout or ''}\n{proc.stderr or ''}".strip(), token)
    if proc.returncode != 0:
        detail = " ".join(line.strip() for line in output.splitlines()[-3:])[-400:]
        cause = _known_cause("", output)
        raise PublishError(f"Could not publish {repo_id}: {cause + ' ' if cause else ''}"
                           f"spaces/export.py said: {detail or f'exit code {proc.returncode}'}")
    match = re.search(r"Pushed: (\S+)", output)
    url = match.group(1) if match else f"https://huggingface.co/spaces/{repo_id}"
    folder = Path(out)
    files = sum(1 for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts) if folder.is_dir() else 0
    return Published(url, repo_id, "gradio", files)
