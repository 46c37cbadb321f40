"""Run a coroutine from synchronous code, even when an event loop is already running.

Gradio handlers, notebooks and async HPC code often call a helper that does `asyncio.run(...)`
while a loop is running, which raises "asyncio.run() cannot be called from a running event loop".
`run_sync` handles the three cases: no loop (plain `asyncio.run`), a running loop that
nest_asyncio can patch (re-entrant run), and a loop it cannot patch, such as uvloop's (run the
coroutine on a fresh loop in a worker thread).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any, Coroutine, TypeVar

T = TypeVar("T")


def _patchable(loop: asyncio.AbstractEventLoop) -> bool:
    # nest_asyncio can only patch the pure-Python loop of the standard library.
    return type(loop).__module__.startswith("asyncio")


def run_sync(coro: Coroutine[Any, Any, T], *, allow_nesting: bool = True) -> T:
    """Run `coro` to completion and return its result.

    Args:
        coro: The coroutine object to run.
        allow_nesting: When a standard asyncio loop is already running in this thread, patch it
            with nest_asyncio so the coroutine runs re-entrantly on it. When False (or the loop is
            not patchable, e.g. uvloop), run the coroutine in a worker thread with its own loop.

    Returns:
        Whatever the coroutine returns.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    if allow_nesting and _patchable(loop):
        import nest_asyncio

        nest_asyncio.apply(loop)
        return loop.run_until_complete(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
