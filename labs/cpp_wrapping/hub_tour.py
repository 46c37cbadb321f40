"""The huggingface_hub library, one family of functions at a time.

- Search and inspect: `HfApi.list_models`, `HfApi.model_info`, `ModelCard`.
- Download: `hf_hub_download` (one file), `snapshot_download` (a whole repo), and the cache they
  share, read with `scan_cache_dir`.
- Publish: `create_repo`, `upload_file`, `upload_folder`, with a token the user gives.
- Spaces: `list_spaces`, `get_space_runtime` (stage and hardware).

Every function takes `endpoint`: "https://huggingface.co" for the real Hub, or the address of
the local stand-in (`local_hub.py`) when there is no network. The library code that runs is the
same either way. Tokens are passed per call and never printed, logged or written anywhere.
Reads and downloads send no token at all (`token=False`), so a token saved on the server
(`HF_TOKEN`, `hf auth login`) is never used on a visitor's behalf.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REAL_HUB = "https://huggingface.co"
MAX_LIST = 50  # list_models results shown; the real Hub has millions of models
PREVIEW_BYTES = 4000  # how much of a downloaded file the UI shows
MAX_DOWNLOAD_BYTES = 200 * 1024**2  # refuse downloads (one file or a snapshot) larger than this


class HubError(ValueError):
    """A hub call failed; the message says why and what to do (never containing the token)."""


def lab_cache_dir() -> Path:
    """The lab's own hub cache, separate from ~/.cache/huggingface so the lab never touches yours."""
    from labs.cpp_wrapping.build import cache_root

    return cache_root() / "hf_cache"


def reachable(endpoint: str, timeout: float = 3.0) -> None:
    """Open one TCP connection to the endpoint first, so an offline machine gets an answer in
    seconds instead of after huggingface_hub's retries with back-off (~20 s).

    Raises:
        HubError: If the host cannot be resolved or connected to.
    """
    import socket
    from urllib.parse import urlparse

    url = urlparse(endpoint)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise HubError(f"The endpoint {endpoint!r} is not an http(s) URL like https://huggingface.co.")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        raise HubError(f"Cannot reach {endpoint} ({exc.__class__.__name__}: {exc}). This machine may be offline: "
                       "choose the local stand-in hub, or check the network/proxy.") from exc


def _offline(endpoint: str) -> bool:
    """True when the endpoint cannot be reached (downloads then fall back to the cache)."""
    try:
        reachable(endpoint)
        return False
    except HubError:
        return True


def _api(endpoint: str, token: str | None = None) -> Any:
    from huggingface_hub import HfApi

    reachable(endpoint)
    return HfApi(endpoint=endpoint.rstrip("/"), token=token or False)


def explain(exc: Exception, endpoint: str, what: str) -> HubError:
    """Turn a huggingface_hub / network error into a message that says what to do."""
    from huggingface_hub import errors

    name = type(exc).__name__
    if isinstance(exc, errors.OfflineModeIsEnabled) or name == "OfflineModeIsEnabled":
        return HubError(f"{what}: HF_HUB_OFFLINE is set, so huggingface_hub refuses every request (even to a "
                        "local hub). Unset it to use the network; the cache functions still work offline.")
    if isinstance(exc, errors.RepositoryNotFoundError):
        return HubError(f"{what}: the repository was not found on {endpoint} (or it is private and the token "
                        "cannot see it). Check the repo id, e.g. labs/tiny-saxpy.")
    if isinstance(exc, errors.RevisionNotFoundError):
        return HubError(f"{what}: that revision does not exist. Use main or a commit sha.")
    if isinstance(exc, errors.LocalEntryNotFoundError):  # checked first: it is also an EntryNotFoundError
        return HubError(f"{what}: the file is not in the cache and {endpoint} could not be reached. "
                        "Connect to the network, or use the local stand-in hub.")
    if isinstance(exc, (errors.EntryNotFoundError, errors.RemoteEntryNotFoundError)):
        return HubError(f"{what}: the file is not in the repository. List its files with model_info first.")
    if isinstance(exc, errors.HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "?"
        server = (exc.server_message or "").strip() or str(exc).splitlines()[0]
        if status == 401:
            return HubError(f"{what}: the hub rejected the token (HTTP 401: {server}). Create a token with write "
                            "access at https://huggingface.co/settings/tokens (for the local stand-in, use the "
                            "demo token shown in the panel).")
        if status == 403:
            return HubError(f"{what}: the token may not write there (HTTP 403: {server}). Use your own namespace.")
        return HubError(f"{what}: the hub answered HTTP {status}: {server}")
    if "ConnectError" in name or "Timeout" in name or isinstance(exc, OSError):
        return HubError(f"{what}: cannot reach {endpoint} ({name}). This machine may be offline: choose the local "
                        "stand-in hub, or check the network/proxy.")
    return HubError(f"{what}: {name}: {exc}")


def check_repo_id(repo_id: str) -> str:
    """Validate 'owner/name' with the library's own validator; return it stripped."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    repo_id = (repo_id or "").strip()
    if not repo_id:
        raise HubError("Enter a repository id like owner/name (e.g. labs/tiny-saxpy).")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise HubError(f"'{repo_id}' is not a valid repo id: {str(exc).splitlines()[0]}") from exc
    return repo_id


# --- Search and inspect ----------------------------------------------------------------------

def search_models(endpoint: str, search: str = "", limit: int = 10) -> list[dict[str, Any]]:
    """`HfApi.list_models(search=..., limit=...)` as rows: id, downloads, likes, tags."""
    if not 1 <= int(limit) <= MAX_LIST:
        raise HubError(f"Limit must be between 1 and {MAX_LIST}.")
    try:
        models = list(_api(endpoint).list_models(search=search or None, limit=int(limit)))
    except Exception as exc:
        raise explain(exc, endpoint, "list_models") from exc
    return [{"id": m.id, "downloads": m.downloads, "likes": m.likes, "tags": list(m.tags or [])[:6]} for m in models]


def inspect_model(endpoint: str, repo_id: str, cache_dir: Path | None = None) -> dict[str, Any]:
    """`HfApi.model_info` plus the model card (README.md) parsed by `ModelCard`."""
    from huggingface_hub import ModelCard, hf_hub_download

    repo_id = check_repo_id(repo_id)
    try:
        info = _api(endpoint).model_info(repo_id)
    except Exception as exc:
        raise explain(exc, endpoint, "model_info") from exc
    files = [s.rfilename for s in info.siblings or []]
    card: dict[str, Any] = {"metadata": None, "text": "(this repository has no README.md model card)"}
    if "README.md" in files:
        try:
            path = hf_hub_download(repo_id, "README.md", endpoint=endpoint, token=False,
                                   cache_dir=str(cache_dir or lab_cache_dir()))
        except Exception as exc:
            raise explain(exc, endpoint, "hf_hub_download(README.md)") from exc
        parsed = ModelCard.load(path, ignore_metadata_errors=True)
        card = {"metadata": parsed.data.to_dict(), "text": parsed.text.strip()[:PREVIEW_BYTES]}
    return {"id": info.id, "sha": info.sha, "last_modified": str(info.last_modified), "downloads": info.downloads,
            "likes": info.likes, "tags": info.tags, "pipeline_tag": info.pipeline_tag, "files": files,
            "card": card}


# --- Download and the cache -----------------------------------------------------------------

def _human(size: int) -> str:
    return f"{size / 1024**2:,.1f} MB"


def file_sizes(endpoint: str, repo_id: str) -> dict[str, int | None]:
    """`HfApi.model_info(files_metadata=True)`: the size in bytes of every file (None where unknown)."""
    try:
        info = _api(endpoint).model_info(repo_id, files_metadata=True)
    except Exception as exc:
        raise explain(exc, endpoint, "model_info") from exc
    return {s.rfilename: s.size for s in info.siblings or []}


def file_size(endpoint: str, repo_id: str, filename: str) -> int | None:
    """`get_hf_file_metadata`: one HEAD request for the file's size, before anything is downloaded."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    try:
        meta = get_hf_file_metadata(hf_hub_url(repo_id, filename, endpoint=endpoint), token=False, endpoint=endpoint)
    except Exception as exc:
        raise explain(exc, endpoint, "get_hf_file_metadata") from exc
    return meta.size


def check_download_size(sizes: dict[str, int | None], what: str, limit: int | None = None) -> int:
    """Refuse a download whose known size is above `limit` (default `MAX_DOWNLOAD_BYTES`); return
    the known total in bytes."""
    limit = MAX_DOWNLOAD_BYTES if limit is None else limit
    total = sum(size or 0 for size in sizes.values())
    if total > limit:
        raise HubError(f"{what} is {_human(total)}, above this lab's limit of {_human(limit)}. "
                       "Pick a smaller repository or file (e.g. labs/tiny-saxpy, or config.json alone).")
    return total


def read_preview(path: Path, limit: int = PREVIEW_BYTES) -> str:
    """The first `limit` bytes of a file as text (or a note for binary data), without reading the rest."""
    import codecs

    with path.open("rb") as handle:
        head = handle.read(limit)
    try:  # final=False: a character cut in half at the limit is dropped, not an error
        return codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return f"({path.stat().st_size} bytes of binary data)"


def download_file(endpoint: str, repo_id: str, filename: str, cache_dir: Path | None = None) -> dict[str, Any]:
    """`hf_hub_download`: fetch one file into the cache (or reuse it) and return its path and text."""
    from huggingface_hub import hf_hub_download

    repo_id = check_repo_id(repo_id)
    filename = (filename or "").strip()
    if not filename or filename.startswith("/") or ".." in filename.split("/"):
        raise HubError("Enter a file path inside the repository, e.g. config.json (no leading / and no ..).")
    offline = _offline(endpoint)  # unreachable: the cache alone answers (local_files_only=True)
    if not offline:  # size first (a HEAD request): nothing is downloaded above the limit
        check_download_size({filename: file_size(endpoint, repo_id, filename)}, f"{repo_id}/{filename}")
    try:
        path = Path(hf_hub_download(repo_id, filename, endpoint=endpoint, cache_dir=str(cache_dir or lab_cache_dir()),
                                    local_files_only=offline, token=False))
    except Exception as exc:
        raise explain(exc, endpoint, "hf_hub_download") from exc
    return {"path": str(path), "symlink_to": str(path.resolve()), "bytes": path.stat().st_size,
            "source": "cache only (hub unreachable)" if offline else endpoint, "preview": read_preview(path)}


def download_snapshot(endpoint: str, repo_id: str, cache_dir: Path | None = None) -> dict[str, Any]:
    """`snapshot_download`: every file of the repo at one commit, as a folder of symlinks into blobs."""
    from huggingface_hub import snapshot_download

    repo_id = check_repo_id(repo_id)
    offline = _offline(endpoint)
    if not offline:  # sizes first, from the file listing: nothing is downloaded above the limit
        check_download_size(file_sizes(endpoint, repo_id), f"The repository {repo_id}")
    try:
        folder = Path(snapshot_download(repo_id, endpoint=endpoint, cache_dir=str(cache_dir or lab_cache_dir()),
                                        max_workers=2, local_files_only=offline, token=False))
    except Exception as exc:
        raise explain(exc, endpoint, "snapshot_download") from exc
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    return {"folder": str(folder), "commit": folder.name, "files": files,
            "source": "cache only (hub unreachable)" if offline else endpoint}


def scan_cache(cache_dir: Path | None = None) -> dict[str, Any]:
    """`scan_cache_dir`: what the cache holds, per repo and revision, with sizes on disk."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    folder = Path(cache_dir or lab_cache_dir())
    try:
        info = scan_cache_dir(folder)
    except CacheNotFound:
        return {"cache_dir": str(folder), "size_on_disk": "0 B", "repos": [],
                "note": "The cache is empty: download something first."}
    repos = []
    for repo in sorted(info.repos, key=lambda r: r.repo_id):
        repos.append({"repo_id": repo.repo_id, "type": repo.repo_type, "size": repo.size_on_disk_str,
                      "files": repo.nb_files, "revisions": sorted(r.commit_hash[:10] for r in repo.revisions),
                      "last_accessed": repo.last_accessed_str})
    return {"cache_dir": str(folder), "size_on_disk": info.size_on_disk_str, "repos": repos,
            "warnings": [str(w) for w in info.warnings]}


# --- Publish -----------------------------------------------------------------------------------

@dataclass
class PublishResult:
    repo_url: str
    commit_url: str
    files: list[str]


def publish(endpoint: str, token: str, repo_id: str, folder: Path, *, extra_file: tuple[str, bytes] | None = None,
            private: bool = False) -> PublishResult:
    """`create_repo(exist_ok=True)`, then `upload_folder` (and `upload_file` for one generated file).

    Args:
        endpoint: Hub address.
        token: A write token; used for these calls only, never stored or shown.
        repo_id: 'owner/name' of the model repo to create or update.
        folder: Local folder to upload (the lab uploads its C++ kernels).
        extra_file: (path in repo, bytes) uploaded with `upload_file` (e.g. benchmark results).
        private: Create the repo private.
    """
    repo_id = check_repo_id(repo_id)
    if not token or not token.strip():
        raise HubError("Publishing needs a write token. Paste one (it is used for this call only and never shown).")
    api = _api(endpoint, token.strip())
    try:  # the token first: with exist_ok, create_repo answers a rejected token on an existing repo unclearly
        api.whoami()
    except Exception as exc:
        raise explain(exc, endpoint, "whoami") from exc
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True)
    except Exception as exc:
        raise explain(exc, endpoint, "create_repo") from exc
    try:
        commit = api.upload_folder(repo_id=repo_id, folder_path=str(folder), path_in_repo="kernels",
                                   commit_message="Upload the SAXPY kernels from the C++ wrapping lab")
        if extra_file is not None:
            commit = api.upload_file(path_or_fileobj=extra_file[1], path_in_repo=extra_file[0], repo_id=repo_id,
                                     commit_message=f"Add {extra_file[0]}")
        files = api.list_repo_files(repo_id)
    except Exception as exc:
        raise explain(exc, endpoint, "upload") from exc
    return PublishResult(str(url), commit.commit_url, files)


# --- Spaces ------------------------------------------------------------------------------------

def space_status(endpoint: str, repo_id: str) -> dict[str, Any]:
    """`get_space_runtime`: the Space's stage (BUILDING, RUNNING, SLEEPING...) and its hardware."""
    repo_id = check_repo_id(repo_id)
    api = _api(endpoint)
    try:
        runtime = api.get_space_runtime(repo_id)
        spaces = [s.id for s in api.list_spaces(author=repo_id.split("/")[0], limit=10)]
    except Exception as exc:
        raise explain(exc, endpoint, "get_space_runtime") from exc
    return {"space": repo_id, "stage": str(runtime.stage), "hardware": str(runtime.hardware),
            "requested_hardware": str(runtime.requested_hardware),
            "other_spaces_of_owner": spaces}


def to_json(value: Any) -> str:
    """Pretty JSON for the UI."""
    return json.dumps(value, indent=2, default=str)
