"""shared/ui.py: friendly errors, the code panel's source, the missing-dependency banner, serving."""

import inspect
import logging

import gradio as gr
import pytest

from labs import Lab
from shared import ui
from shared.optional import MissingDependency
from shared.uploads import UploadError

LAB = Lab(slug="png_to_glb", title="Demo", emoji="🧪", summary="A lab for tests", learn=("a", "b"), minutes=5,
          needs=("json", "definitely_not_a_module_xyz"))


def test_friendly_turns_value_errors_into_gradio_errors_with_their_message():
    @ui.friendly
    def handler(x):
        raise UploadError(f"bad upload {x}: upload a PNG")

    with pytest.raises(gr.Error, match="bad upload 3: upload a PNG"):
        handler(3)


def test_friendly_passes_missing_dependency_messages_through():
    @ui.friendly
    def handler():
        raise MissingDependency("pip install thing")

    with pytest.raises(gr.Error, match="pip install thing"):
        handler()


def test_friendly_logs_unexpected_errors_and_shows_a_short_message(caplog):
    @ui.friendly
    def handler():
        raise KeyError("internal")

    with caplog.at_level(logging.ERROR, logger="ml_labs"), pytest.raises(gr.Error, match="Something went wrong: KeyError"):
        handler()
    assert "Traceback" in caplog.text and "handler" in caplog.text


def test_friendly_keeps_generators_streaming_and_translates_their_errors():
    @ui.friendly
    def stream(n):
        yield from range(n)
        raise ValueError("stopped: lower n")

    got = []
    with pytest.raises(gr.Error, match="stopped: lower n"):
        for item in stream(3):
            got.append(item)
    assert got == [0, 1, 2]


def test_friendly_keeps_the_signature_gradio_inspects():
    @ui.friendly
    def handler(a, b=2, progress=gr.Progress()):
        return a + b

    assert list(inspect.signature(handler).parameters) == ["a", "b", "progress"]
    assert handler(1) == 3


def test_source_of_reads_real_source_and_says_when_it_cannot():
    text = ui.source_of(ui.source_of, len)
    assert "def source_of(" in text
    assert "source of 'len' is not available" in text


def test_source_of_matches_inspect_for_functions_methods_and_decorated_ones():
    from labs.cpp_wrapping import cosmos_sql, knowledge, semantic

    objects = [ui.friendly, ui.serve, cosmos_sql.Translator.translate, cosmos_sql.Translator.func,
               semantic._load, semantic.search, knowledge.run_query, knowledge.CosmosTarget.__repr__]
    objects += [obj for _, obj in inspect.getmembers(semantic, inspect.isfunction) if obj.__module__ == semantic.__name__]
    for obj in objects:
        assert ui._function_source(obj) is not None, obj
        assert ui.source_of(obj) == inspect.getsource(obj).rstrip() + "\n", obj
    assert ui._function_source(lambda: 1) is None  # lambdas fall back to inspect
    assert "class Translator" in ui.source_of(cosmos_sql.Translator)  # classes too


def test_header_and_missing_banner_render_what_the_lab_says():
    with gr.Blocks() as demo:
        ui.header(LAB, extra="Runs on the CPU.")
        absent = ui.missing_banner(LAB)
    texts = " ".join(b.value for b in demo.blocks.values() if isinstance(b, gr.Markdown))
    assert absent == ["definitely_not_a_module_xyz"]
    assert "About 5 minutes" in texts and "- a" in texts and "Runs on the CPU." in texts
    assert "pip install -c requirements/constraints.txt -r requirements/png_to_glb.txt" in texts


def test_code_panel_sends_the_source_when_opened():
    with gr.Blocks() as demo:
        code = ui.code_panel(ui.header)
        shown = ui.code_panel(ui.serve, open=True)
    assert code.value == "" and "def serve(" in shown.value, "closed panels are not inlined into the page"
    (opened,) = [fn for fn in demo.fns.values() if fn.api_name and fn.api_name.startswith("suite_code_")]
    assert "def header(" in opened.fn("")
    assert opened.fn("what just ran") == "what just ran", "opening keeps what a handler showed"


def test_deferred_app_skips_throwaway_apps_and_restores_gradio():
    from gradio.routes import App

    original = App.__dict__["create_app"]
    with ui.deferred_app():
        with gr.Blocks() as demo:
            gr.Textbox()
        assert demo.app is None
    assert App.__dict__["create_app"] is original
    with gr.Blocks() as normal:
        gr.Textbox()
    assert normal.app is not None


def test_serve_reports_gradio_input_errors_with_their_message():
    """A file that is not an image fails in gradio's preprocessing, before `friendly` can see it."""
    import socket
    import tempfile

    from gradio_client import handle_file
    from tests.conftest import timed_client

    with gr.Blocks() as demo:
        image = gr.Image(type="pil")
        out = gr.Textbox()
        gr.Button().click(lambda img: str(img.size), image, out, api_name="size")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.NamedTemporaryFile(suffix=".png", delete=False) as bad:
        bad.write(b"not an image")
    _, url, _ = ui.serve(demo, port=port, prevent_thread_lock=True, quiet=True)
    try:
        with pytest.raises(Exception) as err:
            timed_client(url, verbose=False).predict(handle_file(bad.name), api_name="/size")
        assert "preprocess" in str(err.value) and "upstream Gradio app" not in str(err.value)
    finally:
        demo.close()


def test_friendly_awaits_async_handlers_and_translates_their_errors():
    import asyncio

    @ui.friendly
    async def handler(x):
        if x < 0:
            raise ValueError("x must be >= 0")
        return x * 2

    @ui.friendly
    async def stream(n):
        for i in range(n):
            yield i
        raise ValueError("stopped: lower n")

    async def collect():
        got = []
        with pytest.raises(gr.Error, match="stopped: lower n"):
            async for item in stream(2):
                got.append(item)
        return got

    assert inspect.iscoroutinefunction(handler) and inspect.isasyncgenfunction(stream)
    assert asyncio.run(handler(2)) == 4
    with pytest.raises(gr.Error, match="x must be >= 0"):
        asyncio.run(handler(-1))
    assert asyncio.run(collect()) == [0, 1]


@pytest.mark.parametrize("value", ["0", "70000", "http"])
def test_serve_names_a_bad_port_in_the_environment(monkeypatch, value):
    monkeypatch.setenv("GRADIO_SERVER_PORT", value)
    with pytest.raises(ValueError, match="GRADIO_SERVER_PORT must be a port number"):
        ui.serve(gr.Blocks())
