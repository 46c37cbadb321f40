"""Click through the whole suite in real headless Chromium, as a workshop participant would.

The launcher runs as its own process; Playwright drives Debian's system Chromium (never a
downloaded browser). Every lab is reachable from the navigation bar, by its own URL and by the old
`?lab=<slug>` link; on every lab's page, its shipped example runs through the lab's own
`tests/browser/<slug>.py::run_example`, and a screenshot goes to test-artifacts/screenshots/.
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


def lab_steps(slug):
    spec = importlib.util.spec_from_file_location(f"browser_{slug}", ROOT / "tests" / "browser" / f"{slug}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lab_heading(page, lab):
    return page.get_by_role("heading", name=f"Lab {lab.number} · {lab.title}", exact=False)


def test_home_page_shows_the_agenda(page, suite_url):
    from playwright.sync_api import expect

    page.goto(suite_url)
    expect(page.get_by_role("heading", name="Workshop agenda", exact=False)).to_be_visible()
    for lab in LABS:
        expect(page.get_by_role("table").first).to_contain_text(lab.title)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "00_home.png"), full_page=True)


def test_every_lab_is_one_visible_click_away(page, suite_url):
    from playwright.sync_api import expect

    page.goto(suite_url)
    expect(page.get_by_role("heading", name="Workshop agenda", exact=False)).to_be_visible()
    width = page.viewport_size["width"]
    for lab in LABS:  # every link is on screen at a laptop's width, none behind an overflow menu
        link = page.get_by_role("link", name=lab.nav, exact=True)
        expect(link).to_be_visible()
        box = link.bounding_box()
        assert box and box["x"] + box["width"] <= width, f"{lab.nav} is off screen at {width} px"
    for lab in (LABS[0], LABS[-1]):
        page.get_by_role("link", name=lab.nav, exact=True).click()
        expect(lab_heading(page, lab)).to_be_visible()
        assert page.url.rstrip("/").endswith("/" + lab.slug)


def test_old_query_links_open_the_labs_page(page, suite_url):
    from playwright.sync_api import expect

    lab = LABS[-1]
    page.goto(f"{suite_url}?lab={lab.slug}")
    expect(lab_heading(page, lab)).to_be_visible()
    assert page.url.rstrip("/").endswith("/" + lab.slug)


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.slug)
def test_lab_page_runs_its_example(page, suite_url, lab):
    from playwright.sync_api import expect

    page.goto(suite_url + lab.slug)
    expect(lab_heading(page, lab)).to_be_visible()
    try:
        lab_steps(lab.slug).run_example(page)
    finally:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{lab.number:02d}_{lab.slug}.png"), full_page=True)
