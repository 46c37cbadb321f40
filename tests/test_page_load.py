"""The page-load benchmark's reading of a gradio config: what a page renders at first, and the
`--floor` cut that keeps only that (benchmarks/page_load.py)."""

from __future__ import annotations

import copy

import gradio as gr
import pytest

from benchmarks.page_load import config_counts, first_render, keep_first_render

pytestmark = pytest.mark.timeout(60)


def _page() -> tuple[gr.Blocks, dict[str, gr.components.Component]]:
    parts = {}
    with gr.Blocks() as demo:
        parts["title"] = gr.Markdown("# Title")
        with gr.Tabs():
            with gr.Tab("First"):
                parts["first_box"] = gr.Textbox(label="first")
                parts["first_button"] = gr.Button("Go")
            with gr.Tab("Second"):
                parts["second_box"] = gr.Textbox(label="second")
        with gr.Accordion("Closed", open=False):
            parts["in_closed"] = gr.Code("print(1)")
        with gr.Accordion("Open", open=True):
            parts["in_open"] = gr.Number(label="open")
        with gr.Column(visible=False):
            parts["in_hidden"] = gr.Slider(label="hidden")
        parts["first_button"].click(lambda x: x, parts["first_box"], parts["first_box"], api_name="echo")
        parts["second_box"].submit(lambda x: x, parts["second_box"], parts["first_box"], api_name="cross")
    return demo, parts


def test_first_render_skips_closed_accordions_other_tabs_and_hidden_blocks():
    demo, parts = _page()
    config = demo.get_config_file()
    components = {c["id"]: c for c in config["components"]}
    shown = first_render(config["layout"], components)
    for name in ("title", "first_box", "first_button", "in_open"):
        assert parts[name]._id in shown, name
    for name in ("second_box", "in_closed", "in_hidden"):
        assert parts[name]._id not in shown, name
    total, first, events = config_counts(config)
    assert (total, events) == (len(components), 2)
    assert first == len(shown & components.keys()) < total


def test_keep_first_render_cuts_each_page_to_its_first_render():
    demo, parts = _page()
    config = copy.deepcopy(demo.get_config_file())
    keep_first_render(config)
    page = config["page"][""]
    assert parts["first_box"]._id in page["components"]
    assert parts["second_box"]._id not in page["components"]
    assert parts["in_closed"]._id not in page["components"]

    def ids(node):
        yield node["id"]
        for child in node.get("children") or []:
            yield from ids(child)

    assert set(ids(page["layout"])) == set(page["components"]) | {page["layout"]["id"]}
    names = {d["api_name"] for d in config["dependencies"] if d["id"] in page["dependencies"]}
    assert names == {"echo"}  # "cross" listens to the second tab's box, which is cut
