"""The launcher: every lab builds alone and together, start-up stays light, each lab has its own page."""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

import launcher
from labs import LABS

ROOT = Path(__file__).resolve().parents[1]
HEAVY_MODULES = ["torch", "transformers", "tensorflow", "keras", "trimesh", "boto3", "azure",
                 "google.cloud", "sklearn", "scipy"]


def lab_api_names(demo: gr.Blocks) -> list[str]:
    return [fn.api_name for fn in demo.fns.values()
            if not fn.is_cancel_function and not fn.is_validator_function]


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.slug)
def test_lab_builds_alone_with_slug_prefixed_api_names(lab):
    import importlib

    module = importlib.import_module(f"labs.{lab.slug}.app")
    assert isinstance(module.demo, gr.Blocks)
    names = lab_api_names(module.demo)
    assert names, "a lab has at least one event"
    bad = [n for n in names if not str(n).startswith(f"{lab.slug}_")]
    assert not bad, f"api_names must start with '{lab.slug}_': {bad}"


def test_suite_builds_with_every_lab_and_nothing_clashes():
    suite = launcher.build()
    names = [fn.api_name for fn in suite.fns.values() if fn.api_name and not fn.is_cancel_function]
    clashes = [n for n, c in Counter(names).items() if c > 1] + [n for n in names if n[-2:] in {"_1", "_2"}]
    assert not clashes, f"api_name clashes or gradio-suffixed names: {clashes}"
    elem_ids = [b.elem_id for b in suite.blocks.values() if getattr(b, "elem_id", None)]
    assert len(elem_ids) == len(set(elem_ids)), "duplicate elem_ids break browser clicks"
    assert [path for path, *_ in suite.pages] == [""] + [lab.slug for lab in LABS], "a home page, then one per lab"
    assert [name for _, name, shown in suite.pages[1:] if shown] == [lab.nav for lab in LABS]


def test_launcher_start_up_imports_no_heavy_library():
    code = (
        "import json, sys, launcher; launcher.build();"
        f"print(json.dumps([m for m in {HEAVY_MODULES!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_unknown_lab_is_a_clear_error():
    with pytest.raises(ValueError, match="registered labs"):
        launcher.select_labs("png_to_glb,nope")
    assert [lab.slug for lab in launcher.select_labs("")] == [lab.slug for lab in LABS]


def test_old_query_links_name_a_served_lab_only():
    slug = LABS[-1].slug
    assert launcher.lab_for_query({"lab": slug}) == slug
    for params in ({"lab": "junk"}, {"lab": "../admin"}, {}):
        assert launcher.lab_for_query(params) is None
    assert launcher.lab_for_query({"lab": "cuda_benchmark"}, launcher.select_labs("png_to_glb")) is None
    # The browser-side redirect only ever goes to a slug written into the page.
    suite = launcher.build("png_to_glb")
    scripts = [fn.js for fn in suite.fns.values() if fn.js]
    assert any('["png_to_glb"]' in js and "slugs.includes(wanted)" in js for js in scripts)


def test_navigation_labels_are_short_enough_for_one_row():
    # All ten links must fit gradio's navbar at 1400 px (the browser test checks it for real).
    assert sum(len(lab.nav) for lab in LABS) < 150


def test_a_broken_lab_gets_an_explaining_tab(monkeypatch):
    def fake_import(slug):
        raise ModuleNotFoundError("No module named 'imaginary_dependency'")

    monkeypatch.setattr(launcher, "import_lab_app", fake_import)
    fallback = launcher.load_lab(LABS[0])
    texts = [b.value for b in fallback.blocks.values() if isinstance(b, gr.Markdown)]
    assert any("imaginary_dependency" in t and f"requirements/{LABS[0].slug}.txt" in t for t in texts)


def test_a_lab_stays_launchable_after_the_suite_rendered_it(client_for):
    import importlib

    launcher.build()  # renders private copies of every lab
    module = importlib.import_module(f"labs.{LABS[-1].slug}.app")
    from .test_spaces_export import load_browser_module

    load_browser_module(LABS[-1].slug).api_smoke(client_for(module.demo))  # a real call, not just the schema
    assert launcher.load_lab(LABS[-1]) is not module.demo


def test_home_agenda_lists_every_lab_with_minutes():
    text = launcher.agenda_markdown(LABS)
    for lab in LABS:
        assert lab.title in text and f"| {lab.minutes} |" in text
    assert f"about {sum(l.minutes for l in LABS)} minutes" in text


def test_launched_suite_serves_every_lab_api(serve_blocks):
    from tests.conftest import timed_client

    url = serve_blocks(launcher.build())
    info = timed_client(url, verbose=False).view_api(return_format="dict", print_info=False)
    endpoints = set(info["named_endpoints"])
    for lab in LABS:
        assert any(e.startswith(f"/{lab.slug}_") for e in endpoints), f"no endpoint for {lab.slug}"
    assert "/suite_open_lab" not in endpoints  # the tab selector is not part of the public API


def test_launcher_cli_rejects_unknown_lab():
    out = subprocess.run([sys.executable, "launcher.py", "--labs", "nope"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and "registered labs" in out.stderr


def test_a_slug_list_without_any_slug_is_a_clear_error():
    with pytest.raises(ValueError, match="registered labs"):
        launcher.select_labs(" , ")


def test_home_page_carries_no_lab_and_each_lab_page_only_its_own(serve_blocks):
    import urllib.request

    url = serve_blocks(launcher.build("png_to_glb,cuda_benchmark"))
    home = urllib.request.urlopen(url, timeout=60).read().decode()
    page = urllib.request.urlopen(url + "png_to_glb", timeout=60).read().decode()
    assert "Workshop agenda" in home and "png_to_glb_convert" not in home
    assert "png_to_glb_convert" in page and "cuda_benchmark_detect" not in page


@pytest.mark.parametrize("port", ["0", "70000", "abc"])
def test_launcher_cli_rejects_a_port_out_of_range(port, capsys):
    with pytest.raises(SystemExit):
        launcher.parse_args(["--port", port])
    assert "not a port number (1-65535)" in capsys.readouterr().err


def test_launcher_cli_rejects_an_empty_lab_list():
    with pytest.raises(SystemExit, match="--labs needs at least one slug"):
        launcher.main(["--labs", ""])


def test_launcher_cli_port_in_use_is_one_clear_line():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = subprocess.run([sys.executable, "launcher.py", "--labs", LABS[-1].slug, "--port", str(port)],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and "Could not start the server" in out.stderr
    assert "Traceback" not in out.stderr


def test_heavy_events_show_the_queue_position_never_a_frozen_button():
    # gradio shows "queue: 3/7" and an estimate on an event's outputs unless its progress is hidden.
    suite = launcher.build()
    heavy = [fn for fn in suite.fns.values() if fn.concurrency_id in {"heavy-cpu", "gpu"}]
    assert len(heavy) > 10
    hidden = [fn.api_name for fn in heavy if fn.show_progress == "hidden" or not fn.outputs]
    assert not hidden, f"heavy events without a visible queue position: {hidden}"
