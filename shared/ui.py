"""Page parts every lab uses: the header, the "Show the code" panel, the missing-dependency
banner, friendly error handling, and one `serve()` that applies the suite's theme and queue.

This is the only shared module that imports gradio; the labs' logic modules never do.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import linecache
import logging
import os
from typing import Any, Callable

import gradio as gr

from shared import scratch, serving
from shared.optional import MissingDependency, install_hint, missing
from shared.uploads import MAX_IMAGE_PIXELS, MAX_UPLOAD_BYTES

log = logging.getLogger("ml_labs")

# Light events (validation, small queries) may run side by side: 20 users clicking at once
# must not wait in one line (gradio's default queue runs one event at a time).
LIGHT_CONCURRENCY = 16
# Heavy CPU events (training, meshing, compiling) share one small pool so the 2-core machine
# does not thrash and memory stays bounded. Spread these into an event's keyword arguments.
HEAVY = {"concurrency_limit": 2, "concurrency_id": "heavy-cpu"}
# Events that hold the GPU share one slot: two kernels timed at once would lie to each other.
GPU = {"concurrency_limit": 1, "concurrency_id": "gpu"}

# Largest upload gradio itself accepts, refused while it streams in (before any lab sees it).
# Shared: the suite's own per-file rule; local: room for a real model folder of the operator's.
SHARED_MAX_FILE_SIZE = MAX_UPLOAD_BYTES
LOCAL_MAX_FILE_SIZE = 1024 * 1024 * 1024
# gradio's cache (uploads and every output file): (check every N seconds, delete files older than M).
SHARED_DELETE_CACHE = (600, 3600)
LOCAL_DELETE_CACHE = (3600, 86400)
# Shared mode also caps the disk the cache and the labs' outputs use together (oldest files go
# first), checked every JANITOR_EVERY_S.
SHARED_CACHE_BYTES = int(os.environ.get("ML_LABS_CACHE_BYTES") or 2 * 1024**3)
JANITOR_EVERY_S = 30.0
_janitor_started = False

THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="purple")
CSS = """
.lab-header h1 { margin-bottom: 0.2em; }
.lab-missing { border-left: 4px solid #d97706; padding-left: 0.8em; }
footer { visibility: hidden; }
"""


def header(lab: Any, *, extra: str = "") -> gr.Markdown:
    """Render a lab's opening header: title, one-line summary, what you will learn, minutes.

    Args:
        lab: The lab's registry entry (`labs.Lab`).
        extra: Markdown appended under the bullets (e.g. which device or stand-in is in use).
    """
    bullets = "\n".join(f"- {item}" for item in lab.learn)
    text = (
        f"# {lab.emoji} Lab {lab.number} · {lab.title}\n"
        f"{lab.summary}. **About {lab.minutes} minutes.**\n\n"
        f"**What you will learn**\n{bullets}\n"
    )
    if extra:
        text += f"\n{extra}\n"
    if serving.is_shared():
        text += f"\n{serving.mode_line()}\n"
    return gr.Markdown(text, elem_classes=["lab-header"])


def missing_banner(lab: Any) -> list[str]:
    """Show a warning banner if the lab's optional dependencies are missing; return their names."""
    absent = missing(lab.needs)
    if absent:
        gr.Markdown(
            f"⚠️ **This lab needs packages that are not installed: {', '.join(absent)}.** "
            f"The tab still opens, but its buttons will say the same. Install them with:\n\n"
            f"```\n{install_hint(lab.slug)}\n```",
            elem_classes=["lab-missing"],
        )
    return absent


@functools.lru_cache(maxsize=None)
def _block_ends(filename: str) -> dict[int, int]:
    """First line (decorators included) -> last line, for every function and class in a file."""
    tree = ast.parse("".join(linecache.getlines(filename)))
    return {min([d.lineno for d in node.decorator_list] + [node.lineno]): node.end_lineno
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _function_source(obj: Any) -> str | None:
    """A function's source cut out with one parse of its file (cached), or None to let inspect do it.

    `inspect.getsource` re-tokenises the file from the function onwards on every call, which
    for the suite's ~200 panels cost a quarter of a second at start-up; the result is the same.
    """
    fn = inspect.unwrap(obj.__func__ if inspect.ismethod(obj) else obj)
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    end = _block_ends(code.co_filename).get(code.co_firstlineno)
    if end is None:  # a lambda, or a file that changed since it was imported
        return None
    return "".join(linecache.getlines(code.co_filename)[code.co_firstlineno - 1:end])


def source_of(*objects: Any) -> str:
    """Return the source code of functions, classes or modules, separated by blank lines."""
    parts = []
    for obj in objects:
        try:
            parts.append((_function_source(obj) or inspect.getsource(obj)).rstrip())
        except (OSError, TypeError, SyntaxError):
            parts.append(f"# source of {getattr(obj, '__qualname__', obj)!r} is not available")
    return "\n\n\n".join(parts) + "\n"


def code_panel(*objects: Any, label: str = "Show the code", open: bool = False) -> gr.Code:
    """A collapsed panel with the real source of `objects`, read from their modules.

    The source is sent when the panel is first opened, not inlined into the page: a lab page
    carries a dozen panels, and a visitor reads one or two. A handler may also update the
    returned `gr.Code` to show what just ran; opening the panel later keeps that.

    Returns:
        The `gr.Code` component, so a handler can update it to show what just ran.
    """
    source = functools.cache(lambda: source_of(*objects))  # read on first opening, not at start-up
    with gr.Accordion(label, open=open) as panel:
        code = gr.Code(source() if open else "", language="python", interactive=False, show_label=False)
    if not open:
        panel.expand(lambda shown: shown or source(), inputs=code, outputs=code, queue=False,
                     show_progress="hidden", api_name=_panel_api_name(objects, label),
                     api_visibility="private")
    return code


def _panel_api_name(objects: tuple[Any, ...], label: str) -> str:
    """`<slug>_code_<digest>`: the slug of the lab whose code it shows, so names stay lab-prefixed."""
    import hashlib

    module = next((getattr(o, "__module__", None) or getattr(o, "__name__", "") for o in objects), "") or ""
    parts = module.split(".")
    slug = parts[1] if len(parts) > 1 and parts[0] == "labs" else "suite"
    names = "|".join(getattr(o, "__qualname__", getattr(o, "__name__", repr(o))) for o in objects)
    return f"{slug}_code_{hashlib.sha1((names + label).encode()).hexdigest()[:8]}"


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an event handler so bad input shows a clear message instead of a traceback.

    `ValueError` (including upload errors) and `MissingDependency` become `gr.Error` with their
    own message. Anything else is logged with its traceback on the server and shown as a short
    message, and the server keeps serving.
    """

    def translate(exc: Exception) -> gr.Error:
        if isinstance(exc, gr.Error):
            return exc
        if isinstance(exc, (ValueError, MissingDependency)):
            return gr.Error(str(exc))
        log.exception("unexpected error in %s", fn.__qualname__)
        if serving.is_shared():  # its text may quote a remote reply or a server path: keep it in the log
            return gr.Error(f"Something went wrong ({type(exc).__name__}); the details are in the server's log. "
                            "Try other settings; if it persists, please report it.")
        return gr.Error(f"Something went wrong: {type(exc).__name__}: {exc}. "
                        "Try other settings; if it persists, please report it.")

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any):
            try:
                return await fn(*args, **kwargs)
            except Exception as exc:
                raise translate(exc) from exc
        return async_wrapper

    if inspect.isasyncgenfunction(fn):
        @functools.wraps(fn)
        async def async_gen_wrapper(*args: Any, **kwargs: Any):
            try:
                async for item in fn(*args, **kwargs):
                    yield item
            except Exception as exc:
                raise translate(exc) from exc
        return async_gen_wrapper

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any):
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:
                raise translate(exc) from exc
        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise translate(exc) from exc
    return wrapper


@contextlib.contextmanager
def deferred_app():
    """Skip the throwaway work gradio does while Blocks are being composed.

    Every time a `gr.Blocks` closes, gradio serialises its whole config and builds a FastAPI app
    (~80 routes, 0.15-0.35 s on 2 cores), and `queue()` builds the app again, although only what
    `launch()` builds (it redoes both) ever serves. Ten labs rendered into one suite would pay for
    a dozen such apps at start-up. Inside this block those steps are skipped; `launch()`, called
    outside it, still does them for real. gradio is pinned exactly, and the launcher tests serve
    the result.
    """
    from gradio.routes import App

    original_app = App.__dict__.get("create_app")
    original_config = gr.Blocks.__dict__.get("get_config_file")
    if original_app is None or original_config is None:  # another gradio: skip nothing
        yield
        return
    App.create_app = staticmethod(lambda *args, **kwargs: None)
    gr.Blocks.get_config_file = lambda self: {}
    try:
        yield
    finally:
        App.create_app = original_app
        gr.Blocks.get_config_file = original_config


def apply_limits(demo: gr.Blocks, *, shared: bool) -> None:
    """Bound what gradio itself keeps: its file cache is cleaned on a schedule, and no image with
    more pixels than the suite accepts is ever decoded (Pillow refuses it from the header, so a
    12000x12000 PNG sent to a `gr.Image` costs nothing). In shared mode a janitor thread also
    keeps the cache and the labs' output folders under `SHARED_CACHE_BYTES` in all
    (`ML_LABS_CACHE_BYTES`), oldest files first.
    """
    from PIL import Image

    global _janitor_started
    demo.delete_cache = SHARED_DELETE_CACHE if shared else LOCAL_DELETE_CACHE
    if shared and not _janitor_started:
        scratch.start_janitor(max_bytes=SHARED_CACHE_BYTES, every_s=JANITOR_EVERY_S)
        _janitor_started = True
    # Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that: refuse above the suite's limit.
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS // 2


def serve(demo: gr.Blocks, *, host: str | None = None, port: int | None = None,
          share: bool = False, **launch_kwargs: Any) -> Any:
    """Queue and launch a Blocks app with the suite's theme, css and concurrency defaults.

    Host and port default to gradio's own `GRADIO_SERVER_NAME` / `GRADIO_SERVER_PORT`
    environment variables, then to 127.0.0.1:7860. `show_error` is on: errors of the handlers
    are already clear `gr.Error`s (see `friendly`), and with it gradio's own input checks (a file
    that is not an image, a value outside a slider's range) say what failed instead of a generic
    "the upstream app has raised an exception".

    Served to others (a non-loopback `host`, `share`, a Space), the suite enters shared mode
    (`shared.serving`); uploads are capped while they stream in and gradio's cache is cleaned on
    a schedule in every mode (`apply_limits`).
    """
    launch_kwargs.setdefault("show_error", True)
    host = host or os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"
    shared = serving.mark_served(host, share=share)
    apply_limits(demo, shared=shared)
    launch_kwargs.setdefault("max_file_size", SHARED_MAX_FILE_SIZE if shared else LOCAL_MAX_FILE_SIZE)
    if shared:
        log.warning("shared mode: visitors are untrusted (server credentials and paths are off limits, "
                    "every request has a budget); set %s=0 to force local mode", serving.SHARED_ENV)
    if not port:
        text = os.environ.get("GRADIO_SERVER_PORT") or "7860"
        port = int(text) if text.strip().isdigit() else 0
        if not 1 <= port <= 65535:
            raise ValueError(f"GRADIO_SERVER_PORT must be a port number (1-65535), not {text!r}")
    with deferred_app():
        demo.queue(default_concurrency_limit=LIGHT_CONCURRENCY)
    return demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        theme=THEME,
        css=CSS,
        **launch_kwargs,
    )
