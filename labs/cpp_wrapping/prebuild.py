"""Compile the slow ways (pybind11, nanobind, torch load_inline) in the background, so the first click runs them.

`start()` launches one daemon thread (never more than one build at a time) that builds each shipped
source not yet in the cache, at the lowest CPU priority: on Linux `os.nice` lowers the calling
thread only, and the compiler processes it starts (g++, ninja) inherit that priority, so visitors'
requests keep the CPU. Only the shipped sources are built, so it is safe on a shared server.
`status_line()` reads the progress ("pybind11: compiling (23 s so far)..."), `wait()` lets a click
wait for a build in flight. Set CPP_WRAPPING_PREBUILD=0 to switch it off (the tests do).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Callable

from labs.cpp_wrapping import build

PREBUILD_ENV = "CPP_WRAPPING_PREBUILD"
WAYS = ("pybind11", "nanobind", "torch")  # the builds that take ~10 s, ~16 s and ~1 min on 2 cores
NICENESS = 19  # the lowest priority: compile only with CPU time nobody else wants
_BUILDERS = {"ctypes": build.build_ctypes, "pybind11": build.build_pybind11, "nanobind": build.build_nanobind,
             "torch": build.build_torch}

_lock = threading.Lock()
_thread: threading.Thread | None = None
# way -> {"state": "queued" | "compiling" | "ready" | "failed", "started": t, "seconds": s, "error": text}
_state: dict[str, dict] = {}


def enabled() -> bool:
    """False when CPP_WRAPPING_PREBUILD is 0/false/no."""
    return os.environ.get(PREBUILD_ENV, "1").strip().lower() not in {"0", "false", "no"}


def _run(ways: tuple[str, ...]) -> None:
    try:
        os.nice(NICENESS)  # this thread and the compilers it starts, not the server's other threads
    except OSError:
        pass
    for way in ways:
        with _lock:
            _state[way].update(state="compiling", started=time.monotonic())
        try:
            result = _BUILDERS[way]()
            with _lock:
                _state[way].update(state="ready", seconds=result.seconds)
        except Exception as exc:  # noqa: BLE001 - reported in the status line, the click says why again
            with _lock:
                _state[way].update(state="failed", error=str(exc).splitlines()[0][:200])


def start(ways: tuple[str, ...] = WAYS) -> bool:
    """Start the background build of the `ways` not yet compiled; True if a build was started.

    Does nothing when switched off, when a background build already runs, or when all are cached.
    """
    global _thread
    if not enabled():
        return False
    with _lock:
        if _thread is not None and _thread.is_alive():
            return False
        todo = []
        for way in ways:
            try:
                if not build.is_built(way):
                    todo.append(way)
            except build.BuildError:
                continue
        if not todo:
            return False
        for way in todo:
            _state[way] = {"state": "queued"}
        _thread = threading.Thread(target=_run, args=(tuple(todo),), name="cpp_wrapping-prebuild", daemon=True)
        _thread.start()
        return True


def state(way: str) -> str | None:
    """'queued', 'compiling', 'ready', 'failed', or None when no background build touched `way`."""
    with _lock:
        return _state.get(way, {}).get("state")


def describe(way: str) -> str:
    """One short phrase for `way`, e.g. 'pybind11: compiling (23 s so far)...'."""
    from labs.cpp_wrapping.wrapping import LABELS

    with _lock:
        info = dict(_state.get(way, {}))
    label = LABELS.get(way, way)
    if info.get("state") == "compiling":
        return f"{label}: compiling ({time.monotonic() - info['started']:.0f} s so far)..."
    if info.get("state") == "ready":
        return f"{label}: ready (compiled in {info.get('seconds', 0):.1f} s)"
    if info.get("state") == "failed":
        return f"{label}: failed ({info.get('error', '')})"
    return f"{label}: {info.get('state', 'not started')}"


def status_line() -> str:
    """Markdown: what the background build is doing, or '' when it never ran."""
    with _lock:
        ways = list(_state)
    if not ways:
        return ""
    return "**Background build:** " + "; ".join(describe(w) for w in ways)


def busy() -> bool:
    """True while a way is queued or compiling."""
    with _lock:
        return any(i.get("state") in ("queued", "compiling") for i in _state.values())


def wait(way: str, progress: Callable[[str], None] | None, timeout_s: float) -> bool:
    """Wait until the background build of `way` is done; True if it became ready within `timeout_s`."""
    end = time.monotonic() + timeout_s
    while state(way) in ("queued", "compiling") and time.monotonic() < end:
        if progress:
            progress(describe(way))
        time.sleep(1.0)
    return state(way) == "ready"
