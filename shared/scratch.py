"""Per-request scratch folders that never fill the disk: each lab's outputs live under one root,
and folders older than a lab's keep time are deleted whenever a new one is made.

A public Space or a workshop server runs for days; a lab that writes a folder per click without
ever deleting one fills the disk. `new_folder` is what labs use instead of a bare
`tempfile.mkdtemp`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from shared.serving import gradio_upload_roots

KEEP_S = 3600.0  # an hour: long enough to download what a click made, short enough for a busy day


def root_for(slug: str) -> Path:
    """The folder that holds `slug`'s scratch folders, private to this OS user (mode 0700)."""
    tag = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    root = Path(tempfile.gettempdir()) / f"ml_labs-{slug}-{tag}"
    root.mkdir(mode=0o700, exist_ok=True)
    if root.is_symlink() or not root.is_dir() or (hasattr(os, "getuid") and root.stat().st_uid != os.getuid()):
        # Someone else made this name (or a link to elsewhere): fall back to a private fresh one.
        return Path(tempfile.mkdtemp(prefix=f"ml_labs-{slug}-"))
    return root


def prune(root: str | os.PathLike[str], *, keep_s: float = KEEP_S, now: float | None = None) -> int:
    """Delete entries of `root` last changed more than `keep_s` seconds ago; return how many."""
    now = time.time() if now is None else now
    removed = 0
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime <= keep_s:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
            removed += 1
        except FileNotFoundError:  # another request pruned it first
            pass
    return removed


def new_folder(slug: str, *, prefix: str = "", keep_s: float = KEEP_S) -> Path:
    """A fresh folder for one request of lab `slug`, after pruning its folders older than `keep_s`."""
    root = root_for(slug)
    prune(root, keep_s=keep_s)
    return Path(tempfile.mkdtemp(prefix=prefix or f"{slug}-", dir=root))


def folder_bytes(root: str | os.PathLike[str]) -> int:
    """Total size of the files under `root` (0 if it does not exist)."""
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except FileNotFoundError:
                pass
    return total


def suite_roots() -> list[str]:
    """Every folder where the suite keeps outputs: gradio's cache and the labs' temp roots.

    gradio copies each output file into its cache, so a lab's own copy and the cache's both count.
    Only folders owned by this OS user are listed.
    """
    import glob

    tmp = tempfile.gettempdir()
    roots = list(gradio_upload_roots())
    # Outputs only: png_to_glb keeps its shipped examples beside its runs, and those must stay.
    for pattern in ("ml_labs-*", "ml_labs_*", "png_to_glb-*/run_*", "wheel_packaging_*"):
        roots += glob.glob(os.path.join(tmp, pattern))
    own = []
    for root in roots:
        try:
            st = os.lstat(root)
        except OSError:
            continue
        if os.path.isdir(root) and not os.path.islink(root) and (not hasattr(os, "getuid") or st.st_uid == os.getuid()):
            own.append(root)
    return own


def cap_folders(roots: list[str], max_bytes: int) -> int:
    """Delete the oldest files under `roots` until together they hold at most `max_bytes`.

    An age limit alone does not bound a busy server's disk (fifty 1024-pixel meshes in an hour are
    several GB), so a size cap backs it up: the oldest outputs go first. Returns the bytes freed.
    """
    files = []
    for root in roots:
        for dirpath, _, names in os.walk(root):
            for name in names:
                path = os.path.join(dirpath, name)
                try:
                    info = os.lstat(path)
                except FileNotFoundError:
                    continue
                files.append((info.st_mtime, info.st_size, path))
    total = sum(size for _, size, _ in files)
    freed = 0
    for _, size, path in sorted(files):
        if total - freed <= max_bytes:
            break
        try:
            os.unlink(path)
            freed += size
        except FileNotFoundError:
            freed += size
        except OSError:
            continue
    return freed


def start_janitor(roots=suite_roots, *, max_bytes: int, every_s: float = 60.0) -> threading.Event:
    """Keep the folders `roots()` lists under `max_bytes` in all, from a daemon thread.

    Args:
        roots: A function returning the folders to watch (listed anew on every pass).
        max_bytes: The cap for all of them together.
        every_s: Seconds between passes.

    Returns:
        An event; set it to stop the thread.
    """
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                cap_folders(roots(), max_bytes)
            except OSError:
                pass
            stop.wait(every_s)

    threading.Thread(target=loop, name="ml-labs-disk-janitor", daemon=True).start()
    return stop
