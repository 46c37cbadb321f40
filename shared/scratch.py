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
import time
from pathlib import Path

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
