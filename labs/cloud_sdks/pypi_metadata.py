"""Read what the package index says about one package: releases, yanked flags and its metadata.

Used by `build_catalogue --refresh`. The index is PyPI's Simple API (PEP 691 JSON); the metadata is
read from the newest release's PEP 658 `.metadata` file, else out of its wheel with HTTP range
requests (only the zip directory and the METADATA member, a few KB), else from a small sdist's
PKG-INFO. Every request has a timeout and a size cap; nothing here runs at request time.
"""

from __future__ import annotations

import io
import json
import re
from collections import defaultdict

INDEX = "https://pypi.org/simple/"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
USER_AGENT = "ml-labs-cloud-sdks-catalogue/1.0 (bounded refresh of a few hundred packages)"
HTTP_TIMEOUT_S = 15  # per request; a package makes at most 2 + MAX_RANGE_REQUESTS requests
MAX_RANGE_REQUESTS = 12  # per wheel: the tail, maybe a longer directory, the METADATA member
MAX_SDIST_BYTES = 4_000_000  # an sdist is downloaded whole, so only a small one (also caps any one reply)
DESCRIPTION_CHARS = 1500  # how far into the long description to look for a deprecation notice

DEPRECATED_WORDS = re.compile(r"\b(deprecated|no longer (?:be )?(?:maintained|supported|updated)|"
                              r"end[- ]of[- ]life|retired|obsolete|unmaintained|archived)\b", re.I)
# In a long description only a sentence about this package counts ("replaces the deprecated x" does not).
DEPRECATED_NOTICE = re.compile(r"^\W*deprecated\b|\b(?:this|the) (?:package|library|project|sdk|module|client)\b[^.\n]{0,60}"
                               r"\b(?:is|has been|was|will be|are)\b[^.\n]{0,30}(?:deprecated|retired|archived|"
                               r"no longer (?:be )?(?:maintained|supported|updated|receives? updates))", re.I | re.M)
DEV_STATUS = re.compile(r"Development Status :: (\d) - (.+)")
REPO = re.compile(r"https?://(?:www\.)?(github\.com|gitlab\.com|bitbucket\.org)/([^/\s#?]+)(?:/([^/\s#?]+))?", re.I)


def _get(url: str, accept: str = "*/*", byte_range: tuple[int, int] | None = None) -> bytes:
    """One GET with a timeout and a size cap; HTTP errors propagate (HTTPError carries the code)."""
    import urllib.request

    headers = {"Accept": accept, "User-Agent": USER_AGENT}
    if byte_range:
        headers["Range"] = f"bytes={byte_range[0]}-{byte_range[1] - 1}"
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=HTTP_TIMEOUT_S) as resp:
        return resp.read(MAX_SDIST_BYTES + 1)


class RangeFile(io.RawIOBase):
    """A remote file read lazily with HTTP range requests, so `zipfile` can open a wheel without it.

    A zip keeps its directory at the end: reading the tail, then the one member, costs a few KB
    instead of the whole wheel (botocore's is ~13 MB). Requests are capped (MAX_RANGE_REQUESTS).
    """

    def __init__(self, url: str, size: int, tail: int = 65536, get=_get):
        self.url, self.size, self.pos, self.requests, self._get = url, size, 0, 0, get
        self.chunks: list[tuple[int, bytes]] = []
        self._fetch(max(0, size - tail), size)

    def _fetch(self, start: int, end: int) -> bytes:
        if self.requests >= MAX_RANGE_REQUESTS:
            raise OSError(f"more than {MAX_RANGE_REQUESTS} range requests for {self.url}")
        self.requests += 1
        data = self._get(self.url, byte_range=(start, end))
        if len(data) > end - start:  # the server ignored Range and sent the file from its start
            data = data[start:end]
        self.chunks.append((start, data))
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.pos = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence] + offset
        return self.pos

    def readinto(self, buffer) -> int:
        n = max(0, min(len(buffer), self.size - self.pos))
        if not n:
            return 0
        for start, data in self.chunks:
            if start <= self.pos and self.pos + n <= start + len(data):
                piece = data[self.pos - start:self.pos - start + n]
                break
        else:  # fetch at least 64 KB so zipfile's small reads (header, then member) share one request
            end = min(self.size, self.pos + max(n, 65536))
            piece = self._fetch(self.pos, end)[:n]
        buffer[:len(piece)] = piece
        self.pos += len(piece)
        return len(piece)


def _version_of(filename: str):
    """The release version a distribution file belongs to (None when the name cannot be parsed)."""
    from packaging.utils import parse_sdist_filename, parse_wheel_filename

    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except Exception:  # legacy names (eggs, .exe, odd sdists) are simply not considered
        return None


def _read_metadata(files: list[dict]) -> tuple[str, str]:
    """(METADATA text, where it came from) for one release's files; ("", why not) when none is readable."""
    import tarfile
    import zipfile

    wheels = sorted((f for f in files if f["filename"].endswith(".whl")),
                    key=lambda f: ("none-any" not in f["filename"], f.get("size") or 0))
    for f in wheels[:1]:
        if f.get("core-metadata") or f.get("data-dist-info-metadata"):  # PEP 658/714: served on its own
            return _get(f["url"] + ".metadata").decode("utf-8", "replace"), "PEP 658 .metadata"
        with zipfile.ZipFile(RangeFile(f["url"], f["size"])) as zf:
            member = next((n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)), None)
            if member:
                return zf.read(member).decode("utf-8", "replace"), "wheel METADATA (range requests)"
    sdists = [f for f in files if f["filename"].endswith((".tar.gz", ".zip")) and (f.get("size") or 0) <= MAX_SDIST_BYTES]
    for f in sdists[:1]:
        data, pkg_info = io.BytesIO(_get(f["url"])), re.compile(r"[^/]+/PKG-INFO")
        if f["filename"].endswith(".zip"):
            with zipfile.ZipFile(data) as zf:
                member = next((n for n in zf.namelist() if pkg_info.fullmatch(n)), None)
                text = zf.read(member) if member else b""
        else:
            with tarfile.open(fileobj=data, mode="r:gz") as tf:
                member = next((m for m in tf.getmembers() if pkg_info.fullmatch(m.name)), None)
                text = tf.extractfile(member).read() if member else b""
        if text:
            return text.decode("utf-8", "replace"), "sdist PKG-INFO"
    return "", "none: no wheel, and no sdist under 4 MB"


def fetch_metadata(name: str, today: str, url_domains: tuple[str, ...] = ()) -> dict:
    """What the index says about one package: newest release, yanked flags, and its metadata fields.

    Project URLs are kept when they name a code host (REPO) or one of `url_domains` (a provider's own sites).
    """
    import email.parser
    import urllib.error

    from packaging.version import InvalidVersion, Version

    try:
        page = json.loads(_get(f"{INDEX}{name}/", accept=SIMPLE_JSON))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return {"name": name, "checked": today, "missing": True}
        raise
    by_version: dict = defaultdict(list)
    for f in page.get("files", []):
        version = _version_of(f["filename"])
        if version is not None:
            by_version[version].append(f)
    for v in page.get("versions", []):  # versions with no parseable file still count as releases
        try:
            by_version.setdefault(Version(v), [])
        except InvalidVersion:
            pass
    alive = {v: fs for v, fs in by_version.items() if fs and not all(f.get("yanked") for f in fs)}
    finals = [v for v in alive if not v.is_prerelease]
    if finals:
        chosen = max(finals)
    elif alive:
        chosen = max(alive)
    else:
        chosen = max((v for v, fs in by_version.items() if fs), default=None)
    out = {"name": name, "checked": today, "versions": len(by_version), "version": str(chosen or ""),
           "all_yanked": bool(by_version) and not alive, "newest": str(max(by_version, default="")),
           "yanked_reason": ""}
    if chosen is None:
        out["metadata_from"] = "no files on the index"
        return out
    files = by_version[chosen]
    if out["all_yanked"]:
        out["yanked_reason"] = next((f["yanked"] for f in files if isinstance(f.get("yanked"), str)), "")
    text, out["metadata_from"] = _read_metadata(files)
    if text:
        msg = email.parser.Parser().parsestr(text)
        for field in ("Summary", "Author", "Author-email", "Maintainer", "Maintainer-email", "Home-page"):
            out[field.lower().replace("-", "_")] = re.sub(r"\s+", " ", str(msg.get(field) or "")).strip()[:200]
        out["project_urls"] = [str(u)[:200] for u in msg.get_all("Project-URL") or []][:12]
        out["dev_status"] = next((str(c) for c in msg.get_all("Classifier") or [] if DEV_STATUS.match(str(c))), "")
        out["project_urls"] = [u for u in out["project_urls"] if REPO.search(u) or any(
            d in u for d in url_domains)][:4]
        body = str(msg.get_payload() or msg.get("Description") or "")[:DESCRIPTION_CHARS]
        hit = DEPRECATED_NOTICE.search(body)
        if hit:  # keep the sentence that says so, to show as the reason
            start = max(body.rfind("\n", 0, hit.start()), body.rfind(". ", 0, hit.start()) + 1, 0)
            out["description_note"] = re.sub(r"[\s#*>]+", " ", body[start:hit.end() + 80]).strip()[:160]
    return compact(out)


def compact(meta: dict) -> dict:
    """The cache entry as shipped: e-mail addresses cut to their domain (all the rules need), empty fields dropped."""
    meta = dict(meta)
    for field in ("author", "maintainer", "author_email", "maintainer_email"):
        if meta.get(field):
            domains = sorted(set(re.findall(r"@([\w.-]+\w)", meta[field])))
            name = re.sub(r"<[^>]*>|[\w.+-]+@[\w.-]+", "", meta[field]).strip(' ,"')
            if field.endswith("_email"):
                meta[field] = " ".join(f"@{d}" for d in domains) if domains else ""
            else:
                meta[field] = (name + "".join(f" <@{d}>" for d in domains)).strip()
    if "newest" in meta and meta["newest"] == meta.get("version"):
        meta.pop("newest")
    return {k: v for k, v in meta.items() if v not in ("", [], False, None)}
