"""Click through the whole suite in real headless Chromium, as a workshop participant would.

The launcher runs as its own process; Playwright drives Debian's system Chromium (never a
downloaded browser). For every lab: click its tab, run its shipped example through the lab's own
`tests/browser/<slug>.py::run_example`, and save a screenshot to test-artifacts/screenshots/.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labs import LABS

from .ci_tools import skip_or_fail
from .conftest import free_port
from .test_spaces_export import wait_for_http

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def suite_url():
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "launcher.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_http(url, proc, timeout=240)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM:
        skip_or_fail("no system Chromium (apt-get install chromium): the browser test cannot run")
    try:
        from playwright import sync_api
    except ImportError:
        skip_or_fail("Playwright is not installed (pip install -r requirements/dev.txt)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    # expect()'s own default is 5 s, too short for a first page load on a busy 2-core machine.
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    yield page
    context.close()


def open_tab(page, name):
    """Click a top-level tab; tabs that do not fit the width sit in gradio's "More tabs" menu."""
    tab = page.locator("#suite_tabs").get_by_role("tab", name=name, exact=True)
    if tab.count() and tab.first.is_visible():
        tab.first.click()
    else:
        page.locator("#suite_tabs").get_by_role("button", name="More tabs").click()
        page.locator("#suite_tabs .overflow-dropdown").get_by_role("button", name=name, exact=True).click()


def lab_steps(slug):
    spec = importlib.util.spec_from_file_location(f"browser_{slug}", ROOT / "tests" / "browser" / f"{slug}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_home_tab_shows_the_agenda(page, suite_url):
    from playwright.sync_api import expect

    page.goto(suite_url)
    expect(page.get_by_role("heading", name="Workshop agenda", exact=False)).to_be_visible()
    expect(page.locator("#suite_tabs").get_by_role("tab", name="Home")).to_be_visible()
    for lab in LABS:
        expect(page.get_by_role("table").first).to_contain_text(lab.title)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "00_home.png"), full_page=True)


def test_query_parameter_opens_straight_on_a_lab(page, suite_url):
    from playwright.sync_api import expect

    lab = LABS[-1]
    page.goto(f"{suite_url}?lab={lab.slug}")
    # The selected tab may sit in the overflow menu, so check the lab's own header instead.
    expect(page.get_by_role("heading", name=f"Lab {lab.number} · {lab.title}", exact=False)).to_be_visible()


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.slug)
def test_lab_tab_runs_its_example(page, suite_url, lab):
    page.goto(suite_url)
    page.get_by_role("tab", name="Home").wait_for()
    open_tab(page, f"{lab.number} · {lab.title}")
    try:
        lab_steps(lab.slug).run_example(page)
    finally:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{lab.number:02d}_{lab.slug}.png"), full_page=True)
