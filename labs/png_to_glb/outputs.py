"""Where conversions write their files: one folder per conversion under a per-user temp root,
removed after an hour and capped in number and total size, so a busy server's disk stays bounded.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

from shared.scratch import folder_bytes

# Output folders of conversions older than this are deleted when a new conversion starts.
# The web UI has copied the files it serves by then; an hour leaves time to download them.
OUTPUT_MAX_AGE_S = 60 * 60
OUTPUT_PREFIX = "run_"  # only folders named like this are ever deleted
# Within that hour the folders are also capped in number and in total size: one conversion at the
# top resolution writes a few hundred MB (STL, OBJ, GLB), so a busy server could otherwise fill its
# disk well inside the hour. The newest few are always kept: a conversion may still be writing there.
OUTPUT_MAX_FOLDERS = 40
OUTPUT_MAX_BYTES = 2 * 1024**3
OUTPUT_KEEP_NEWEST = 4

def _user_tag() -> str:
    return str(os.getuid()) if hasattr(os, "getuid") else "user"


def _is_own_folder(path: Path) -> bool:
    """A real folder (not a link) that belongs to the user running this code."""
    try:
        st = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and (not hasattr(os, "getuid") or st.st_uid == os.getuid())


@functools.lru_cache(maxsize=1)
def _private_root() -> Path:
    return Path(tempfile.mkdtemp(prefix=f"png_to_glb-{_user_tag()}-"))


def temp_root() -> Path:
    """This lab's temp folder for the current OS user: ``<tmp>/png_to_glb-<uid>``.

    The user id in the name keeps users of one machine apart. If that name is taken by
    something this user does not own (another user's folder, a link), a private folder made
    with ``mkdtemp`` is used instead, so nobody else's files can break the lab.
    """
    root = Path(tempfile.gettempdir()) / f"png_to_glb-{_user_tag()}"
    try:
        root.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return _private_root()
    return root if _is_own_folder(root) else _private_root()


def remove_old_outputs(root: str | Path, max_age_s: float = OUTPUT_MAX_AGE_S, now: float | None = None) -> int:
    """Delete the conversion folders (``run_*``) in `root` last changed more than `max_age_s` ago.

    Returns:
        How many folders were deleted.
    """
    cutoff = (time.time() if now is None else now) - max_age_s
    removed = 0
    for folder in Path(root).glob(f"{OUTPUT_PREFIX}*"):
        try:
            st = folder.lstat()
            if stat.S_ISDIR(st.st_mode) and st.st_mtime < cutoff:
                shutil.rmtree(folder)
                removed += 1
        except OSError:  # already gone (another conversion cleaned up), or not ours
            continue
    return removed


def trim_outputs(root: str | Path, *, max_folders: int = OUTPUT_MAX_FOLDERS, max_bytes: int = OUTPUT_MAX_BYTES,
                 keep_newest: int = OUTPUT_KEEP_NEWEST) -> int:
    """Delete the oldest conversion folders (``run_*``) beyond `max_folders` or `max_bytes` in all.

    The `keep_newest` most recent folders are never deleted (a conversion may still be writing).

    Returns:
        How many folders were deleted.
    """
    folders = []
    for folder in Path(root).glob(f"{OUTPUT_PREFIX}*"):
        try:
            st = folder.lstat()
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            folders.append((st.st_mtime, folder))
    folders.sort(key=lambda item: item[0], reverse=True)
    removed, total = 0, 0
    for index, (_, folder) in enumerate(folders):
        total += folder_bytes(folder)
        if index < keep_newest or (index < max_folders and total <= max_bytes):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def new_output_dir(root: str | Path | None = None, max_age_s: float = OUTPUT_MAX_AGE_S) -> Path:
    """A fresh folder for one conversion under `root` (default ``temp_root()``).

    Folders older than `max_age_s` are removed first, then the oldest beyond `OUTPUT_MAX_FOLDERS`
    or `OUTPUT_MAX_BYTES` (`trim_outputs`), so the lab's outputs never grow without bound.
    """
    root = Path(root) if root is not None else temp_root()
    root.mkdir(parents=True, exist_ok=True)
    remove_old_outputs(root, max_age_s)
    trim_outputs(root)
    return Path(tempfile.mkdtemp(prefix=OUTPUT_PREFIX, dir=root))
