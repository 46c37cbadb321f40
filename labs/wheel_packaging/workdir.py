"""Per-request scratch folders, and a download shelf for the files a user may take away.

Each request works in its own temporary folder, removed when the request ends (the venv, the
build trees, the unpacked project). The few files offered for download (project zip, sdist,
wheels) are copied to a shelf folder first; entries older than `KEEP_S` are swept on each copy.
The shelf is the lab's private scratch root (`shared.scratch.root_for`: one per OS user, mode
0700), not a fixed name in the shared temp folder that another user could create first.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from shared import scratch as shared_scratch

SHELF: Path | None = None  # None: the lab's private scratch root (tests point it elsewhere)
KEEP_S = 3600  # one hour: long enough to click "download", short enough not to fill the disk


def shelf() -> Path:
    """The folder download entries live in."""
    return Path(SHELF) if SHELF is not None else shared_scratch.root_for("wheel_packaging")


@contextmanager
def scratch() -> Iterator[Path]:
    """A fresh temporary folder for one request, deleted afterwards (even on errors)."""
    with tempfile.TemporaryDirectory(prefix="wheel_packaging_", ignore_cleanup_errors=True) as tmp:
        yield Path(tmp)


def sweep(now: float | None = None) -> int:
    """Delete shelf entries older than `KEEP_S`; returns how many were removed."""
    now = now or time.time()
    removed = 0
    root = shelf()
    if root.is_dir():
        for entry in root.iterdir():
            try:
                if now - entry.stat().st_mtime > KEEP_S:
                    shutil.rmtree(entry, ignore_errors=True)
                    removed += 1
            except FileNotFoundError:  # removed by a concurrent request between iterdir() and stat()
                pass
    return removed


def keep(*paths: Path | None) -> list[str]:
    """Copy files to a new shelf entry so they outlive the scratch folder; returns their paths."""
    sweep()
    entry = shelf() / uuid.uuid4().hex
    entry.mkdir(parents=True)
    kept = []
    for path in paths:
        if path is not None:
            kept.append(str(shutil.copy2(path, entry / path.name)))
    return kept
