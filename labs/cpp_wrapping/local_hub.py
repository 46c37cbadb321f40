"""A small Hugging Face Hub stand-in on 127.0.0.1, for running huggingface_hub offline.

The real Hub is an HTTP API. `huggingface_hub` takes its address from `endpoint=` (or the
`HF_ENDPOINT` environment variable), so pointing it at this server runs the library's real code
paths — requests, caching, symlinked snapshots, commits — with no network. It implements only
the routes the lab's functions use:

    GET  /api/models?search=&author=&limit=        list_models
    GET  /api/models/{repo}[/revision/{rev}]       model_info / repo_info (also spaces)
    GET  /api/models/{repo}/tree/{rev}             list_repo_tree (snapshot_download uses it)
    HEAD|GET /{repo}/resolve/{rev}/{path}          hf_hub_download (ETag, X-Repo-Commit headers)
    POST /api/repos/create                         create_repo            (token needed)
    POST /api/models/{repo}/preupload/{rev}        upload_file/folder: "regular" upload mode
    POST /api/models/{repo}/commit/{rev}           upload_file/folder: NDJSON commit (token needed)
    POST /api/validate-yaml                        upload_file/folder of a README.md: metadata check
    GET  /api/spaces/{repo}/runtime                get_space_runtime
    GET  /api/whoami-v2                            whoami                 (token needed)

Repositories live in memory and are lost when it stops. It is a teaching stand-in, not a hub:
no LFS or Xet storage, no branches other than main, no permissions beyond one write token. One
stand-in serves every visitor of a server, so it holds at most `MAX_REPOS` repositories and
`MAX_TOTAL_BYTES` of files, and on a shared server (`shared.serving`) the seeded example
repositories cannot be changed by a commit.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from shared import serving

DEMO_USER = "labs"
# The one token this stand-in accepts for writes. It guards nothing real: it exists so that
# create_repo/upload_file show what the Hub does with a missing or wrong token (HTTP 401).
DEMO_TOKEN = "hf_local_stand_in_token"
MAX_BODY = 20 * 1024 * 1024  # refuse commits above 20 MB: this is an in-memory toy
MAX_REPOS = 200  # repositories in all (the seeded ones included)
MAX_TOTAL_BYTES = 200 * 1024 * 1024  # files of every repository together
MAX_LOG = 10_000  # entries kept in HubState.requests / with_token (the newest)


@dataclass
class Repo:
    """One repository: files at the head of `main`, plus metadata the API reports."""

    repo_id: str
    repo_type: str  # "model", "dataset" or "space"
    files: dict[str, bytes] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    private: bool = False
    sdk: str | None = None
    hardware: str = "cpu-basic"
    downloads: int = 0
    likes: int = 0
    pipeline_tag: str | None = None
    last_modified: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    commits: int = 1

    @property
    def sha(self) -> str:
        """A commit id derived from the content, so it changes exactly when a file changes."""
        h = hashlib.sha1(self.repo_id.encode())
        for path in sorted(self.files):
            h.update(path.encode() + b"\0" + hashlib.sha1(self.files[path]).digest())
        h.update(str(self.commits).encode())
        return h.hexdigest()

    @staticmethod
    def blob_id(data: bytes) -> str:
        """Git's blob id: sha1 of 'blob <size>\\0' + content (what the Hub reports as oid/etag)."""
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

    def info(self, endpoint: str) -> dict[str, Any]:
        data = {
            "_id": hashlib.md5(self.repo_id.encode()).hexdigest()[:24], "id": self.repo_id,
            "author": self.repo_id.split("/")[0], "sha": self.sha, "lastModified": self.last_modified,
            "private": self.private, "disabled": False, "gated": False, "tags": self.tags,
            "downloads": self.downloads, "likes": self.likes,
            "siblings": [{"rfilename": p, "size": len(b)} for p, b in sorted(self.files.items())],
            "createdAt": self.last_modified,
        }
        if self.pipeline_tag:
            data["pipeline_tag"] = self.pipeline_tag
        if self.repo_type == "model":
            data["modelId"] = self.repo_id
            data["library_name"] = "numpy"
        if self.repo_type == "space":
            data["sdk"] = self.sdk or "gradio"
            data["runtime"] = self.runtime()
            data["host"] = f"{endpoint}/spaces/{self.repo_id}"
        return data

    def runtime(self) -> dict[str, Any]:
        return {"stage": "RUNNING", "hardware": {"current": self.hardware, "requested": self.hardware},
                "storage": None, "gcTimeout": 172800, "replicas": {"current": 1, "requested": 1}}


def seed_repos() -> dict[tuple[str, str], Repo]:
    """The repositories the stand-in starts with: a tiny model and a Space of this lab."""
    card = (
        "---\nlicense: apache-2.0\nlibrary_name: numpy\ntags:\n- saxpy\n- cpp\n- teaching\n---\n"
        "# tiny-saxpy\n\nThe parameters of a SAXPY kernel (out = a*x + y), published by the C++ "
        "wrapping lab to show `huggingface_hub` against a local stand-in hub.\n"
    )
    model = Repo(f"{DEMO_USER}/tiny-saxpy", "model", tags=["saxpy", "cpp", "teaching", "license:apache-2.0"],
                 downloads=42, likes=3, pipeline_tag="tabular-regression")
    model.files = {
        "README.md": card.encode(),
        "config.json": json.dumps({"a": 2.5, "dtype": "float64", "kernel": "saxpy"}, indent=1).encode(),
        "kernels/saxpy.cpp": b'extern "C" void saxpy(long n, double a, const double* x, const double* y, double* out)'
                             b' {\n  for (long i = 0; i < n; ++i) out[i] = a * x[i] + y[i];\n}\n',
    }
    other = Repo(f"{DEMO_USER}/tiny-dot", "model", tags=["dot", "teaching"], downloads=7)
    other.files = {"README.md": b"---\nlicense: mit\n---\n# tiny-dot\n", "config.json": b'{"kernel": "dot"}'}
    space = Repo(f"{DEMO_USER}/cpp-wrapping", "space", tags=["gradio"], sdk="gradio", likes=1)
    space.files = {"README.md": b"---\ntitle: C++ wrapping\nsdk: gradio\nsdk_version: 6.31.0\napp_file: app.py\n---\n",
                   "app.py": b"import gradio as gr\n"}
    return {(r.repo_type, r.repo_id): r for r in (model, other, space)}


class HubState:
    """The repositories, shared by the request threads under one lock."""

    def __init__(self) -> None:
        self.repos = seed_repos()
        self.seeded = set(self.repos)  # (type, id) of the example repositories
        self.lock = threading.Lock()
        self.requests: list[str] = []  # "METHOD path" of every request, for teaching and tests
        self.with_token: list[str] = []  # the same, for requests that carried an Authorization header

    def log(self, entry: str, with_token: bool) -> None:
        """Record a request, keeping the newest `MAX_LOG` entries of each list."""
        for records, wanted in ((self.requests, True), (self.with_token, with_token)):
            if wanted:
                records.append(entry)
                if len(records) > 2 * MAX_LOG:
                    del records[:-MAX_LOG]

    def total_bytes(self) -> int:
        """Bytes held by every repository's files (call with the lock held)."""
        return sum(len(b) for repo in self.repos.values() for b in repo.files.values())


_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}


class Handler(BaseHTTPRequestHandler):
    """Routes the subset of the Hub API listed in the module docstring."""

    server: "LocalHub"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep the console quiet
        return

    # Responses ----------------------------------------------------------------------------------
    def send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status: int, message: str, code: str | None = None) -> None:
        # The Hub puts its reason in the JSON body and in X-Error-Message; huggingface_hub shows it.
        # Connection: close, because a refused request's body may be unread and would otherwise be
        # taken as the start of the next request on this keep-alive connection.
        headers = {"X-Error-Message": message, "Connection": "close"}
        if code:
            headers["X-Error-Code"] = code
        self.send_json(status, {"error": message}, headers)

    def authorised(self) -> bool:
        auth = self.headers.get("Authorization", "")
        if auth != f"Bearer {DEMO_TOKEN}":
            self.error(401, "Invalid credentials in Authorization header")
            return False
        return True

    def read_body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.error(413, f"Payload too large: this stand-in accepts at most {MAX_BODY // 2**20} MB")
            return None
        return self.rfile.read(length) if length else b""

    def find(self, repo_type: str, repo_id: str) -> Repo | None:
        repo = self.server.state.repos.get((repo_type, repo_id))
        if repo is None:
            self.error(404, "Repository not found", "RepoNotFound")
        return repo

    # Routing ------------------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self.route()

    def do_GET(self) -> None:
        self.route()

    def do_POST(self) -> None:
        self.route()

    def route(self) -> None:
        url = urlparse(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        query = parse_qs(url.query)
        self.server.state.log(f"{self.command} {url.path}", bool(self.headers.get("Authorization")))
        try:
            if parts[:2] == ["api", "whoami-v2"]:
                if self.authorised():
                    self.send_json(200, {"type": "user", "name": DEMO_USER, "fullname": "Local stand-in user",
                                         "auth": {"type": "access_token", "accessToken": {"role": "write"}}})
            elif parts[:3] == ["api", "repos", "create"] and self.command == "POST":
                self.create_repo()
            elif parts[:2] == ["api", "validate-yaml"] and self.command == "POST":
                self.validate_yaml()
            elif len(parts) >= 2 and parts[0] == "api" and parts[1] in _TYPES:
                self.api(_TYPES[parts[1]], parts[2:], query)
            elif "resolve" in parts:
                self.resolve(parts)
            else:
                self.error(404, f"No route for {url.path} in the local stand-in hub")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def api(self, repo_type: str, rest: list[str], query: dict[str, list[str]]) -> None:
        state = self.server.state
        if not rest:  # list_models / list_spaces
            search = (query.get("search") or [""])[0].lower()
            author = (query.get("author") or [""])[0]
            limit = int((query.get("limit") or ["1000"])[0])
            with state.lock:
                found = [r for (t, _), r in sorted(state.repos.items()) if t == repo_type
                         and search in r.repo_id.lower() and (not author or r.repo_id.split("/")[0] == author)
                         and not r.private]
            self.send_json(200, [r.info(self.server.endpoint) for r in found[:limit]])
            return
        repo_id = "/".join(rest[:2])
        tail = rest[2:]
        with state.lock:
            repo = self.find(repo_type, repo_id)
            if repo is None:
                return
            if not tail or tail[0] == "revision":
                if tail and len(tail) > 1 and tail[1] not in ("main", repo.sha):
                    self.error(404, f"Invalid rev id: {tail[1]}", "RevisionNotFound")
                    return
                self.send_json(200, repo.info(self.server.endpoint))
            elif tail[0] == "tree":
                entries = [{"type": "file", "path": p, "size": len(b), "oid": Repo.blob_id(b)}
                           for p, b in sorted(repo.files.items())]
                self.send_json(200, entries)
            elif tail[0] == "runtime":
                self.send_json(200, repo.runtime())
            elif tail[0] == "preupload" and self.command == "POST":
                body = self.read_body()
                if body is None:
                    return
                files = json.loads(body or b"{}").get("files", [])
                # Everything is uploaded inline ("regular"): no LFS or Xet storage here.
                self.send_json(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                                                "oid": None} for f in files], "commitOid": repo.sha})
            elif tail[0] == "commit" and self.command == "POST":
                self.commit(repo)
            else:
                self.error(404, f"No route for {'/'.join(tail)} in the local stand-in hub")

    def create_repo(self) -> None:
        if not self.authorised():
            return
        body = self.read_body()
        if body is None:
            return
        payload = json.loads(body or b"{}")
        name, org = payload.get("name"), payload.get("organization") or DEMO_USER
        repo_type = payload.get("type") or "model"
        if not name or not str(name).replace("-", "").replace("_", "").replace(".", "").isalnum():
            self.error(400, "Repository name must use only letters, digits, '-', '_' and '.'")
            return
        if org != DEMO_USER:
            self.error(403, f"You don't have the rights to create a repo under the namespace {org}")
            return
        repo_id = f"{org}/{name}"
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        state = self.server.state
        with state.lock:
            if (repo_type, repo_id) in state.repos:
                # Like the Hub, the 409 carries the repo's url: create_repo(exist_ok=True) returns it.
                message = "You already created this repo"
                self.send_json(409, {"error": message, "url": f"{self.server.endpoint}/{prefix}{repo_id}"},
                               {"X-Error-Message": message, "X-Error-Code": "RepoExists"})
                return
            if len(state.repos) >= MAX_REPOS:
                self.error(507, f"The local stand-in hub is full ({MAX_REPOS} repositories); publish to an "
                                "existing repo id, or restart the lab")
                return
            repo = Repo(repo_id, repo_type, private=payload.get("visibility") == "private" or bool(payload.get("private")),
                        sdk=payload.get("sdk"), hardware=payload.get("hardware") or "cpu-basic")
            repo.files[".gitattributes"] = b"*.bin filter=lfs diff=lfs merge=lfs -text\n"
            state.repos[(repo_type, repo_id)] = repo
        self.send_json(200, {"url": f"{self.server.endpoint}/{prefix}{repo_id}", "name": repo_id})

    def validate_yaml(self) -> None:
        # upload_file/upload_folder send a README.md's text here before committing it. The Hub
        # checks the metadata block against its schema; this stand-in accepts any text.
        body = self.read_body()
        if body is None:
            return
        payload = json.loads(body or b"{}")
        if not isinstance(payload, dict) or not isinstance(payload.get("content"), str):
            self.error(400, "Expected {\"content\": README text, \"repoType\": ...}")
            return
        self.send_json(200, {"errors": [], "warnings": []})

    def commit(self, repo: Repo) -> None:
        if not self.authorised():
            return
        body = self.read_body()
        if body is None:
            return
        summary = ""
        changes: dict[str, bytes | None] = {}
        for line in body.decode().splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item.get("key"), item.get("value", {})
            if key == "header":
                summary = value.get("summary", "")
            elif key == "file":
                changes[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                changes[value["path"]] = None
            elif key == "lfsFile":
                self.error(400, "The local stand-in hub has no LFS storage; upload small files only")
                return
        if not summary:
            self.error(400, "A commit needs a summary (commit message)")
            return
        state = self.server.state
        if (repo.repo_type, repo.repo_id) in state.seeded and serving.is_shared():
            self.error(403, f"{repo.repo_id} is an example every visitor of this shared server uses, so it cannot be "
                            f"changed; publish to a repo of your own, e.g. {DEMO_USER}/my-saxpy-kernels")
            return
        grown = sum(len(d or b"") - len(repo.files.get(p, b"")) for p, d in changes.items())
        if state.total_bytes() + grown > MAX_TOTAL_BYTES:
            self.error(507, f"The local stand-in hub is full ({MAX_TOTAL_BYTES // 2**20} MB of files); upload "
                            "smaller files, or restart the lab")
            return
        for path, data in changes.items():
            if data is None:
                repo.files.pop(path, None)
            else:
                repo.files[path] = data
        repo.commits += 1
        repo.last_modified = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        self.send_json(200, {"success": True, "commitOid": repo.sha,
                             "commitUrl": f"{self.server.endpoint}/{prefix}{repo.repo_id}/commit/{repo.sha}"})

    def resolve(self, parts: list[str]) -> None:
        # /{repo}/resolve/{rev}/{path} for models; /{type}s/{repo}/resolve/... for the others.
        i = parts.index("resolve")
        repo_type = "model"
        head = parts[:i]
        if head and head[0] in _TYPES and len(head) == 3:
            repo_type, head = _TYPES[head[0]], head[1:]
        if len(parts) < i + 3:
            self.error(400, "Expected /{repo}/resolve/{revision}/{path}")
            return
        revision, path = parts[i + 1], "/".join(parts[i + 2:])
        state = self.server.state
        with state.lock:
            repo = self.find(repo_type, "/".join(head))
            if repo is None:
                return
            if revision not in ("main", repo.sha):
                self.error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
                return
            if path not in repo.files:
                self.error(404, f"Entry not found: {path}", "EntryNotFound")
                return
            data, sha = repo.files[path], repo.sha
            if self.command == "GET":
                repo.downloads += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", f'"{Repo.blob_id(data)}"')
        self.send_header("X-Repo-Commit", sha)
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(data)


class LocalHub(ThreadingHTTPServer):
    """The stand-in hub server. Use `start_local_hub()` to run it in a background thread."""

    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        super().__init__((host, port), Handler)
        self.state = HubState()
        self.endpoint = f"http://{host}:{self.server_address[1]}"
        self.thread: threading.Thread | None = None

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def start_local_hub(host: str = "127.0.0.1", port: int = 0) -> LocalHub:
    """Start a fresh stand-in hub on `host:port` (0 = any free port) in a daemon thread."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("The stand-in hub binds only to the loopback address (127.0.0.1).")
    hub = LocalHub(host, port)
    hub.thread = threading.Thread(target=hub.serve_forever, name="local-hub", daemon=True)
    hub.thread.start()
    return hub


_SHARED: LocalHub | None = None
_SHARED_LOCK = threading.Lock()


def shared_hub() -> LocalHub:
    """The one stand-in hub this process uses (started on first call)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = start_local_hub()
            time.sleep(0.01)
        return _SHARED
